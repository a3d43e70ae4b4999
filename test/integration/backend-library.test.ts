/**
 * @gatehouse/forwarded-cert behind a real Gatehouse: Express (`expressMiddleware`), Fastify
 * (`fastifyPlugin`) and node:http (`nodeHttpMiddleware`) backends, each a farm of a Gatehouse that signs
 * the forwarded identity (`protocol.signatureSecretFile`). A client with a valid certificate gets through;
 * a request sent straight to the backend with a forged X-ARR-ClientCert, with no, a forged or a replayed
 * signature, or a captured genuine header set replayed (now, or after the skew window) is refused; an
 * expired certificate never reaches the backend.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID, type X509Certificate } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  ReplayCache,
  expressMiddleware,
  fastifyPlugin,
  nodeHttpMiddleware,
  readSignatureSecretFile,
  signForwardedIdentity,
  subjectDn,
  type MiddlewareOptions,
  type RequestWithClientCertificate,
} from '@gatehouse/forwarded-cert';
import { issueClient } from '../../src/pki/index.js';
import { curl } from '../support/clients.js';
import { httpsBinding } from '../support/door.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { closeServer, directRequest, listenLocal, modeOf, rawHeader, replayableHeaders, withHeader } from './e2e-helpers.js';

/** What a backend handler saw for one accepted request. */
interface Seen {
  readonly backend: string;
  readonly url: string;
  readonly subject: string | undefined;
  readonly fingerprint256: string | undefined;
  readonly logId: string | undefined;
  readonly rawHeaders: string[];
}

interface Rejection {
  readonly backend: string;
  readonly url: string;
  readonly code: string;
}

const seen: Seen[] = [];
const rejections: Rejection[] = [];
const seenAt = (backend: string, url: string) => seen.filter((s) => s.backend === backend && s.url === url);
const rejectedAt = (backend: string, url: string) => rejections.filter((r) => r.backend === backend && r.url === url).map((r) => r.code);

function record(backend: string, fields: RequestWithClientCertificate | { clientCertificate?: X509Certificate | null | undefined; gatehouseLogId?: string | null | undefined; rawHeaders: string[] }, url: string): Seen {
  const cert = fields.clientCertificate ?? undefined;
  const entry: Seen = {
    backend,
    url,
    subject: cert ? subjectDn(cert).rfc4514 : undefined,
    fingerprint256: cert?.fingerprint256,
    logId: fields.gatehouseLogId ?? undefined,
    rawHeaders: [...fields.rawHeaders],
  };
  seen.push(entry);
  return entry;
}

const reply = (entry: Seen) => ({ backend: entry.backend, subject: entry.subject, fingerprint256: entry.fingerprint256, logId: entry.logId });

/** The node:http farm renames the signature header (`protocol.signatureHeaderName`). */
const NODE_SIGNATURE_HEADER = 'X-Proxy-Identity-Sig';

let pki: TestPki;
let secretFile: string;
/** The Express middleware's replay cache, shared with the "late clock" instance. */
const expressReplayCache = new ReplayCache();
let expressServer: Server;
let expressPort: number;
let fastify: FastifyInstance;
let fastifyPort: number;
let nodeServer: Server;
let nodePort: number;
let running: RunningGatehouse;
/** A certificate of the same CA that never went through Gatehouse (an attacker's own badge). */
let forgedDer: Buffer;

function libraryOptions(backend: string, extra: Partial<MiddlewareOptions> = {}): MiddlewareOptions {
  return {
    trustedProxies: ['127.0.0.1'],
    secret: readSignatureSecretFile(secretFile),
    validation: { trustedCas: [pki.root.certPem] },
    onRejected: (req, rejection) => rejections.push({ backend, url: req.url ?? '', code: rejection.code }),
    ...extra,
  };
}

