// docker.js ROOT: lints ROOT/Dockerfile and ROOT/.dockerignore without docker (ctest deploy_docker). hadolint is
// not packaged for Debian 12 nor on npm, so this is a structural check on the parse of npm dockerfile-ast:
// multi-stage from Debian 12 slim; the build stage builds with CMake and installs every build package of
// deploy/local/lib.sh; apt-get update and install in one RUN with --no-install-recommends, lists removed; the
// runtime stage copies the binary from the build stage, runs as a non-root user, exposes 8080, has a
// HEALTHCHECK on /healthz and an exec-form ENTRYPOINT; no ADD of URLs; every apt package named is one dpkg
// knows on this machine (a misspelt name fails here, not in a later docker build); .dockerignore keeps build
// trees and .git out. A self-test first checks that broken Dockerfiles are refused.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { DockerfileParser } = require('dockerfile-ast');

const NOT_IN_IMAGE = new Set(['redis-server', 'libcriterion-dev']); // lib.sh packages for tests and run.sh only

function aptPackages(run) {
  const out = [];
  for (const m of run.matchAll(/apt-get\s+install\s+((?:[^&;|]|\\\n)*)/g))
    for (const w of m[1].replace(/\\\n/g, ' ').split(/\s+/)) if (w && !w.startsWith('-')) out.push(w);
  return out;
}

