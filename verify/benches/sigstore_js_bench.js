// Sigstore's reference verifier (npm @sigstore/verify) on the same work as the
// `sigstore_verify` criterion bench: 1,000 verifications cycling through the conformance
// bundles that must pass, bundle parsing included, trusted-root preparation excluded.
// Node runs it on one thread; the figure is printed per process and per CPU second so it
// can stand beside ours (rayon, 2 threads).
//
// Usage: NODE_PATH=$ATTEST_SIGSTORE_JS/node_modules node verify/benches/sigstore_js_bench.js \
//          [../shared/realdata]
const fs = require('fs'), path = require('path'), crypto = require('crypto');
const { bundleFromJSON } = require('@sigstore/bundle');
const { TrustedRoot } = require('@sigstore/protobuf-specs');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

const REAL = process.argv[2] || path.join(__dirname, '../../../shared/realdata');
const CASES = path.join(REAL, 'sigstore/conformance/test/assets/bundle-verify');
const PROD = path.join(REAL, 'sigstore/trust/production_trusted_root.json');
const IDENT = 'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const ISSUER = 'https://token.actions.githubusercontent.com';
const N = 1000;
const rd = (p) => fs.readFileSync(p);

const jobs = [], refused = [];
for (const name of fs.readdirSync(CASES).sort()) {
  const dir = path.join(CASES, name);
  if (!fs.statSync(dir).isDirectory() || name.endsWith('_fail')) continue;
  const ex = (f) => fs.existsSync(path.join(dir, f));
  const root = TrustedRoot.fromJSON(JSON.parse(rd(ex('trusted_root.json') ? path.join(dir, 'trusted_root.json') : PROD)));
  let keys, policy, opts = {};
  if (ex('key.pub')) {
    const k = crypto.createPublicKey(rd(path.join(dir, 'key.pub')));
    keys = () => ({ publicKey: k, validFor: () => true });
    opts = { ctlogThreshold: 0 };
  } else {
    policy = { subjectAlternativeName: IDENT, extensions: { issuer: ISSUER } };
  }
  const job = {
    name,
    verifier: new Verifier(toTrustMaterial(root, keys), opts),
    raw: rd(path.join(dir, 'bundle.sigstore.json')),
    artifact: rd(ex('artifact') ? path.join(dir, 'artifact') : path.join(CASES, 'a.txt')),
    policy,
  };
  try { verifyOne(job); jobs.push(job); } catch (e) { refused.push(`${name} (${e.code || e.message})`); }
}

function verifyOne(j) {
  const bundle = bundleFromJSON(JSON.parse(j.raw));
  const dsse = bundle.content.$case === 'dsseEnvelope';
  j.verifier.verify(toSignedEntity(bundle, dsse ? undefined : j.artifact), j.policy);
}

const batch = Array.from({ length: N }, (_, i) => jobs[i % jobs.length]);
batch.forEach(verifyOne); // warm up
for (let run = 0; run < 3; run++) {
  const cpu0 = process.cpuUsage(), t0 = process.hrtime.bigint();
  batch.forEach(verifyOne);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuSecs = (cpu.user + cpu.system) / 1e6;
  console.log(`@sigstore/verify: ${N} verifications (${jobs.length} distinct bundles), 1 process: ` +
    `${secs.toFixed(3)} s wall = ${Math.round(N / secs)}/s; ${Math.round(cpuSecs * 1e6 / N)} us CPU each`);
}
if (refused.length) console.log(`not in the batch (the reference refuses them offline): ${refused.join(', ')}`);
