/**
 * Several https bindings on one port chosen by SNI (each with its own certificate, trust and farm), the
 * binding without a host name as the default, and PFX server certificates.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startBackend, type Backend } from '../support/backends.js';
import { curl, opensslSClient } from '../support/clients.js';
import { base64DerOf, configText, connectTls, freePort, httpBinding, httpsBinding, observeServerSide, receivedAt, startDoor, tlsFetch, uniquePath, type TlsClientOptions } from '../support/door.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { createTestPki, type ClientFiles, type TestPki } from '../support/test-pki.js';

let pki: TestPki;

before(async () => {
  pki = await createTestPki();
});

after(async () => {
  await pki?.cleanup();
});

function clientCert(client: ClientFiles): { cert: Buffer; key: Buffer } {
  return { cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) };
}

describe('SNI: three sites on one https port (app.example.test, other.example.test, and no host name)', () => {
  let backends: Record<'app' | 'other' | 'fallback', Backend>;
  let running: RunningGatehouse;
  let port: number;
  let base: TlsClientOptions;

  before(async () => {
    backends = { app: await startBackend('app'), other: await startBackend('other'), fallback: await startBackend('fallback') };
    const shared = await freePort();
    const sharedHttp = await freePort('127.0.0.2');
    running = await startGatehouse(
      configText(
        [
          { name: 'app', farm: 'appFarm', bindings: [httpsBinding(pki.server, { hostName: 'app.example.test', port: shared }), httpBinding({ hostName: 'app.example.test', port: sharedHttp })] },
          { name: 'other', farm: 'otherFarm', bindings: [httpsBinding(pki.otherServer, { hostName: 'other.example.test', port: shared })] },
          { name: 'fallback', farm: 'fallbackFarm', bindings: [httpsBinding(pki.server, { port: shared }), httpBinding({ port: sharedHttp })] },
        ],
        { appFarm: [backends.app], otherFarm: [backends.other], fallbackFarm: [backends.fallback] },
      ),
      pki.dir,
    );
    port = running.port('app');
    base = { host: '127.0.0.1', port, ca: readFileSync(pki.caFile) };
  });

  after(async () => {
    await running?.stop();
    for (const backend of Object.values(backends ?? {})) await backend.close();
  });

  test('the three https bindings share one listening port (and the two http bindings another)', () => {
    const https = running.bound.filter((l) => l.protocol === 'https');
    assert.equal(https.length, 1, JSON.stringify(running.bound));
    assert.equal(running.bound.filter((l) => l.protocol === 'http').length, 1, JSON.stringify(running.bound));
    assert.equal(running.port('other'), port);
    assert.equal(running.port('fallback'), port);
    assert.deepEqual([...(https[0]?.sites ?? [])].sort(), ['app', 'fallback', 'other']);
  });

  test('SNI app.example.test → app certificate, app farm', async () => {
    const path = uniquePath('sni-app');
    const result = await tlsFetch({ ...base, servername: 'app.example.test', path, hostHeader: 'app.example.test' });
    assert.equal(result.status, 200, result.body);
    assert.match(result.peerCertificate.subjectaltname ?? '', /DNS:app\.example\.test/);
    assert.equal(result.peerCertificate.fingerprint256, new X509Certificate(readFileSync(pki.server.certFile)).fingerprint256);
    assert.equal(receivedAt(backends.app, path).length, 1);
    assert.equal(receivedAt(backends.other, path).length + receivedAt(backends.fallback, path).length, 0);
  });

  test('SNI other.example.test → other certificate, other farm', async () => {
    const path = uniquePath('sni-other');
    const result = await tlsFetch({ ...base, servername: 'other.example.test', path, hostHeader: 'other.example.test' });
    assert.equal(result.status, 200, result.body);
    assert.equal(result.peerCertificate.subjectaltname, 'DNS:other.example.test');
    assert.equal(result.peerCertificate.fingerprint256, new X509Certificate(readFileSync(pki.otherServer.certFile)).fingerprint256);
    assert.equal(receivedAt(backends.other, path).length, 1);
    assert.equal(receivedAt(backends.app, path).length + receivedAt(backends.fallback, path).length, 0);
  });

  test('no SNI (connect by IP) → the binding without host name', async () => {
    const path = uniquePath('sni-none');
    const result = await tlsFetch({ ...base, path });
    assert.equal(result.status, 200, result.body);
    assert.match(result.peerCertificate.subjectaltname ?? '', /IP Address:127\.0\.0\.1/);
    assert.equal(receivedAt(backends.fallback, path).length, 1);
    assert.equal(receivedAt(backends.app, path).length + receivedAt(backends.other, path).length, 0);
  });

  test('unknown SNI name → the binding without host name', async () => {
    const path = uniquePath('sni-unknown');
    const result = await tlsFetch({ ...base, servername: 'unknown.example.test', checkServerIdentity: () => undefined, path, hostHeader: 'unknown.example.test' });
    assert.equal(result.status, 200, result.body);
    assert.match(result.peerCertificate.subjectaltname ?? '', /IP Address:127\.0\.0\.1/);
    assert.equal(receivedAt(backends.fallback, path).length, 1);
    assert.equal(receivedAt(backends.app, path).length + receivedAt(backends.other, path).length, 0);
  });

  test('SNI names are matched case-insensitively (APP.Example.TEST → app)', async () => {
    const path = uniquePath('sni-case');
    const result = await tlsFetch({ ...base, servername: 'APP.Example.TEST', checkServerIdentity: () => undefined, path });
    assert.equal(result.status, 200, result.body);
    assert.equal(receivedAt(backends.app, path).length, 1);
  });

  test('curl --resolve: each name reaches its own farm', async () => {
    for (const [name, backend] of [
      ['app.example.test', backends.app],
      ['other.example.test', backends.other],
    ] as const) {
      const path = uniquePath(`curl-${name}`);
      const result = await curl(`https://${name}:${port}${path}`, { cacert: pki.caFile, resolve: [`${name}:${port}:127.0.0.1`] });
      assert.equal(result.status, 200, `${name}: ${result.stderr}`);
      assert.equal(receivedAt(backend, path).length, 1, name);
    }
  });

  test('http: the second binding of site app answers by Host header; other hosts reach the fallback', async () => {
    const url = running.url('app', 'http');
    const appPath = uniquePath('http-app');
    const app = await curl(url + appPath, { headers: ['Host: app.example.test'] });
    assert.equal(app.status, 200, app.stderr);
    assert.equal(receivedAt(backends.app, appPath).length, 1);
    const otherPath = uniquePath('http-other');
    const other = await curl(url + otherPath, { headers: ['Host: nowhere.example.test'] });
    assert.equal(other.status, 200, other.stderr);
    assert.equal(receivedAt(backends.fallback, otherPath).length, 1);
  });
});

describe('SNI without a binding without host name', () => {
  let backends: Backend[];
  let running: RunningGatehouse;
  let base: TlsClientOptions;

  before(async () => {
    backends = [await startBackend('app'), await startBackend('other')];
    const shared = await freePort();
    running = await startGatehouse(
      configText(
        [
          { name: 'app', farm: 'appFarm', bindings: [httpsBinding(pki.server, { hostName: 'app.example.test', port: shared })] },
          { name: 'other', farm: 'otherFarm', bindings: [httpsBinding(pki.otherServer, { hostName: 'other.example.test', port: shared })] },
        ],
        { appFarm: [backends[0] as Backend], otherFarm: [backends[1] as Backend] },
      ),
      pki.dir,
    );
    base = { host: '127.0.0.1', port: running.port('app'), ca: readFileSync(pki.caFile), checkServerIdentity: () => undefined };
  });

  after(async () => {
    await running?.stop();
    for (const backend of backends ?? []) await backend.close();
  });

  test('a known name still works', async () => {
    const path = uniquePath('known');
    const result = await tlsFetch({ ...base, servername: 'other.example.test', path });
    assert.equal(result.status, 200);
    assert.equal(receivedAt(backends[1] as Backend, path).length, 1);
  });

  test('an unknown SNI name fails the handshake', async () => {
    await assert.rejects(connectTls({ ...base, servername: 'unknown.example.test' }), (error: Error) => {
      assert.doesNotMatch(error.message, /idle/, 'fails promptly, not by timeout');
      return true;
    });
    const s = await opensslSClient('127.0.0.1', base.port, { servername: 'unknown.example.test' });
    assert.equal(s.handshakeDone, false, `openssl: no handshake for an unknown name\n${s.stdout}\n${s.stderr}`);
  });

  test('no SNI: no site answers, no request reaches a farm', async () => {
    const path = uniquePath('no-sni');
    await assert.rejects(tlsFetch({ ...base, path }));
    assert.equal(receivedAt(backends[0] as Backend, path).length + receivedAt(backends[1] as Backend, path).length, 0);
  });
});

describe('SNI: each site keeps its own client-certificate policy on a shared port', () => {
  let backends: Record<'strict' | 'partner' | 'open', Backend>;
  let running: RunningGatehouse;
  let base: TlsClientOptions;

  before(async () => {
    backends = { strict: await startBackend('strict'), partner: await startBackend('partner'), open: await startBackend('open') };
    const shared = await freePort();
    running = await startGatehouse(
      configText(
        [
          // trusts the test root
          { name: 'strict', farm: 'strictFarm', bindings: [httpsBinding(pki.server, { hostName: 'app.example.test', port: shared })], ssl: { clientCertificates: 'require', trustedCaFile: pki.caFile } },
          // trusts only the intermediate (partial chain), on its own SNI name
          { name: 'partner', farm: 'partnerFarm', bindings: [httpsBinding(pki.otherServer, { hostName: 'other.example.test', port: shared })], ssl: { clientCertificates: 'require', trustedCaFile: pki.intermediateCaFile } },
          // asks for nothing
          { name: 'open', farm: 'openFarm', bindings: [httpsBinding(pki.server, { port: shared })], ssl: { clientCertificates: 'ignore' } },
        ],
        { strictFarm: [backends.strict], partnerFarm: [backends.partner], openFarm: [backends.open] },
      ),
      pki.dir,
    );
    base = { host: '127.0.0.1', port: running.port('strict'), ca: readFileSync(pki.caFile), checkServerIdentity: () => undefined };
  });

  after(async () => {
    await running?.stop();
    for (const backend of Object.values(backends ?? {})) await backend.close();
  });

  test('strict (root): a root-issued certificate → 200; an intermediate-issued leaf without its chain → 403.16', async () => {
    const ok = uniquePath('strict-ok');
    const accepted = await tlsFetch({ ...base, servername: 'app.example.test', ...clientCert(pki.clients.valid), path: ok });
    assert.equal(accepted.status, 200, accepted.body);
    assert.equal(receivedAt(backends.strict, ok)[0]?.headers['x-arr-clientcert'], base64DerOf(pki.clients.valid.certFile));
    const bad = uniquePath('strict-bad');
    const rejected = await tlsFetch({ ...base, servername: 'app.example.test', ...clientCert(pki.clients.viaIntermediateLeafOnly), path: bad });
    assert.equal(rejected.status, 403);
    assert.ok(rejected.body.includes('HTTP Error 403.16'), rejected.body);
  });

  test('partner (intermediate only, via SNI): the intermediate-issued leaf alone → 200; a root-issued certificate → 403.16', async () => {
    const ok = uniquePath('partner-ok');
    const accepted = await tlsFetch({ ...base, servername: 'other.example.test', ...clientCert(pki.clients.viaIntermediateLeafOnly), path: ok });
    assert.equal(accepted.status, 200, accepted.body);
    assert.equal(receivedAt(backends.partner, ok)[0]?.headers['x-arr-clientcert'], base64DerOf(pki.clients.viaIntermediateLeafOnly.certFile));
    const bad = uniquePath('partner-bad');
    const rejected = await tlsFetch({ ...base, servername: 'other.example.test', ...clientCert(pki.clients.valid), path: bad });
    assert.equal(rejected.status, 403);
    assert.ok(rejected.body.includes('HTTP Error 403.16'), rejected.body);
    assert.equal(receivedAt(backends.partner, bad).length, 0);
  });

  test('open (ignore, the default binding): no certificate is asked for and none is forwarded', async () => {
    const views = observeServerSide(running);
    const path = uniquePath('open');
    const result = await tlsFetch({ ...base, ...clientCert(pki.clients.valid), path });
    assert.equal(result.status, 200, result.body);
    assert.equal(receivedAt(backends.open, path)[0]?.headers['x-arr-clientcert'], undefined);
    const s = await opensslSClient('127.0.0.1', base.port, { extra: ['-CAfile', pki.caFile] });
    assert.ok(s.handshakeDone, s.stdout);
    const view = views.find((v) => v.url === path);
    assert.equal(s.certificateRequested, false, 'ignore mode: no CertificateRequest, even on a port shared with require sites');
    assert.equal(view?.peerLeaf, undefined, 'ignore mode: the server holds no client certificate');
  });
});

describe('PFX server certificates', () => {
  test('pfxFile + passphrase serves TLS with the certificate from the PFX', async () => {
    const door = await startDoor(pki.dir, { pfxFile: pki.server.pfxFile, passphrase: pki.server.pfxPassword }, undefined);
    try {
      const path = uniquePath('pfx');
      const result = await tlsFetch({ host: '127.0.0.1', port: door.running.port('door'), ca: readFileSync(pki.caFile), path });
      assert.equal(result.status, 200, result.body);
      assert.equal(result.peerCertificate.fingerprint256, new X509Certificate(readFileSync(pki.server.certFile)).fingerprint256);
      assert.equal(receivedAt(door.backend, path).length, 1);
    } finally {
      await door.close();
    }
  });

  test('pfxFile + passphraseFile (trailing newline removed) serves TLS; curl verifies it', async () => {
    const passphraseFile = join(pki.dir, 'pfx-passphrase.txt');
    await writeFile(passphraseFile, `${pki.server.pfxPassword}\n`, { mode: 0o600 });
    const door = await startDoor(pki.dir, { pfxFile: pki.server.pfxFile, passphraseFile }, { clientCertificates: 'require', trustedCaFile: pki.caFile });
    try {
      const path = uniquePath('pfx-file');
      const result = await curl(door.running.url('door') + path, { cacert: pki.caFile, cert: pki.clients.valid.certFile, key: pki.clients.valid.keyFile });
      assert.equal(result.status, 200, result.stderr);
      assert.equal(receivedAt(door.backend, path)[0]?.headers['x-arr-clientcert'], base64DerOf(pki.clients.valid.certFile));
      const client = await connectTls({ host: '127.0.0.1', port: door.running.port('door'), ca: readFileSync(pki.caFile), ...clientCert(pki.clients.valid) });
      try {
        assert.equal(client.socket.getPeerCertificate().fingerprint256, new X509Certificate(readFileSync(pki.server.certFile)).fingerprint256);
      } finally {
        client.close();
      }
    } finally {
      await door.close();
    }
  });
});

describe('SNI across a reload', () => {
  test('one binding for every name, then a named site added on its port, then removed: each handshake gets the certificate of the config in force', async (t) => {
    const backends = { main: await startBackend('main'), other: await startBackend('other') };
    t.after(async () => {
      for (const backend of Object.values(backends)) await backend.close();
    });
    const port = await freePort();
    const only = configText([{ name: 'main', farm: 'mainFarm', bindings: [httpsBinding(pki.server, { port })] }], { mainFarm: [backends.main], otherFarm: [backends.other] });
    const both = configText(
      [
        { name: 'main', farm: 'mainFarm', bindings: [httpsBinding(pki.server, { port })] },
        { name: 'other', farm: 'otherFarm', bindings: [httpsBinding(pki.otherServer, { hostName: 'other.example.test', port })] },
      ],
      { mainFarm: [backends.main], otherFarm: [backends.other] },
    );
    const running = await startGatehouse(only, pki.dir);
    t.after(() => running.stop());
    const base = { host: '127.0.0.1', port, ca: [readFileSync(pki.caFile)] };
    const otherFingerprint = new X509Certificate(readFileSync(pki.otherServer.certFile)).fingerprint256;
    const mainFingerprint = new X509Certificate(readFileSync(pki.server.certFile)).fingerprint256;
    const fetchOther = () => tlsFetch({ ...base, servername: 'other.example.test', path: uniquePath('reload-sni'), hostHeader: 'other.example.test', rejectUnauthorized: false });

    const before = await fetchOther();
    assert.equal(before.peerCertificate.fingerprint256, mainFingerprint, 'one binding answers every name');
    assert.equal(JSON.parse(before.body).server, 'main');

    await writeFile(running.configFile, both);
    assert.equal(await running.gatehouse.reload(), true, running.events.join('\n'));
    const added = await fetchOther();
    assert.equal(added.peerCertificate.fingerprint256, otherFingerprint, 'the new site\'s certificate for its name');
    assert.equal(JSON.parse(added.body).server, 'other');

    await writeFile(running.configFile, only);
    assert.equal(await running.gatehouse.reload(), true, running.events.join('\n'));
    const removed = await fetchOther();
    assert.equal(removed.peerCertificate.fingerprint256, mainFingerprint);
    assert.equal(JSON.parse(removed.body).server, 'main');
  });
});
