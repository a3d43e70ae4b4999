/**
 * Forwarding: the request headers a farm server receives through Gatehouse (ARR-compatible headers,
 * certificate dialects, anti-spoofing, hop-by-hop removal). Each test starts its own echo backend and
 * Gatehouse (port 0, 127.0.0.1, access log off) and asserts on what the backend actually received.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { startBackend, type EchoReply } from '../support/backends.js';
import { createTestPki, type ClientFiles, type TestPki } from '../support/test-pki.js';
import { derOfPem, GUID, launch, SITE, type GatehouseSpec } from './forwarding-helpers.js';
import { makeTempDir } from '../support/temp.js';
import { echoOf, rawValues, send, type SendOptions } from '../support/clients.js';

let pki: TestPki;
let tmp: { dir: string; remove: () => Promise<void> };

before(async () => {
  pki = await createTestPki();
  tmp = await makeTempDir('gatehouse-forwarding-');
});

after(async () => {
  await tmp?.remove();
  await pki?.cleanup();
});

/** An echo backend behind a Gatehouse site with an http and an https binding (unless `bindings` says otherwise). */
async function echoSite(t: TestContext, spec: Omit<GatehouseSpec, 'servers'> = {}) {
  const backend = await startBackend('echo');
  t.after(() => backend.close());
  const running = await launch(t, pki, tmp.dir, { ...spec, servers: [backend.address] });
  const urlOf = (protocol: 'http' | 'https', path = '/') => running.url(SITE, protocol) + path;
  return { backend, running, urlOf };
}

/** A request that trusts the test root (for https). */
function request(url: string, options: SendOptions = {}) {
  return send(url, { ca: pki.root.certPem, ...options });
}

/** One request through Gatehouse; returns what the backend received and the client's view. */
async function echo(url: string, options: SendOptions = {}): Promise<{ received: EchoReply; localPort: number; cipher: string | undefined }> {
  const reply = await request(url, options);
  return { received: echoOf(reply), localPort: reply.localPort, cipher: reply.cipher };
}

function leafBase64(client: ClientFiles): string {
  return client.issued.cert.raw.toString('base64');
}

/** Names of every certificate header dialect Gatehouse knows (and that a client may try to forge). */
const CERT_HEADER_NAMES = ['x-arr-clientcert', 'client-cert', 'client-cert-chain', 'x-forwarded-client-cert', 'x-ssl-client-cert', 'x-client-cert', 'ssl-client-cert'];

