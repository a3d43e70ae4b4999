/**
 * Decides whether a forwarded client certificate is acceptable: chains to a trusted CA (using the
 * forwarded intermediates), is within its validity period, is meant for client authentication, and
 * matches the optional thumbprint / subject / issuer rules — the checks Azure App Service's guidance
 * for X-ARR-ClientCert asks an application to make.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { certificateFields, OID, type CertificateFields } from './certificate-fields.js';
import { attributeOid, dnEquals, parseRfc4514, type DistinguishedName } from './distinguished-name.js';
import { pemBodies } from './pem.js';

/**
 * A rule on a distinguished name:
 * - a string: the exact DN in RFC 4514 form, e.g. `CN=alice,O=Example Corp,C=US` (types are
 *   case-insensitive, spaces after `,` tolerated, values exact);
 * - an object: each listed attribute must be present and every value of it one of those given, e.g.
 *   `{ CN: 'alice' }` or `{ O: 'Example Corp', OU: ['Ops', 'Dev'] }`;
 * - a function: `(dn, cert) => boolean`.
 */
export type DnRule = string | Readonly<Record<string, string | readonly string[]>> | ((dn: DistinguishedName, cert: X509Certificate) => boolean);

/** What {@link validateClientCertificate} checks. */
export interface ValidationOptions {
  /**
   * The CAs a certificate must chain to: PEM text (one or more certificates each), DER buffers, or
   * X509Certificate objects. May be omitted only when `thumbprints` pins the accepted certificates.
   */
  readonly trustedCas?: string | readonly (string | Buffer | X509Certificate)[] | undefined;
  /** Clock in ms since the epoch (default `Date.now`). */
  readonly now?: (() => number) | undefined;
  /**
   * Accept a certificate with no ExtendedKeyUsage extension (or with anyExtendedKeyUsage) as valid
   * for any purpose. Default false: the clientAuth EKU (1.3.6.1.5.5.7.3.2) is required.
   */
  readonly allowNoEku?: boolean | undefined;
  /** Allowlist of SHA-1 or SHA-256 thumbprints, hex, any case, colons/spaces allowed. */
  readonly thumbprints?: readonly string[] | undefined;
  /** Rule on the leaf's subject. */
  readonly subject?: DnRule | undefined;
  /** Rule on the leaf's issuer. */
  readonly issuer?: DnRule | undefined;
  /** Most intermediates between the leaf and a trusted CA (default 4). */
  readonly maxIntermediates?: number | undefined;
}

/** Why a certificate was refused. */
export type ValidationErrorCode =
  | 'ERR_CERT_UNREADABLE'
  | 'ERR_CERT_NOT_YET_VALID'
  | 'ERR_CERT_EXPIRED'
  | 'ERR_CERT_UNTRUSTED'
  | 'ERR_CERT_CRITICAL_EXTENSION'
  | 'ERR_CERT_EKU'
  | 'ERR_CERT_KEY_USAGE'
  | 'ERR_CERT_THUMBPRINT'
  | 'ERR_CERT_SUBJECT'
  | 'ERR_CERT_ISSUER';

/** The outcome of a validation. */
export type ValidationResult = { readonly ok: true } | { readonly ok: false; readonly code: ValidationErrorCode; readonly reason: string };

/** A validator compiled once from options; call it per request. */
export type CertificateValidator = (cert: X509Certificate, chain?: readonly X509Certificate[]) => ValidationResult;

/** Extensions this library understands (RFC 5280 requires refusing unknown critical ones). */
const KNOWN_CRITICAL = new Set<string>([OID.keyUsage, OID.extKeyUsage, OID.basicConstraints, OID.subjectAltName, '2.5.29.14', '2.5.29.35', '2.5.29.32']);

/**
 * Validates `cert` once. `chain` holds the forwarded intermediates (any order; closest first is usual).
 * Options are compiled on every call: for per-request use prefer {@link createCertificateValidator}.
 * Throws a TypeError for invalid options (bad PEM, bad thumbprint, neither trustedCas nor thumbprints).
 */
export function validateClientCertificate(cert: X509Certificate, options: ValidationOptions & { readonly chain?: readonly X509Certificate[] | undefined }): ValidationResult {
  return createCertificateValidator(options)(cert, options.chain);
}

