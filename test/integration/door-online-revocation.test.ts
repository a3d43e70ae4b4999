/**
 * Online revocation (issue 11): CRL distribution points and OCSP responders named in the client's
 * certificates, on 127.0.0.1: a real OpenSSL OCSP responder and a CDP whose hits are counted. A PKI made at
 * test time: a root, an issuing CA pointing at the root's CRL and responder, leaves pointing at the issuing
 * CA's. Real client: curl, with the leaf and its issuing CA, as a badge sends them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, createCrl, issueClient, issueOcspResponder, issueServer, type Issued } from '../../src/pki/index.js';
import { startBackend, type Backend } from '../support/backends.js';
import { curl, opensslSClient, type CurlResult } from '../support/clients.js';
import { receivedAt, tlsFetch, uniquePath } from '../support/door.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { startResponders, type Responders } from '../support/revocation-responders.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { loadConfigText } from '../../src/config/load.js';

let pki: TestPki;
let responders: Responders;
let backend: Backend;
let root: Issued;
let issuing: Issued;
let rootFile: string;
const clients = new Map<string, { certFile: string; keyFile: string; issued: Issued }>();

async function client(name: string, ca: Issued, pointers: { crl?: string[]; ocsp?: string[] }, extra: Partial<Parameters<typeof issueClient>[0]> = {}) {
  const issued = await issueClient({ ca, commonName: `Online ${name}`, ...(pointers.crl ? { crlUrls: pointers.crl } : {}), ...(pointers.ocsp ? { ocspUrls: pointers.ocsp } : {}), ...extra });
  const certFile = join(pki.dir, `online-${name}.pem`);
  const keyFile = join(pki.dir, `online-${name}.key`);
  await writeFile(certFile, issued.certPem + issued.chainPem.filter((pem) => pem !== root.certPem).join(''));
  await writeFile(keyFile, issued.keyPem, { mode: 0o600 });
  clients.set(name, { certFile, keyFile, issued });
  return issued;
}

before(async () => {
  pki = await createTestPki();
  responders = await startResponders();
  backend = await startBackend('online-backend');
  root = await createCa({ commonName: 'Online Test Root' });
  rootFile = join(pki.dir, 'online-root.pem');
  await writeFile(rootFile, root.certPem);
  issuing = await createCa({ commonName: 'Online Issuing CA', issuer: root, pathLength: 0, crlUrls: [responders.crlUrl('root')], ocspUrls: [responders.ocspUrl('root')] });
  const revokedIssuing = await createCa({ commonName: 'Online Revoked Issuing CA', issuer: root, pathLength: 0, crlUrls: [responders.crlUrl('root')], ocspUrls: [responders.ocspUrl('root')] });
  // The root's responder and CRL: the issuing CA is good, the other one revoked.
  responders.setOcsp('root', root);
  responders.setStatus('root', issuing.serialNumber, 'good');
  responders.setStatus('root', revokedIssuing.serialNumber, 'revoked');
  responders.setCrl('root', (await createCrl({ ca: root, revoked: [{ serialNumber: revokedIssuing.serialNumber }] })).der);

  const both = { ocsp: [responders.ocspUrl('int')], crl: [responders.crlUrl('int')] };
  const good = await client('good', issuing, both);
  const revoked = await client('revoked', issuing, both);
  responders.setOcsp('int', issuing);
  responders.setStatus('int', good.serialNumber, 'good');
  responders.setStatus('int', revoked.serialNumber, 'revoked');
  // CRL only.
  const cdpGood = await client('cdp-good', issuing, { crl: [responders.crlUrl('cdp')] });
  const cdpRevoked = await client('cdp-revoked', issuing, { crl: [responders.crlUrl('cdp')] });
  responders.setCrl('cdp', (await createCrl({ ca: issuing, revoked: [{ serialNumber: cdpRevoked.serialNumber }] })).der);
  void cdpGood;
  // A responder that fails, then the CRL that answers.
  const fallback = await client('fallback', issuing, { ocsp: [responders.ocspUrl('down')], crl: [responders.crlUrl('cdp')] });
  responders.setMode('/ocsp/down', 'drop');
  void fallback;
  await client('none', issuing, {});
  await client('hang', issuing, { ocsp: [responders.ocspUrl('hang')] });
  responders.setMode('/ocsp/hang', 'hang');
  await client('unreachable', issuing, { crl: ['http://127.0.0.1:9/crl'] });
  await client('bad-ocsp', issuing, { ocsp: [responders.ocspUrl('bad')] });
  responders.setOcsp('bad', issuing);
  responders.setMode('/ocsp/bad', 'bad-signature');
  await client('bad-crl', issuing, { crl: [responders.crlUrl('bad')] });
  responders.setCrl('bad', (await createCrl({ ca: issuing, revoked: [] })).der);
  responders.setMode('/crl/bad', 'bad-signature');
  const stale = await client('stale', issuing, { ocsp: [responders.ocspUrl('stale')] });
  responders.setOcsp('stale', issuing);
  responders.setStatus('stale', stale.serialNumber, 'good');
  responders.setMode('/ocsp/stale', 'stale');
  // Delegated responders: one with the OCSP-signing EKU, one without.
  const delegated = await client('delegated', issuing, { ocsp: [responders.ocspUrl('delegated')] });
  responders.setOcsp('delegated', issuing, await issueOcspResponder({ ca: issuing, commonName: 'Online OCSP Signer' }));
  responders.setStatus('delegated', delegated.serialNumber, 'good');
  const impostor = await client('impostor', issuing, { ocsp: [responders.ocspUrl('impostor')] });
  responders.setOcsp('impostor', issuing, await issueClient({ ca: issuing, commonName: 'Not An OCSP Signer' }));
  responders.setStatus('impostor', impostor.serialNumber, 'good');
  // Under the revoked issuing CA.
  const underRevoked = await client('under-revoked', revokedIssuing, { ocsp: [responders.ocspUrl('rint')] });
  responders.setOcsp('rint', revokedIssuing);
  responders.setStatus('rint', underRevoked.serialNumber, 'good');
  await client('garbage', issuing, { ocsp: [responders.ocspUrl('garbage')] });
  responders.setMode('/ocsp/garbage', 'garbage');
  await client('huge', issuing, { ocsp: [responders.ocspUrl('huge')] });
  responders.setMode('/ocsp/huge', 'huge');
  await client('redirect', issuing, { crl: [responders.crlUrl('redirect')] });
  responders.setMode('/crl/redirect', 'redirect');
  const cached = await client('cached', issuing, { ocsp: [responders.ocspUrl('cached')] });
  responders.setOcsp('cached', issuing);
  responders.setStatus('cached', cached.serialNumber, 'good');
  const fresh = await client('fresh', issuing, { ocsp: [responders.ocspUrl('fresh')] });
  responders.setOcsp('fresh', issuing);
  responders.setStatus('fresh', fresh.serialNumber, 'good');
  const shared = await client('shared', issuing, { ocsp: [responders.ocspUrl('shared')] });
  responders.setOcsp('shared', issuing);
  responders.setStatus('shared', shared.serialNumber, 'good');
});

after(async () => {
  await responders?.close();
  await backend?.close();
  await pki?.cleanup();
});

interface OnlineDoor {
  readonly running: RunningGatehouse;
  readonly cacheFolder: string;
  visit(name: string, label?: string): Promise<CurlResult & { path: string }>;
}

async function withOnlineDoor(revocation: Record<string, unknown>, body: (door: OnlineDoor) => Promise<void>, cacheFolder?: string, ssl: Record<string, unknown> = {}): Promise<void> {
  const folder = cacheFolder ?? (await mkdtemp(join(tmpdir(), 'gatehouse-revocation-cache-')));
  const config = {
    accessLog: 'off',
    drainTimeout: 1,
    admin: { address: '127.0.0.1', port: 0 },
    sites: [
      {
        name: 'door',
        farm: 'farm',
        bindings: [{ protocol: 'https', address: '127.0.0.1', port: 0, certificate: { certFile: pki.server.certFile, keyFile: pki.server.keyFile } }],
        ssl: { clientCertificates: 'require', trustedCaFile: rootFile, ...ssl, revocation: { online: true, fetchTimeout: '1s', cacheFolder: folder, ...revocation } },
      },
    ],
    farms: [{ name: 'farm', servers: [{ address: backend.address }] }],
  };
  const running = await startGatehouse(JSON.stringify(config), pki.dir);
  try {
    await body({
      running,
      cacheFolder: folder,
      visit: async (name, label = name) => {
        const files = clients.get(name);
        assert.ok(files, name);
        const path = uniquePath(label);
        return { path, ...(await curl(running.url('door') + path, { cacert: pki.caFile, cert: files.certFile, key: files.keyFile })) };
      },
    });
  } finally {
    await running.stop();
  }
}

function assertPassed(result: CurlResult & { path: string }, label: string): void {
  assert.equal(result.status, 200, `${label}: ${result.status} ${result.body} ${result.stderr}`);
  assert.equal(receivedAt(backend, result.path).length, 1, `${label}: forwarded once`);
}

function assertRefused(door: OnlineDoor, result: CurlResult & { path: string }, subStatus: number, reason: RegExp): string {
  assert.equal(result.status, 403, `expected 403.${subStatus}: ${result.status} ${result.body}`);
  assert.match(result.body, new RegExp(`^HTTP Error 403\\.${subStatus} `));
  assert.deepEqual(receivedAt(backend, result.path), [], 'the backend received nothing');
  const line = door.running.events.find((e) => e.includes(` ${result.path}`));
  assert.ok(line, `an event-log line for ${result.path}: ${door.running.events.join('\n')}`);
  assert.match(line, reason);
  return line;
}

async function metric(door: OnlineDoor, name: string, labels: string): Promise<number> {
  const text = (await door.running.gatehouse.metrics?.scrape()) ?? '';
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('OCSP', () => {
  test('good → 200; revoked → 403.13 naming the responder and the certificate; the metrics count both', async () => {
    await withOnlineDoor({}, async (door) => {
      assertPassed(await door.visit('good'), 'good');
      const line = assertRefused(door, await door.visit('revoked'), 13, /client certificate revoked \(OCSP http:\/\/127\.0\.0\.1:\d+\/ocsp\/int: CN=Online revoked, serial [0-9A-F]+\)/);
      assert.match(line, /subject="[^"]*Online revoked/);
      assert.equal(await metric(door, 'gatehouse_revocation_checks_total', 'source="ocsp",result="revoked"'), 1);
      assert.ok((await metric(door, 'gatehouse_revocation_checks_total', 'source="ocsp",result="good"')) >= 2, 'the leaf and its issuing CA checked good');
      assert.ok((await metric(door, 'gatehouse_revocation_fetch_duration_seconds_count', 'kind="ocsp",outcome="ok"')) >= 2);
      assert.match((await door.running.gatehouse.metrics?.scrape()) ?? '', /gatehouse_revocation_cache_age_seconds\{kind="ocsp",url="http:\/\/127\.0\.0\.1:\d+\/ocsp\/int"\} \d/);
    });
  });

  test('a delegated responder with the OCSP-signing EKU is believed; one without it is not (403.16)', async () => {
    await withOnlineDoor({}, async (door) => {
      assertPassed(await door.visit('delegated'), 'delegated');
      assertRefused(door, await door.visit('impostor'), 16, /revocation status unknown .*lacks the OCSP-signing extended key usage/);
    });
  });

  test('a bad signature or a stale answer is not believed: 403.16 saying why', async () => {
    await withOnlineDoor({}, async (door) => {
      assertRefused(door, await door.visit('bad-ocsp'), 16, /revocation status unknown .*ocsp\/bad: its signature does not verify/);
      assertRefused(door, await door.visit('stale'), 16, /revocation status unknown .*ocsp\/stale: it is stale/);
    });
  });

  test('a responder down, then the CRL distribution point answers', async () => {
    await withOnlineDoor({}, async (door) => {
      assertPassed(await door.visit('fallback'), 'fallback');
      assert.ok(responders.hits('/ocsp/down') >= 1, 'the responder was asked first');
    });
  });
});

describe('CRL distribution points', () => {
  test('valid → 200, revoked → 403.13 naming the URL; one fetch serves later handshakes', async () => {
    await withOnlineDoor({}, async (door) => {
      const before = responders.hits('/crl/cdp');
      assertPassed(await door.visit('cdp-good'), 'cdp good');
      assertRefused(door, await door.visit('cdp-revoked'), 13, /revoked \(CRL http:\/\/127\.0\.0\.1:\d+\/crl\/cdp: CN=Online cdp-revoked/);
      assertPassed(await door.visit('cdp-good', 'again'), 'cdp good again');
      assert.equal(responders.hits('/crl/cdp') - before, 1, 'one fetch of the CRL');
    });
  });

  test('a CRL with a bad signature, or an unreachable point → 403.16; whenUnknown: allow lets in and logs it', async () => {
    await withOnlineDoor({}, async (door) => {
      assertRefused(door, await door.visit('bad-crl'), 16, /revocation status unknown .*crl\/bad: the CRL's signature does not verify/);
      assertRefused(door, await door.visit('unreachable'), 16, /revocation status unknown .*http:\/\/127\.0\.0\.1:9\/crl: ECONNREFUSED/);
      assertRefused(door, await door.visit('none'), 16, /revocation status unknown .*names no CRL distribution point or OCSP responder/);
    });
    await withOnlineDoor({ whenUnknown: 'allow' }, async (door) => {
      assertPassed(await door.visit('unreachable'), 'allowed');
      assert.ok(door.running.events.some((e) => /^warn revocation status unknown, let in \(whenUnknown: allow\): CN=Online unreachable/.test(e)), door.running.events.join('\n'));
      assert.equal(await metric(door, 'gatehouse_revocation_checks_total', 'source="crl",result="unknown"'), 1);
    });
  });
});

describe('hostile or broken sources', () => {
  test('garbage, an oversized answer, a redirect: each is no answer (403.16 saying why), and the process goes on', async () => {
    await withOnlineDoor({}, async (door) => {
      assertRefused(door, await door.visit('garbage'), 16, /ocsp\/garbage: the answer is not an OCSP response/);
      assertRefused(door, await door.visit('huge'), 16, /ocsp\/huge: the answer is (307200 bytes \()?more than 262144( bytes\))?/);
      assertRefused(door, await door.visit('redirect'), 16, /crl\/redirect: answered HTTP 302/);
      assertPassed(await door.visit('good', 'still-serving'), 'still serving');
    });
  });

  test('a cache folder with broken or foreign files: they are ignored, the source fetched again', async () => {
    const cacheFolder = join(await mkdtemp(join(tmpdir(), 'gatehouse-revocation-broken-')), 'cache');
    await withOnlineDoor({}, async (door) => assertPassed(await door.visit('good', 'broken-1'), 'first'), cacheFolder);
    const files = (await readdir(cacheFolder)).filter((f) => f.endsWith('.json'));
    assert.ok(files.length > 0);
    for (const [i, file] of files.entries()) await writeFile(join(cacheFolder, file), i % 2 ? '{"key":"x"' : JSON.stringify({ key: 'another', url: 'http://x', fetchedAtMs: Date.now(), der: 'AAAA' }));
    const before = responders.hits('/ocsp/int');
    await withOnlineDoor({}, async (door) => assertPassed(await door.visit('good', 'broken-2'), 'after the files broke'), cacheFolder);
    assert.equal(responders.hits('/ocsp/int') - before, 1, 'fetched again');
  });
});

describe('reload', () => {
  test('turning revocation.online on by a reload holds the next connections for their answers', async () => {
    await withOnlineDoor({ online: false }, async (door) => {
      assertPassed(await door.visit('revoked', 'before-reload'), 'online off: not looked up');
      const text = await readFile(door.running.configFile, 'utf8');
      await writeFile(door.running.configFile, text.replace('"online":false', '"online":true'));
      assert.equal(await door.running.gatehouse.reload(door.running.configFile), true, door.running.events.join('\n'));
      assertRefused(door, await door.visit('revoked', 'after-reload'), 13, /revoked \(OCSP http:\/\/127\.0\.0\.1:\d+\/ocsp\/int/);
      assertPassed(await door.visit('good', 'after-reload-good'), 'good after the reload');
    });
  });
});

describe('a stale CRL file', () => {
  test('is used (a warning at load), and its nextUpdate is a metric that turns negative', async () => {
    const day = 86_400_000;
    const staleFile = join(pki.dir, 'online-root-stale.crl');
    await writeFile(staleFile, (await createCrl({ ca: root, revoked: [], thisUpdate: new Date(Date.now() - 10 * day), nextUpdate: new Date(Date.now() - day) })).pem);
    const { warnings } = await loadConfigText(JSON.stringify({ sites: [{ name: 's', bindings: [{ protocol: 'https', port: 0, certificate: { certFile: pki.server.certFile, keyFile: pki.server.keyFile } }], ssl: { clientCertificates: 'require', trustedCaFile: rootFile, crlFile: staleFile }, farm: 'f' }], farms: [{ name: 'f', servers: [{ address: '127.0.0.1:9' }] }] }), join(pki.dir, 'stale.yaml'), pki.dir);
    assert.ok(warnings.some((w) => w.includes('online-root-stale.crl') && /CRL is stale \(nextUpdate .*\); it is used anyway/.test(w)), warnings.join('\n'));
    await withOnlineDoor(
      {},
      async (door) => {
        const before = responders.hits('/ocsp/root');
        assertPassed(await door.visit('good', 'stale-file'), 'the stale CRL answers for the issuing CA');
        assert.equal(responders.hits('/ocsp/root'), before, 'the issuing CA was not looked up online: the file answers for it');
        const text = (await door.running.gatehouse.metrics?.scrape()) ?? '';
        const line = text.split('\n').find((l) => l.startsWith('gatehouse_revocation_crl_file_next_update_seconds{') && l.includes('online-root-stale.crl'));
        assert.ok(line, text);
        assert.ok(Number(line.slice(line.lastIndexOf(' ') + 1)) < -86_000, line);
      },
      undefined,
      { crlFile: staleFile },
    );
  });
});

describe('check: chain or leaf', () => {
  test('an issuing CA revoked by the root: chain → 403.13 naming the CA; leaf → 200', async () => {
    await withOnlineDoor({ check: 'chain' }, async (door) => {
      assertRefused(door, await door.visit('under-revoked'), 13, /revoked \(OCSP http:\/\/127\.0\.0\.1:\d+\/ocsp\/root: CN=Online Revoked Issuing CA/);
    });
    await withOnlineDoor({ check: 'leaf' }, async (door) => {
      assertPassed(await door.visit('under-revoked'), 'leaf only');
    });
  });
});

describe('timing and the cache', () => {
  test('a responder that hangs delays the handshake by fetchTimeout at most; concurrent handshakes share one fetch', async () => {
    await withOnlineDoor({ fetchTimeout: '800ms' }, async (door) => {
      const started = performance.now();
      const results = await Promise.all([door.visit('hang', 'hang-1'), door.visit('hang', 'hang-2'), door.visit('hang', 'hang-3')]);
      const elapsed = performance.now() - started;
      for (const result of results) assertRefused(door, result, 16, /revocation status unknown .*ocsp\/hang: (no answer within 800 ms|no answer yet)/);
      assert.equal(responders.hits('/ocsp/hang'), 1, 'one fetch for the three handshakes');
      assert.ok(elapsed < 5000, `bounded by fetchTimeout (${Math.round(elapsed)} ms)`);
      assertPassed(await door.visit('good', 'not-delayed'), 'another certificate is not held up');
    });
  });

  test('an established connection never fetches: keep-alive requests after the first cost no hit', async () => {
    await withOnlineDoor({}, async (door) => {
      const files = clients.get('cached') as { certFile: string; keyFile: string };
      const paths = [uniquePath('ka-1'), uniquePath('ka-2'), uniquePath('ka-3')];
      const before = responders.hits('/ocsp/cached');
      const urls = paths.flatMap((p, i) => (i === 0 ? [door.running.url('door') + p] : ['--next', '--cacert', pki.caFile, '--cert', files.certFile, '--key', files.keyFile, door.running.url('door') + p]));
      const [first, ...rest] = urls;
      const result = await curl(first as string, { cacert: pki.caFile, cert: files.certFile, key: files.keyFile, extra: rest });
      assert.equal(result.status, 200, result.stderr);
      for (const p of paths) assert.equal(receivedAt(backend, p).length, 1, p);
      assert.equal(responders.hits('/ocsp/cached') - before, 1, 'fetched once, during the handshake');
    });
  });

  test('answers survive a restart: the cache folder (0700, files 0600) serves the next run without a fetch', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'gatehouse-revocation-shared-'));
    const cacheFolder = join(folder, 'cache');
    await withOnlineDoor({}, async (door) => assertPassed(await door.visit('cached', 'run-1'), 'first run'), cacheFolder);
    const hits = responders.hits('/ocsp/cached');
    const mode = (await stat(cacheFolder)).mode & 0o777;
    assert.equal(mode, 0o700);
    const files = (await readdir(cacheFolder)).filter((f) => f.endsWith('.json'));
    assert.ok(files.length >= 2, files.join(', '));
    for (const file of files) assert.equal((await stat(join(cacheFolder, file))).mode & 0o777, 0o600, file);
    await withOnlineDoor({}, async (door) => assertPassed(await door.visit('cached', 'run-2'), 'second run'), cacheFolder);
    assert.equal(responders.hits('/ocsp/cached'), hits, 'no fetch: the answer came from the folder');
  });

  test('freshness: an answer in use is fetched again before it is older than freshness', async () => {
    await withOnlineDoor({ freshness: '2s' }, async (door) => {
      assertPassed(await door.visit('fresh'), 'fresh');
      const first = responders.hits('/ocsp/fresh');
      await responders.waitForHits('/ocsp/fresh', first + 1, 5000); // the refresh, before the 2 s are up
    });
  });

  test('cachedOnly: a handshake never waits; the missing answer is fetched in the background for the next one', async () => {
    await withOnlineDoor({ cachedOnly: true }, async (door) => {
      assertRefused(door, await door.visit('shared', 'cached-only-1'), 16, /revocation status unknown .*not cached \(cachedOnly\)/);
      await responders.waitForHits('/ocsp/shared', 1);
      let result: CurlResult & { path: string } = await door.visit('shared', 'cached-only-2');
      for (let attempt = 0; attempt < 20 && result.status !== 200; attempt++) result = await door.visit('shared', `cached-only-retry-${attempt}`);
      assertPassed(result, 'from the cache');
    });
  });
});

describe('resumed TLS sessions', () => {
  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    test(`${version}: a resumed session (the leaf alone) gets its full handshake's verdict: good stays 200, revoked stays 403.13`, async () => {
      await withOnlineDoor({}, async (door) => {
        for (const [name, status] of [['good', 200], ['revoked', 403]] as const) {
          const files = clients.get(name) as { certFile: string; keyFile: string };
          const base = { host: '127.0.0.1', port: door.running.port('door'), servername: 'localhost', ca: readFileSync(pki.caFile), cert: readFileSync(files.certFile), key: readFileSync(files.keyFile), minVersion: version, maxVersion: version };
          const full = await tlsFetch({ ...base, path: uniquePath(`${name}-full`), wantSession: true });
          assert.equal(full.status, status, full.body);
          assert.ok(full.session, 'a session to resume');
          const resumed = await tlsFetch({ ...base, session: full.session, path: uniquePath(`${name}-resumed`) });
          assert.ok(resumed.reused, 'the session was resumed');
          assert.equal(resumed.status, status, resumed.body);
          if (status === 403) assert.match(resumed.body, /^HTTP Error 403\.13 /);
        }
      });
    });
  }
});

describe('OCSP stapling (certificate.ocspStapling)', () => {
  async function withStapledServer(responder: string, body: (running: RunningGatehouse, config: { sites: { bindings: { certificate: Record<string, unknown> }[] }[] }) => Promise<void>, revocation: Record<string, unknown> = {}): Promise<void> {
    const server = await issueServer({ ca: issuing, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], ocspUrls: [responders.ocspUrl(responder)] });
    responders.setOcsp(responder, issuing);
    responders.setStatus(responder, server.serialNumber, 'good');
    const certFile = join(pki.dir, `stapled-${responder}.pem`);
    const keyFile = join(pki.dir, `stapled-${responder}.key`);
    await writeFile(certFile, server.certPem + issuing.certPem);
    await writeFile(keyFile, server.keyPem, { mode: 0o600 });
    const folder = await mkdtemp(join(tmpdir(), 'gatehouse-staple-cache-'));
    const config = {
      accessLog: 'off',
      drainTimeout: 1,
      sites: [{ name: 'door', farm: 'farm', bindings: [{ protocol: 'https', address: '127.0.0.1', port: 0, certificate: { certFile, keyFile, ocspStapling: true } }], ssl: { revocation: { fetchTimeout: '1s', cacheFolder: folder, ...revocation } } }],
      farms: [{ name: 'farm', servers: [{ address: backend.address }] }],
    };
    const running = await startGatehouse(JSON.stringify(config), pki.dir);
    try {
      await body(running, config);
    } finally {
      await running.stop();
    }
  }

  test('openssl s_client -status gets the responder\'s answer, fetched once for every handshake', async () => {
    await withStapledServer('srv', async (running) => {
      for (let i = 0; i < 3; i++) {
        const result = await opensslSClient('127.0.0.1', running.port('door'), { servername: 'localhost', extra: ['-status'] });
        assert.ok(result.handshakeDone, result.stdout);
        assert.match(result.stdout, /OCSP Response Status: successful \(0x0\)/);
        assert.match(result.stdout, /Cert Status: good/);
      }
      assert.equal(responders.hits('/ocsp/srv'), 1);
    });
  });

  test('the staple is kept fresh while its binding staples; a reload that stops stapling stops the refreshes', async () => {
    await withStapledServer(
      'srv-reload',
      async (running, config) => {
        // Refreshed before the 2 s freshness is up, with no handshake asking.
        await responders.waitForHits('/ocsp/srv-reload', 2);
        await responders.waitForHits('/ocsp/srv-reload', 3);
        for (const site of config.sites) for (const binding of site.bindings) binding.certificate.ocspStapling = false;
        await writeFile(running.configFile, JSON.stringify(config));
        assert.equal(await running.gatehouse.reload(running.configFile), true, running.events.join('\n'));
        // A refresh already under way at the reload may still land; none is started after it.
        const atReload = responders.hits('/ocsp/srv-reload');
        await assert.rejects(responders.waitForHits('/ocsp/srv-reload', atReload + 2, 4000), 'no refresh in twice the freshness after the reload');
        const result = await opensslSClient('127.0.0.1', running.port('door'), { servername: 'localhost', extra: ['-status'] });
        assert.ok(result.handshakeDone, result.stdout);
        assert.match(result.stdout, /OCSP response: no response sent/);
      },
      { freshness: '2s' },
    );
  });

  test('the responder down: handshakes go on without a staple, and the event log says so', async () => {
    responders.setMode('/ocsp/srv-down', 'drop');
    await withStapledServer('srv-down', async (running) => {
      const result = await opensslSClient('127.0.0.1', running.port('door'), { servername: 'localhost', extra: ['-status'] });
      assert.ok(result.handshakeDone, result.stdout);
      assert.match(result.stdout, /OCSP response: no response sent/);
      assert.ok(running.events.some((e) => /^warn ocspStapling: no staple for CN=localhost .*handshakes go on without one/.test(e)), running.events.join('\n'));
    });
  });
});
