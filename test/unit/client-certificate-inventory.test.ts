/**
 * The inventory of client certificates seen: real peer certificates from real TLS handshakes (a loopback
 * server that asks for client certificates), counted per connection with the door's verdicts; the bound
 * (least recently seen out first, set small here); the snapshot as plain JSON; mergeSnapshots summing
 * workers' snapshots without touching them.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import * as tls from 'node:tls';
import { createCa, issueClient, issueServer, type Issued } from '../../src/pki/index.js';
import { ClientCertificate } from '../../src/tls/client-certificate.js';
import { ClientCertificateInventory, mergeSnapshots, type ClientCertificateEntry } from '../../src/tls/client-certificate-inventory.js';
import { ACCEPTED, REVOKED, verdictForVerifyError } from '../../src/tls/verdict.js';

let root: Issued;
let server: tls.Server;
const peers: tls.DetailedPeerCertificate[] = [];
const certificates: ClientCertificate[] = [];

/** The peer certificate the server saw for a client certificate, through a real handshake. */
async function seenBy(client: Issued): Promise<tls.DetailedPeerCertificate> {
  const port = (server.address() as AddressInfo).port;
  const accepted = once(server, 'secureConnection') as Promise<[tls.TLSSocket]>;
  const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: root.certPem, cert: client.certPem, key: client.keyPem });
  await once(socket, 'secureConnect');
  const [serverSide] = await accepted;
  const peer = serverSide.getPeerCertificate(true);
  socket.destroy();
  serverSide.destroy();
  return peer;
}

before(async () => {
  root = await createCa({ commonName: 'Inventory Root', organization: 'Example' });
  const serverCert = await issueServer({ ca: root, dnsNames: ['localhost'] });
  server = tls.createServer({ cert: serverCert.certPem, key: serverCert.keyPem, ca: root.certPem, requestCert: true, rejectUnauthorized: false });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  for (let index = 0; index < 5; index++) {
    const client = await issueClient({ ca: root, commonName: `Client ${index}`, organization: 'Example', days: 10 + index });
    peers.push(await seenBy(client));
    certificates.push(new ClientCertificate(peers[index] as tls.DetailedPeerCertificate));
  }
});

after(() => {
  server?.close();
});

const at = (iso: string) => Date.parse(iso);

test('each new connection counts once with its verdict; requests are counted on the record the connection keeps', () => {
  const inventory = new ClientCertificateInventory();
  const [alice, mallory] = certificates as [ClientCertificate, ClientCertificate];
  const first = inventory.connected(alice, ACCEPTED, 'secure', 1_000);
  first.requests += 3; // what the listener does: one increment per request
  const second = inventory.connected(alice, ACCEPTED, 'other', 2_000);
  assert.equal(second, first, 'one record per certificate');
  second.requests++;
  inventory.connected(mallory, verdictForVerifyError('UNABLE_TO_GET_ISSUER_CERT_LOCALLY'), 'secure', 3_000);
  inventory.connected(mallory, REVOKED, 'secure', 4_000);
  const [newest, older] = inventory.snapshot() as [ClientCertificateEntry, ClientCertificateEntry];
  assert.equal(newest.subject, 'CN=Client 1, O=Example');
  assert.equal(newest.issuer, 'CN=Inventory Root, O=Example');
  assert.equal(newest.connections, 2);
  assert.equal(newest.requests, 0);
  assert.deepEqual(newest.rejections, { '403.16': 1, '403.13': 1 });
  assert.equal(newest.lastVerdict, 'revoked');
  assert.equal(newest.firstSeen, new Date(3_000).toISOString());
  assert.equal(newest.lastSeen, new Date(4_000).toISOString());
  assert.equal(older.subject, 'CN=Client 0, O=Example');
  assert.equal(older.connections, 2);
  assert.equal(older.requests, 4);
  assert.equal(older.lastVerdict, 'accepted');
  assert.deepEqual(older.rejections, {});
  assert.deepEqual(older.sites, ['other', 'secure']);
  assert.equal(older.thumbprintSha1, (peers[0] as tls.PeerCertificate).fingerprint.replace(/:/g, ''));
  assert.equal(older.thumbprintSha256, (peers[0] as tls.PeerCertificate).fingerprint256.replace(/:/g, '').toLowerCase());
  assert.equal(older.serialNumber, alice.serialNumber);
  assert.equal(at(older.notAfter), alice.notAfterMs);
  assert.deepEqual(JSON.parse(JSON.stringify(inventory.snapshot())), inventory.snapshot(), 'the snapshot is plain JSON');
});

