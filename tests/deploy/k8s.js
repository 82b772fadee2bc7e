// k8s.js ROOT RENDERED_DIR LEADPOET_BINARY: checks the output of `kubectl kustomize` for every overlay of
// ROOT/deploy/k8s (RENDERED_DIR/<overlay>.yaml, made by check.sh; live.yaml is deploy/k8s/live) (ctest deploy_k8s).
// 1. Every object is valid against the Kubernetes schemas (npm kubernetes-models: types, required fields,
//    enums, formats; it does not refuse unknown fields).
// 2. The pieces fit together: the StatefulSet's serviceName is a headless Service of the same render and
//    LEADPOET_PEERS_SERVICE names it; selectors of the StatefulSet, Services and PDB match the pod labels; the
//    Services' target port is a container port; probes are /healthz (startup, liveness) and /readyz
//    (readiness); resources are set; the HPA scales this StatefulSet with maxReplicas = LEADPOET_PEER_SLOTS
//    <= shards; the mounted ConfigMap exists and its leadpoet.conf passes `leadpoet check-config`; the pods run
//    as non-root; blue and green share no name, no consumer group and no Secret; live selects one colour.
// 3. Secure connections (docs/operations.md): every <NAME>_FILE variable points into a mounted Secret and is
//    never set beside NAME; the redis-tls sidecar's stunnel.conf is a verifying TLS client on 127.0.0.1:6379;
//    every Ingress terminates TLS 1.3 only (an ALB TLS13 policy) in front of a Service port of the same render;
//    prod has the sidecar and one Ingress, blue and green none (live has the one of a blue-green deployment).
// A self-test first checks that a broken object and a broken render are refused.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const YAML = require('yaml');

const MODELS = {
  'v1/ServiceAccount': 'kubernetes-models/v1/ServiceAccount',
  'v1/ConfigMap': 'kubernetes-models/v1/ConfigMap',
  'v1/Service': 'kubernetes-models/v1/Service',
  'apps/v1/StatefulSet': 'kubernetes-models/apps/v1/StatefulSet',
  'policy/v1/PodDisruptionBudget': 'kubernetes-models/policy/v1/PodDisruptionBudget',
  'autoscaling/v2/HorizontalPodAutoscaler': 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler',
  'networking.k8s.io/v1/Ingress': 'kubernetes-models/networking.k8s.io/v1/Ingress',
};

function validateSchema(obj) {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const mod = MODELS[key];
  if (!mod) return [`${key} ${obj.metadata && obj.metadata.name}: no schema known to this test (add it to MODELS)`];
  const Model = require(mod)[obj.kind];
  try { new Model(obj).validate(); return []; } catch (e) { return [`${key} ${obj.metadata.name}: ${e.message}`]; }
}

const subset = (sel, labels) => sel && Object.keys(sel).length > 0 &&
  Object.entries(sel).every(([k, v]) => labels && labels[k] === v);
const envOf = (c, name) => { const e = (c.env || []).find((x) => x.name === name); return e ? e.value : undefined; };

function confShards(conf) {
  let section = '';
  for (const line of conf.split('\n')) {
    const t = line.trim();
    const s = /^\[(.+)\]$/.exec(t);
    if (s) section = s[1];
    const m = /^shards\s*=\s*(\d+)/.exec(t);
    if (section === 'server' && m) return Number(m[1]);
  }
  return 64;
}