before(async () => {
  pki = await createTestPki();
  secretFile = join(pki.dir, 'signature.secret');
  const secret = randomBytes(36).toString('base64'); // 48 characters
  assert.equal(secret.length, 48);
  await writeFile(secretFile, `${secret}\n`, { mode: 0o600 });
  await chmod(secretFile, 0o600);
  forgedDer = (await issueClient({ ca: pki.root, commonName: 'Mallory Direct', organization: 'Example Corp' })).cert.raw;

  // Express
  const app = express();
  app.use(expressMiddleware(libraryOptions('express', { replayCache: expressReplayCache })));
  app.use((req, res) => {
    res.json(reply(record('express', req as unknown as RequestWithClientCertificate, req.originalUrl)));
  });
  expressServer = createServer(app);
  expressPort = await listenLocal(expressServer);

  // Fastify
  fastify = Fastify({ logger: false });
  await fastify.register(fastifyPlugin(libraryOptions('fastify')));
  fastify.all('/*', async (request) => {
    const decorated = request as unknown as { clientCertificate?: X509Certificate | null; gatehouseLogId?: string | null };
    return reply(record('fastify', { clientCertificate: decorated.clientCertificate, gatehouseLogId: decorated.gatehouseLogId, rawHeaders: request.raw.rawHeaders }, request.url));
  });
  await fastify.listen({ port: 0, host: '127.0.0.1' });
  fastifyPort = (fastify.server.address() as AddressInfo).port;

  // node:http
  const middleware = nodeHttpMiddleware(libraryOptions('node', { signatureHeaderName: NODE_SIGNATURE_HEADER }));
  nodeServer = createServer(
    middleware.wrap((req, res: ServerResponse) => {
      const body = JSON.stringify(reply(record('node', req, req.url ?? '')));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    }),
  );
  nodePort = await listenLocal(nodeServer);

  const ssl = { requireSsl: true, clientCertificates: 'require', trustedCaFile: pki.caFile };
  const protocol = { signatureSecretFile: secretFile };
  const config = {
    accessLog: 'off',
    drainTimeout: 1,
    sites: ['express', 'fastify', 'node'].map((name) => ({ name, bindings: [httpsBinding(pki.server)], ssl, farm: name })),
    farms: [
      { name: 'express', servers: [{ address: `127.0.0.1:${expressPort}` }], protocol },
      { name: 'fastify', servers: [{ address: `127.0.0.1:${fastifyPort}` }], protocol },
      { name: 'node', servers: [{ address: `127.0.0.1:${nodePort}` }], protocol: { ...protocol, signatureHeaderName: NODE_SIGNATURE_HEADER } },
    ],
  };
  running = await startGatehouse(JSON.stringify(config, null, 2), pki.dir);
});

after(async () => {
  await running?.stop();
  if (expressServer) await closeServer(expressServer);
  await fastify?.close();
  if (nodeServer) await closeServer(nodeServer);
  await pki?.cleanup();
});

/** A request through Gatehouse to `site` with a client certificate of the test PKI. */
function viaGatehouse(site: string, path: string, client: keyof TestPki['clients'] = 'valid', headers: string[] = []) {
  const files = pki.clients[client];
  return curl(`${running.url(site)}${path}`, { cacert: pki.caFile, cert: files.certFile, key: files.keyFile, headers });
}

function assertRoundTrip(backend: string, path: string, result: { status: number; body: string; stderr: string }, signatureHeader = 'x-gatehouse-signature'): Seen {
  assert.equal(result.status, 200, `${result.body}\n${result.stderr}\nevents: ${running.events.join('\n')}\nrejections: ${JSON.stringify(rejections)}`);
  const body = JSON.parse(result.body) as { backend: string; subject?: string; fingerprint256?: string; logId?: string };
  const alice = pki.clients.valid.issued.cert;
  assert.equal(body.backend, backend);
  assert.match(String(body.subject), /CN=Alice Badge/, result.body);
  assert.equal(body.subject, subjectDn(alice).rfc4514);
  assert.equal(body.fingerprint256, alice.fingerprint256, 'the handler sees the client\'s own certificate');
  const entries = seenAt(backend, path);
  assert.equal(entries.length, 1, `the ${backend} handler ran once for ${path}`);
  const entry = entries[0] as Seen;
  assert.equal(rawHeader(entry.rawHeaders, 'x-arr-clientcert'), alice.raw.toString('base64'), 'X-ARR-ClientCert is the base64 DER of the client certificate');
  const signature = rawHeader(entry.rawHeaders, signatureHeader);
  const copies = entry.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === signatureHeader.toLowerCase());
  assert.equal(copies.length, 1, 'exactly one signature header');
  assert.match(String(signature), /^t=\d+;id=[0-9a-f-]{36};v1=[A-Za-z0-9_-]{43}$/, 'Gatehouse signed the forwarded identity');
  assert.equal(body.logId, rawHeader(entry.rawHeaders, 'x-arr-log-id'), 'req.gatehouseLogId = the X-ARR-LOG-ID of the verified signature');
  return entry;
}

