import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import type { JsonName } from '@peculiar/x509';

/** Subject fields supported by this library. */
export interface SubjectFields {
  commonName: string;
  organization?: string | undefined;
  organizationalUnit?: string | undefined;
  email?: string | undefined;
}

function nonEmpty(field: string, value: string): string {
  if (value.trim() === '') throw new TypeError(`${field} must not be empty`);
  return value;
}

/**
 * Builds a distinguished name in conventional order (O, OU, CN, E).
 * Values are passed as JSON so no DN-string escaping is involved; E is encoded as IA5String.
 */
export function buildName(f: SubjectFields): JsonName {
  const name: JsonName = [];
  if (f.organization !== undefined) name.push({ O: [nonEmpty('organization', f.organization)] });
  if (f.organizationalUnit !== undefined) name.push({ OU: [nonEmpty('organizationalUnit', f.organizationalUnit)] });
  name.push({ CN: [nonEmpty('commonName', f.commonName)] });
  if (f.email !== undefined) name.push({ E: [checkEmail(f.email)] });
  return name;
}

/** Validates an email address enough to be a sane rfc822Name (ASCII, one @). */
export function checkEmail(email: string): string {
  if (!/^[\x21-\x7e]+@[\x21-\x7e]+$/.test(email) || email.split('@').length !== 2) {
    throw new TypeError(`invalid email address: ${email}`);
  }
  return email;
}

/** Validates an IPv4/IPv6 literal for a SAN iPAddress entry. */
export function checkIp(ip: string): string {
  if (isIP(ip) === 0) throw new TypeError(`invalid IP address: ${ip}`);
  return ip;
}

/** Validates a DNS name (or wildcard) for a SAN dNSName entry. */
export function checkDnsName(name: string): string {
  if (!/^(\*\.)?([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?$/.test(name) || name.length > 253) {
    throw new TypeError(`invalid DNS name: ${name}`);
  }
  return name;
}

/** Random positive 16-byte serial number as uppercase hex (first byte in 0x01..0x7f, so no leading zeros). */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) || 0x01;
  return bytes.toString('hex').toUpperCase();
}

/** Normalises a hex serial (colons/spaces allowed, any case) to uppercase without leading zeros. */
export function normalizeSerial(serial: string): string {
  const hex = serial.replace(/[:\s]/g, '');
  if (!/^[0-9A-Fa-f]+$/.test(hex)) throw new TypeError(`invalid serial number: ${serial}`);
  return hex.toUpperCase().replace(/^0+(?=.)/, '');
}
