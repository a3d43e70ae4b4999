/**
 * The Gatehouse proxy signature — beyond ARR. Gatehouse signs the identity it forwards, so a backend
 * that is also reachable directly cannot be fooled by a client sending its own certificate header.
 *
 * Header (default name `X-Gatehouse-Signature`):
 *
 *     t=<unix seconds>;id=<log id>;v1=<base64url(HMAC-SHA256(secret, message)), no padding>
 *
 * message = `gatehouse-v1\n<t>\n<log id>\n<sha256 hex (lowercase) of the forwarded leaf DER, or '' without a certificate>`
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { HeaderValue } from './decode.js';
import type { ReplayCache } from './replay-cache.js';

/** Default header name of the proxy signature. */
export const SIGNATURE_HEADER = 'X-Gatehouse-Signature';
/** Shortest secret accepted, in bytes. */
export const MIN_SECRET_BYTES = 32;
/** Default tolerated clock difference between proxy and backend, both ways. */
export const DEFAULT_MAX_SKEW_SECONDS = 60;

const LOG_ID_RE = /^[A-Za-z0-9._~:@+/-]{1,128}$/;
const DIGEST_RE = /^[A-Za-z0-9_-]{43}$/;
const SECONDS_RE = /^(?:0|[1-9][0-9]{0,11})$/;

/** A shared secret: raw bytes, or a string used as its UTF-8 bytes. At least 32 bytes. */
export type SignatureSecret = Buffer | Uint8Array | string;

/** What {@link signForwardedIdentity} signs. */
export interface SignInput {
  readonly secret: SignatureSecret;
  /** Unix time in whole seconds. */
  readonly timestampSeconds: number;
  /** The request's log id (X-ARR-LOG-ID), unique per forwarded request; 1–128 of `A-Z a-z 0-9 . _ ~ : @ + / -`. */
  readonly logId: string;
  /** DER of the forwarded leaf, or undefined when no certificate is forwarded. */
  readonly certificateDer?: Uint8Array | undefined;
}

/** Options of {@link verifyForwardedIdentity}. */
export interface VerifyOptions {
  readonly secret: SignatureSecret;
  /** DER of the certificate forwarded with the request (as decoded from its header), or undefined. */
  readonly certificateDer: Uint8Array | undefined;
  /** Clock in ms since the epoch (default `Date.now`). */
  readonly now?: (() => number) | undefined;
  /** Largest accepted difference between `t` and now, in the past or the future (default 60). */
  readonly maxSkewSeconds?: number | undefined;
  /** When given, a signature whose id was already accepted is refused. */
  readonly replayCache?: ReplayCache | undefined;
}

/** Why a signature was refused. */
export type SignatureErrorCode =
  | 'ERR_SIGNATURE_MISSING'
  | 'ERR_SIGNATURE_MULTIPLE'
  | 'ERR_SIGNATURE_MALFORMED'
  | 'ERR_SIGNATURE_TOO_OLD'
  | 'ERR_SIGNATURE_IN_FUTURE'
  | 'ERR_SIGNATURE_MISMATCH'
  | 'ERR_SIGNATURE_REPLAYED'
  | 'ERR_SIGNATURE_REPLAY_CACHE_FULL';

/** The outcome of a verification. */
export type SignatureVerification = { readonly ok: true; readonly logId: string; readonly timestampSeconds: number } | { readonly ok: false; readonly code: SignatureErrorCode; readonly reason: string };

/**
 * Returns the signature header value `t=<t>;id=<logId>;v1=<mac>` for a forwarded identity.
 * Throws a TypeError/RangeError for a short secret, a bad timestamp or a log id outside the allowed characters.
 */
export function signForwardedIdentity(input: SignInput): string {
  const key = secretBytes(input.secret);
  const t = input.timestampSeconds;
  if (!Number.isSafeInteger(t) || t < 0 || !SECONDS_RE.test(String(t))) throw new RangeError(`timestampSeconds must be a non-negative integer number of seconds, got ${t}`);
  if (!LOG_ID_RE.test(input.logId)) throw new TypeError(`logId must be 1–128 characters of A-Z a-z 0-9 . _ ~ : @ + / -, got '${input.logId}'`);
  return `t=${t};id=${input.logId};v1=${mac(key, String(t), input.logId, input.certificateDer).toString('base64url')}`;
}

/**
 * Verifies a signature header value against the certificate actually forwarded. Checks, in order:
 * present and single, well-formed, `t` within ±maxSkewSeconds of now, HMAC (constant-time), and
 * (with a replay cache) that the id was not accepted before. Never throws for a bad header; throws
 * a RangeError for a secret shorter than 32 bytes.
 */
