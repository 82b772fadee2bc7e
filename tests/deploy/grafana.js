// grafana.js ROOT: checks the Grafana dashboards of ROOT/deploy/grafana (ctest deploy_grafana).
// Every *.json parses; uids and titles are unique; the data source is the $datasource variable; panel ids
// are unique within a dashboard; every PromQL expression (panels and template variables) names only the
// contract's metrics (shared CONTRACT.md section 4) and process_*; the five subjects of the issue exist.
// A self-test first feeds the checker broken dashboards and expects each to be refused.
'use strict';
const fs = require('fs');
const path = require('path');

// Contract section 4, and which of those are histograms (they also appear as _bucket, _sum, _count).
const CONTRACT = {
  leadpoet_lead_cost_usd: 'histogram', leadpoet_llm_hit_rate: 'gauge',
  leadpoet_pipeline_latency_seconds: 'histogram', leadpoet_miner_reputation: 'gauge',
  leadpoet_http_requests_total: 'counter', leadpoet_http_request_duration_seconds: 'histogram',
  leadpoet_snippets_total: 'counter', leadpoet_outcomes_total: 'counter',
  leadpoet_kafka_consumer_lag: 'gauge', leadpoet_checkpoint_duration_seconds: 'histogram',
  leadpoet_checkpoint_last_success_timestamp_seconds: 'gauge', leadpoet_leads: 'gauge',
  leadpoet_index_postings: 'gauge',
};
const PROCESS = /^process_[a-z_]+$/;
const SUBJECTS = ['latency', 'cost', 'miners', 'pipeline', 'checkpoints'];
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or',
  'unless', 'offset', 'inf', 'nan', 'time', 'vector', 'scalar', 'le']);

function allowedMetric(name) {
  if (CONTRACT[name] || PROCESS.test(name)) return true;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  return m !== null && CONTRACT[m[1]] === 'histogram';
}

// The metric names an expression uses: strings, label matchers, ranges and grouping lists are removed, then
// every identifier that is not a function call or a keyword is a metric name.
function metricNames(expr) {
  let s = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  s = s.replace(/\{[^}]*\}/g, ' ').replace(/\[[^\]]*\]/g, ' ');
  s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = [];
  const re = /[A-Za-z_:][A-Za-z0-9_:]*/g;
  let m;
  while ((m = re.exec(s)) !== null) {
    const rest = s.slice(re.lastIndex);
    if (/^\s*\(/.test(rest) || KEYWORDS.has(m[0].toLowerCase())) continue;
    if (/^[0-9.]/.test(m[0]) || /[0-9.]$/.test(s.slice(0, m.index))) continue; // 1e-3, 5m
    names.push(m[0]);
  }
  return names;
}

function checkDashboard(file, d, errors) {
  const err = (msg) => errors.push(`${file}: ${msg}`);
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return err('not a JSON object');
  for (const k of ['uid', 'title']) if (typeof d[k] !== 'string' || d[k] === '') err(`missing ${k}`);
  if (!Number.isInteger(d.schemaVersion)) err('missing schemaVersion');
  const vars = (d.templating && Array.isArray(d.templating.list)) ? d.templating.list : [];
  const ds = vars.find((v) => v.name === 'datasource');
  if (!ds || ds.type !== 'datasource' || ds.query !== 'prometheus') err('no $datasource variable of type datasource (prometheus)');
  const exprs = [];
  for (const v of vars) {
    if (v.type !== 'query') continue;
    const query = typeof v.query === 'string' ? v.query : (v.query && v.query.query);
    if (typeof query !== 'string') { err(`variable ${v.name}: no query`); continue; }
    if (!v.datasource || v.datasource.uid !== '${datasource}') err(`variable ${v.name}: data source is not $datasource`);
    const lv = /^label_values\((.*),\s*[A-Za-z_]+\)$/.exec(query);
    exprs.push({ where: `variable ${v.name}`, expr: lv ? lv[1] : query });
  }
  if (!Array.isArray(d.panels) || d.panels.length === 0) return err('no panels');
  const ids = new Map();
  const walk = (panels) => {
    for (const p of panels) {
      if (!Number.isInteger(p.id)) err(`panel "${p.title}" has no integer id`);
      else if (ids.has(p.id)) err(`panel id ${p.id} used by "${ids.get(p.id)}" and "${p.title}"`);
      else ids.set(p.id, p.title);
      const g = p.gridPos;
      if (!g || !['x', 'y', 'w', 'h'].every((k) => Number.isInteger(g[k])) || g.x + g.w > 24) err(`panel ${p.id}: bad gridPos`);
      if (p.type === 'row') { walk(p.panels || []); continue; }
      if (!p.datasource || p.datasource.uid !== '${datasource}') err(`panel ${p.id}: data source is not $datasource`);
      if (!Array.isArray(p.targets) || p.targets.length === 0) { err(`panel ${p.id}: no targets`); continue; }
      const refs = new Set();
      for (const t of p.targets) {
        if (typeof t.expr !== 'string' || t.expr.trim() === '') { err(`panel ${p.id}: target without expr`); continue; }
        if (refs.has(t.refId)) err(`panel ${p.id}: refId ${t.refId} twice`);
        refs.add(t.refId);
        if (t.datasource && t.datasource.uid !== '${datasource}') err(`panel ${p.id}: target data source is not $datasource`);
        exprs.push({ where: `panel ${p.id} "${p.title}"`, expr: t.expr });
      }
    }
  };
  walk(d.panels);
  for (const { where, expr } of exprs) {
    let open = 0;
    for (const c of expr) { open += c === '(' ? 1 : c === ')' ? -1 : 0; if (open < 0) break; }
    if (open !== 0) err(`${where}: unbalanced parentheses in ${expr}`);
    const names = metricNames(expr);
    if (names.length === 0) err(`${where}: no metric in ${expr}`);
    for (const n of names) if (!allowedMetric(n)) err(`${where}: ${n} is not a contract metric`);
  }
}