test('bounded: past maxEntries the least recently seen certificate leaves first', () => {
  const inventory = new ClientCertificateInventory(3);
  const [c0, c1, c2, c3, c4] = certificates as [ClientCertificate, ClientCertificate, ClientCertificate, ClientCertificate, ClientCertificate];
  inventory.connected(c0, ACCEPTED, 's', 1);
  inventory.connected(c1, ACCEPTED, 's', 2);
  inventory.connected(c2, ACCEPTED, 's', 3);
  inventory.connected(c0, ACCEPTED, 's', 4); // c0 seen again: c1 is now the least recently seen
  inventory.connected(c3, ACCEPTED, 's', 5);
  assert.equal(inventory.size, 3);
  assert.deepEqual(inventory.snapshot().map((e) => e.subject), ['CN=Client 3, O=Example', 'CN=Client 0, O=Example', 'CN=Client 2, O=Example']);
  inventory.connected(c4, ACCEPTED, 's', 6);
  assert.deepEqual(inventory.snapshot().map((e) => e.subject), ['CN=Client 4, O=Example', 'CN=Client 3, O=Example', 'CN=Client 0, O=Example']);
  const back = inventory.connected(c1, ACCEPTED, 's', 7);
  assert.equal(back.connections, 1, 'a certificate that left starts again');
  assert.equal(inventory.size, 3);
  assert.throws(() => new ClientCertificateInventory(0), RangeError);
});

test('mergeSnapshots sums the workers\' counts and refusals, keeps the newest verdict, unites the sites, and changes no input', () => {
  const one = new ClientCertificateInventory();
  const two = new ClientCertificateInventory();
  const [alice, bob] = certificates as [ClientCertificate, ClientCertificate];
  one.connected(alice, ACCEPTED, 'secure', 1_000).requests = 5;
  one.connected(bob, REVOKED, 'secure', 1_500);
  two.connected(alice, verdictForVerifyError('CERT_HAS_EXPIRED'), 'other', 2_000).requests = 2;
  two.connected(alice, REVOKED, 'other', 3_000);
  const a = one.snapshot();
  const b = two.snapshot();
  const frozen = JSON.stringify([a, b]);
  const merged = mergeSnapshots([a, b]);
  assert.equal(JSON.stringify([a, b]), frozen, 'inputs unchanged');
  assert.equal(merged.length, 2);
  const [first, second] = merged as [ClientCertificateEntry, ClientCertificateEntry];
  assert.equal(first.subject, 'CN=Client 0, O=Example', 'most recently seen first');
  assert.equal(first.connections, 3);
  assert.equal(first.requests, 7);
  assert.deepEqual(first.rejections, { '403.17': 1, '403.13': 1 });
  assert.equal(first.firstSeen, new Date(1_000).toISOString());
  assert.equal(first.lastSeen, new Date(3_000).toISOString(), 'worker two saw it last');
  assert.equal(first.lastVerdict, 'revoked');
  assert.deepEqual(first.sites, ['other', 'secure']);
  assert.equal(second.subject, 'CN=Client 1, O=Example');
  assert.deepEqual(second.rejections, { '403.13': 1 });
  assert.deepEqual(mergeSnapshots([]), []);
  assert.deepEqual(mergeSnapshots([a]), a);
});
