import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ReplayCache, readSignatureSecretFile, signForwardedIdentity, verifyForwardedIdentity, type SignatureVerification, type VerifyOptions } from '../src/index.js';
import { fixtures } from './helpers/pki.js';

const f = fixtures();
const secret = Buffer.from('0123456789abcdef0123456789abcdef-gatehouse-test');
const T = 1_760_000_000; // fixed unix seconds
const at = (seconds: number) => () => seconds * 1000;
const logId = '6f1c2b9e-3d4a-4f5b-9c8d-7e6f5a4b3c2d';

function sign(overrides: Partial<Parameters<typeof signForwardedIdentity>[0]> = {}): string {
  return signForwardedIdentity({ secret, timestampSeconds: T, logId, certificateDer: f.alice.der, ...overrides });
}
function verify(value: string | string[] | undefined, overrides: Partial<VerifyOptions> = {}): SignatureVerification {
  return verifyForwardedIdentity(value, { secret, certificateDer: f.alice.der, now: at(T), ...overrides });
}
function refused(result: SignatureVerification, code: string): void {
  assert.equal(result.ok, false, 'expected a refusal');
  if (!result.ok) {
    assert.equal(result.code, code, result.reason);
    assert.ok(result.reason.length > 0);
  }
}

describe('the contract', () => {
  test('value is t=<seconds>;id=<log id>;v1=<base64url HMAC-SHA256 of the documented message>', () => {
    const certHash = createHash('sha256').update(f.alice.der).digest('hex');
    const expected = createHmac('sha256', secret).update(`gatehouse-v1\n${T}\n${logId}\n${certHash}`).digest('base64url');
    assert.equal(sign(), `t=${T};id=${logId};v1=${expected}`);
    assert.doesNotMatch(expected, /[=+/]/, 'base64url without padding');
  });
  test('without a certificate the hash part is the empty string', () => {
    const expected = createHmac('sha256', secret).update(`gatehouse-v1\n${T}\n${logId}\n`).digest('base64url');
    assert.equal(signForwardedIdentity({ secret, timestampSeconds: T, logId, certificateDer: undefined }), `t=${T};id=${logId};v1=${expected}`);
    assert.equal(signForwardedIdentity({ secret, timestampSeconds: T, logId }), `t=${T};id=${logId};v1=${expected}`);
  });
  test('a string secret is its UTF-8 bytes', () => {
    assert.equal(signForwardedIdentity({ secret: secret.toString('utf8'), timestampSeconds: T, logId }), signForwardedIdentity({ secret, timestampSeconds: T, logId }));
  });
  test('secrets shorter than 32 bytes are refused on both sides', () => {
    assert.throws(() => signForwardedIdentity({ secret: 'x'.repeat(31), timestampSeconds: T, logId }), /at least 32 bytes, got 31/);
    assert.throws(() => verifyForwardedIdentity(sign(), { secret: Buffer.alloc(16), certificateDer: undefined }), RangeError);
  });
  test('bad timestamps and log ids are refused when signing', () => {
    assert.throws(() => sign({ timestampSeconds: 1.5 }), RangeError);
    assert.throws(() => sign({ timestampSeconds: -1 }), RangeError);
    assert.throws(() => sign({ logId: '' }), TypeError);
    assert.throws(() => sign({ logId: 'a;v1=x' }), TypeError);
    assert.throws(() => sign({ logId: 'a\nb' }), TypeError);
  });
});

