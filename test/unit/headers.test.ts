import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProtocolSettings } from '../../src/config/model.js';
import { strippedRequestHeaders, upstreamRequestHeaders, clientResponseHeaders, reverseRewriteHost } from '../../src/proxy/request-headers.js';
import { windowsDn } from '../../src/tls/distinguished-name.js';
import { parseDuration } from '../../src/config/duration.js';
import { verdictForVerifyError } from '../../src/tls/verdict.js';

const defaults: ProtocolSettings = {
  timeoutMs: 30_000,
  clientCertHeaderName: 'X-ARR-ClientCert',
  clientCertFormat: 'base64Der',
  sslHeaderName: 'X-ARR-SSL',
  logGuidName: 'X-ARR-LOG-ID',
  xForwardedForHeaderName: 'X-Forwarded-For',
  includePortInXForwardedFor: true,
  forwardedProtoHeaderName: 'X-Forwarded-Proto',
  preserveHostHeader: true,
  reverseRewriteHostInResponseHeaders: false,
  maxForwards: 10,
  maxResponseHeaderSize: 65_536,
  signatureSecret: undefined,
  signatureHeaderName: 'X-Gatehouse-Signature',
};
const added = { clientAddress: '127.0.0.1:5000', sslValue: '2048|256|CN=CA|CN=host', certificateHeaders: ['X-ARR-ClientCert', 'QUJD'], logId: 'guid', signature: undefined, isHttps: true, serverHost: '10.0.0.1:80', isNewAffinity: false, certificateKey: undefined, originalUrl: '/a?b' };

function pairs(list: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < list.length; i += 2) out.push([list[i] as string, list[i + 1] as string]);
  return out;
}

test('upstream headers: spoofed ARR headers (any case, `_` for `-`) and hop-by-hop are gone, ARR headers added in ARR order', () => {
  const headers = { host: 'app', 'x-original-url': '/forged', x_arr_clientcert: 'spoof', 'x-arr_ssl': 'spoof', x_forwarded_for: '6.6.6.6', 'x-forwarded_proto': 'http', 'x-user_name': 'kept', 'x-gatehouse-signature': 'forged', 'x-arr-clientcert': 'spoof', 'x-arr-ssl': 'spoof', 'x-arr-log-id': 'spoof', 'client-cert': ':x:', connection: 'keep-alive, x-hop', 'x-hop': '1', te: 'trailers', 'x-custom': 'kept', 'max-forwards': '99', 'x-forwarded-for': '1.2.3.4' };
  const out = pairs(upstreamRequestHeaders(headers, strippedRequestHeaders(defaults), defaults, added));
  assert.deepEqual(out, [
    ['host', 'app'],
    ['x-user_name', 'kept'],
    ['x-custom', 'kept'],
    ['Max-Forwards', '10'],
    ['X-Original-URL', '/a?b'],
    ['X-Forwarded-For', '1.2.3.4, 127.0.0.1:5000'],
    ['X-ARR-SSL', '2048|256|CN=CA|CN=host'],
    ['X-ARR-ClientCert', 'QUJD'],
    ['X-ARR-LOG-ID', 'guid'],
    ['X-Forwarded-Proto', 'https'],
  ]);
});

test('upstream headers: renamed and disabled names, Host replaced when not preserved', () => {
  const protocol = { ...defaults, sslHeaderName: '', logGuidName: 'X-Request-Id', xForwardedForHeaderName: '', forwardedProtoHeaderName: '', preserveHostHeader: false, maxForwards: 3 };
  const out = pairs(upstreamRequestHeaders({ host: 'app', 'x-request-id': 'spoof', 'x-forwarded-proto': 'http' }, strippedRequestHeaders(protocol), protocol, { ...added, certificateHeaders: [] }));
  assert.deepEqual(out, [
    ['host', '10.0.0.1:80'],
    ['Max-Forwards', '3'],
    ['X-Original-URL', '/a?b'],
    ['X-Request-Id', 'guid'],
  ]);
});

test('response headers: hop-by-hop removed, repeated Set-Cookie kept', () => {
  const raw = ['Content-Type', 'text/plain', 'Connection', 'keep-alive', 'Set-Cookie', 'a=1', 'Transfer-Encoding', 'chunked', 'Set-Cookie', 'b=2'];
  assert.deepEqual(clientResponseHeaders(raw), ['Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2']);
});

test('response headers: those the server names in Connection are hop-by-hop too, whatever the case', () => {
  const raw = ['Connection', 'Keep-Alive, X-Hop', 'X-Hop', '1', 'keep-alive', 'timeout=5', 'X-Kept', '2', 'connection', 'close'];
  assert.deepEqual(clientResponseHeaders(raw), ['X-Kept', '2']);
  assert.deepEqual(clientResponseHeaders(['CONNECTION', 'x-other', 'X-Other', 'a', 'Date', 'd']), ['Date', 'd']);
});

test('distinguished names print as Windows prints them in X-ARR-SSL', () => {
  assert.equal(windowsDn('C=US\nST=Washington\nO=Contoso, Ltd\nCN=app'), 'C=US, S=Washington, O="Contoso, Ltd", CN=app');
});

test('durations: seconds, units and IIS hh:mm:ss; anything else is refused', () => {
  assert.equal(parseDuration(30), 30_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('00:01:30'), 90_000);
  assert.equal(parseDuration('soon'), undefined);
  assert.equal(parseDuration(-1), undefined);
});

test('OpenSSL verification codes map to IIS sub-statuses', () => {
  assert.equal(verdictForVerifyError('CERT_HAS_EXPIRED').subStatus, 17);
  assert.equal(verdictForVerifyError('CERT_NOT_YET_VALID').subStatus, 17);
  assert.equal(verdictForVerifyError('CERT_REVOKED').subStatus, 13);
  assert.equal(verdictForVerifyError('UNABLE_TO_VERIFY_LEAF_SIGNATURE').subStatus, 16);
  assert.equal(verdictForVerifyError('INVALID_PURPOSE').subStatus, 16);
  assert.match(verdictForVerifyError('INVALID_PURPOSE').reason, /client authentication/);
});

test('reverse host rewrite: Location and Content-Location naming the server get the client origin; others stay', () => {
  const headers = ['Location', 'http://10.0.0.1:8080/login?next=/', 'Content-Location', 'http://10.0.0.1:8080', 'X-Other', 'http://10.0.0.1:8080/x', 'location', 'http://10.0.0.1:80801/not-the-server'];
  reverseRewriteHost(headers, '10.0.0.1:8080', 'https://app.example.test');
  assert.deepEqual(headers, ['Location', 'https://app.example.test/login?next=/', 'Content-Location', 'https://app.example.test', 'X-Other', 'http://10.0.0.1:8080/x', 'location', 'http://10.0.0.1:80801/not-the-server']);
});