export function verifyForwardedIdentity(headerValue: HeaderValue, options: VerifyOptions): SignatureVerification {
  const key = secretBytes(options.secret);
  const maxSkew = options.maxSkewSeconds ?? DEFAULT_MAX_SKEW_SECONDS;
  if (!Number.isFinite(maxSkew) || maxSkew < 0) throw new RangeError(`maxSkewSeconds must be a non-negative number, got ${maxSkew}`);

  let value: string | undefined;
  if (typeof headerValue === 'string') value = headerValue;
  else if (headerValue !== undefined) {
    if (headerValue.length > 1) return fail('ERR_SIGNATURE_MULTIPLE', `the signature header was sent ${headerValue.length} times`);
    value = headerValue[0];
  }
  if (value === undefined || value.trim() === '') return fail('ERR_SIGNATURE_MISSING', 'the request carries no proxy signature');
  if (value.includes(',')) return fail('ERR_SIGNATURE_MULTIPLE', 'the signature header holds a comma-joined list: it was sent more than once');

  const parsed = parseSignature(value.trim());
  if (typeof parsed === 'string') return fail('ERR_SIGNATURE_MALFORMED', parsed);

  const nowMs = (options.now ?? Date.now)();
  const nowSeconds = nowMs / 1000;
  const age = nowSeconds - parsed.seconds;
  if (age > maxSkew) return fail('ERR_SIGNATURE_TOO_OLD', `the signature is ${Math.floor(age)} s old (limit ${maxSkew} s)`);
  if (-age > maxSkew) return fail('ERR_SIGNATURE_IN_FUTURE', `the signature is dated ${Math.ceil(-age)} s in the future (limit ${maxSkew} s; are the clocks in sync?)`);

  const expected = mac(key, parsed.t, parsed.id, options.certificateDer);
  if (!timingSafeEqual(expected, parsed.digest)) return fail('ERR_SIGNATURE_MISMATCH', 'the signature does not match (wrong secret, or the certificate/log id was altered)');

  if (options.replayCache) {
    const outcome = options.replayCache.record(parsed.id, (parsed.seconds + maxSkew) * 1000 + 1000, nowMs);
    if (outcome === 'replayed') return fail('ERR_SIGNATURE_REPLAYED', `a request signed with id ${parsed.id} was already accepted`);
    if (outcome === 'full') return fail('ERR_SIGNATURE_REPLAY_CACHE_FULL', 'the replay cache is full; raise its maxEntries');
  }
  return { ok: true, logId: parsed.id, timestampSeconds: parsed.seconds };
}

/**
 * Reads a shared-secret file the way Gatehouse reads `protocol.signatureSecretFile`: the file's
 * UTF-8 text without one trailing newline (`\n` or `\r\n`), as bytes. Throws when shorter than 32 bytes.
 */
export function readSignatureSecretFile(path: string): Buffer {
  const secret = Buffer.from(readFileSync(path, 'utf8').replace(/\r?\n$/, ''), 'utf8');
  assertSignatureSecret(secret);
  return secret;
}

/** Throws a RangeError unless `secret` is at least 32 bytes; use it to check configuration at startup. */
export function assertSignatureSecret(secret: SignatureSecret): void {
  secretBytes(secret);
}

/** The secret as bytes; RangeError when shorter than 32 bytes. */
function secretBytes(secret: SignatureSecret): Buffer {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength);
  if (bytes.length < MIN_SECRET_BYTES) throw new RangeError(`the proxy-signature secret must be at least ${MIN_SECRET_BYTES} bytes, got ${bytes.length} (e.g. \`openssl rand -base64 48\`)`);
  return bytes;
}

function mac(key: Buffer, t: string, logId: string, der: Uint8Array | undefined): Buffer {
  const certHash = der === undefined ? '' : createHash('sha256').update(der).digest('hex');
  return createHmac('sha256', key).update(`gatehouse-v1\n${t}\n${logId}\n${certHash}`, 'utf8').digest();
}

interface ParsedSignature {
  t: string;
  seconds: number;
  id: string;
  digest: Buffer;
}

/** Parses `t=…;id=…;v1=…` (each key exactly once, any order, nothing else); a string is the problem. */
function parseSignature(value: string): ParsedSignature | string {
  if (value.length > 512) return 'the signature header is too long';
  const fields = new Map<string, string>();
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return `'${part.slice(0, 40)}' is not key=value`;
    const key = part.slice(0, eq).trim();
    if (key !== 't' && key !== 'id' && key !== 'v1') return `unknown key '${key.slice(0, 20)}' (expected t, id and v1)`;
    if (fields.has(key)) return `'${key}' appears twice`;
    fields.set(key, part.slice(eq + 1).trim());
  }
  const t = fields.get('t');
  const id = fields.get('id');
  const v1 = fields.get('v1');
  if (t === undefined || id === undefined || v1 === undefined) return 'expected t=<unix seconds>;id=<log id>;v1=<base64url HMAC-SHA256>';
  if (!SECONDS_RE.test(t)) return `t='${t.slice(0, 20)}' is not unix seconds`;
  if (!LOG_ID_RE.test(id)) return 'id is empty, too long or has characters outside A-Z a-z 0-9 . _ ~ : @ + / -';
  if (!DIGEST_RE.test(v1)) return 'v1 is not a base64url HMAC-SHA256 (43 characters)';
  const digest = Buffer.from(v1, 'base64url');
  if (digest.length !== 32 || digest.toString('base64url') !== v1) return 'v1 is not a canonical base64url HMAC-SHA256';
  return { t, seconds: Number(t), id, digest };
}

function fail(code: SignatureErrorCode, reason: string): SignatureVerification {
  return { ok: false, code, reason };
}