describe('verifyForwardedIdentity', () => {
  test('valid with certificate', () => assert.deepEqual(verify(sign()), { ok: true, logId, timestampSeconds: T }));
  test('valid without certificate', () => {
    const value = sign({ certificateDer: undefined });
    assert.deepEqual(verify(value, { certificateDer: undefined }), { ok: true, logId, timestampSeconds: T });
  });
  test('as the one-element array of req.headersDistinct', () => assert.equal(verify([sign()]).ok, true));
  test('wrong secret', () => refused(verify(sign({ secret: Buffer.alloc(32, 7) })), 'ERR_SIGNATURE_MISMATCH'));
  test('tampered certificate: another certificate forwarded with a genuine signature', () => refused(verify(sign(), { certificateDer: f.bob.der }), 'ERR_SIGNATURE_MISMATCH'));
  test('certificate removed', () => refused(verify(sign(), { certificateDer: undefined }), 'ERR_SIGNATURE_MISMATCH'));
  test('certificate added to a request signed without one', () => refused(verify(sign({ certificateDer: undefined })), 'ERR_SIGNATURE_MISMATCH'));
  test('tampered id', () => refused(verify(sign().replace(`id=${logId}`, 'id=another-id')), 'ERR_SIGNATURE_MISMATCH'));
  test('tampered timestamp', () => refused(verify(sign().replace(`t=${T}`, `t=${T + 1}`)), 'ERR_SIGNATURE_MISMATCH'));
  test('tampered MAC', () => {
    const value = sign();
    const last = value.at(-2) === 'A' ? 'B' : 'A';
    refused(verify(`${value.slice(0, -2)}${last}${value.slice(-1)}`), 'ERR_SIGNATURE_MISMATCH');
  });
  test('fields in another order are the same signature', () => {
    const [t, id, v1] = sign().split(';') as [string, string, string];
    assert.equal(verify(`${v1};${t};${id}`).ok, true);
  });

  describe('clock skew (default 60 s, both ways)', () => {
    test('exactly at the limit is accepted', () => {
      assert.equal(verify(sign(), { now: at(T + 60) }).ok, true);
      assert.equal(verify(sign(), { now: at(T - 60) }).ok, true);
    });
    test('too old', () => refused(verify(sign(), { now: () => (T + 60) * 1000 + 1 }), 'ERR_SIGNATURE_TOO_OLD'));
    test('from the future', () => refused(verify(sign(), { now: () => (T - 60) * 1000 - 1 }), 'ERR_SIGNATURE_IN_FUTURE'));
    test('maxSkewSeconds is configurable', () => {
      refused(verify(sign(), { now: at(T + 11), maxSkewSeconds: 10 }), 'ERR_SIGNATURE_TOO_OLD');
      assert.equal(verify(sign(), { now: at(T + 300), maxSkewSeconds: 600 }).ok, true);
    });
    test('a stale signature is refused before its MAC is even checked', () => refused(verify(sign({ secret: Buffer.alloc(32) }), { now: at(T + 3600) }), 'ERR_SIGNATURE_TOO_OLD'));
  });

  describe('replay cache', () => {
    test('the same signature twice → replayed', () => {
      const cache = new ReplayCache();
      const value = sign();
      assert.equal(verify(value, { replayCache: cache }).ok, true);
      refused(verify(value, { replayCache: cache, now: at(T + 5) }), 'ERR_SIGNATURE_REPLAYED');
    });
    test('another id is fine; a wrong MAC does not poison the cache', () => {
      const cache = new ReplayCache();
      refused(verify(sign({ secret: Buffer.alloc(32) }), { replayCache: cache }), 'ERR_SIGNATURE_MISMATCH');
      assert.equal(cache.size, 0);
      assert.equal(verify(sign(), { replayCache: cache }).ok, true);
      assert.equal(verify(sign({ logId: 'second' }), { replayCache: cache }).ok, true);
    });
    test('without a cache a replay inside the window is not detected (documented)', () => {
      const value = sign();
      assert.equal(verify(value).ok, true);
      assert.equal(verify(value).ok, true);
    });
  });

  describe('malformed values', () => {
    const good = sign();
    const cases: [string, string | string[] | undefined, string][] = [
      ['absent', undefined, 'ERR_SIGNATURE_MISSING'],
      ['empty', '', 'ERR_SIGNATURE_MISSING'],
      ['sent twice', [good, good], 'ERR_SIGNATURE_MULTIPLE'],
      ['joined by node', `${good}, ${good}`, 'ERR_SIGNATURE_MULTIPLE'],
      ['no v1', `t=${T};id=${logId}`, 'ERR_SIGNATURE_MALFORMED'],
      ['no t', good.replace(`t=${T};`, ''), 'ERR_SIGNATURE_MALFORMED'],
      ['duplicate key', `${good};t=${T}`, 'ERR_SIGNATURE_MALFORMED'],
      ['unknown key', `${good};v2=abc`, 'ERR_SIGNATURE_MALFORMED'],
      ['not key=value', `${good};junk`, 'ERR_SIGNATURE_MALFORMED'],
      ['t not a number', good.replace(`t=${T}`, 't=soon'), 'ERR_SIGNATURE_MALFORMED'],
      ['t negative', good.replace(`t=${T}`, `t=-${T}`), 'ERR_SIGNATURE_MALFORMED'],
      ['t with leading zero', good.replace(`t=${T}`, `t=0${T}`), 'ERR_SIGNATURE_MALFORMED'],
      ['t fractional', good.replace(`t=${T}`, `t=${T}.5`), 'ERR_SIGNATURE_MALFORMED'],
      ['empty id', good.replace(`id=${logId}`, 'id='), 'ERR_SIGNATURE_MALFORMED'],
      ['v1 in standard base64 with padding', good.replace(/v1=.*/, `v1=${Buffer.alloc(32, 0xfb).toString('base64')}`), 'ERR_SIGNATURE_MALFORMED'],
      ['v1 too short', good.slice(0, -1), 'ERR_SIGNATURE_MALFORMED'],
      ['v1 too long', `${good}A`, 'ERR_SIGNATURE_MALFORMED'],
      ['huge', `t=${T};id=${'a'.repeat(1000)};v1=x`, 'ERR_SIGNATURE_MALFORMED'],
    ];
    for (const [name, value, code] of cases) test(name, () => refused(verify(value), code));
    test('v1 with non-canonical trailing bits', () => {
      const v1 = good.slice(good.indexOf('v1=') + 3);
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const lastIndex = alphabet.indexOf(v1.at(-1) as string);
      const twin = alphabet[(lastIndex & ~3) | ((lastIndex + 1) & 3)] as string; // same 32 bytes, other unused bits
      refused(verify(`${good.slice(0, -1)}${twin}`), 'ERR_SIGNATURE_MALFORMED');
    });
  });
});

describe('readSignatureSecretFile', () => {
  test('reads the file as Gatehouse does: one trailing newline dropped', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fc-secret-'));
    try {
      const text = 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC1zZWNyZXQ=';
      writeFileSync(join(dir, 'lf'), `${text}\n`);
      writeFileSync(join(dir, 'crlf'), `${text}\r\n`);
      writeFileSync(join(dir, 'short'), 'short\n');
      assert.deepEqual(readSignatureSecretFile(join(dir, 'lf')), Buffer.from(text));
      assert.deepEqual(readSignatureSecretFile(join(dir, 'crlf')), Buffer.from(text));
      assert.throws(() => readSignatureSecretFile(join(dir, 'short')), /at least 32 bytes, got 5/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
