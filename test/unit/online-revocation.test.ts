/**
 * Which certificates the online check covers (OnlineRevocation.pairsOf), from the chain node verified or,
 * for a resumed session that shows the leaf alone, from what is known: trust anchors are never checked, an
 * intermediate listed as a trust anchor ends the chain, and a leaf whose issuer cannot be found is unknown
 * (never silently good). Certificates made at test time; no network.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import type { DetailedPeerCertificate } from 'node:tls';
import { after, before, test } from 'node:test';
import { createCa, issueClient, type Issued } from '../../src/pki/index.js';
import { OnlineRevocation } from '../../src/tls/online/online-revocation.js';
import { RevocationCache } from '../../src/tls/online/revocation-cache.js';
import { makeTempDir, type TempDir } from '../support/temp.js';

let tmp: TempDir | undefined;
let dir: string;
let root: Issued;
let issuing: Issued;
let leaf: Issued;
let cache: RevocationCache;

/** Node's detailed peer shape for a chain, leaf first, the last one self-signed (or not, for a partial chain). */
function peerOf(...chain: Issued[]): DetailedPeerCertificate {
  const nodes = chain.map((issued) => {
    const x = new X509Certificate(issued.certPem);
    return { raw: x.raw, fingerprint256: x.fingerprint256, serialNumber: x.serialNumber } as unknown as DetailedPeerCertificate;
  });
  nodes.forEach((node, i) => {
    const next = nodes[i + 1];
    if (next) (node as { issuerCertificate: DetailedPeerCertificate }).issuerCertificate = next;
  });
  const last = nodes[nodes.length - 1] as DetailedPeerCertificate;
  if (chain[chain.length - 1] === root) (last as { issuerCertificate: DetailedPeerCertificate }).issuerCertificate = last;
  return nodes[0] as DetailedPeerCertificate;
}

const der = (issued: Issued) => new X509Certificate(issued.certPem).raw;
const checker = (anchors: Issued[], check: 'chain' | 'leaf' = 'chain') => new OnlineRevocation({ cachedOnly: false, whenUnknown: 'deny' }, cache, check, anchors.map(der), () => false);

before(async () => {
  tmp = await makeTempDir('gatehouse-online-unit-');
  dir = tmp.dir;
  root = await createCa({ commonName: 'Unit Root' });
  issuing = await createCa({ commonName: 'Unit Issuing', issuer: root, pathLength: 0, ocspUrls: ['http://127.0.0.1:9/root-ocsp'] });
  leaf = await issueClient({ ca: issuing, commonName: 'Unit Leaf', crlUrls: ['http://127.0.0.1:9/issuing.crl'] });
  cache = new RevocationCache({ folder: join(dir, 'cache'), freshnessMs: 60_000, fetchTimeoutMs: 1000 }, { fetched: () => undefined, warn: () => undefined });
});

after(async () => {
  cache.close();
  await tmp?.remove();
});

test('chain: the leaf and the issuing CA, each with its own sources; the root is not checked', () => {
  const pairs = checker([root]).pairsOf(peerOf(leaf, issuing, root));
  assert.deepEqual(pairs.map((p) => [p.cert.subject, p.issuer.subject, p.sources.map((s) => `${s.kind} ${s.url}`)]), [
    ['CN=Unit Leaf', 'CN=Unit Issuing', ['crl http://127.0.0.1:9/issuing.crl']],
    ['CN=Unit Issuing', 'CN=Unit Root', ['ocsp http://127.0.0.1:9/root-ocsp']],
  ]);
});

test('leaf: the leaf only', () => {
  assert.deepEqual(checker([root], 'leaf').pairsOf(peerOf(leaf, issuing, root)).map((p) => p.cert.subject), ['CN=Unit Leaf']);
});

test('an intermediate that is itself a trust anchor ends the chain: only the leaf is checked', () => {
  const pairs = checker([issuing]).pairsOf(peerOf(leaf, issuing));
  assert.deepEqual(pairs.map((p) => p.cert.subject), ['CN=Unit Leaf']);
  assert.equal(pairs[0]?.missingIssuer, undefined);
});

test('the leaf alone (a resumed session), issuer unknown: unknown, never good', () => {
  const online = checker([root]);
  const pairs = online.pairsOf(peerOf(leaf));
  assert.equal(pairs.length, 1);
  assert.equal(pairs[0]?.missingIssuer, true);
  const status = online.statusOf(pairs);
  assert.equal(status.state, 'unknown');
  assert.match(status.state === 'unknown' ? status.why : '', /the CA that issued CN=Unit Leaf is neither in the chain the client sent nor in trustedCaFile/);
});

test('the leaf alone, after a full handshake on another connection: the pairs that handshake found', () => {
  const online = checker([root]);
  online.pairsFor({}, peerOf(leaf, issuing, root));
  const resumed = online.pairsFor({}, peerOf(leaf));
  assert.deepEqual(resumed.map((p) => p.cert.subject), ['CN=Unit Leaf', 'CN=Unit Issuing']);
});

test('nothing cached and nothing fetched: statusOf says unknown, naming each source', () => {
  const online = checker([root]);
  const status = online.statusOf(online.pairsOf(peerOf(leaf, issuing, root)));
  assert.equal(status.state, 'unknown');
  assert.match(status.state === 'unknown' ? status.why : '', /CRL http:\/\/127\.0\.0\.1:9\/issuing\.crl: no answer yet/);
});
