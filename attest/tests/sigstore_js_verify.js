// Verify one Sigstore bundle with npm @sigstore/verify, offline.
// Usage: NODE_PATH=<dir>/node_modules node sigstore_js_verify.js --bundle F
//          (--key PUB.pem | --trusted-root trusted_root.json --identity SAN)
// Exit 0: verified. Exit 1: verification failed (reason on stderr). Exit 2: usage.
//
// Our bundles are made offline: no transparency-log entry and no signed timestamp. So the
// verifier is told to expect zero log entries and SCTs, and for certificates the one
// timestamp it needs to check validity is the verification time itself (what cosign calls
// --insecure-ignore-tlog). Everything else — signature over the DSSE PAE, certificate
// chain to the CA in the trusted root, SAN policy, key hint — is @sigstore/verify's own.
const fs = require('fs'), crypto = require('crypto');
const { bundleFromJSON } = require('@sigstore/bundle');
const { TrustedRoot } = require('@sigstore/protobuf-specs');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
if (!args.bundle || (!args.key && !args['trusted-root'])) { console.error('usage'); process.exit(2); }
try {
  const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(args.bundle)));
  const entity = toSignedEntity(bundle);
  let root, keys, policy;
  if (args.key) {
    const der = crypto.createPublicKey(fs.readFileSync(args.key)).export({ type: 'spki', format: 'der' });
    // Our documented key id: SHA-256 of the SPKI DER. The hint must name it.
    const keyid = crypto.createHash('sha256').update(der).digest('hex');
    root = TrustedRoot.fromJSON({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
      tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] });
    keys = { [keyid]: { rawBytes: der } };
  } else {
    root = TrustedRoot.fromJSON(JSON.parse(fs.readFileSync(args['trusted-root'])));
    entity.timestamps.push({ $case: 'transparency-log',
      // getTLogTimestamp only reads the time of entries that have an inclusion promise.
      tlogEntry: { logId: { keyId: Buffer.from('offline-verification-time') }, inclusionPromise: {},
                   integratedTime: String(Math.floor(Date.now() / 1000)) } });
    if (args.identity) policy = { subjectAlternativeName: args.identity };
  }
  const verifier = new Verifier(toTrustMaterial(root, keys),
    { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: args.key ? 0 : 1 });
  verifier.verify(entity, policy);
  console.log('VERIFIED');
} catch (e) {
  console.error('FAILED: ' + (e.code ? e.code + ': ' : '') + e.message);
  process.exit(1);
}