// The Ingresses of a render: TLS 1.3 only at an ALB, a host with TLS, a backend that is a Service port here.
function checkIngresses(name, docs) {
  const errors = [];
  for (const ing of docs.filter((d) => d.kind === 'Ingress')) {
    const n = `${name}: Ingress ${ing.metadata.name}`;
    const a = ing.metadata.annotations || {};
    if (!/TLS13-1-3/.test(a['alb.ingress.kubernetes.io/ssl-policy'] || '')) errors.push(`${n}: ssl-policy is not a TLS 1.3-only ALB policy`);
    if (!/HTTPS/.test(a['alb.ingress.kubernetes.io/listen-ports'] || '') || !a['alb.ingress.kubernetes.io/certificate-arn']) errors.push(`${n}: no HTTPS listener with a certificate`);
    if (!(ing.spec.tls || []).some((t) => (t.hosts || []).length > 0)) errors.push(`${n}: no TLS host`);
    for (const rule of ing.spec.rules || []) {
      for (const p of (rule.http && rule.http.paths) || []) {
        const b = p.backend.service;
        const svc = docs.find((d) => d.kind === 'Service' && d.metadata.name === b.name);
        if (!svc) { errors.push(`${n}: backend Service ${b.name} is not in this render`); continue; }
        if (!svc.spec.ports.some((q) => q.name === b.port.name || q.port === b.port.number)) errors.push(`${n}: Service ${b.name} has no port ${b.port.name || b.port.number}`);
      }
    }
  }
  return errors;
}

// Secrets as files and the TLS sidecar of a pod template; returns the errors.
function checkSecure(name, pod, docs) {
  const errors = [];
  const err = (m) => errors.push(`${name}: ${m}`);
  const c = pod.spec.containers.find((x) => x.name === 'leadpoet');
  const vols = pod.spec.volumes || [];
  const env = c.env || [];
  for (const e of env.filter((x) => x.name.endsWith('_FILE'))) {
    // LEADPOET_HTTP_API_KEYS_FILE is a key of its own (http.api_keys_file), which may go with LEADPOET_HTTP_API_KEYS.
    const plain = e.name.slice(0, -5);
    if (plain !== 'LEADPOET_HTTP_API_KEYS' && env.some((x) => x.name === plain)) err(`${plain} and ${e.name} are both set: leadpoet refuses to start`);
    const mount = (c.volumeMounts || []).find((m) => typeof e.value === 'string' && e.value.startsWith(`${m.mountPath}/`));
    const vol = mount && vols.find((v) => v.name === mount.name);
    if (!vol || !vol.secret) err(`${e.name}=${e.value} is not in a mounted Secret`);
  }
  const tls = pod.spec.containers.find((x) => x.name === 'redis-tls');
  if (tls) {
    const m = (tls.volumeMounts || []).find((x) => x.mountPath === '/etc/stunnel');
    const v = m && vols.find((x) => x.name === m.name && x.configMap);
    const cm = v && docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === v.configMap.name);
    const conf = cm && cm.data && cm.data['stunnel.conf'];
    if (typeof conf !== 'string') err('redis-tls: no stunnel.conf of a ConfigMap of this render at /etc/stunnel');
    else {
      const has = (re) => conf.split('\n').some((l) => re.test(l.trim()));
      if (!has(/^client\s*=\s*yes$/)) err('redis-tls: stunnel is not in client mode');
      if (!has(/^accept\s*=\s*127\.0\.0\.1:6379$/)) err('redis-tls: stunnel does not accept on 127.0.0.1:6379 (where REDIS_ENDPOINT points)');
      if (!has(/^verifyChain\s*=\s*yes$/) || !has(/^checkHost\s*=\s*\S+/)) err('redis-tls: the server certificate is not verified (verifyChain, checkHost)');
      if (!has(/^sslVersionMin\s*=\s*TLSv1\.[23]$/)) err('redis-tls: no sslVersionMin of TLSv1.2 or later');
    }
    const r = tls.resources || {};
    if (!(r.requests && r.requests.cpu && r.requests.memory && r.limits && r.limits.memory)) err('redis-tls: resources: need cpu and memory requests and a memory limit');
  }
  return errors;
}

