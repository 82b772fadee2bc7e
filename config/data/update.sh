#!/bin/sh
# Regenerates free_email_domains.txt and disposable_email_domains.txt (and their licences) from the
# MIT-licensed npm packages `free-email-domains` and `disposable-email-domains`.
# Needs npm, node and tar. Usage: config/data/update.sh [FREE_VERSION] [DISPOSABLE_VERSION]
# (default: the latest versions on the npm registry). Prints the versions it used; update README.md with them.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
free_ver=${1:-latest}
disp_ver=${2:-latest}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

cd "$work"
npm pack --silent "free-email-domains@$free_ver" >/dev/null
npm pack --silent "disposable-email-domains@$disp_ver" >/dev/null
mkdir free disp
tar xzf free-email-domains-*.tgz -C free
tar xzf disposable-email-domains-*.tgz -C disp

# One domain per line, trimmed, lower-case (Unicode-aware, so IDN entries stay readable UTF-8), sorted
# bytewise, no duplicates. The binary canonicalises every line at start (IDN -> punycode).
to_lines() {
  node -e '
    const fs = require("fs");
    const out = new Set();
    for (const f of process.argv.slice(1)) {
      for (const d of JSON.parse(fs.readFileSync(f, "utf8"))) {
        const s = String(d).trim().toLowerCase().replace(/\.$/, "");
        if (s.length > 0 && !/\s/.test(s)) out.add(s);
      }
    }
    process.stdout.write([...out].join("\n") + "\n");
  ' "$@" | LC_ALL=C sort -u
}

to_lines free/package/domains.json > "$here/free_email_domains.txt"
# wildcard.json lists domains whose every subdomain is disposable: the lookup matches parents anyway.
to_lines disp/package/index.json disp/package/wildcard.json > "$here/disposable_email_domains.txt"

cp free/package/LICENSE.md "$here/LICENSE.free-email-domains"
# disposable-email-domains ships no LICENSE file: its licence is the MIT section of its Readme.
{
  echo "disposable-email-domains $(node -p 'require("./disp/package/package.json").version')"
  echo "https://github.com/ivolo/disposable-email-domains (package.json: \"license\": \"MIT\")"
  echo "The package ships no LICENSE file; this is the licence section of its Readme.md, verbatim:"
  echo
  sed -n '/^# License/,$p' disp/package/Readme.md
} > "$here/LICENSE.disposable-email-domains"

echo "free-email-domains $(node -p 'require("./free/package/package.json").version'):" \
     "$(wc -l < "$here/free_email_domains.txt") domains"
echo "disposable-email-domains $(node -p 'require("./disp/package/package.json").version'):" \
     "$(wc -l < "$here/disposable_email_domains.txt") domains"
