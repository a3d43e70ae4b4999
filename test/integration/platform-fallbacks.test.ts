/**
 * src/platform/: each fallback for node's internals, forced on with GATEHOUSE_PLATFORM_FALLBACKS=<name>,
 * and the behaviour it stands in for, run in a child process with and without it:
 * - consume, read-stop, unref-timer: the farm connections read through 'data' events instead of handing
 *   the socket to node's parser in C++; the forwarding tests (bodies of many MB both ways, back-pressure,
 *   framing) must pass the same;
 * - request-cert, sni-slot, partial-trust-chain, ticket-renewal: real TLS on loopback, with client
 *   certificates from the test PKI;
 * - get-certificate: a PFX binding's leaf; close-all-connections: an http2 server's HTTP/1.1 connections;
 *   pause-on-connect: maxConnections; http2: ALPN.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { tempDir } from '../support/temp.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function node(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // Without NODE_TEST_CONTEXT: the child's test runner reports as its own, not to this one.
    const { NODE_TEST_CONTEXT: _, ...inherited } = process.env;
    execFile(process.execPath, args, { cwd: root, env: { ...inherited, ...env }, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const probe = "import('./dist/src/platform/http-parser.js').then((m) => console.log(m.readsInParser))";
const probed = "const m = await import('./dist/src/platform/llhttp.js'); await m.probeSocketReads(); console.log(m.readsInParser)";

test('by default the parser reads farm sockets in C++; the environment switch forces the fallback, for each of its three internals', async () => {
  assert.equal((await node(['--input-type=module', '-e', probe], {})).stdout.trim(), 'true');
  assert.equal((await node(['--input-type=module', '-e', probed], {})).stdout.trim(), 'true', 'the probe passes on this Node');
  for (const name of ['consume', 'read-stop', 'unref-timer']) {
    assert.equal((await node(['--input-type=module', '-e', probe], { GATEHOUSE_PLATFORM_FALLBACKS: name })).stdout.trim(), 'false', name);
    assert.equal((await node(['--input-type=module', '-e', probed], { GATEHOUSE_PLATFORM_FALLBACKS: name })).stdout.trim(), 'false', `${name}, after the probe`);
  }
});

test('with the fallback forced, the forwarding and upstream tests pass', async () => {
  const files = ['dist/test/integration/forwarding-bodies.test.js', 'dist/test/integration/upstream.test.js'];
  const run = await node(['--test', '--test-reporter=tap', ...files], { GATEHOUSE_PLATFORM_FALLBACKS: 'consume' });
  assert.equal(run.code, 0, `${run.stdout.slice(-3000)}\n${run.stderr.slice(-2000)}`);
  assert.match(run.stdout, /# fail 0/);
});

/** The Node release the HTTP/2 crash was found on (http2-probe.ts): its probe must find it; 20 and 24 pass. */
const isKnownHttp2Crash = process.versions.node === '22.23.5';

