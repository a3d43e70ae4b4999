/**
 * Online revocation under `workers: 2` (issue 11): the workers share the cache folder, and between them
 * fetch a source once (a lock file elects the fetcher; the other worker reads its answer from the folder).
 * Real processes (`gatehouse start`), a real OpenSSL OCSP responder on 127.0.0.1, curl as the client.
 */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createCa, issueClient } from '../../src/pki/index.js';
import { startBackend, type Backend } from '../support/backends.js';
import { curl } from '../support/clients.js';
import { startResponders, type Responders } from '../support/revocation-responders.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { startCli } from '../support/gatehouse.js';

let pki: TestPki;
let backend: Backend;
let responders: Responders;
let url = '';
/** What the started CLI needs done when the file's tests are over (kill it). */
const cleanups: (() => unknown)[] = [];
let certFile = '';
let keyFile = '';
let revokedCertFile = '';
let revokedKeyFile = '';

before(async () => {
  pki = await createTestPki();
  backend = await startBackend('workers-online');
  responders = await startResponders();
  const root = await createCa({ commonName: 'Workers Online Root' });
  const good = await issueClient({ ca: root, commonName: 'Worker Badge', ocspUrls: [responders.ocspUrl('w')] });
  const revoked = await issueClient({ ca: root, commonName: 'Worker Revoked', ocspUrls: [responders.ocspUrl('w')] });
  responders.setOcsp('w', root);
  responders.setStatus('w', good.serialNumber, 'good');
  responders.setStatus('w', revoked.serialNumber, 'revoked');
  const write = async (name: string, text: string) => {
    const file = join(pki.dir, name);
    await writeFile(file, text, { mode: 0o600 });
    return file;
  };
  const rootFile = await write('workers-online-root.pem', root.certPem);
  certFile = await write('worker.pem', good.certPem);
  keyFile = await write('worker.key', good.keyPem);
  revokedCertFile = await write('worker-revoked.pem', revoked.certPem);
  revokedKeyFile = await write('worker-revoked.key', revoked.keyPem);
  const cacheFolder = join(await mkdtemp(join(tmpdir(), 'gatehouse-workers-cache-')), 'revocation');
  const config = await write(
    'workers-online.yaml',
    `workers: 2
accessLog: off
drainTimeout: 1s
sites:
  - name: secure
    bindings: [{ protocol: https, address: 127.0.0.1, port: 0, certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} } }]
    ssl:
      clientCertificates: require
      trustedCaFile: ${rootFile}
      revocation: { online: true, check: leaf, fetchTimeout: 2s, cacheFolder: ${cacheFolder} }
    farm: web
farms: [{ name: web, servers: [{ address: ${backend.address} }] }]
`,
  );
  const cli = startCli({ after: (fn) => cleanups.push(fn) }, pki.dir, config);
  const listening = (await cli.waitFor('stdout', /^listening (https:\/\/127\.0\.0\.1:\d+) \(site secure\)$/m))[1] as string;
  await cli.waitFor('stderr', /^gatehouse: 2 workers \(pids \d+, \d+\)$/m);
  url = listening;
});

after(async () => {
  for (const cleanup of cleanups) await cleanup();
  await responders?.close();
  await backend?.close();
  await pki?.cleanup();
});

test('new connections spread over two workers: one OCSP fetch between them, every verdict right', async () => {
  const good = await Promise.all(Array.from({ length: 8 }, (_, i) => curl(`${url}/good-${i}`, { cacert: pki.caFile, cert: certFile, key: keyFile })));
  for (const result of good) assert.equal(result.status, 200, `${result.body} ${result.stderr}`);
  assert.equal(responders.hits('/ocsp/w'), 1, 'one fetch for the badge across the workers');
  const revoked = await Promise.all(Array.from({ length: 4 }, (_, i) => curl(`${url}/revoked-${i}`, { cacert: pki.caFile, cert: revokedCertFile, key: revokedKeyFile })));
  for (const result of revoked) assert.match(result.body, /^HTTP Error 403\.13 /);
  assert.equal(responders.hits('/ocsp/w'), 2, 'and one for the revoked one');
});