/** Compiles `options` (parses CAs, thumbprints and DN rules once) into a reusable validator. */
export function createCertificateValidator(options: ValidationOptions): CertificateValidator {
  const anchors = loadTrustedCas(options.trustedCas);
  const thumbprints = options.thumbprints?.map(normalizeThumbprint);
  if (anchors.length === 0 && !thumbprints?.length) throw new TypeError('client certificate validation needs trustedCas (the CAs that issue client certificates) or a thumbprints allowlist');
  const now = options.now ?? Date.now;
  const allowNoEku = options.allowNoEku === true;
  const maxIntermediates = options.maxIntermediates ?? 4;
  const subjectRule = compileDnRule(options.subject, 'subject');
  const issuerRule = compileDnRule(options.issuer, 'issuer');

  return (cert, chain = []) => {
    let fields: CertificateFields;
    try {
      fields = certificateFields(cert);
    } catch (error) {
      return fail('ERR_CERT_UNREADABLE', `the certificate cannot be decoded: ${(error as Error).message}`);
    }
    const at = now();
    const name = fields.subject.rfc4514 || '(empty subject)';
    if (at < fields.notBefore) return fail('ERR_CERT_NOT_YET_VALID', `certificate ${name} is not valid before ${new Date(fields.notBefore).toISOString()}`);
    if (at > fields.notAfter) return fail('ERR_CERT_EXPIRED', `certificate ${name} expired at ${new Date(fields.notAfter).toISOString()}`);

    if (anchors.length > 0) {
      const trusted = buildPath(cert, fields, chain, anchors, at, maxIntermediates);
      if (!trusted.ok) return fail('ERR_CERT_UNTRUSTED', trusted.reason);
    }
    const unknownCritical = fields.criticalExtensions.find((oid) => !KNOWN_CRITICAL.has(oid));
    if (unknownCritical) return fail('ERR_CERT_CRITICAL_EXTENSION', `certificate ${name} has an unsupported critical extension ${unknownCritical}`);

    const eku = fields.extKeyUsage;
    if (eku === undefined) {
      if (!allowNoEku) return fail('ERR_CERT_EKU', `certificate ${name} has no ExtendedKeyUsage; clientAuth is required (set allowNoEku to accept it)`);
    } else if (!eku.includes(OID.clientAuth) && !(allowNoEku && eku.includes(OID.anyExtendedKeyUsage))) {
      return fail('ERR_CERT_EKU', `certificate ${name} is not for client authentication (EKU ${eku.join(', ') || 'empty'})`);
    }
    if (fields.keyUsage !== undefined && !fields.keyUsage.has('digitalSignature')) {
      return fail('ERR_CERT_KEY_USAGE', `certificate ${name} has a KeyUsage without digitalSignature (${[...fields.keyUsage].join(', ') || 'none'})`);
    }
    if (thumbprints?.length) {
      const sha1 = createHash('sha1').update(cert.raw).digest('hex');
      const sha256 = createHash('sha256').update(cert.raw).digest('hex');
      if (!thumbprints.includes(sha1) && !thumbprints.includes(sha256)) return fail('ERR_CERT_THUMBPRINT', `certificate ${name} (SHA-1 ${sha1}) is not in the thumbprint allowlist`);
    }
    const subjectProblem = subjectRule?.(fields.subject, cert);
    if (subjectProblem) return fail('ERR_CERT_SUBJECT', `subject ${name} ${subjectProblem}`);
    const issuerProblem = issuerRule?.(fields.issuer, cert);
    if (issuerProblem) return fail('ERR_CERT_ISSUER', `issuer ${fields.issuer.rfc4514} ${issuerProblem}`);
    return { ok: true };
  };
}

function fail(code: ValidationErrorCode, reason: string): ValidationResult {
  return { ok: false, code, reason };
}

/** Parses trustedCas into certificates; throws a TypeError for unreadable entries. */
export function loadTrustedCas(input: ValidationOptions['trustedCas']): X509Certificate[] {
  if (input === undefined) return [];
  const list = typeof input === 'string' ? [input] : input;
  const out: X509Certificate[] = [];
  list.forEach((entry, index) => {
    try {
      if (entry instanceof X509Certificate) out.push(entry);
      else if (typeof entry === 'string' || entry.subarray(0, 5).toString('latin1') === '-----') {
        const text = typeof entry === 'string' ? entry : entry.toString('utf8');
        const bodies = pemBodies(text);
        if (!bodies?.length) throw new Error('no -----BEGIN CERTIFICATE----- block');
        for (const body of bodies) out.push(new X509Certificate(Buffer.from(body, 'base64')));
      } else out.push(new X509Certificate(entry));
    } catch (error) {
      throw new TypeError(`trustedCas[${index}] is not a certificate: ${(error as Error).message}`);
    }
  });
  return out;
}

/** Lower-case hex without separators; TypeError unless 40 (SHA-1) or 64 (SHA-256) hex digits. */
export function normalizeThumbprint(thumbprint: string): string {
  const hex = thumbprint.replace(/[\s:]/g, '').toLowerCase();
  if (!/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(hex)) throw new TypeError(`'${thumbprint}' is not a SHA-1 or SHA-256 thumbprint (40 or 64 hex digits)`);
  return hex;
}