function checkDir(dir) {
  const errors = [];
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  const uids = new Map(); const titles = new Map();
  for (const f of files) {
    let d;
    try { d = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')); } catch (e) { errors.push(`${f}: ${e.message}`); continue; }
    checkDashboard(f, d, errors);
    if (uids.has(d.uid)) errors.push(`${f}: uid ${d.uid} also in ${uids.get(d.uid)}`); else uids.set(d.uid, f);
    if (titles.has(d.title)) errors.push(`${f}: title also in ${titles.get(d.title)}`); else titles.set(d.title, f);
  }
  for (const s of SUBJECTS) if (!files.includes(`${s}.json`)) errors.push(`no ${s}.json dashboard`);
  return { errors, files };
}

// The contract page, when this checkout has it beside it (../shared in CI), must list the same metrics.
function checkContractList(root) {
  for (const p of [path.join(root, '..', 'shared', 'CONTRACT.md'), '/work/shared/CONTRACT.md']) {
    if (!fs.existsSync(p)) continue;
    const text = fs.readFileSync(p, 'utf8');
    const sec = text.split(/^## /m).find((s) => s.startsWith('4.'));
    if (!sec) return [`${p}: no section 4`];
    const listed = new Set((sec.match(/`(leadpoet_[a-z_]+)/g) || []).map((s) => s.slice(1)));
    const ours = new Set(Object.keys(CONTRACT));
    const diff = [...listed].filter((n) => !ours.has(n)).concat([...ours].filter((n) => !listed.has(n)));
    return diff.length ? [`metric list differs from ${p}: ${diff.join(', ')}`] : [];
  }
  return [];
}

function selfTest() {
  const good = () => ({ uid: 'u', title: 't', schemaVersion: 39,
    templating: { list: [{ name: 'datasource', type: 'datasource', query: 'prometheus' }] },
    panels: [{ id: 1, type: 'timeseries', title: 'a', gridPos: { x: 0, y: 0, w: 12, h: 8 },
      datasource: { type: 'prometheus', uid: '${datasource}' },
      targets: [{ refId: 'A', expr: 'histogram_quantile(0.95, sum by (le, route) (rate(leadpoet_http_request_duration_seconds_bucket{route="/v1/leads"}[5m]))) > 0.4' }] }] });
  const fails = (name, mutate) => {
    const d = good(); mutate(d); const errors = []; checkDashboard(name, d, errors);
    if (errors.length === 0) throw new Error(`self-test: the checker accepted a dashboard with ${name}`);
  };
  const errors = []; checkDashboard('good', good(), errors);
  if (errors.length) throw new Error(`self-test: the checker refused a good dashboard: ${errors.join('; ')}`);
  fails('an unknown metric', (d) => { d.panels[0].targets[0].expr = 'rate(leadpoet_made_up_total[5m])'; });
  fails('_bucket of a counter', (d) => { d.panels[0].targets[0].expr = 'leadpoet_snippets_total_bucket'; });
  fails('a duplicate panel id', (d) => { d.panels.push({ ...d.panels[0], title: 'b', gridPos: { x: 12, y: 0, w: 12, h: 8 } }); });
  fails('a fixed data source', (d) => { d.panels[0].datasource = { type: 'prometheus', uid: 'abc' }; });
  fails('no datasource variable', (d) => { d.templating.list = []; });
  fails('unbalanced parentheses', (d) => { d.panels[0].targets[0].expr = 'sum(rate(leadpoet_leads[5m])'; });
  fails('an unknown metric in a variable', (d) => { d.templating.list.push({ name: 'x', type: 'query',
    datasource: { uid: '${datasource}' }, query: 'label_values(up, instance)' }); });
  if (metricNames('sum by (topic) (leadpoet_kafka_consumer_lag{topic="a b"}) > 1e3 and time() - process_start_time_seconds offset 5m').join() !==
      'leadpoet_kafka_consumer_lag,process_start_time_seconds') throw new Error('self-test: metricNames is wrong');
}

const root = process.argv[2];
if (!root) { console.error('usage: node grafana.js ROOT'); process.exit(2); }
selfTest();
const { errors, files } = checkDir(path.join(root, 'deploy', 'grafana'));
errors.push(...checkContractList(root));
if (errors.length) { for (const e of errors) console.error(`FAIL ${e}`); process.exit(1); }
console.log(`grafana: ${files.length} dashboards checked: ${files.join(', ')}`);