describe('X-ARR-ClientCert', () => {
  test('is the base64 DER of the client leaf on one line, once', async (t) => {
    const { urlOf } = await echoSite(t, { bindings: ['https'], clientCertificates: 'accept' });
    const { received } = await echo(urlOf('https'), { clientCert: pki.clients.valid });
    const values = rawValues(received.rawHeaders, 'X-ARR-ClientCert');
    assert.deepEqual(values, [leafBase64(pki.clients.valid)]);
    assert.doesNotMatch(values[0] as string, /[\r\n\s]/);
    assert.deepEqual(Buffer.from(values[0] as string, 'base64'), pki.clients.valid.issued.cert.raw);
  });

  test('is the leaf only (not the chain) for a client issued by the intermediate', async (t) => {
    const { urlOf } = await echoSite(t, { bindings: ['https'], clientCertificates: 'require' });
    const { received } = await echo(urlOf('https'), { clientCert: pki.clients.viaIntermediate });
    assert.deepEqual(rawValues(received.rawHeaders, 'X-ARR-ClientCert'), [leafBase64(pki.clients.viaIntermediate)]);
  });

  test('is forwarded again on a resumed TLS session (new connection, same certificate)', async (t) => {
    const { urlOf } = await echoSite(t, { bindings: ['https'], clientCertificates: 'accept' });
    const first = await request(urlOf('https', '/one'), { clientCert: pki.clients.valid });
    assert.equal(first.isSessionReused, false);
    assert.ok(first.session, 'the server gave a session ticket');
    const second = await request(urlOf('https', '/two'), { clientCert: pki.clients.valid, session: first.session });
    assert.equal(second.isSessionReused, true, 'the second connection resumed the session');
    assert.notEqual(second.localPort, first.localPort);
    for (const reply of [first, second]) assert.deepEqual(rawValues(echoOf(reply).rawHeaders, 'X-ARR-ClientCert'), [leafBase64(pki.clients.valid)]);
  });

  test('rfc9440 on a resumed TLS session: the same Client-Cert and Client-Cert-Chain as on the first connection', async (t) => {
    const { urlOf } = await echoSite(t, { bindings: ['https'], clientCertificates: 'require', protocol: { clientCertFormat: 'rfc9440' } });
    const first = await request(urlOf('https', '/one'), { clientCert: pki.clients.viaIntermediate });
    assert.ok(first.session);
    const second = await request(urlOf('https', '/two'), { clientCert: pki.clients.viaIntermediate, session: first.session });
    assert.equal(second.isSessionReused, true);
    for (const [i, reply] of [first, second].entries()) {
      assert.equal(reply.status, 200, `connection ${i + 1}: ${reply.body.toString()}`);
      const raw = echoOf(reply).rawHeaders;
      assert.deepEqual(rawValues(raw, 'Client-Cert'), [`:${leafBase64(pki.clients.viaIntermediate)}:`], `connection ${i + 1}`);
      assert.deepEqual(rawValues(raw, 'Client-Cert-Chain'), [`:${pki.intermediate.cert.raw.toString('base64')}:`], `connection ${i + 1}`);
    }
  });

  test('is absent without a client certificate (https accept without one, and http)', async (t) => {
    const { urlOf } = await echoSite(t, { clientCertificates: 'accept' });
    for (const url of [urlOf('https'), urlOf('http')]) {
      const { received } = await echo(url);
      for (const name of CERT_HEADER_NAMES) assert.deepEqual(rawValues(received.rawHeaders, name), [], `${name} on ${url}`);
    }
  });
});