test('HTTP/2 crash probe: a runtime that aborts on the known input is detected; this one is judged as it is', async (t) => {
  const { probeHttp2 } = await import('../../src/platform/http2-probe.js');
  const { writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const dir = await tempDir(t, 'gatehouse-probe-');
  // A "runtime" that dies as Node 22.23.5 does on the input (SIGABRT), and one that runs it with this Node.
  const aborting = join(dir, 'aborting-node');
  await writeFile(aborting, '#!/bin/sh\nkill -ABRT $$\n', { mode: 0o755 });
  const passing = join(dir, 'this-node');
  await writeFile(passing, `#!/bin/sh\nexec "${process.execPath}" "$@"\n`, { mode: 0o755 });
  const bad = await probeHttp2(aborting);
  assert.equal(bad.isSafe, false);
  assert.match(bad.reason, /HTTP\/2 is off: .* aborts on a known malformed HTTP\/2 input/);
  const self = await probeHttp2(passing);
  if (isKnownHttp2Crash) assert.equal(self.isSafe, false, 'this Node aborts on the input');
  else assert.deepEqual(self, { isSafe: true, reason: '' }, 'the input runs through this Node without a crash');
});

test('with GATEHOUSE_PLATFORM_FALLBACKS=http2, https bindings offer HTTP/1.1 only, and say why', async () => {
  const script = `
    import { createTestPki } from './dist/test/support/test-pki.js';
    import { startGatehouse } from './dist/test/support/gatehouse.js';
    import { startBackend } from './dist/test/support/backends.js';
    import { connect } from 'node:tls';
    const pki = await createTestPki();
    const backend = await startBackend('b');
    const yaml = JSON.stringify({ accessLog: 'off', sites: [{ name: 's', bindings: [{ protocol: 'https', address: '127.0.0.1', port: 0, certificate: { certFile: pki.server.certFile, keyFile: pki.server.keyFile } }], farm: 'f' }], farms: [{ name: 'f', servers: [{ address: backend.address }] }] });
    const running = await startGatehouse(yaml, pki.dir);
    const alpn = await new Promise((resolve) => { const s = connect({ host: '127.0.0.1', port: running.port('s'), ca: pki.root.certPem, servername: 'localhost', ALPNProtocols: ['h2', 'http/1.1'] }, () => { resolve(s.alpnProtocol); s.destroy(); }); });
    console.log(JSON.stringify({ alpn, events: running.events }));
    await running.stop(); await backend.close(); await pki.cleanup();`;
  for (const [env, expected] of [[{}, isKnownHttp2Crash ? 'http/1.1' : 'h2'], [{ GATEHOUSE_PLATFORM_FALLBACKS: 'http2' }, 'http/1.1']] as const) {
    const run = await node(['--input-type=module', '-e', script], env);
    assert.equal(run.code, 0, run.stderr);
    const { alpn, events } = JSON.parse(run.stdout.trim().split('\n').pop() as string) as { alpn: string; events: string[] };
    assert.equal(alpn, expected, JSON.stringify(env));
    assert.equal(events.some((e) => e.includes('HTTP/2 is off')), expected === 'http/1.1', events.join('\n'));
  }
});

/**
 * Runs `body` (module code, the last line it prints is JSON) in a child with and without `name` forced;
 * resolves with both results. The child has the test PKI as `pki`, and has probed the platform as
 * `gatehouse start` does.
 */
async function withAndWithout<T>(name: string, body: string): Promise<{ normal: T; forced: T }> {
  const script = `
    import { createTestPki } from './dist/test/support/test-pki.js';
    import { probePlatform } from './dist/src/platform/probes.js';
    const pki = await createTestPki();
    try {
      await probePlatform();
      ${body}
    } finally {
      await pki.cleanup();
    }`;
  const run = async (env: Record<string, string>) => {
    const result = await node(['--input-type=module', '-e', script], env);
    assert.equal(result.code, 0, `${JSON.stringify(env)}\n${result.stdout}\n${result.stderr}`);
    return JSON.parse(result.stdout.trim().split('\n').pop() as string) as T;
  };
  const [normal, forced] = await Promise.all([run({}), run({ GATEHOUSE_PLATFORM_FALLBACKS: name })]);
  return { normal, forced };
}

test('request-cert: the fallback asks every connection of a listener where any binding asks; certificates are still verified', async () => {
  // A listener as listener.ts builds it: the default binding ignores certificates, requires.test asks.
  const { normal, forced } = await withAndWithout<Record<string, { peer: boolean; authorized: boolean }>>(
    'request-cert',
    `
    const tls = await import('node:tls');
    const { readFileSync } = await import('node:fs');
    const { serverRequestsCertificates, setClientCertificateRequest } = await import('./dist/src/platform/tls-internals.js');
    const server = tls.createServer({
      cert: readFileSync(pki.server.certFile), key: readFileSync(pki.server.keyFile), ca: readFileSync(pki.caFile),
      requestCert: serverRequestsCertificates(false, true), rejectUnauthorized: false,
      SNICallback(name, cb) { setClientCertificateRequest(this, name === 'requires.test'); cb(null); },
    });
    const seen = [];
    server.on('secureConnection', (s) => { const p = s.getPeerCertificate(); seen.push({ peer: Object.keys(p).length > 0, authorized: s.authorized }); s.destroy(); });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const out = {};
    for (const [label, servername, client] of [['asks, trusted', 'requires.test', pki.clients.valid], ['asks, untrusted', 'requires.test', pki.clients.untrusted], ['ignores', 'ignores.test', pki.clients.valid]]) {
      await new Promise((resolve, reject) => {
        const before = seen.length;
        const c = tls.connect({ host: '127.0.0.1', port: server.address().port, servername, rejectUnauthorized: false, cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) });
        c.on('error', () => {});
        c.on('close', () => (seen.length > before ? resolve() : reject(new Error('no connection seen'))));
      });
      out[label] = seen.at(-1);
    }
    server.close();
    console.log(JSON.stringify(out));`,
  );
  assert.deepEqual(normal, { 'asks, trusted': { peer: true, authorized: true }, 'asks, untrusted': { peer: true, authorized: false }, ignores: { peer: false, authorized: false } });
  assert.deepEqual(forced, { 'asks, trusted': { peer: true, authorized: true }, 'asks, untrusted': { peer: true, authorized: false }, ignores: { peer: true, authorized: true } }, 'asked too, on the fallback; what it sends is for the site to ignore');
});

/** Gatehouse with one https site (one binding, no host name) in front of an echo backend, in the child. */
const oneSite = (ssl: string) => `
    const { startGatehouse } = await import('./dist/test/support/gatehouse.js');
    const { startBackend } = await import('./dist/test/support/backends.js');
    const { tlsFetch } = await import('./dist/test/support/door.js');
    const { readFileSync } = await import('node:fs');
    const backend = await startBackend('b');
    const running = await startGatehouse(JSON.stringify({ accessLog: 'off', drainTimeout: 1, sites: [{ name: 's', bindings: [{ protocol: 'https', address: '127.0.0.1', port: 0, certificate: { certFile: pki.server.certFile, keyFile: pki.server.keyFile } }], ssl: ${ssl}, farm: 'f' }], farms: [{ name: 'f', servers: [{ address: backend.address }] }] }), pki.dir);
    const port = running.port('s');
    const as = (client, extra = {}) => ({ host: '127.0.0.1', port, ca: readFileSync(pki.caFile), cert: readFileSync(client.certFile), key: readFileSync(client.keyFile), rejectUnauthorized: false, path: '/', ...extra });`;

test('sni-slot: on the fallback a listener with one binding keeps its SNI callback, and serves the same', async () => {
  const { normal, forced } = await withAndWithout<{ statuses: number[]; slot: string }>(
    'sni-slot',
    `${oneSite("{ clientCertificates: 'require', trustedCaFile: pki.caFile }")}
    const statuses = [(await tlsFetch(as(pki.clients.valid, { servername: 'localhost' }))).status, (await tlsFetch(as(pki.clients.untrusted, { servername: 'localhost' }))).status];
    const server = running.gatehouse.listeners[0].server;
    const slot = Object.getOwnPropertySymbols(server).find((s) => s.description === 'snicallback');
    const kind = typeof server[slot];
    await running.stop(); await backend.close();
    console.log(JSON.stringify({ statuses, slot: kind }));`,
  );
  assert.deepEqual(normal, { statuses: [200, 403], slot: 'undefined' }, 'the callback is off: one binding answers every name');
  assert.deepEqual(forced, { statuses: [200, 403], slot: 'function' }, 'the callback stays');
});

test('partial-trust-chain: on the fallback a client that sends SNI is still verified against a trusted intermediate alone; one without SNI needs a chain to a root', async () => {
  const { normal, forced } = await withAndWithout<{ sni: number; noSni: number; noSniBody: string }>(
    'partial-trust-chain',
    `${oneSite("{ clientCertificates: 'require', trustedCaFile: pki.intermediateCaFile }")}
    const sni = (await tlsFetch(as(pki.clients.viaIntermediateLeafOnly, { servername: 'localhost' }))).status;
    const noSni = await tlsFetch(as(pki.clients.viaIntermediateLeafOnly));
    await running.stop(); await backend.close();
    console.log(JSON.stringify({ sni, noSni: noSni.status, noSniBody: noSni.body.split('\\n')[0] }));`,
  );
  assert.equal(normal.sni, 200);
  assert.equal(normal.noSni, 200);
  assert.equal(forced.sni, 200, 'SNI: the binding context has allowPartialTrustChain (public createSecureContext option)');
  assert.equal(forced.noSni, 403);
  assert.match(forced.noSniBody, /^HTTP Error 403\.16/, 'without SNI: the default context trusts no partial chain');
});

test('ticket-renewal: a resumed TLS 1.3 connection brings a new ticket, and none on the fallback (resumption still works)', async () => {
  const { normal, forced } = await withAndWithout<{ first: boolean; resumed: boolean; newTickets: number }>(
    'ticket-renewal',
    `${oneSite("{ clientCertificates: 'ignore' }")}
    const { connectTls, requestOver } = await import('./dist/test/support/door.js');
    const first = await tlsFetch({ host: '127.0.0.1', port, servername: 'localhost', ca: readFileSync(pki.caFile), path: '/', wantSession: true });
    const again = await connectTls({ host: '127.0.0.1', port, servername: 'localhost', ca: readFileSync(pki.caFile), session: first.session });
    // Tickets follow the handshake at once; two answered requests later every one has arrived.
    await requestOver(again.socket, { path: '/1' });
    await requestOver(again.socket, { path: '/2' });
    const result = { first: first.reused, resumed: again.socket.isSessionReused(), newTickets: again.sessions.length };
    again.close();
    await running.stop(); await backend.close();
    console.log(JSON.stringify(result));`,
  );
  assert.equal(normal.first, false);
  assert.equal(normal.resumed, true);
  assert.ok(normal.newTickets > 0, 'renewed');
  assert.equal(forced.resumed, true, 'resumption works on the fallback');
  assert.equal(forced.newTickets, 0, "node's own ticket callback does not renew");
});

test('get-certificate: a PFX binding gets the same leaf from the fallback (a loopback handshake)', async () => {
  const { normal, forced } = await withAndWithout<{ leaf: string; expected: string; served: string }>(
    'get-certificate',
    `
    const { loadConfigText } = await import('./dist/src/config/load.js');
    const { X509Certificate } = await import('node:crypto');
    const { readFileSync } = await import('node:fs');
    const { startGatehouse } = await import('./dist/test/support/gatehouse.js');
    const { startBackend } = await import('./dist/test/support/backends.js');
    const { tlsFetch } = await import('./dist/test/support/door.js');
    const backend = await startBackend('b');
    const yaml = JSON.stringify({ accessLog: 'off', drainTimeout: 1, sites: [{ name: 's', bindings: [{ protocol: 'https', address: '127.0.0.1', port: 0, certificate: { pfxFile: pki.server.pfxFile, passphrase: pki.server.pfxPassword } }], farm: 'f' }], farms: [{ name: 'f', servers: [{ address: backend.address }] }] });
    const { config } = await loadConfigText(yaml, pki.dir + '/g.yaml', pki.dir);
    const leaf = config.sites[0].bindings[0].certificate.leaf.fingerprint256;
    const running = await startGatehouse(yaml, pki.dir);
    const fetched = await tlsFetch({ host: '127.0.0.1', port: running.port('s'), servername: 'localhost', ca: readFileSync(pki.caFile), path: '/' });
    await running.stop(); await backend.close();
    console.log(JSON.stringify({ leaf, expected: new X509Certificate(readFileSync(pki.server.certFile)).fingerprint256, served: fetched.peerCertificate.fingerprint256 }));`,
  );
  assert.equal(normal.leaf, normal.expected);
  assert.equal(forced.leaf, forced.expected, 'the fallback reads the same leaf');
  assert.equal(forced.served, forced.expected, 'and it is the one served');
});

test("close-all-connections: on the fallback an http2 server's HTTP/1.1 connections are tracked and closed; HTTP/2 sessions are left to their owner", async () => {
  const { normal, forced } = await withAndWithout<{ http1Closed: boolean; h2Open: boolean }>(
    'close-all-connections',
    `
    const http2 = await import('node:http2');
    const tls = await import('node:tls');
    const { once } = await import('node:events');
    const { readFileSync } = await import('node:fs');
    const { closeAllConnections, trackConnections } = await import('./dist/src/platform/connections.js');
    const server = http2.createSecureServer({ cert: readFileSync(pki.server.certFile), key: readFileSync(pki.server.keyFile), allowHTTP1: true });
    trackConnections(server);
    let requests = 0;
    let onRequest = () => {};
    server.on('request', () => { requests++; onRequest(); }); // never answered: in progress
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const port = server.address().port;
    const session = http2.connect('https://localhost:' + port, { ca: readFileSync(pki.caFile) });
    session.on('error', () => {});
    const stream = session.request({ ':path': '/h2' });
    stream.on('error', () => {});
    const http1 = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: readFileSync(pki.caFile), ALPNProtocols: ['http/1.1'] });
    http1.on('error', () => {});
    await once(http1, 'secureConnect');
    const both = new Promise((r) => { onRequest = () => { if (requests === 2) r(); }; onRequest(); });
    http1.write('GET /h1 HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n');
    await both;
    const closed = once(http1, 'close');
    closeAllConnections(server);
    await closed;
    const h2Open = await new Promise((r) => session.ping((error) => r(!error)));
    session.destroy();
    server.close();
    console.log(JSON.stringify({ http1Closed: true, h2Open }));`,
  );
  assert.deepEqual(normal, { http1Closed: true, h2Open: true });
  assert.deepEqual(forced, { http1Closed: true, h2Open: true });
});

test('pause-on-connect: past maxConnections a connection waits and is served once another closes; on the fallback it is closed at once', async () => {
  const { normal, forced } = await withAndWithout<{ second: string }>(
    'pause-on-connect',
    `
    const { startGatehouse } = await import('./dist/test/support/gatehouse.js');
    const { startBackend } = await import('./dist/test/support/backends.js');
    const net = await import('node:net');
    const { once } = await import('node:events');
    const backend = await startBackend('b');
    const running = await startGatehouse(JSON.stringify({ accessLog: 'off', drainTimeout: 1, limits: { maxConnections: 1 }, sites: [{ name: 's', bindings: [{ protocol: 'http', address: '127.0.0.1', port: 0 }], farm: 'f' }], farms: [{ name: 'f', servers: [{ address: backend.address }] }] }), pki.dir);
    const port = running.port('s', 'http');
    const open = async () => { const s = net.connect(port, '127.0.0.1'); s.on('error', () => {}); await once(s, 'connect'); return s; };
    const ask = (s) => new Promise((resolve) => { let got = ''; s.on('data', (c) => { got += c; if (got.includes('\\r\\n\\r\\n')) resolve(got.split('\\r\\n')[0]); }); s.on('close', () => resolve('closed')); s.write('GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'); });
    const first = await open();
    await ask(first);
    // The server accepts the second connection (the gate holds it, unread) or drops it (node's maxConnections).
    const server = running.gatehouse.listeners[0].server;
    const accepted = Promise.race([once(server, 'connection').then(() => 'accepted'), once(server, 'drop').then(() => 'dropped')]);
    const second = await open();
    const answer = ask(second);
    const outcome = (await accepted) === 'dropped' ? await answer : (first.destroy(), await answer);
    second.destroy();
    await running.stop(); await backend.close();
    console.log(JSON.stringify({ second: outcome }));`,
  );
  assert.deepEqual(normal, { second: 'HTTP/1.1 200 OK' });
  assert.deepEqual(forced, { second: 'closed' });
});