function check(text, libPackages, known) {
  const errors = [];
  const df = DockerfileParser.parse(text);
  const args = {};
  for (const a of df.getInitialARGs()) { const p = a.getProperty(); if (p) args[p.getName()] = p.getValue(); }
  const froms = df.getFROMs();
  if (froms.length < 2) errors.push(`${froms.length} stage(s): expected a multi-stage build`);
  const stages = [];
  let cur = null;
  for (const ins of df.getInstructions()) {
    const kw = ins.getKeyword();
    if (kw === 'FROM') {
      let image = ins.getImageName() || '';
      image = image.replace(/^\$\{?(\w+)\}?$/, (_, v) => args[v] || image);
      const tag = ins.getImageTag() || (args[(ins.getImageName() || '').replace(/[${}]/g, '')] || '').split(':')[1];
      cur = { name: ins.getBuildStage(), image: image.split(':')[0], tag, ins: [] };
      stages.push(cur);
      continue;
    }
    if (cur) cur.ins.push({ kw, text: ins.getTextContent(), args: ins.getArguments().map((a) => a.getValue()), node: ins });
    if (kw === 'ADD' && /https?:\/\//.test(ins.getTextContent())) errors.push('ADD of a URL: fetch nothing unpinned at build time');
  }
  for (const s of stages) if (s.image !== 'debian' || !/^(12|bookworm)(-|\.)?.*slim$/.test(s.tag || '')) errors.push(`stage ${s.name}: ${s.image}:${s.tag} is not Debian 12 slim`);
  if (stages.length < 2) return errors;
  const build = stages[0]; const run = stages[stages.length - 1];
  const runs = (s) => s.ins.filter((i) => i.kw === 'RUN').map((i) => i.text);
  if (!runs(build).some((r) => /cmake\s+-S/.test(r) && /cmake\s+--build/.test(r))) errors.push('the build stage does not configure and build with cmake');
  for (const s of stages) for (const r of runs(s)) if (/apt-get\s+install/.test(r)) {
    if (!/apt-get\s+update/.test(r)) errors.push(`stage ${s.name}: apt-get install without apt-get update in the same RUN`);
    if (!/--no-install-recommends/.test(r)) errors.push(`stage ${s.name}: apt-get install without --no-install-recommends`);
    if (!/rm -rf \/var\/lib\/apt\/lists/.test(r)) errors.push(`stage ${s.name}: apt lists not removed in the same RUN`);
    for (const p of aptPackages(r)) if (!known(p)) errors.push(`stage ${s.name}: apt package ${p} is unknown to dpkg here`);
  }
  const buildPkgs = new Set(runs(build).flatMap(aptPackages));
  for (const p of libPackages) if (!NOT_IN_IMAGE.has(p) && !buildPkgs.has(p)) errors.push(`the build stage lacks ${p} (deploy/local/lib.sh LP_PACKAGES)`);
  const users = run.ins.filter((i) => i.kw === 'USER');
  const user = users.length ? users[users.length - 1].args[0] : 'root';
  if (/^(root|0)(:|$)/.test(user)) errors.push('the runtime stage runs as root (no USER, or USER root)');
  if (!run.ins.some((i) => i.kw === 'COPY' && i.text.includes(`--from=${build.name}`) && /build\/leadpoet\s/.test(i.text)))
    errors.push(`the runtime stage does not copy build/leadpoet from stage ${build.name}`);
  const hc = run.ins.filter((i) => i.kw === 'HEALTHCHECK');
  if (hc.length !== 1 || !/CMD\s.*\/healthz/.test(hc[0].text)) errors.push('no HEALTHCHECK on /healthz in the runtime stage');
  if (!run.ins.some((i) => i.kw === 'EXPOSE' && i.args.includes('8080'))) errors.push('the runtime stage does not EXPOSE 8080');
  const ep = run.ins.filter((i) => i.kw === 'ENTRYPOINT');
  if (ep.length !== 1 || !/^ENTRYPOINT\s*\[/.test(ep[0].text)) errors.push('no exec-form ENTRYPOINT in the runtime stage');
  return errors;
}

function known(pkg) {
  try { execFileSync('dpkg-query', ['-W', '-f=${Version}', pkg], { stdio: 'pipe' }); return true; } catch (e) { return false; }
}

function libPackages(root) {
  const lib = fs.readFileSync(path.join(root, 'deploy', 'local', 'lib.sh'), 'utf8');
  const m = /LP_PACKAGES=\(([\s\S]*?)\)/.exec(lib);
  if (!m) throw new Error('deploy/local/lib.sh has no LP_PACKAGES=( ... )');
  return m[1].split('\n').map((l) => l.replace(/#.*/, '')).join(' ').split(/\s+/).filter(Boolean);
}

function selfTest(text, pkgs) {
  const refuse = (what, from, to) => {
    const t = text.replace(from, to);
    if (t === text) throw new Error(`self-test: could not make a Dockerfile with ${what}`);
    if (check(t, pkgs, known).length === 0) throw new Error(`self-test: a Dockerfile with ${what} was accepted`);
  };
  refuse('USER root', /^USER .*$/m, 'USER root');
  refuse('no HEALTHCHECK', /^HEALTHCHECK[\s\S]*?\n(?=\S)/m, '');
  refuse('an Alpine base', /^ARG DEBIAN_IMAGE=.*$/m, 'ARG DEBIAN_IMAGE=alpine:3.19');
  refuse('a misspelt package', 'libuv1 ', 'libuv-one ');
  refuse('recommends installed', /--no-install-recommends/g, '');
  refuse('a single stage', /FROM \$\{DEBIAN_IMAGE\} AS runtime[\s\S]*/, '');
}

const root = process.argv[2];
if (!root) { console.error('usage: node docker.js ROOT'); process.exit(2); }
const errors = [];
try {
  const text = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  const pkgs = libPackages(root);
  selfTest(text, pkgs);
  errors.push(...check(text, pkgs, known));
  // COPY --from sources that come from the repository must exist in it.
  for (const m of text.matchAll(/^COPY --from=\S+ (.+) \S+$/gm))
    for (const src of m[1].split(/\s+/)) {
      const rel = src.replace(/^\/src\//, '');
      if (!rel.startsWith('build/') && !fs.existsSync(path.join(root, rel))) errors.push(`COPY source ${src} is not in the repository`);
    }
  const ignore = fs.readFileSync(path.join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
  for (const want of ['.git', 'build', 'build-*']) if (!ignore.includes(want)) errors.push(`.dockerignore does not exclude ${want}`);
} catch (e) {
  errors.push(e.message);
}
if (errors.length) { for (const e of errors) console.error(`FAIL ${e}`); process.exit(1); }
console.log('docker: Dockerfile and .dockerignore pass the structural lint');
