/**
 * Live changes without dropping a request: a steady bounded load while the config changes several
 * times shows zero failed requests; an invalid config is refused and the old one keeps serving; a
 * certificate and a CRL replaced on disk are used by new handshakes without a restart (file watch).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';
import { after, before, test } from 'node:test';
import { createCrl, issueServer } from '../../src/pki/index.js';
import { startBackend, type Backend } from '../support/backends.js';
import { freePort } from '../support/door.js';
import { startCli, startGatehouse } from '../support/gatehouse.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';

let pki: TestPki;
const backends: Backend[] = [];
const named = (name: string) => startBackend(name, (req, res, backend) => {
  req.resume();
  req.on('end', () => res.end(backend.name));
});

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  pki = await createTestPki();
  for (const name of ['a', 'b', 'c']) backends.push(await named(name));
});

after(async () => {
  for (const backend of backends) await backend.close();
  await pki?.cleanup();
});

const configWith = (servers: Backend[], port: number, extra = '') => `accessLog: off
drainTimeout: 2s
sites:
  - name: web
    bindings: [{ protocol: http, address: 127.0.0.1, port: ${port} }]
    farm: web
farms:
  - name: web
    servers: [${servers.map((b) => `{ address: ${b.address} }`).join(', ')}]
${extra}`;

test('five config changes under steady load: zero failed requests, and each change takes effect', async () => {
  const [a, b, c] = backends as [Backend, Backend, Backend];
  const port = await freePort();
  const running = await startGatehouse(configWith([a], port), pki.dir);
  try {
    const url = `http://127.0.0.1:${port}/`;
    const failures: string[] = [];
    const answered = new Map<string, number>();
    let stop = false;
    const loop = async () => {
      for (let i = 0; i < 5000 && !stop; i++) {
        try {
          const reply = await get(url);
          if (reply.status !== 200) failures.push(`${reply.status} ${reply.body}`);
          else answered.set(reply.body, (answered.get(reply.body) ?? 0) + 1);
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    };
    const load = Promise.all([loop(), loop(), loop(), loop()]);
    const steps: Backend[][] = [[a, b], [b], [b, c], [c, a], [c]];
    for (const servers of steps) {
      await writeFile(running.configFile, configWith(servers, port));
      assert.equal(await running.gatehouse.reload(), true);
      // Wait until the change shows: a request answered by each server of the new farm only.
      const seen = new Set<string>();
      for (let i = 0; i < 200 && seen.size < servers.length; i++) {
        const reply = await get(url);
        assert.ok(servers.some((s) => s.name === reply.body), `${reply.body} answered; expected one of ${servers.map((s) => s.name).join(', ')}`);
        seen.add(reply.body);
      }
      assert.equal(seen.size, servers.length);
    }
    stop = true;
    await load;
    assert.deepEqual(failures, [], 'no request failed during the reloads');
    assert.ok([...answered.values()].reduce((x, y) => x + y, 0) > 20, 'the load ran');
  } finally {
    await running.stop();
  }
});

test('an invalid config is refused with the validate messages, and the old config keeps serving', async () => {
  const [a] = backends as [Backend];
  const port = await freePort();
  const running = await startGatehouse(configWith([a], port), pki.dir);
  try {
    await writeFile(running.configFile, configWith([a], port).replace('farm: web', 'farm: nowhere'));
    assert.equal(await running.gatehouse.reload(), false);
    assert.ok(running.events.some((e) => /reload refused/.test(e) && /sites\[0\]\.farm: farm 'nowhere' is not defined/.test(e)), running.events.join('\n'));
    assert.deepEqual(await get(`http://127.0.0.1:${port}/`), { status: 200, body: 'a' });
  } finally {
    await running.stop();
  }
});

test('gatehouse start reloads by itself when a certificate and a CRL are replaced on disk', async (t) => {
  const [a] = backends as [Backend];
  const dir = pki.dir;
  const certFile = join(dir, 'live-server.pem');
  const keyFile = join(dir, 'live-server.key');
  const crlFile = join(dir, 'live.crl');
  await writeFile(certFile, pki.server.issued.certPem);
  await writeFile(keyFile, pki.server.issued.keyPem, { mode: 0o600 });
  await writeFile(crlFile, (await createCrl({ ca: pki.root, revoked: [] })).pem);
  const config = join(dir, 'live.yaml');
  await writeFile(
    config,
    `accessLog: off
workers: 1
sites:
  - name: live
    bindings: [{ protocol: https, address: 127.0.0.1, port: 0, certificate: { certFile: ${certFile}, keyFile: ${keyFile} } }]
    ssl: { clientCertificates: require, trustedCaFile: ${pki.caFile}, crlFile: ${crlFile} }
    farm: web
farms: [{ name: web, servers: [{ address: ${a.address} }] }]
`,
  );
  const gatehouse = startCli(t, process.cwd(), config);
  const port = Number(/:(\d+) /.exec(await gatehouse.waitForLine('stdout', /^listening https:/))?.[1]);
  const peerFingerprint = () =>
    new Promise<string>((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: readFileSync(pki.caFile), cert: readFileSync(pki.clients.valid.certFile), key: readFileSync(pki.clients.valid.keyFile) }, () => {
        resolve(socket.getPeerCertificate().fingerprint256);
        socket.end();
      });
      socket.on('error', reject);
    });
  const status = (client: { certFile: string; keyFile: string }) =>
    new Promise<number>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port, path: '/', servername: 'localhost', agent: false, ca: readFileSync(pki.caFile), cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
  assert.equal(await peerFingerprint(), pki.server.issued.cert.fingerprint256);
  assert.equal(await status(pki.clients.revoked), 200, 'not revoked yet');

  // Rotate: a new server certificate and a CRL revoking Rita, each written to a temp file and renamed in.
  const renewed = await issueServer({ ca: pki.root, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], keyType: 'rsa-2048' });
  const before = gatehouse.lines('stderr').length;
  await writeFile(`${keyFile}.new`, renewed.keyPem, { mode: 0o600 });
  await writeFile(`${certFile}.new`, renewed.certPem);
  await writeFile(`${crlFile}.new`, (await createCrl({ ca: pki.root, revoked: [{ serialNumber: pki.clients.revoked.issued.serialNumber }] })).pem);
  await rename(`${keyFile}.new`, keyFile);
  await rename(`${certFile}.new`, certFile);
  await rename(`${crlFile}.new`, crlFile);
  await gatehouse.waitForLine('stderr', /config reloaded from/, before);
  assert.equal(await peerFingerprint(), new X509Certificate(renewed.certPem).fingerprint256, 'new handshakes present the new certificate');
  assert.equal(await status(pki.clients.revoked), 403, 'the new CRL is in force');
  assert.equal(await status(pki.clients.valid), 200);

  // SIGHUP reloads too.
  const beforeHup = gatehouse.lines('stderr').length;
  gatehouse.child.kill('SIGHUP');
  await gatehouse.waitForLine('stderr', /config reloaded from/, beforeHup);
  gatehouse.child.kill('SIGTERM');
  assert.equal((await gatehouse.waitExit(10_000)).code, 0);
});
