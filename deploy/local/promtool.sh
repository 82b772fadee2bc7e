#!/usr/bin/env bash
# promtool.sh: prints the path of a promtool binary, fetching it first if this machine has none.
#
# Debian 12 ships promtool inside the `prometheus` package, whose installation would also enable and start
# a Prometheus server. We only want the checker, so the package is downloaded (`apt-get download`, no
# install, no maintainer scripts) and unpacked with `dpkg -x` into a cache folder:
#   ${LEADPOET_CACHE:-$HOME/.cache/leadpoet}/prometheus/usr/bin/promtool
# Idempotent: a promtool on PATH, or one already unpacked in the cache, is printed without any download.
# Exit 0 with the path on stdout; non-zero with a message on stderr when promtool cannot be had.
set -euo pipefail

die() {
  echo "promtool.sh: $*" >&2
  exit 1
}

if path=$(command -v promtool 2>/dev/null) && [ -n "$path" ]; then
  echo "$path"
  exit 0
fi

cache="${LEADPOET_CACHE:-${HOME:-/root}/.cache/leadpoet}"
root="$cache/prometheus"
bin="$root/usr/bin/promtool"

if [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi

command -v apt-get >/dev/null 2>&1 ||
  die "no promtool on PATH and no apt-get to fetch Debian's prometheus package"
command -v dpkg >/dev/null 2>&1 || die "no promtool on PATH and no dpkg to unpack Debian's prometheus package"

mkdir -p "$cache/debs" || die "cannot create the cache folder $cache"

# A fresh machine may not have the package lists yet: apt-get download then fails with "Unable to locate
# package"; update once and retry.
fetch() {
  (cd "$cache/debs" && apt-get download prometheus) >"$cache/debs/apt.log" 2>&1
}
if ! fetch; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update >>"$cache/debs/apt.log" 2>&1 || true
  fi
  fetch || die "apt-get download prometheus failed (see $cache/debs/apt.log):
$(tail -n 5 "$cache/debs/apt.log")"
fi

deb=$(ls -t "$cache/debs"/prometheus_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || die "apt-get download reported success but no prometheus_*.deb is in $cache/debs"

# Unpack into a temporary folder first so that an interrupted run never leaves a half-written tree.
tmp=$(mktemp -d "$cache/prometheus.XXXXXX") || die "cannot create a temporary folder in $cache"
trap 'rm -rf "$tmp"' EXIT
dpkg -x "$deb" "$tmp" || die "dpkg -x $deb failed"
[ -x "$tmp/usr/bin/promtool" ] || die "$deb holds no usr/bin/promtool"
rm -rf "$root"
mv "$tmp" "$root"
trap - EXIT

"$bin" --version >/dev/null 2>&1 || die "$bin does not run"
echo "$bin"
