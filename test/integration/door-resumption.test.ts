/**
 * Resumed TLS sessions (TLS 1.3 tickets / PSK and TLS 1.2 tickets): a resumed connection gets the same
 * verdict as the full handshake that created the session, in every mode; a session made on one site is
 * never a way into another site on the same port. Each test records what the server saw (peer
 * certificate and chain after resumption) as test diagnostics.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startBackend, type Backend } from '../support/backends.js';
import { base64DerOf, configText, freePort, httpsBinding, observeServerSide, receivedAt, startDoor, tlsFetch, uniquePath, type Door, type ServerSideView, type SiteSpec, type TlsClientOptions, type TlsFetchResult } from '../support/door.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { createTestPki, type ClientFiles, type TestPki } from '../support/test-pki.js';

let pki: TestPki;

before(async () => {
  pki = await createTestPki();
});

after(async () => {
  await pki?.cleanup();
});

function clientCert(client: ClientFiles | undefined): { cert?: Buffer; key?: Buffer } {
  return client ? { cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) } : {};
}

interface Pair {
  readonly full: TlsFetchResult;
  readonly resumed: TlsFetchResult;
  readonly fullPath: string;
  readonly resumedPath: string;
  readonly fullView: ServerSideView | undefined;
  readonly resumedView: ServerSideView | undefined;
}

/** A full handshake with one request, then a second connection offering its session, with one request. */
async function fullThenResumed(t: TestContext, views: ServerSideView[], options: TlsClientOptions, label: string): Promise<Pair> {
  const fullPath = uniquePath(`${label}-full`);
  const full = await tlsFetch({ ...options, path: fullPath, wantSession: true });
  assert.equal(full.reused, false, 'the first connection is a full handshake');
  assert.ok(full.session, 'the server gave a session');
  const resumedPath = uniquePath(`${label}-resumed`);
  const resumed = await tlsFetch({ ...options, session: full.session, path: resumedPath });
  const fullView = views.find((v) => v.url === fullPath);
  const resumedView = views.find((v) => v.url === resumedPath);
  const describeView = (v: ServerSideView | undefined) =>
    v ? `${v.protocol} resumed=${v.resumed} authorized=${v.authorized}${v.authorizationError ? `(${v.authorizationError})` : ''} peerLeaf=${v.peerLeaf ? 'yes' : 'no'} issuers=[${v.peerIssuers.join(' > ')}] gatehouseChain=${v.gatehouseChainLength ?? '-'} verdict=${v.subStatus}` : 'no request seen';
  t.diagnostic(`${label} full:    client ${full.protocol} status ${full.status}; server ${describeView(fullView)}`);
  t.diagnostic(`${label} resumed: client ${resumed.protocol} reused=${resumed.reused} status ${resumed.status}; server ${describeView(resumedView)}`);
  return { full, resumed, fullPath, resumedPath, fullView, resumedView };
}