// Checks one overlay's objects; returns the errors. checkConf(text) returns an error string or null.
function checkOverlay(name, docs, checkConf) {
  const errors = [];
  const err = (m) => errors.push(`${name}: ${m}`);
  for (const d of docs) errors.push(...validateSchema(d).map((e) => `${name}: ${e}`));
  const of = (kind) => docs.filter((d) => d.kind === kind);
  const sts = of('StatefulSet');
  if (sts.length !== 1) { err(`${sts.length} StatefulSets, expected 1`); return errors; }
  const s = sts[0];
  const ns = s.metadata.namespace;
  if (!ns) err('no namespace set');
  for (const d of docs) if (d.metadata.namespace !== ns) err(`${d.kind} ${d.metadata.name} is in namespace ${d.metadata.namespace}, not ${ns}`);
  const pod = s.spec.template;
  const labels = pod.metadata.labels;
  if (!subset(s.spec.selector.matchLabels, labels)) err('StatefulSet selector does not match its pod labels');
  const c = pod.spec.containers.find((x) => x.name === 'leadpoet');
  if (!c) { err('no container named leadpoet'); return errors; }
  const ports = new Set((c.ports || []).map((p) => p.name));
  const services = of('Service');
  const headless = services.find((x) => x.metadata.name === s.spec.serviceName);
  if (!headless) err(`serviceName ${s.spec.serviceName} is no Service of this render`);
  else if (headless.spec.clusterIP !== 'None') err(`Service ${headless.metadata.name} is not headless`);
  if (envOf(c, 'LEADPOET_PEERS_SERVICE') !== s.spec.serviceName) err(`LEADPOET_PEERS_SERVICE is ${envOf(c, 'LEADPOET_PEERS_SERVICE')}, not the serviceName ${s.spec.serviceName}`);
  if (!services.some((x) => x.spec.clusterIP !== 'None')) err('no (non-headless) Service for clients');
  for (const svc of services) {
    if (!subset(svc.spec.selector, labels)) err(`Service ${svc.metadata.name} does not select the pods`);
    for (const p of svc.spec.ports) if (!ports.has(p.targetPort) && !(c.ports || []).some((q) => q.containerPort === p.targetPort))
      err(`Service ${svc.metadata.name} targets port ${p.targetPort}, not a container port`);
  }
  const probe = (p, want) => p && p.httpGet && p.httpGet.path === want && ports.has(p.httpGet.port);
  if (!probe(c.livenessProbe, '/healthz')) err('liveness probe is not GET /healthz on a container port');
  if (!probe(c.startupProbe, '/healthz')) err('startup probe is not GET /healthz on a container port');
  if (!probe(c.readinessProbe, '/readyz')) err('readiness probe is not GET /readyz on a container port');
  const r = c.resources || {};
  if (!(r.requests && r.requests.cpu && r.requests.memory && r.limits && r.limits.memory)) err('resources: need cpu and memory requests and a memory limit');
  const psc = pod.spec.securityContext || {};
  if (psc.runAsNonRoot !== true || !(psc.runAsUser > 0)) err('pods do not run as a non-root user');
  const secretRefs = (c.envFrom || []).filter((e) => e.secretRef).map((e) => e.secretRef.name);
  if (secretRefs.length !== 1) err('expected one Secret reference (envFrom) holding KAFKA_BOOTSTRAP_BROKERS, REDIS_ENDPOINT and the API keys');
  const pdbs = of('PodDisruptionBudget');
  if (pdbs.length !== 1 || !subset(pdbs[0].spec.selector && pdbs[0].spec.selector.matchLabels, labels)) err('no PodDisruptionBudget selecting the pods');
  const hpas = of('HorizontalPodAutoscaler');
  const slots = Number(envOf(c, 'LEADPOET_PEER_SLOTS'));
  const cm = of('ConfigMap');
  const confMount = (c.volumeMounts || []).find((m) => m.mountPath === '/etc/leadpoet');
  const vol = confMount && (pod.spec.volumes || []).find((v) => v.configMap && v.name === confMount.name);
  const conf = vol && cm.find((x) => x.metadata.name === vol.configMap.name);
  if (!conf || typeof conf.data['leadpoet.conf'] !== 'string') err('the mounted ConfigMap is not in this render or has no leadpoet.conf');
  const shards = conf ? confShards(conf.data['leadpoet.conf']) : 64;
  if (hpas.length !== 1) err(`${hpas.length} HPAs, expected 1`);
  else {
    const h = hpas[0];
    if (h.spec.scaleTargetRef.kind !== 'StatefulSet' || h.spec.scaleTargetRef.name !== s.metadata.name) err('the HPA does not scale this StatefulSet');
    if (h.spec.maxReplicas !== slots) err(`HPA maxReplicas ${h.spec.maxReplicas} != LEADPOET_PEER_SLOTS ${slots}: LEADPOET_PEERS would miss pods`);
    if (h.spec.maxReplicas > shards) err(`HPA maxReplicas ${h.spec.maxReplicas} > shards ${shards}: instances without a partition`);
    const rep = s.spec.replicas;
    if (rep < h.spec.minReplicas || rep > h.spec.maxReplicas) err(`replicas ${rep} outside the HPA's ${h.spec.minReplicas}..${h.spec.maxReplicas}`);
  }
  if (conf && checkConf) { const e = checkConf(conf.data['leadpoet.conf']); if (e) err(`leadpoet check-config: ${e}`); }
  errors.push(...checkSecure(name, pod, docs), ...checkIngresses(name, docs));
  return errors;
}