describe('headers a client cannot forge', () => {
  const FORGED_MARKERS = ['Zm9yZ2Vk', 'Evil', 'forged', 'gopher', 'ftp', '00000000-0000-0000-0000-000000000000', 'dup-log-id'];
  /** Forged proxy headers, in several letter cases and duplicated. */
  const FORGED = [
    'X-ARR-ClientCert', 'Zm9yZ2Vk',
    'x-arr-clientcert', 'Zm9yZ2VkMg==',
    'X-Arr-ClientCert', 'Zm9yZ2VkMw==',
    'X-ARR-SSL', '4096|256|CN=Evil CA|CN=Evil',
    'x-arr-ssl', '1024|40|CN=Evil|CN=Evil',
    'X-ARR-LOG-ID', '00000000-0000-0000-0000-000000000000',
    'x-Arr-Log-Id', 'dup-log-id',
    'Client-Cert', ':Zm9yZ2Vk:',
    'client-cert', ':Zm9yZ2VkMg==:',
    'CLIENT-CERT-CHAIN', ':Zm9yZ2Vk:',
    'X-Forwarded-Client-Cert', 'Hash=00;Subject="CN=Evil"',
    'X-SSL-Client-Cert', 'forged',
    'x-ssl-client-cert', 'forged-too',
    'X-Forwarded-Proto', 'gopher',
    'x-forwarded-proto', 'ftp',
  ];

  interface Case {
    name: string;
    protocol: 'http' | 'https';
    mode: 'ignore' | 'accept' | 'require';
    /** Whether the client presents pki.clients.valid when asked. */
    withCert: boolean;
    /** Whether the backend should receive the real certificate. */
    forwardsCert: boolean;
  }
  const cases: Case[] = [
    { name: 'http binding (ignore)', protocol: 'http', mode: 'ignore', withCert: false, forwardsCert: false },
    { name: 'http binding of an accept site', protocol: 'http', mode: 'accept', withCert: false, forwardsCert: false },
    { name: 'https, ignore, no certificate', protocol: 'https', mode: 'ignore', withCert: false, forwardsCert: false },
    { name: 'https, ignore, client has a certificate (never asked for)', protocol: 'https', mode: 'ignore', withCert: true, forwardsCert: false },
    { name: 'https, accept, no certificate', protocol: 'https', mode: 'accept', withCert: false, forwardsCert: false },
    { name: 'https, accept, with certificate', protocol: 'https', mode: 'accept', withCert: true, forwardsCert: true },
    { name: 'https, require, with certificate', protocol: 'https', mode: 'require', withCert: true, forwardsCert: true },
  ];

  for (const c of cases) {
    test(`never reach the backend: ${c.name}`, async (t) => {
      const { urlOf } = await echoSite(t, { clientCertificates: c.mode });
      const { received } = await echo(urlOf(c.protocol), { headers: FORGED, ...(c.withCert ? { clientCert: pki.clients.valid } : {}) });
      const raw = received.rawHeaders;
      // The real certificate, exactly once, or nothing.
      assert.deepEqual(rawValues(raw, 'X-ARR-ClientCert'), c.forwardsCert ? [leafBase64(pki.clients.valid)] : []);
      for (const name of ['client-cert', 'client-cert-chain', 'x-forwarded-client-cert', 'x-ssl-client-cert']) assert.deepEqual(rawValues(raw, name), [], name);
      // X-ARR-SSL only on TLS, and Gatehouse's own.
      const ssl = rawValues(raw, 'X-ARR-SSL');
      if (c.protocol === 'https') {
        assert.equal(ssl.length, 1);
        assert.match(ssl[0] as string, /^2048\|(128|256)\|O=Gatehouse Tests, CN=Gatehouse Test Root\|CN=localhost$/);
      } else assert.deepEqual(ssl, []);
      const logIds = rawValues(raw, 'X-ARR-LOG-ID');
      assert.equal(logIds.length, 1);
      assert.match(logIds[0] as string, GUID);
      assert.deepEqual(rawValues(raw, 'X-Forwarded-Proto'), [c.protocol]);
      // Nothing forged anywhere.
      for (let i = 1; i < raw.length; i += 2) {
        for (const marker of FORGED_MARKERS) assert.ok(!(raw[i] as string).includes(marker), `forged value '${raw[i]}' reached the backend in ${raw[i - 1]}`);
      }
    });
  }
});

