import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, test } from 'node:test';
import { encodeClientCertificate, nodeHttpMiddleware, type ClientCertificateRejection } from '../src/index.js';
import { get, listen, pairs, started } from './helpers/http.js';
import { fixtures } from './helpers/pki.js';
import { assertScenarios, describeSubject, gatehouseHeaders, middlewareOptions } from './helpers/scenario.js';

const f = fixtures();

describe('nodeHttpMiddleware on a real node:http server', () => {
  test('wrap(handler): valid → 200 with subject, forged → 403, missing → 403', async () => {
    const mw = nodeHttpMiddleware(middlewareOptions());
    const server = await listen(mw.wrap((req, res) => res.end(describeSubject(req.clientCertificate))));
    try {
      await assertScenarios(server.url);
    } finally {
      await server.close();
    }
  });

  test('(req, res, next) style, with the log id and onRejected', async () => {
    const rejections: ClientCertificateRejection[] = [];
    const mw = nodeHttpMiddleware(middlewareOptions({ onRejected: (_req, r) => rejections.push(r) }));
    const server = await listen((req, res) => {
      mw(req, res, () => {
        const r = req as typeof req & { clientCertificate?: import('node:crypto').X509Certificate; gatehouseLogId?: string };
        res.end(`${describeSubject(r.clientCertificate)} log ${r.gatehouseLogId ?? '-'}`);
      });
    });
    try {
      const ok = await get(server.url, gatehouseHeaders(f.bob.der));
      assert.equal(ok.status, 200);
      assert.match(ok.body, /^subject: CN=bob,O=Example Corp log test-\d+-\d+$/);
      const bad = await get(server.url, [['X-ARR-ClientCert', 'garbage!']]);
      assert.deepEqual(bad, { status: 403, body: 'Forbidden: ERR_CERT_HEADER_MALFORMED\n' });
      assert.equal(rejections.length, 1);
      assert.equal(rejections[0]?.code, 'ERR_CERT_HEADER_MALFORMED');
      assert.match(rejections[0]?.reason ?? '', /not base64/);
    } finally {
      await server.close();
    }
  });

  test('a throwing onRejected still answers 403', async () => {
    const mw = nodeHttpMiddleware(middlewareOptions({
      onRejected: () => {
        throw new Error('logger down');
      },
    }));
    const server = await listen(mw.wrap((_req, res) => res.end('should not run')));
    try {
      assert.deepEqual(await get(server.url), { status: 403, body: 'Forbidden: ERR_SIGNATURE_MISSING\n' });
    } finally {
      await server.close();
    }
  });

  test('an untrusted peer sending the header gets 403 even with a valid signature', async () => {
    const mw = nodeHttpMiddleware(middlewareOptions({ trustedProxies: ['10.0.0.0/8'] }));
    const server = await listen(mw.wrap((req, res) => res.end(describeSubject(req.clientCertificate))));
    try {
      assert.deepEqual(await get(server.url, gatehouseHeaders(f.bob.der)), { status: 403, body: 'Forbidden: ERR_UNTRUSTED_PROXY\n' });
    } finally {
      await server.close();
    }
  });

  test('optional certificate: anonymous requests pass with clientCertificate undefined', async () => {
    const mw = nodeHttpMiddleware(middlewareOptions({ required: false, secret: undefined }));
    const server = await listen(mw.wrap((req, res) => res.end(describeSubject(req.clientCertificate))));
    try {
      assert.deepEqual(await get(server.url), { status: 200, body: 'anonymous' });
      assert.deepEqual(await get(server.url, pairs(encodeClientCertificate(f.bob.x509))), { status: 200, body: 'subject: CN=bob,O=Example Corp' });
      assert.equal((await get(server.url, pairs(encodeClientCertificate(f.mallory.x509)))).status, 403);
    } finally {
      await server.close();
    }
  });

  test('dual-stack server: the peer is ::ffff:127.0.0.1 and matches 127.0.0.1', async (t) => {
    const mw = nodeHttpMiddleware(middlewareOptions());
    let peer: string | undefined;
    const server = createServer(mw.wrap((req, res) => {
      peer = req.socket.remoteAddress;
      res.end(describeSubject(req.clientCertificate));
    }));
    let running;
    try {
      running = await started(server, '::');
    } catch (error) {
      t.skip(`no IPv6 here: ${(error as Error).message}`);
      return;
    }
    try {
      assert.deepEqual(await get(running.url, gatehouseHeaders(f.bob.der)), { status: 200, body: 'subject: CN=bob,O=Example Corp' });
      assert.equal(peer, '::ffff:127.0.0.1');
    } finally {
      await running.close();
    }
  });
});