describe('@gatehouse/forwarded-cert behind a real Gatehouse', () => {
  test('the signature secret file: 48 characters, mode 0600', async () => {
    assert.equal(await modeOf(secretFile), 0o600);
    assert.equal(readSignatureSecretFile(secretFile).length, 48);
  });

  test('Express: a client with a valid certificate through Gatehouse → req.clientCertificate with its subject and fingerprint (200)', async () => {
    const path = `/express/ok/${randomUUID()}`;
    assertRoundTrip('express', path, await viaGatehouse('express', path));
    assert.deepEqual(rejectedAt('express', path), []);
  });

  test('Express: a client cannot smuggle a certificate header or a signature through Gatehouse', async () => {
    const path = `/express/smuggle/${randomUUID()}`;
    const now = Math.floor(Date.now() / 1000);
    const smuggled = signForwardedIdentity({ secret: readSignatureSecretFile(secretFile), timestampSeconds: now, logId: randomUUID(), certificateDer: forgedDer });
    const result = await viaGatehouse('express', path, 'valid', [`X-ARR-ClientCert: ${forgedDer.toString('base64')}`, `X-Gatehouse-Signature: ${smuggled}`]);
    const entry = assertRoundTrip('express', path, result);
    assert.notEqual(rawHeader(entry.rawHeaders, 'x-gatehouse-signature'), smuggled, 'Gatehouse\'s own signature, not the client\'s');
    const certCopies = entry.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === 'x-arr-clientcert');
    assert.equal(certCopies.length, 1, 'one X-ARR-ClientCert: Gatehouse\'s');
  });

  test('Express reached directly with a forged X-ARR-ClientCert (a real certificate of the same CA): no, forged, wrong-key or borrowed signature → 403', async () => {
    // A genuine signature to borrow: from a request that went through Gatehouse.
    const genuinePath = `/express/genuine/${randomUUID()}`;
    const genuine = assertRoundTrip('express', genuinePath, await viaGatehouse('express', genuinePath));
    const borrowed = rawHeader(genuine.rawHeaders, 'x-gatehouse-signature') as string;
    const now = Math.floor(Date.now() / 1000);
    const alice = pki.clients.valid.issued.cert.raw;

    const cases: { name: string; der: Buffer; signature: string | undefined; code: string }[] = [];
    for (const [who, der] of [
      ['another certificate of the CA', forgedDer],
      ['the genuine client\'s own certificate', alice],
    ] as const) {
      cases.push({ name: `${who}, no signature`, der, signature: undefined, code: 'ERR_SIGNATURE_MISSING' });
      cases.push({ name: `${who}, a made-up signature`, der, signature: `t=${now};id=${randomUUID()};v1=${randomBytes(32).toString('base64url')}`, code: 'ERR_SIGNATURE_MISMATCH' });
      cases.push({
        name: `${who}, signed with another secret`,
        der,
        signature: signForwardedIdentity({ secret: randomBytes(48), timestampSeconds: now, logId: randomUUID(), certificateDer: der }),
        code: 'ERR_SIGNATURE_MISMATCH',
      });
    }
    cases.push({ name: 'another certificate of the CA, with the signature of a genuine request', der: forgedDer, signature: borrowed, code: 'ERR_SIGNATURE_MISMATCH' });

    for (const c of cases) {
      const path = `/express/forged/${randomUUID()}`;
      const headers: Record<string, string> = { 'X-ARR-ClientCert': c.der.toString('base64'), 'X-Forwarded-Proto': 'https' };
      if (c.signature !== undefined) headers['X-Gatehouse-Signature'] = c.signature;
      const result = await directRequest(expressPort, path, headers);
      assert.equal(result.status, 403, `${c.name}: ${result.status} ${result.body}`);
      assert.equal(result.body, `Forbidden: ${c.code}\n`, c.name);
      assert.deepEqual(seenAt('express', path), [], `${c.name}: the handler never ran`);
      assert.deepEqual(rejectedAt('express', path), [c.code], c.name);
    }
  });

  test('Express: a captured genuine header set replayed directly → 403 (replay cache), and after the skew window → 403 (too old)', async () => {
    const path = `/express/capture/${randomUUID()}`;
    const captured = assertRoundTrip('express', path, await viaGatehouse('express', path));
    const headers = replayableHeaders(captured.rawHeaders);
    const signature = rawHeader(headers, 'x-gatehouse-signature') as string;
    const id = /;id=([^;]+);/.exec(signature)?.[1] as string;

    const replay = await directRequest(expressPort, path, headers);
    assert.equal(replay.status, 403, replay.body);
    assert.equal(replay.body, 'Forbidden: ERR_SIGNATURE_REPLAYED\n');
    assert.equal(seenAt('express', path).length, 1, 'the handler ran only for the genuine request');

    // The replay cache is checked only after the signature: it was the replay, not a damaged header.
    const tampered = await directRequest(expressPort, path, withHeader(headers, 'X-ARR-ClientCert', forgedDer.toString('base64')));
    assert.equal(tampered.body, 'Forbidden: ERR_SIGNATURE_MISMATCH\n');

    // The same headers after the skew window: a second middleware instance whose clock is 5 minutes ahead,
    // sharing the replay cache. By then the cache has forgotten the id; the timestamp check refuses it.
    const later = Date.now() + 5 * 60_000;
    assert.equal(expressReplayCache.has(id, Date.now()), true, 'the id is remembered within the window');
    assert.equal(expressReplayCache.has(id, later), false, 'and forgotten after it');
    const lateApp = express();
    lateApp.use(expressMiddleware(libraryOptions('express-late', { replayCache: expressReplayCache, now: () => Date.now() + 5 * 60_000 })));
    lateApp.use((req, res) => {
      res.json(reply(record('express-late', req as unknown as RequestWithClientCertificate, req.originalUrl)));
    });
    const lateServer = createServer(lateApp);
    const latePort = await listenLocal(lateServer);
    try {
      const stale = await directRequest(latePort, path, headers);
      assert.equal(stale.status, 403, stale.body);
      assert.equal(stale.body, 'Forbidden: ERR_SIGNATURE_TOO_OLD\n');
      assert.deepEqual(seenAt('express-late', path), []);
      // The same instance accepts a signature made at its own time: the clock, not the instance, refused.
      const freshId = randomUUID();
      const fresh = signForwardedIdentity({ secret: readSignatureSecretFile(secretFile), timestampSeconds: Math.floor((Date.now() + 5 * 60_000) / 1000), logId: freshId, certificateDer: pki.clients.valid.issued.cert.raw });
      const ok = await directRequest(latePort, `${path}/fresh`, withHeader(withHeader(headers, 'X-Gatehouse-Signature', fresh), 'X-ARR-LOG-ID', freshId));
      assert.equal(ok.status, 200, ok.body);
    } finally {
      await closeServer(lateServer);
    }
  });

  test('an expired client certificate never reaches the backend: Gatehouse answers 403.17', async () => {
    const path = `/express/expired/${randomUUID()}`;
    const result = await viaGatehouse('express', path, 'expired');
    assert.equal(result.status, 403, result.body);
    assert.match(result.body, /^HTTP Error 403\.17 /, result.body);
    assert.deepEqual(seenAt('express', path), [], 'the handler never ran');
    assert.deepEqual(rejectedAt('express', path), [], 'the backend never even saw the request');
  });

  test('Fastify with fastifyPlugin: the same round trip (200); a forged header sent directly → 403', async () => {
    const path = `/fastify/ok/${randomUUID()}`;
    assertRoundTrip('fastify', path, await viaGatehouse('fastify', path));
    const forgedPath = `/fastify/forged/${randomUUID()}`;
    const forged = await directRequest(fastifyPort, forgedPath, { 'X-ARR-ClientCert': forgedDer.toString('base64') });
    assert.equal(forged.status, 403, forged.body);
    assert.equal(forged.body, 'Forbidden: ERR_SIGNATURE_MISSING\n');
    assert.deepEqual(seenAt('fastify', forgedPath), []);
  });

  test('node:http with nodeHttpMiddleware: the same round trip (200); a forged header sent directly → 403', async () => {
    const path = `/node/ok/${randomUUID()}`;
    // The farm renames the signature header; a client copy of it (and of the default name) is removed.
    const bogus = `t=${Math.floor(Date.now() / 1000)};id=${randomUUID()};v1=${randomBytes(32).toString('base64url')}`;
    const captured = assertRoundTrip('node', path, await viaGatehouse('node', path, 'valid', [`${NODE_SIGNATURE_HEADER}: ${bogus}`, `X-Gatehouse-Signature: ${bogus}`]), NODE_SIGNATURE_HEADER);
    assert.equal(rawHeader(captured.rawHeaders, 'x-gatehouse-signature'), undefined, 'no default-named signature header');
    const forgedPath = `/node/forged/${randomUUID()}`;
    const forged = await directRequest(nodePort, forgedPath, withHeader(replayableHeaders(captured.rawHeaders), 'X-ARR-ClientCert', forgedDer.toString('base64')));
    assert.equal(forged.status, 403, forged.body);
    assert.equal(forged.body, 'Forbidden: ERR_SIGNATURE_MISMATCH\n');
    const replay = await directRequest(nodePort, path, replayableHeaders(captured.rawHeaders));
    assert.equal(replay.body, 'Forbidden: ERR_SIGNATURE_REPLAYED\n');
    assert.equal(seenAt('node', path).length, 1);
    assert.deepEqual(seenAt('node', forgedPath), []);
  });
});