describe('X-ARR-SSL', () => {
  const ISSUER = 'O=Gatehouse Tests, CN=Gatehouse Test Root';
  const SUBJECT = 'CN=localhost';

  function cipherBits(standardName: string | undefined): number {
    if (/AES_256|CHACHA20/.test(standardName ?? '')) return 256;
    if (/AES_128/.test(standardName ?? '')) return 128;
    return -1;
  }

  test('is `<server key bits>|<cipher bits>|<issuer>|<subject>` on TLS (TLS 1.3 default cipher)', async (t) => {
    // The names the value is made of, as the test PKI wrote them.
    assert.equal(pki.server.issued.cert.issuer, 'O=Gatehouse Tests\nCN=Gatehouse Test Root');
    assert.equal(pki.server.issued.cert.subject, 'CN=localhost');
    const { urlOf } = await echoSite(t, { bindings: ['https'] });
    const { received, cipher } = await echo(urlOf('https'));
    const bits = cipherBits(cipher);
    assert.ok(bits === 128 || bits === 256, `cipher ${cipher}`);
    assert.deepEqual(rawValues(received.rawHeaders, 'X-ARR-SSL'), [`2048|${bits}|${ISSUER}|${SUBJECT}`]);
  });

  test('reports 128 cipher bits for an AES-128 TLS 1.2 connection', async (t) => {
    const { urlOf } = await echoSite(t, { bindings: ['https'] });
    const { received, cipher } = await echo(urlOf('https'), { tls: { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' } });
    assert.equal(cipher, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256');
    assert.deepEqual(rawValues(received.rawHeaders, 'X-ARR-SSL'), [`2048|128|${ISSUER}|${SUBJECT}`]);
  });

  test('is absent on http', async (t) => {
    const { urlOf } = await echoSite(t);
    const { received } = await echo(urlOf('http'));
    assert.deepEqual(rawValues(received.rawHeaders, 'X-ARR-SSL'), []);
  });
});

describe('X-Forwarded-For', () => {
  test('is `127.0.0.1:<client port>`, appended with ", " to the incoming value (http and https)', async (t) => {
    const { urlOf } = await echoSite(t);
    for (const protocol of ['http', 'https'] as const) {
      const first = await echo(urlOf(protocol));
      assert.ok(first.localPort > 0);
      assert.deepEqual(rawValues(first.received.rawHeaders, 'X-Forwarded-For'), [`127.0.0.1:${first.localPort}`], protocol);
      const second = await echo(urlOf(protocol), { headers: ['X-Forwarded-For', '203.0.113.7, 198.51.100.2'] });
      assert.deepEqual(rawValues(second.received.rawHeaders, 'X-Forwarded-For'), [`203.0.113.7, 198.51.100.2, 127.0.0.1:${second.localPort}`], protocol);
      assert.notEqual(first.localPort, second.localPort);
    }
  });

  test('two incoming X-Forwarded-For lines are joined, then the client is appended', async (t) => {
    const { urlOf } = await echoSite(t);
    const { received, localPort } = await echo(urlOf('http'), { headers: ['X-Forwarded-For', '203.0.113.7', 'x-forwarded-for', '198.51.100.2'] });
    assert.deepEqual(rawValues(received.rawHeaders, 'X-Forwarded-For'), [`203.0.113.7, 198.51.100.2, 127.0.0.1:${localPort}`]);
  });

  test('includePortInXForwardedFor: false appends the bare ip', async (t) => {
    const { urlOf } = await echoSite(t, { protocol: { includePortInXForwardedFor: false } });
    const { received } = await echo(urlOf('http'), { headers: ['X-Forwarded-For', '203.0.113.7'] });
    assert.deepEqual(rawValues(received.rawHeaders, 'X-Forwarded-For'), ['203.0.113.7, 127.0.0.1']);
  });

  test('an IPv6 client is `[::1]:<port>`', async (t) => {
    const { running } = await echoSite(t, { bindings: [{ protocol: 'http', address: '::1' }] });
    const url = running.url(SITE, 'http');
    assert.match(url, /^http:\/\/\[::1\]:\d+$/);
    const { received, localPort } = await echo(`${url}/v6`);
    assert.deepEqual(rawValues(received.rawHeaders, 'X-Forwarded-For'), [`[::1]:${localPort}`]);
  });

  test('an IPv6 client without the port is the bare ip `::1`', async (t) => {
    const { running } = await echoSite(t, { bindings: [{ protocol: 'http', address: '::1' }], protocol: { includePortInXForwardedFor: false } });
    const { received } = await echo(`${running.url(SITE, 'http')}/v6`);
    assert.deepEqual(rawValues(received.rawHeaders, 'X-Forwarded-For'), ['::1']);
  });

  test('xForwardedForHeaderName renames the header; the client X-Forwarded-For is then not appended to', async (t) => {
    const { urlOf } = await echoSite(t, { protocol: { xForwardedForHeaderName: 'X-Client-Chain' } });
    const { received, localPort } = await echo(urlOf('http'), { headers: ['X-Client-Chain', '192.0.2.1', 'X-Forwarded-For', '203.0.113.7'] });
    assert.deepEqual(rawValues(received.rawHeaders, 'X-Client-Chain'), [`192.0.2.1, 127.0.0.1:${localPort}`]);
    assert.deepEqual(rawValues(received.rawHeaders, 'X-Forwarded-For'), ['203.0.113.7']);
  });

  test('xForwardedForHeaderName "" turns it off', async (t) => {
    const { urlOf } = await echoSite(t, { protocol: { xForwardedForHeaderName: '' } });
    const { received, localPort } = await echo(urlOf('http'));
    assert.deepEqual(rawValues(received.rawHeaders, 'X-Forwarded-For'), []);
    for (let i = 1; i < received.rawHeaders.length; i += 2) assert.ok(!(received.rawHeaders[i] as string).includes(`:${localPort}`), received.rawHeaders[i - 1]);
  });
});

describe('X-ARR-LOG-ID', () => {
  test('is a lowercase hyphenated GUID, once, different on each request', async (t) => {
    const { urlOf } = await echoSite(t);
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const { received } = await echo(urlOf(i % 2 ? 'https' : 'http'));
      const values = rawValues(received.rawHeaders, 'X-ARR-LOG-ID');
      assert.equal(values.length, 1);
      assert.match(values[0] as string, GUID);
      seen.add(values[0] as string);
    }
    assert.equal(seen.size, 6);
  });

  test('logGuidName renames it (and a client copy of the new name is stripped)', async (t) => {
    const { urlOf } = await echoSite(t, { protocol: { logGuidName: 'X-Request-Id' } });
    const { received } = await echo(urlOf('http'), { headers: ['X-Request-Id', 'client-chosen', 'X-ARR-LOG-ID', 'forged'] });
    const values = rawValues(received.rawHeaders, 'X-Request-Id');
    assert.equal(values.length, 1);
    assert.match(values[0] as string, GUID);
    assert.deepEqual(rawValues(received.rawHeaders, 'X-ARR-LOG-ID'), []);
  });

  test('logGuidName "" turns it off (and the client copy is still stripped)', async (t) => {
    const { urlOf } = await echoSite(t, { protocol: { logGuidName: '' } });
    const { received } = await echo(urlOf('http'), { headers: ['X-ARR-LOG-ID', 'forged'] });
    assert.deepEqual(rawValues(received.rawHeaders, 'X-ARR-LOG-ID'), []);
    for (let i = 1; i < received.rawHeaders.length; i += 2) assert.doesNotMatch(received.rawHeaders[i] as string, GUID);
  });
});

describe('Max-Forwards', () => {
  test('is 10, replacing the client value', async (t) => {
    const { urlOf } = await echoSite(t);
    const plain = await echo(urlOf('http'));
    assert.deepEqual(rawValues(plain.received.rawHeaders, 'Max-Forwards'), ['10']);
    const replaced = await echo(urlOf('https'), { headers: ['Max-Forwards', '3', 'max-forwards', '0'] });
    assert.deepEqual(rawValues(replaced.received.rawHeaders, 'Max-Forwards'), ['10']);
  });

  test('maxForwards: 3 is sent as 3', async (t) => {
    const { urlOf } = await echoSite(t, { protocol: { maxForwards: 3 } });
    const { received } = await echo(urlOf('http'), { headers: ['Max-Forwards', '70'] });
    assert.deepEqual(rawValues(received.rawHeaders, 'Max-Forwards'), ['3']);
  });
});

describe('hop-by-hop request headers', () => {
  test('are removed, with those the Connection header names; end-to-end headers are forwarded', async (t) => {
    const { urlOf } = await echoSite(t);
    for (const protocol of ['http', 'https'] as const) {
      // POST with a chunked body: node's client sends a Trailer header only on a chunked message.
      const { received } = await echo(urlOf(protocol, '/hop?x=1'), {
        method: 'POST',
        body: 'hello',
        headers: [
          'Transfer-Encoding', 'chunked',
          'Connection', 'keep-alive, X-Hop',
          'X-Hop', '1',
          'Keep-Alive', 'timeout=5, max=100',
          'TE', 'trailers',
          'Upgrade', 'websocket',
          'Proxy-Connection', 'keep-alive',
          'Trailer', 'X-Checksum',
          'X-Custom', 'kept',
          'Cookie', 'a=1; b=2',
          'Authorization', 'Bearer abc.def',
          'Accept', 'application/json',
        ],
      });
      const raw = received.rawHeaders;
      for (const name of ['Connection', 'Keep-Alive', 'TE', 'Upgrade', 'Proxy-Connection', 'Trailer', 'X-Hop']) {
        // Connection: keep-alive may be added by the proxy's own client for its pool; never the client's tokens.
        if (name === 'Connection') {
          for (const value of rawValues(raw, name)) assert.doesNotMatch(value, /x-hop/i, `${protocol} Connection`);
          continue;
        }
        if (name === 'Keep-Alive') {
          assert.ok(!rawValues(raw, name).includes('timeout=5, max=100'), `${protocol} Keep-Alive`);
          continue;
        }
        assert.deepEqual(rawValues(raw, name), [], `${protocol} ${name}`);
      }
      assert.deepEqual(rawValues(raw, 'X-Custom'), ['kept']);
      assert.deepEqual(rawValues(raw, 'Cookie'), ['a=1; b=2']);
      assert.deepEqual(rawValues(raw, 'Authorization'), ['Bearer abc.def']);
      assert.deepEqual(rawValues(raw, 'Accept'), ['application/json']);
      assert.equal(received.url, '/hop?x=1');
      assert.equal(received.method, 'POST');
      assert.equal(received.bodyBytes, 5);
      assert.equal(received.bodySha256, createHash('sha256').update('hello').digest('hex'));
      // The proxy frames the body itself: chunked (its own Transfer-Encoding), never the client's framing twice.
      assert.ok(rawValues(raw, 'Transfer-Encoding').length <= 1);
    }
  });

  test('Connection: close from the client is not forwarded', async (t) => {
    const { urlOf } = await echoSite(t);
    const { received } = await echo(urlOf('http'), { headers: ['Connection', 'close', 'X-Custom', 'kept'] });
    for (const value of rawValues(received.rawHeaders, 'Connection')) assert.notEqual(value.toLowerCase(), 'close');
    assert.deepEqual(rawValues(received.rawHeaders, 'X-Custom'), ['kept']);
  });
});

describe('Host', () => {
  test('is preserved by default', async (t) => {
    const { urlOf } = await echoSite(t);
    const viaHttp = await echo(urlOf('http'), { headers: ['Host', 'app.example.test:8080'] });
    assert.deepEqual(rawValues(viaHttp.received.rawHeaders, 'Host'), ['app.example.test:8080']);
    const viaHttps = await echo(urlOf('https'), { headers: ['Host', 'app.example.test'] });
    assert.deepEqual(rawValues(viaHttps.received.rawHeaders, 'Host'), ['app.example.test']);
  });

  test('preserveHostHeader: false sends the server host:port', async (t) => {
    const { urlOf, backend } = await echoSite(t, { protocol: { preserveHostHeader: false } });
    const { received } = await echo(urlOf('http'), { headers: ['Host', 'app.example.test:8080'] });
    assert.deepEqual(rawValues(received.rawHeaders, 'Host'), [`127.0.0.1:${backend.port}`]);
  });
});

describe('X-Forwarded-Proto', () => {
  test('is https or http, replacing the client value', async (t) => {
    const { urlOf } = await echoSite(t);
    for (const protocol of ['http', 'https'] as const) {
      const { received } = await echo(urlOf(protocol), { headers: ['X-Forwarded-Proto', protocol === 'http' ? 'https' : 'http'] });
      assert.deepEqual(rawValues(received.rawHeaders, 'X-Forwarded-Proto'), [protocol]);
    }
  });

  test('forwardedProtoHeaderName "" turns it off and still strips the client copy', async (t) => {
    const { urlOf } = await echoSite(t, { protocol: { forwardedProtoHeaderName: '' } });
    for (const protocol of ['http', 'https'] as const) {
      const { received } = await echo(urlOf(protocol), { headers: ['X-Forwarded-Proto', 'https'] });
      assert.deepEqual(rawValues(received.rawHeaders, 'X-Forwarded-Proto'), [], protocol);
    }
  });

  test('forwardedProtoHeaderName renames it; client copies of both names are stripped', async (t) => {
    const { urlOf } = await echoSite(t, { protocol: { forwardedProtoHeaderName: 'X-Scheme' } });
    const { received } = await echo(urlOf('https'), { headers: ['X-Scheme', 'http', 'X-Forwarded-Proto', 'http'] });
    assert.deepEqual(rawValues(received.rawHeaders, 'X-Scheme'), ['https']);
    assert.deepEqual(rawValues(received.rawHeaders, 'X-Forwarded-Proto'), []);
  });
});

describe('client certificate header formats', () => {
  test('clientCertHeaderName renames the header (and a client copy of it is stripped)', async (t) => {
    const { urlOf } = await echoSite(t, { bindings: ['https'], clientCertificates: 'accept', protocol: { clientCertHeaderName: 'X-Badge' } });
    const { received } = await echo(urlOf('https'), { clientCert: pki.clients.valid, headers: ['X-Badge', 'Zm9yZ2Vk'] });
    assert.deepEqual(rawValues(received.rawHeaders, 'X-Badge'), [leafBase64(pki.clients.valid)]);
    assert.deepEqual(rawValues(received.rawHeaders, 'X-ARR-ClientCert'), []);
  });

  test('clientCertHeaderName "" sends no certificate header at all, in every format', async (t) => {
    for (const clientCertFormat of ['base64Der', 'rfc9440', 'pemUrlEncoded', 'xfcc']) {
      const { urlOf } = await echoSite(t, { bindings: ['https'], clientCertificates: 'accept', protocol: { clientCertHeaderName: '', clientCertFormat } });
      const { received } = await echo(urlOf('https'), { clientCert: pki.clients.viaIntermediate, headers: ['X-ARR-ClientCert', 'Zm9yZ2Vk'] });
      for (const name of CERT_HEADER_NAMES) assert.deepEqual(rawValues(received.rawHeaders, name), [], `${clientCertFormat}: ${name}`);
      const leaf = leafBase64(pki.clients.viaIntermediate);
      for (const value of received.rawHeaders) assert.ok(!value.includes(leaf.slice(0, 40)), `${clientCertFormat}: certificate found in a header`);
    }
  });

  test('rfc9440: Client-Cert is `:<base64 DER>:`; no chain for a leaf issued by the root', async (t) => {
    const { urlOf } = await echoSite(t, { bindings: ['https'], clientCertificates: 'accept', protocol: { clientCertFormat: 'rfc9440' } });
    const { received } = await echo(urlOf('https'), { clientCert: pki.clients.valid });
    assert.deepEqual(rawValues(received.rawHeaders, 'Client-Cert'), [`:${leafBase64(pki.clients.valid)}:`]);
    assert.deepEqual(rawValues(received.rawHeaders, 'Client-Cert-Chain'), []);
    assert.deepEqual(rawValues(received.rawHeaders, 'X-ARR-ClientCert'), []);
  });

  test('rfc9440: Client-Cert-Chain carries the intermediate the client sent', async (t) => {
    const { urlOf } = await echoSite(t, { bindings: ['https'], clientCertificates: 'require', protocol: { clientCertFormat: 'rfc9440' } });
    const { received } = await echo(urlOf('https'), { clientCert: pki.clients.viaIntermediate, headers: ['Client-Cert-Chain', ':Zm9yZ2Vk:'] });
    assert.deepEqual(rawValues(received.rawHeaders, 'Client-Cert'), [`:${leafBase64(pki.clients.viaIntermediate)}:`]);
    assert.deepEqual(rawValues(received.rawHeaders, 'Client-Cert-Chain'), [`:${pki.intermediate.cert.raw.toString('base64')}:`]);
  });

  test('pemUrlEncoded: decodeURIComponent gives the PEM of the leaf', async (t) => {
    const { urlOf } = await echoSite(t, { bindings: ['https'], clientCertificates: 'accept', protocol: { clientCertFormat: 'pemUrlEncoded' } });
    const { received } = await echo(urlOf('https'), { clientCert: pki.clients.viaIntermediate });
    const values = rawValues(received.rawHeaders, 'X-ARR-ClientCert');
    assert.equal(values.length, 1);
    assert.doesNotMatch(values[0] as string, /[\s]/);
    const pem = decodeURIComponent(values[0] as string);
    assert.match(pem, /^-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=]{1,64}\n)+-----END CERTIFICATE-----\n$/);
    assert.equal(pem.match(/BEGIN CERTIFICATE/g)?.length, 1, 'the leaf only');
    assert.deepEqual(derOfPem(pem), pki.clients.viaIntermediate.issued.cert.raw);
    assert.equal(new X509Certificate(pem).fingerprint256, pki.clients.viaIntermediate.issued.cert.fingerprint256);
  });

  test('xfcc: Hash, Cert, Chain and Subject of the client', async (t) => {
    const { urlOf } = await echoSite(t, { bindings: ['https'], clientCertificates: 'accept', protocol: { clientCertFormat: 'xfcc' } });
    const { received } = await echo(urlOf('https'), { clientCert: pki.clients.valid, headers: ['X-Forwarded-Client-Cert', 'By=spiffe://evil;Hash=00'] });
    const values = rawValues(received.rawHeaders, 'X-Forwarded-Client-Cert');
    assert.equal(values.length, 1);
    const value = values[0] as string;
    const der = pki.clients.valid.issued.cert.raw;
    const parts = new Map<string, string>();
    for (const part of value.split(';')) {
      const eq = part.indexOf('=');
      parts.set(part.slice(0, eq), part.slice(eq + 1));
    }
    assert.equal(parts.get('Hash'), createHash('sha256').update(der).digest('hex'));
    assert.ok(value.startsWith(`Hash=${createHash('sha256').update(der).digest('hex')};Cert="`), value.slice(0, 120));
    const certPem = decodeURIComponent((parts.get('Cert') as string).replace(/^"|"$/g, ''));
    assert.deepEqual(derOfPem(certPem), der);
    const chainPem = decodeURIComponent((parts.get('Chain') as string).replace(/^"|"$/g, ''));
    assert.equal(chainPem.match(/BEGIN CERTIFICATE/g)?.length, 1, 'a root-issued leaf: the chain is the leaf');
    assert.equal(parts.get('Subject'), '"emailAddress=alice@example.test,CN=Alice Badge,O=Example Corp"');
    assert.ok(!value.includes('evil'));
  });

  test('xfcc: the chain holds leaf and intermediate for a client issued by the intermediate', async (t) => {
    const { urlOf } = await echoSite(t, { bindings: ['https'], clientCertificates: 'accept', protocol: { clientCertFormat: 'xfcc' } });
    const { received } = await echo(urlOf('https'), { clientCert: pki.clients.viaIntermediate });
    const value = rawValues(received.rawHeaders, 'X-Forwarded-Client-Cert')[0] as string;
    const chain = /;Chain="([^"]*)"/.exec(value)?.[1];
    assert.ok(chain, value);
    const pems = decodeURIComponent(chain).split(/(?<=-----END CERTIFICATE-----\n)/).filter(Boolean);
    assert.equal(pems.length, 2);
    assert.deepEqual(derOfPem(pems[0] as string), pki.clients.viaIntermediate.issued.cert.raw);
    assert.deepEqual(derOfPem(pems[1] as string), pki.intermediate.cert.raw);
    assert.match(value, /;Subject="CN=Ivan Intermediate,O=Branch Office"/);
  });
});
