// terraform.js ROOT: checks ROOT/terraform without a cloud or the terraform binary (ctest deploy_terraform).
// Every .tf and .tfvars parses (npm @cdktf/hcl2json, HashiCorp's HCL parser built to WebAssembly). In each
// module folder, every var.X, local.X, module.M.O, data.T.N and resource reference names something declared;
// every variable and output has a description and every variable a type; each module call passes only the
// module's variables and every variable without a default, and reads only its outputs; the example tfvars set
// only root variables and every one without a default; providers are pinned; the state backend is S3 with a
// DynamoDB lock (setup-backend.sh makes both); the topics are miner.snippets, outcome.events and their .dlq
// with var.shards partitions. A self-test first checks that broken configurations are refused.
'use strict';
const fs = require('fs');
const path = require('path');
const { parse } = require('@cdktf/hcl2json');

const META = new Set(['source', 'providers', 'depends_on', 'count', 'for_each', 'version']);
const RESOURCE_PREFIX = /^(aws|kafka|tls|random|null)_/;

async function loadModule(dir) {
  const m = { dir, variables: {}, outputs: {}, locals: new Set(), resources: new Set(), data: new Set(), modules: {}, terraform: [], text: [] };
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.tf')).sort()) {
    const src = fs.readFileSync(path.join(dir, f), 'utf8');
    const j = await parse(f, src);
    m.text.push(JSON.stringify(j));
    for (const [k, v] of Object.entries(j.variable || {})) m.variables[k] = v[0];
    for (const [k, v] of Object.entries(j.output || {})) m.outputs[k] = v[0];
    for (const l of j.locals || []) for (const k of Object.keys(l)) m.locals.add(k);
    for (const [t, byName] of Object.entries(j.resource || {})) for (const n of Object.keys(byName)) m.resources.add(`${t}.${n}`);
    for (const [t, byName] of Object.entries(j.data || {})) for (const n of Object.keys(byName)) m.data.add(`${t}.${n}`);
    for (const [k, v] of Object.entries(j.module || {})) m.modules[k] = v[0];
    m.terraform.push(...(j.terraform || []));
  }
  return m;
}