/** Compiles a DnRule into a check returning undefined when satisfied, else what is wrong. */
function compileDnRule(rule: DnRule | undefined, what: string): ((dn: DistinguishedName, cert: X509Certificate) => string | undefined) | undefined {
  if (rule === undefined) return undefined;
  if (typeof rule === 'string') {
    parseRfc4514(rule); // TypeError now rather than per request
    return (dn) => (dnEquals(dn, rule) ? undefined : `is not '${rule}'`);
  }
  if (typeof rule === 'function') {
    return (dn, cert) => {
      try {
        return rule(dn, cert) === true ? undefined : `is refused by the ${what} rule`;
      } catch (error) {
        return `could not be checked: the ${what} rule threw ${(error as Error).message}`;
      }
    };
  }
  const entries = Object.entries(rule).map(([type, allowed]) => {
    if (attributeOid(type) === undefined) throw new TypeError(`${what} rule: unknown attribute type '${type}'`);
    return [type, typeof allowed === 'string' ? [allowed] : [...allowed]] as const;
  });
  if (entries.length === 0) throw new TypeError(`${what} rule: the object lists no attributes`);
  return (dn) => {
    for (const [type, allowed] of entries) {
      const values = dn.getAll(type);
      if (values.length === 0) return `has no ${type}`;
      const bad = values.find((v) => !allowed.includes(v));
      if (bad !== undefined) return `has ${type}=${bad}, expected ${allowed.map((a) => `'${a}'`).join(' or ')}`;
    }
    return undefined;
  };
}

type PathResult = { ok: true } | { ok: false; reason: string };

/**
 * Finds a path leaf → forwarded intermediates → trusted CA, checking each link with checkIssued
 * (names, key identifiers, issuer key usage) and verify (the signature), and each CA's validity,
 * CA flag, keyCertSign usage and path length.
 */
function buildPath(leaf: X509Certificate, leafFields: CertificateFields, chain: readonly X509Certificate[], anchors: readonly X509Certificate[], at: number, maxIntermediates: number): PathResult {
  if (anchors.some((anchor) => anchor.raw.equals(leaf.raw))) return { ok: true }; // pinned as a trust anchor itself
  let reason = `no trusted CA issued ${leafFields.subject.rfc4514 || 'the certificate'} (issuer ${leafFields.issuer.rfc4514})`;
  const used = new Set<X509Certificate>();

  const search = (current: X509Certificate, intermediatesBelow: number): boolean => {
    for (const anchor of anchors) {
      if (!issued(anchor, current)) continue;
      const problem = caProblem(anchor, at, intermediatesBelow);
      if (problem === undefined) return true;
      reason = `trusted CA ${problem}`;
    }
    if (intermediatesBelow >= maxIntermediates) return false;
    for (const candidate of chain) {
      if (used.has(candidate) || !issued(candidate, current)) continue;
      const problem = caProblem(candidate, at, intermediatesBelow);
      if (problem !== undefined) {
        reason = `forwarded intermediate ${problem}`;
        continue;
      }
      used.add(candidate);
      if (search(candidate, intermediatesBelow + 1)) return true;
      used.delete(candidate);
    }
    return false;
  };
  return search(leaf, 0) ? { ok: true } : { ok: false, reason };
}

function issued(issuer: X509Certificate, subject: X509Certificate): boolean {
  try {
    return subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

function caProblem(ca: X509Certificate, at: number, intermediatesBelow: number): string | undefined {
  let fields: CertificateFields;
  try {
    fields = certificateFields(ca);
  } catch (error) {
    return `cannot be decoded: ${(error as Error).message}`;
  }
  const name = fields.subject.rfc4514;
  if (!fields.basicConstraints.ca) return `${name} is not a CA (basicConstraints CA:FALSE)`;
  if (fields.keyUsage !== undefined && !fields.keyUsage.has('keyCertSign')) return `${name} may not sign certificates (no keyCertSign)`;
  if (at < fields.notBefore) return `${name} is not valid before ${new Date(fields.notBefore).toISOString()}`;
  if (at > fields.notAfter) return `${name} expired at ${new Date(fields.notAfter).toISOString()}`;
  const pathLength = fields.basicConstraints.pathLength;
  if (pathLength !== undefined && intermediatesBelow > pathLength) return `${name} allows ${pathLength} intermediate(s) below it, the path has ${intermediatesBelow}`;
  const unknownCritical = fields.criticalExtensions.find((oid) => !KNOWN_CRITICAL.has(oid));
  if (unknownCritical) return `${name} has an unsupported critical extension ${unknownCritical}`;
  return undefined;
}