function load(file) {
  return YAML.parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => {
    if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
    return d.toJS();
  }).filter((d) => d !== null);
}

function selfTest(sample) {
  const copy = () => JSON.parse(JSON.stringify(sample));
  if (checkOverlay('self', copy(), null).length) throw new Error(`self-test: the good render is refused: ${checkOverlay('self', copy(), null).join('; ')}`);
  const refuse = (what, mutate) => {
    const docs = copy(); mutate(docs);
    if (checkOverlay('self', docs, null).length === 0) throw new Error(`self-test: a render with ${what} was accepted`);
  };
  const sts = (docs) => docs.find((d) => d.kind === 'StatefulSet');
  refuse('replicas as a string', (d) => { sts(d).spec.replicas = '3'; });
  refuse('an unknown kind', (d) => { d.push({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } }); });
  refuse('no headless Service', (d) => { d.splice(d.findIndex((x) => x.kind === 'Service' && x.spec.clusterIP === 'None'), 1); });
  refuse('a readiness probe on /healthz', (d) => { sts(d).spec.template.spec.containers[0].readinessProbe.httpGet.path = '/healthz'; });
  refuse('HPA maxReplicas above the peer slots', (d) => { d.find((x) => x.kind === 'HorizontalPodAutoscaler').spec.maxReplicas += 1; });
  refuse('a Service selecting other pods', (d) => { d.find((x) => x.kind === 'Service').spec.selector['leadpoet.io/color'] = 'purple'; });
  refuse('a root pod', (d) => { delete sts(d).spec.template.spec.securityContext.runAsNonRoot; });
  const main = (d) => sts(d).spec.template.spec.containers.find((c) => c.name === 'leadpoet');
  refuse('a secret both as NAME and NAME_FILE', (d) => { main(d).env.push({ name: 'OPENAI_API_KEY', value: 'sk' }); });
  refuse('a _FILE outside the mounted Secret', (d) => { main(d).env.find((e) => e.name === 'REDIS_ENDPOINT_FILE').value = '/etc/leadpoet/redis'; });
  refuse('a stunnel that does not verify', (d) => {
    const cm = d.find((x) => x.kind === 'ConfigMap' && x.data['stunnel.conf']);
    cm.data['stunnel.conf'] = cm.data['stunnel.conf'].replace(/verifyChain = yes/, 'verifyChain = no');
  });
  refuse('an Ingress that allows TLS 1.2', (d) => {
    d.find((x) => x.kind === 'Ingress').metadata.annotations['alb.ingress.kubernetes.io/ssl-policy'] = 'ELBSecurityPolicy-TLS-1-2-2017-01';
  });
  refuse('an Ingress to a Service not rendered', (d) => { d.find((x) => x.kind === 'Ingress').spec.rules[0].http.paths[0].backend.service.name = 'nope'; });
}