function checkModule(m, modulesByDir, rel) {
  const errors = [];
  const err = (s) => errors.push(`${rel}: ${s}`);
  const text = m.text.join('\n');
  for (const [k, v] of Object.entries(m.variables)) {
    if (!v.description) err(`variable ${k} has no description`);
    if (!v.type) err(`variable ${k} has no type`);
  }
  for (const [k, v] of Object.entries(m.outputs)) if (!v.description) err(`output ${k} has no description`);
  for (const [, name] of text.matchAll(/\bvar\.([A-Za-z0-9_]+)/g)) if (!m.variables[name]) err(`var.${name} is not declared`);
  for (const [, name] of text.matchAll(/\blocal\.([A-Za-z0-9_]+)/g)) if (!m.locals.has(name)) err(`local.${name} is not declared`);
  for (const [, t, n] of text.matchAll(/\bdata\.([a-z0-9_]+)\.([A-Za-z0-9_-]+)/g)) if (!m.data.has(`${t}.${n}`)) err(`data.${t}.${n} is not declared`);
  for (const [, t, n] of text.matchAll(/(?<![.\w])([a-z][a-z0-9]*_[a-z0-9_]+)\.([A-Za-z_][A-Za-z0-9_-]*)/g))
    if (RESOURCE_PREFIX.test(t) && !m.resources.has(`${t}.${n}`)) err(`resource ${t}.${n} is not declared`);
  for (const [, mod, out] of text.matchAll(/\bmodule\.([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)/g)) {
    const call = m.modules[mod];
    if (!call) { err(`module.${mod} is not called here`); continue; }
    const target = modulesByDir[path.resolve(m.dir, call.source)];
    if (target && !target.outputs[out]) err(`module.${mod}.${out}: ${call.source} has no output ${out}`);
  }
  for (const [name, call] of Object.entries(m.modules)) {
    const target = modulesByDir[path.resolve(m.dir, call.source || '')];
    if (!target) { err(`module ${name}: source ${call.source} is no module folder of terraform/`); continue; }
    for (const arg of Object.keys(call)) if (!META.has(arg) && !target.variables[arg]) err(`module ${name}: ${call.source} has no variable ${arg}`);
    for (const [v, decl] of Object.entries(target.variables)) if (!('default' in decl) && !(v in call)) err(`module ${name}: variable ${v} of ${call.source} is not set`);
  }
  // Providers this folder's resources use are pinned (in its own terraform block, or the root's for aws).
  const pinned = {};
  for (const t of m.terraform) for (const rp of t.required_providers || []) for (const [k, v] of Object.entries(rp)) pinned[k] = v.version;
  for (const p of new Set([...m.resources, ...m.data].map((r) => r.split('_')[0])))
    if (!pinned[p] && !(modulesByDir.root.pinned || {})[p]) err(`provider ${p} is not pinned in required_providers`);
  m.pinned = pinned;
  return errors;
}

async function checkTree(root, files) {
  const errors = [];
  const dirs = [root, ...fs.readdirSync(path.join(root, 'modules'), { recursive: true })
    .map((d) => path.join(root, 'modules', d)).filter((d) => fs.statSync(d).isDirectory())];
  const modulesByDir = {};
  for (const d of dirs) if (fs.readdirSync(d).some((f) => f.endsWith('.tf'))) modulesByDir[path.resolve(d)] = await loadModule(d);
  const rootMod = modulesByDir[path.resolve(root)];
  modulesByDir.root = rootMod;
  errors.push(...checkModule(rootMod, modulesByDir, '.'));
  for (const [d, m] of Object.entries(modulesByDir)) if (d !== 'root' && m !== rootMod) errors.push(...checkModule(m, modulesByDir, path.relative(root, d)));
  const called = new Set(Object.values(rootMod.modules).map((c) => path.resolve(root, c.source)));
  for (const d of Object.keys(modulesByDir)) if (d !== 'root' && modulesByDir[d] !== rootMod && !called.has(d)) errors.push(`${path.relative(root, d)}: never called from the root`);
  for (const want of ['network', 'eks', 'msk', 'redis', 'iam']) if (!modulesByDir[path.resolve(root, 'modules', want)]) errors.push(`no module ${want}`);
  const backend = rootMod.terraform.flatMap((t) => Object.keys(t.backend || {}));
  if (backend.join() !== 's3') errors.push(`backend is ${backend.join() || 'none'}, expected s3`);
  for (const f of files.tfvars) {
    const j = await parse(path.basename(f), fs.readFileSync(f, 'utf8'));
    for (const k of Object.keys(j)) if (!rootMod.variables[k]) errors.push(`${path.relative(root, f)}: ${k} is no root variable`);
    for (const [k, v] of Object.entries(rootMod.variables)) if (!('default' in v) && !(k in j)) errors.push(`${path.relative(root, f)}: ${k} (no default) is not set`);
  }
  if (files.tfvars.length === 0) errors.push('no example .tfvars');
  const backendHcl = await parse('backend.hcl.example', fs.readFileSync(path.join(root, 'backend.hcl.example'), 'utf8'));
  for (const k of ['bucket', 'key', 'region', 'dynamodb_table', 'encrypt']) if (!(k in backendHcl)) errors.push(`backend.hcl.example: no ${k}`);
  const setup = fs.readFileSync(path.join(root, 'setup-backend.sh'), 'utf8');
  for (const want of ['s3api create-bucket', 'dynamodb create-table', 'AttributeName=LockID', 'dynamodb_table'])
    if (!setup.includes(want)) errors.push(`setup-backend.sh does not ${want}`);
  const topics = modulesByDir[path.resolve(root, 'modules', 'msk', 'topics')];
  const tt = topics ? topics.text.join('\n') : '';
  for (const t of ['miner.snippets', 'outcome.events', '.dlq']) if (!tt.includes(t)) errors.push(`topics: no ${t}`);
  if (!(rootMod.modules.topics && rootMod.modules.topics.partitions === '${var.shards}')) errors.push('topics: partitions is not var.shards');
  return errors;
}

function listFiles(root) {
  const out = { tf: [], tfvars: [] };
  for (const f of fs.readdirSync(root, { recursive: true })) {
    if (f.includes('.terraform')) continue;
    if (f.endsWith('.tf')) out.tf.push(path.join(root, f));
    if (f.endsWith('.tfvars')) out.tfvars.push(path.join(root, f));
  }
  return out;
}

async function selfTest(root) {
  const os = require('os');
  const copyTree = () => { const t = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-tf-')); fs.cpSync(root, t, { recursive: true }); return t; };
  const refuse = async (what, file, from, to) => {
    const t = copyTree();
    try {
      const p = path.join(t, file); const s = fs.readFileSync(p, 'utf8');
      if (!s.includes(from)) throw new Error(`self-test: ${file} has no ${from}`);
      fs.writeFileSync(p, s.replace(from, to));
      let errors;
      try { errors = await checkTree(t, listFiles(t)); } catch (e) { errors = [String(e)]; }
      if (errors.length === 0) throw new Error(`self-test: a tree with ${what} was accepted`);
    } finally { fs.rmSync(t, { recursive: true, force: true }); }
  };
  await refuse('an undeclared variable', 'main.tf', 'var.vpc_cidr', 'var.vpc_cidr_typo');
  await refuse('a missing module output', 'outputs.tf', 'module.eks.cluster_name', 'module.eks.cluster_nam');
  await refuse('an unknown module argument', 'main.tf', 'node_max            = var.node_max', 'node_max = var.node_max\n  nodes_max = 3');
  await refuse('a tfvars key that is no variable', 'examples/prod.tfvars', 'shards             = 64', 'shard = 64');
  await refuse('a syntax error', 'modules/redis/main.tf', 'type        = number', 'type        = ');
  await refuse('an undeclared resource', 'modules/network/main.tf', 'aws_vpc.this.cidr_block', 'aws_vpc.that.cidr_block');
}

(async () => {
  const root = process.argv[2];
  if (!root) { console.error('usage: node terraform.js ROOT'); process.exit(2); }
  const tf = path.join(root, 'terraform');
  const errors = [];
  try {
    await selfTest(tf);
    const files = listFiles(tf);
    errors.push(...await checkTree(tf, files));
    if (errors.length === 0) console.log(`terraform: ${files.tf.length} .tf and ${files.tfvars.length} .tfvars files parsed and consistent`);
  } catch (e) {
    errors.push(e.stack || String(e));
  }
  if (errors.length) { for (const e of errors) console.error(`FAIL ${e}`); process.exit(1); }
})();
