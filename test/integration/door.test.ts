/**
 * The door: IIS client-certificate policy (ignore / accept / require), requireSsl, the 403.x answers
 * and their event-log lines, and keep-alive connections. Chains and CRLs: door-chains.test.ts; SNI and
 * PFX: door-sni.test.ts; resumed sessions: door-resumption.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import { curl, opensslSClient, type CurlResult } from '../support/clients.js';
import { assertRejected as assertRejectedBy, base64DerOf, errorLine, observeServerSide, receivedAt, startDoor as startDoorIn, tlsFetch, uniquePath, type Door, type SiteSpec } from '../support/door.js';
import { createTestPki, type ClientFiles, type TestPki } from '../support/test-pki.js';

let pki: TestPki;

before(async () => {
  pki = await createTestPki();
});

after(async () => {
  await pki?.cleanup();
});

function startDoor(ssl: SiteSpec['ssl'], options: { http?: boolean } = {}): Promise<Door> {
  return startDoorIn(pki.dir, pki.server, ssl, options);
}

function curlWith(url: string, client: ClientFiles | undefined, headers: string[] = []): Promise<CurlResult> {
  return curl(url, { cacert: pki.caFile, ...(client ? { cert: client.certFile, key: client.keyFile } : {}), headers });
}

function assertRejected(result: { status: number; body: string }, subStatus: number, door: Door, path: string, expect: { reason: RegExp; client?: ClientFiles }): void {
  assertRejectedBy(result, subStatus, door, path, { reason: expect.reason, ...(expect.client ? { certFile: expect.client.certFile } : {}) });
}

describe('clientCertificates: require', () => {
  let door: Door;
  let url: string;
  before(async () => {
    door = await startDoor({ clientCertificates: 'require', trustedCaFile: pki.caFile });
    url = door.running.url('door');
  });
  after(async () => {
    await door?.close();
  });

  test('valid client certificate (curl) → 200, backend gets X-ARR-ClientCert = base64 DER of the leaf', async () => {
    const path = uniquePath('valid');
    const result = await curlWith(url + path, pki.clients.valid);
    assert.equal(result.status, 200, result.stderr);
    const got = receivedAt(door.backend, path);
    assert.equal(got.length, 1);
    const value = got[0]?.headers['x-arr-clientcert'];
    assert.equal(value, base64DerOf(pki.clients.valid.certFile));
    assert.doesNotMatch(String(value), /[\r\n]|BEGIN/, 'one line, no PEM armour');
  });

  test('a spoofed X-ARR-ClientCert next to a valid certificate is replaced, not added', async () => {
    const path = uniquePath('valid-spoof');
    const result = await curlWith(url + path, pki.clients.valid, ['X-ARR-ClientCert: c3Bvb2ZlZA==', 'X-ARR-SSL: spoofed', 'X-ARR-LOG-ID: spoofed']);
    assert.equal(result.status, 200, result.stderr);
    const got = receivedAt(door.backend, path)[0];
    assert.ok(got);
    const raw = got.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    assert.equal(raw.filter((n) => n === 'x-arr-clientcert').length, 1, 'exactly one X-ARR-ClientCert');
    assert.equal(got.headers['x-arr-clientcert'], base64DerOf(pki.clients.valid.certFile));
    assert.notEqual(got.headers['x-arr-ssl'], 'spoofed');
    assert.notEqual(got.headers['x-arr-log-id'], 'spoofed');
  });

  test('no certificate (curl) → 403.7, nothing forwarded', async () => {
    const path = uniquePath('none');
    const result = await curlWith(url + path, undefined);
    assertRejected(result, 7, door, path, { reason: /required/ });
  });

  test('expired certificate (curl) → 403.17', async () => {
    const path = uniquePath('expired');
    const result = await curlWith(url + path, pki.clients.expired);
    assertRejected(result, 17, door, path, { reason: /expired/, client: pki.clients.expired });
  });

  test('not yet valid certificate (curl) → 403.17', async () => {
    const path = uniquePath('future');
    const result = await curlWith(url + path, pki.clients.notYetValid);
    assertRejected(result, 17, door, path, { reason: /not yet valid/, client: pki.clients.notYetValid });
  });

  test('certificate of another CA (curl) → 403.16', async () => {
    const path = uniquePath('untrusted');
    const result = await curlWith(url + path, pki.clients.untrusted);
    assertRejected(result, 16, door, path, { reason: /trusted CA/, client: pki.clients.untrusted });
  });

  test('certificate with EKU serverAuth only (curl) → 403.16', async () => {
    const path = uniquePath('serverauth');
    const result = await curlWith(url + path, pki.clients.serverAuthOnly);
    assertRejected(result, 16, door, path, { reason: /key usage|INVALID_PURPOSE/, client: pki.clients.serverAuthOnly });
  });

  test('the event-log line names the exact client address:port (node:tls)', async () => {
    const path = uniquePath('log-client');
    const result = await tlsFetch({ host: '127.0.0.1', port: door.running.port('door'), ca: readFileSync(pki.caFile), cert: readFileSync(pki.clients.untrusted.certFile), key: readFileSync(pki.clients.untrusted.keyFile), path });
    assertRejected(result, 16, door, path, { reason: /trusted CA/, client: pki.clients.untrusted });
    const line = door.running.events.find((e) => e.includes(` ${path}`)) as string;
    assert.ok(line.includes(`client 127.0.0.1:${result.localPort} `), `${line} names 127.0.0.1:${result.localPort}`);
    assert.ok(line.includes('site door'), line);
  });

  test('keep-alive: several requests on one TLS connection all carry the certificate', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: readFileSync(pki.caFile), cert: readFileSync(pki.clients.valid.certFile), key: readFileSync(pki.clients.valid.keyFile) });
    try {
      const paths = [uniquePath('ka1'), uniquePath('ka2'), uniquePath('ka3'), uniquePath('ka4')];
      const reused: boolean[] = [];
      for (const path of paths) {
        const status = await new Promise<number>((resolve, reject) => {
          const req = httpsRequest({ host: '127.0.0.1', port: door.running.port('door'), path, agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', reject);
          req.end();
          reused.push(req.reusedSocket);
        });
        assert.equal(status, 200, path);
      }
      assert.deepEqual(reused, [false, true, true, true], 'one connection for every request');
      const expected = base64DerOf(pki.clients.valid.certFile);
      const replies = paths.map((p) => receivedAt(door.backend, p)[0]);
      for (const reply of replies) assert.equal(reply?.headers['x-arr-clientcert'], expected);
      const forwardedFor = new Set(replies.map((r) => r?.headers['x-forwarded-for']));
      assert.equal(forwardedFor.size, 1, `same client port for all: ${[...forwardedFor].join(' ')}`);
    } finally {
      agent.destroy();
    }
  });

  test('keep-alive: a rejected connection stays rejected on every request', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: readFileSync(pki.caFile), cert: readFileSync(pki.clients.untrusted.certFile), key: readFileSync(pki.clients.untrusted.keyFile) });
    try {
      const paths = [uniquePath('kar1'), uniquePath('kar2'), uniquePath('kar3')];
      for (const path of paths) {
        const result = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = httpsRequest({ host: '127.0.0.1', port: door.running.port('door'), path, agent }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (body += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          });
          req.on('error', reject);
          req.end();
        });
        assert.equal(result.status, 403);
        assert.ok(result.body.includes(errorLine(403, 16)), result.body);
        assert.deepEqual(receivedAt(door.backend, path), []);
      }
    } finally {
      agent.destroy();
    }
  });
});

describe('clientCertificates: accept', () => {
  let door: Door;
  let url: string;
  before(async () => {
    door = await startDoor({ clientCertificates: 'accept', trustedCaFile: pki.caFile });
    url = door.running.url('door');
  });
  after(async () => {
    await door?.close();
  });

  test('no certificate (curl) → 200, no X-ARR-ClientCert at the backend', async () => {
    const path = uniquePath('accept-none');
    const result = await curlWith(url + path, undefined);
    assert.equal(result.status, 200, result.stderr);
    const got = receivedAt(door.backend, path);
    assert.equal(got.length, 1);
    assert.equal(got[0]?.headers['x-arr-clientcert'], undefined);
  });

  test('no certificate and a spoofed X-ARR-ClientCert (curl) → the spoofed header does not reach the backend', async () => {
    const path = uniquePath('accept-spoof');
    const result = await curlWith(url + path, undefined, [`X-ARR-ClientCert: ${base64DerOf(pki.clients.valid.certFile)}`]);
    assert.equal(result.status, 200, result.stderr);
    const got = receivedAt(door.backend, path);
    assert.equal(got.length, 1);
    assert.equal(got[0]?.headers['x-arr-clientcert'], undefined);
  });

  test('valid certificate (curl) → 200 with X-ARR-ClientCert', async () => {
    const path = uniquePath('accept-valid');
    const result = await curlWith(url + path, pki.clients.valid);
    assert.equal(result.status, 200, result.stderr);
    assert.equal(receivedAt(door.backend, path)[0]?.headers['x-arr-clientcert'], base64DerOf(pki.clients.valid.certFile));
  });

  test('untrusted certificate (curl) → 403.16 as in require', async () => {
    const path = uniquePath('accept-untrusted');
    const result = await curlWith(url + path, pki.clients.untrusted);
    assertRejected(result, 16, door, path, { reason: /trusted CA/, client: pki.clients.untrusted });
  });

  test('expired certificate (curl) → 403.17 as in require', async () => {
    const path = uniquePath('accept-expired');
    const result = await curlWith(url + path, pki.clients.expired);
    assertRejected(result, 17, door, path, { reason: /expired/, client: pki.clients.expired });
  });

  test('serverAuth-only certificate (curl) → 403.16 as in require', async () => {
    const path = uniquePath('accept-serverauth');
    const result = await curlWith(url + path, pki.clients.serverAuthOnly);
    assertRejected(result, 16, door, path, { reason: /key usage|INVALID_PURPOSE/, client: pki.clients.serverAuthOnly });
  });
});

describe('clientCertificates: ignore', () => {
  let door: Door;
  let control: Door;
  before(async () => {
    door = await startDoor({ clientCertificates: 'ignore' }, { http: true });
    control = await startDoor({ clientCertificates: 'require', trustedCaFile: pki.caFile });
  });
  after(async () => {
    await door?.close();
    await control?.close();
  });

  test('openssl s_client: the server sends no CertificateRequest (and does in require mode)', async () => {
    for (const version of ['-tls1_3', '-tls1_2']) {
      const ignored = await opensslSClient('127.0.0.1', door.running.port('door'), { extra: [version, '-CAfile', pki.caFile] });
      assert.ok(ignored.handshakeDone, `${version}: handshake completes\n${ignored.stdout}`);
      assert.equal(ignored.certificateRequested, false, `${version}: no CertificateRequest\n${ignored.stdout}`);
      assert.doesNotMatch(ignored.stdout, /Acceptable client certificate CA names/);
      const required = await opensslSClient('127.0.0.1', control.running.port('door'), { extra: [version, '-CAfile', pki.caFile] });
      assert.ok(required.handshakeDone, `${version}: control handshake completes\n${required.stdout}`);
      assert.equal(required.certificateRequested, true, `${version}: the require-mode control does see a CertificateRequest\n${required.stdout}`);
    }
  });

  test('node:tls: a client holding a certificate sends none; the server sees no peer certificate; no header', async () => {
    const views = observeServerSide(door.running);
    const path = uniquePath('ignore-node');
    const result = await tlsFetch({ host: '127.0.0.1', port: door.running.port('door'), ca: readFileSync(pki.caFile), cert: readFileSync(pki.clients.valid.certFile), key: readFileSync(pki.clients.valid.keyFile), path });
    assert.equal(result.status, 200, result.body);
    const view = views.find((v) => v.url === path);
    assert.ok(view, 'the request reached the server');
    assert.equal(view.peerLeaf, undefined, 'no peer certificate on the server side');
    assert.equal(receivedAt(door.backend, path)[0]?.headers['x-arr-clientcert'], undefined);
  });

  test('https: spoofed X-ARR-ClientCert / X-ARR-SSL / X-ARR-LOG-ID never reach the backend as sent', async () => {
    const path = uniquePath('ignore-spoof');
    const spoofed = base64DerOf(pki.clients.valid.certFile);
    const result = await tlsFetch({
      host: '127.0.0.1',
      port: door.running.port('door'),
      ca: readFileSync(pki.caFile),
      path,
      headers: { 'X-ARR-ClientCert': spoofed, 'X-ARR-SSL': 'spoofed', 'X-ARR-LOG-ID': 'spoofed' },
    });
    assert.equal(result.status, 200, result.body);
    const got = receivedAt(door.backend, path)[0];
    assert.ok(got);
    assert.equal(got.headers['x-arr-clientcert'], undefined);
    assert.notEqual(got.headers['x-arr-ssl'], 'spoofed');
    assert.ok(!String(got.headers['x-arr-ssl']).includes('spoofed'));
    assert.ok(!String(got.headers['x-arr-log-id']).includes('spoofed'));
  });

  test('http binding: spoofed X-ARR-ClientCert / X-ARR-SSL / X-ARR-LOG-ID are removed', async () => {
    const path = uniquePath('ignore-http-spoof');
    const result = await curl(door.running.url('door', 'http') + path, { headers: [`X-ARR-ClientCert: ${base64DerOf(pki.clients.valid.certFile)}`, 'X-ARR-SSL: spoofed', 'X-ARR-LOG-ID: spoofed'] });
    assert.equal(result.status, 200, result.stderr);
    const got = receivedAt(door.backend, path)[0];
    assert.ok(got);
    assert.equal(got.headers['x-arr-clientcert'], undefined);
    assert.equal(got.headers['x-arr-ssl'], undefined, 'no X-ARR-SSL on http');
    assert.ok(!String(got.headers['x-arr-log-id']).includes('spoofed'));
  });
});

describe('requireSsl: true', () => {
  let door: Door;
  before(async () => {
    door = await startDoor({ requireSsl: true }, { http: true });
  });
  after(async () => {
    await door?.close();
  });

  test('a request on the http binding → 403.4, nothing forwarded', async () => {
    const path = uniquePath('http');
    const result = await curl(door.running.url('door', 'http') + path);
    assertRejected(result, 4, door, path, { reason: /SSL required/ });
  });

  test('the https binding works', async () => {
    const path = uniquePath('https');
    const result = await curl(door.running.url('door', 'https') + path, { cacert: pki.caFile });
    assert.equal(result.status, 200, result.stderr);
    assert.equal(receivedAt(door.backend, path).length, 1);
  });
});