const [root, dir, binary] = process.argv.slice(2);
if (!root || !dir || !binary) { console.error('usage: node k8s.js ROOT RENDERED_DIR LEADPOET_BINARY'); process.exit(2); }
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-k8s-'));
const checkConf = (text) => {
  const f = path.join(tmp, 'leadpoet.conf');
  fs.writeFileSync(f, text);
  // The API keys come from Secret leadpoet-secrets at run time (http.api_keys_required = true): one stand-in entry.
  const env = { ...process.env, LEADPOET_HTTP_API_KEYS: `ci:${'0'.repeat(64)}` };
  try { execFileSync(binary, ['check-config', f], { stdio: 'pipe', env }); return null; } catch (e) { return `${String(e.stderr || '').trim()} (${e.message.split('\n')[0]})`; }
};
const errors = [];
const renders = {};
const overlays = fs.readdirSync(path.join(root, 'deploy', 'k8s', 'overlays')).sort();
try {
  for (const o of overlays) renders[o] = load(path.join(dir, `${o}.yaml`));
  selfTest(renders.prod);
  for (const o of overlays) errors.push(...checkOverlay(o, renders[o], checkConf));
  for (const o of ['dev', 'prod', 'blue', 'green']) if (!renders[o]) errors.push(`no overlay ${o}`);
  // Blue and green side by side in one namespace: nothing shared but the Kafka cluster.
  if (renders.blue && renders.green) {
    const names = (docs) => new Set(docs.map((d) => `${d.kind}/${d.metadata.name}`));
    const g = names(renders.green);
    for (const n of names(renders.blue)) if (g.has(n)) errors.push(`blue and green both define ${n}`);
    const c = (docs) => docs.find((d) => d.kind === 'StatefulSet').spec.template.spec.containers[0];
    for (const key of ['LEADPOET_KAFKA_GROUP_ID', 'LEADPOET_PEERS_SERVICE'])
      if (!envOf(c(renders.blue), key) || envOf(c(renders.blue), key) === envOf(c(renders.green), key)) errors.push(`blue and green share ${key}`);
    if (c(renders.blue).envFrom[0].secretRef.name === c(renders.green).envFrom[0].secretRef.name) errors.push('blue and green share their Secret');
    const files = (docs) => docs.find((d) => d.kind === 'StatefulSet').spec.template.spec.volumes.filter((v) => v.secret).map((v) => v.secret.secretName);
    for (const f of files(renders.blue)) if (files(renders.green).includes(f)) errors.push(`blue and green share Secret ${f}`);
  }
  // Secure connections: prod has the TLS sidecar and the one Ingress; the colours leave the Ingress to live.
  if (renders.prod) {
    const pod = renders.prod.find((d) => d.kind === 'StatefulSet').spec.template;
    if (!pod.spec.containers.some((c) => c.name === 'redis-tls')) errors.push('prod: no redis-tls sidecar (TLS to ElastiCache)');
    if (renders.prod.filter((d) => d.kind === 'Ingress').length !== 1) errors.push('prod: expected one Ingress');
  }
  for (const o of ['blue', 'green']) if (renders[o] && renders[o].some((d) => d.kind === 'Ingress')) errors.push(`${o}: an Ingress of its own (live has the one)`);
  // live: one Service that selects the pods of exactly one colour.
  const live = load(path.join(dir, 'live.yaml'));
  errors.push(...live.flatMap((d) => validateSchema(d).map((e) => `live: ${e}`)));
  const svc = live.find((d) => d.kind === 'Service');
  const podLabels = (o) => renders[o] && renders[o].find((d) => d.kind === 'StatefulSet').spec.template.metadata.labels;
  const selected = ['blue', 'green'].filter((o) => svc && subset(svc.spec.selector, podLabels(o)));
  if (selected.length !== 1) errors.push(`live: the Service selects ${selected.length} colours, expected 1`);
  if (svc && renders.blue && svc.metadata.namespace !== renders.blue[0].metadata.namespace) errors.push('live: not in the colours\' namespace');
  if (live.filter((d) => d.kind === 'Ingress').length !== 1) errors.push('live: expected one Ingress in front of the switched Service');
  errors.push(...checkIngresses('live', live));
} catch (e) {
  errors.push(e.message);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
if (errors.length) { for (const e of errors) console.error(`FAIL ${e}`); process.exit(1); }
console.log(`k8s: ${overlays.join(', ')} and live rendered, valid and consistent`);