for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
  describe(`resumed sessions, ${version}`, () => {
    let requireDoor: Door;
    let acceptDoor: Door;
    let requireViews: ServerSideView[];
    let acceptViews: ServerSideView[];
    const options = (door: Door, client: ClientFiles | undefined): TlsClientOptions => ({
      host: '127.0.0.1',
      port: door.running.port('door'),
      ca: readFileSync(pki.caFile),
      maxVersion: version,
      minVersion: version,
      ...clientCert(client),
    });

    before(async () => {
      requireDoor = await startDoor(pki.dir, pki.server, { clientCertificates: 'require', trustedCaFile: pki.caFile, crlFile: pki.crlFile });
      acceptDoor = await startDoor(pki.dir, pki.server, { clientCertificates: 'accept', trustedCaFile: pki.caFile });
      requireViews = observeServerSide(requireDoor.running);
      acceptViews = observeServerSide(acceptDoor.running);
    });

    after(async () => {
      await requireDoor?.close();
      await acceptDoor?.close();
    });

    test('valid certificate: the session is resumed and the request gets 200 with the same X-ARR-ClientCert', async (t) => {
      const pair = await fullThenResumed(t, requireViews, options(requireDoor, pki.clients.valid), 'valid');
      assert.equal(pair.full.protocol, version);
      assert.equal(pair.full.status, 200, pair.full.body);
      assert.equal(pair.resumed.reused, true, 'isSessionReused() on the client');
      assert.equal(pair.resumedView?.resumed, true, 'isSessionReused() on the server');
      assert.equal(pair.resumed.status, 200, pair.resumed.body);
      const expected = base64DerOf(pki.clients.valid.certFile);
      assert.equal(receivedAt(requireDoor.backend, pair.fullPath)[0]?.headers['x-arr-clientcert'], expected);
      assert.equal(receivedAt(requireDoor.backend, pair.resumedPath)[0]?.headers['x-arr-clientcert'], expected);
    });

    test('leaf + intermediate, trustedCaFile = root: resumed → 200 with the same leaf', async (t) => {
      const pair = await fullThenResumed(t, requireViews, options(requireDoor, pki.clients.viaIntermediate), 'chain');
      assert.equal(pair.full.status, 200, pair.full.body);
      assert.equal(pair.resumed.reused, true);
      assert.equal(pair.resumed.status, 200, pair.resumed.body);
      const expected = base64DerOf(pki.clients.viaIntermediate.certFile);
      assert.equal(receivedAt(requireDoor.backend, pair.resumedPath)[0]?.headers['x-arr-clientcert'], expected);
    });

    test('revoked certificate: 403.13 on the full handshake and on the resumed connection', async (t) => {
      const pair = await fullThenResumed(t, requireViews, options(requireDoor, pki.clients.revoked), 'revoked');
      assert.equal(pair.full.status, 403);
      assert.ok(pair.full.body.includes('HTTP Error 403.13'), pair.full.body);
      assert.equal(pair.resumed.status, 403, `resumed: ${pair.resumed.status} (reused=${pair.resumed.reused}) ${pair.resumed.body}`);
      assert.ok(pair.resumed.body.includes('HTTP Error 403.13'), pair.resumed.body);
      assert.equal(receivedAt(requireDoor.backend, pair.resumedPath).length, 0);
    });

    test('expired certificate: 403.17 on the full handshake and on the resumed connection', async (t) => {
      const pair = await fullThenResumed(t, requireViews, options(requireDoor, pki.clients.expired), 'expired');
      assert.equal(pair.full.status, 403);
      assert.ok(pair.full.body.includes('HTTP Error 403.17'), pair.full.body);
      assert.equal(pair.resumed.status, 403, `resumed: ${pair.resumed.status} (reused=${pair.resumed.reused}) ${pair.resumed.body}`);
      assert.ok(pair.resumed.body.includes('HTTP Error 403.17'), pair.resumed.body);
      assert.equal(receivedAt(requireDoor.backend, pair.resumedPath).length, 0);
    });

    test('require mode without a certificate: 403.7, and 403.7 again when resumed', async (t) => {
      const pair = await fullThenResumed(t, requireViews, options(requireDoor, undefined), 'none-require');
      assert.equal(pair.full.status, 403);
      assert.ok(pair.full.body.includes('HTTP Error 403.7'), pair.full.body);
      assert.equal(pair.resumed.status, 403, `resumed: ${pair.resumed.status} (reused=${pair.resumed.reused}) ${pair.resumed.body}`);
      assert.ok(pair.resumed.body.includes('HTTP Error 403.7'), pair.resumed.body);
    });

    test('accept mode, untrusted certificate: 403.16, and the resumed connection is rejected too', async (t) => {
      const pair = await fullThenResumed(t, acceptViews, options(acceptDoor, pki.clients.untrusted), 'untrusted-accept');
      assert.equal(pair.full.status, 403);
      assert.ok(pair.full.body.includes('HTTP Error 403.16'), pair.full.body);
      assert.equal(pair.resumed.status, 403, `resumed: ${pair.resumed.status} (reused=${pair.resumed.reused}) ${pair.resumed.body}`);
      assert.ok(pair.resumed.body.includes('HTTP Error 403.16'), pair.resumed.body);
      assert.equal(receivedAt(acceptDoor.backend, pair.resumedPath).length, 0, 'never let in');
    });

    test('revoked by the intermediate (leaf + intermediate sent; both CAs and CRLs configured): 403.13, resumed too', async (t) => {
      const door = await startDoor(pki.dir, pki.server, { clientCertificates: 'require', trustedCaFile: pki.bundleCaFile, crlFile: [pki.crlFile, pki.intermediateCrlFile] });
      try {
        const views = observeServerSide(door.running);
        const pair = await fullThenResumed(t, views, options(door, pki.clients.revokedViaIntermediate), 'revoked-int');
        assert.equal(pair.full.status, 403);
        assert.ok(pair.full.body.includes('HTTP Error 403.13'), pair.full.body);
        assert.equal(pair.resumed.status, 403, `resumed: ${pair.resumed.status} (reused=${pair.resumed.reused}) ${pair.resumed.body}`);
        assert.ok(pair.resumed.body.includes('HTTP Error 403.13'), pair.resumed.body);
        assert.equal(receivedAt(door.backend, pair.resumedPath).length, 0);
      } finally {
        await door.close();
      }
    });

    test('accept mode without a certificate: 200 without the header, resumed too', async (t) => {
      const pair = await fullThenResumed(t, acceptViews, options(acceptDoor, undefined), 'none-accept');
      assert.equal(pair.full.status, 200, pair.full.body);
      assert.equal(pair.resumed.reused, true);
      assert.equal(pair.resumed.status, 200, pair.resumed.body);
      assert.equal(receivedAt(acceptDoor.backend, pair.resumedPath)[0]?.headers['x-arr-clientcert'], undefined);
    });
  });
}

for (const withFallback of [false, true]) {
  describe(`resumed sessions across sites on one port (${withFallback ? 'with' : 'without'} a binding without host name)`, () => {
    let backends: Record<'root' | 'other' | 'fallback', Backend>;
    let running: RunningGatehouse;
    let views: ServerSideView[];
    let port: number;

    before(async () => {
      backends = { root: await startBackend('trusts-root'), other: await startBackend('trusts-other'), fallback: await startBackend('fallback') };
      port = await freePort();
      const sites: SiteSpec[] = [
        // app.example.test trusts the test root; other.example.test (and the fallback) trust only another root
        { name: 'rootSite', farm: 'rootFarm', bindings: [httpsBinding(pki.server, { hostName: 'app.example.test', port })], ssl: { clientCertificates: 'require', trustedCaFile: pki.caFile } },
        { name: 'otherSite', farm: 'otherFarm', bindings: [httpsBinding(pki.otherServer, { hostName: 'other.example.test', port })], ssl: { clientCertificates: 'require', trustedCaFile: pki.otherCaFile } },
      ];
      if (withFallback) sites.push({ name: 'fallbackSite', farm: 'fallbackFarm', bindings: [httpsBinding(pki.server, { port })], ssl: { clientCertificates: 'require', trustedCaFile: pki.otherCaFile } });
      running = await startGatehouse(configText(sites, { rootFarm: [backends.root], otherFarm: [backends.other], fallbackFarm: [backends.fallback] }), pki.dir);
      views = observeServerSide(running);
    });

    after(async () => {
      await running?.stop();
      for (const backend of Object.values(backends ?? {})) await backend.close();
    });

    for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
      test(`${version}: a session made on the site trusting the root is no key to other.example.test (trusting another CA)`, async (t) => {
        const base = { host: '127.0.0.1', port, ca: readFileSync(pki.caFile), maxVersion: version, minVersion: version, ...clientCert(pki.clients.valid) } as const;
        const firstPath = uniquePath('cross-first');
        const first = await tlsFetch({ ...base, servername: 'app.example.test', path: firstPath, wantSession: true });
        assert.equal(first.status, 200, first.body);
        assert.equal(receivedAt(backends.root, firstPath).length, 1);
        const secondPath = uniquePath('cross-second');
        let second: TlsFetchResult | undefined;
        let failure: Error | undefined;
        try {
          second = await tlsFetch({ ...base, servername: 'other.example.test', session: first.session, path: secondPath });
        } catch (error) {
          failure = error as Error;
        }
        const view = views.find((v) => v.url === secondPath);
        const reachedBy = Object.entries(backends).filter(([, b]) => receivedAt(b, secondPath).length > 0).map(([name]) => name);
        t.diagnostic(
          `cross-site ${version}${withFallback ? ' (fallback)' : ''}: ${second ? `client reused=${second.reused} status=${second.status}` : `client error ${failure?.message}`}; ` +
            `server resumed=${view?.resumed} authorized=${view?.authorized} verdict=${view?.subStatus}; forwarded to: ${reachedBy.join(', ') || 'nobody'}`,
        );
        assert.deepEqual(reachedBy, [], 'never let in: no farm receives the request');
        assert.ok(second, `the client gets an answer on its own site, not a dropped connection (${failure?.message})`);
        assert.equal(second.status, 403, `other.example.test does not trust the root: got ${second.status} (reused=${second.reused})`);
        assert.ok(second.body.includes('HTTP Error 403.16'), second.body);
      });
    }
  });
}
