/**
 * Just enough DER to find the parts of a certificate and a CRL that node's crypto does not hand over:
 * a CRL's signed bytes, signature algorithm and issuer name, and a certificate's subject name, compared as
 * bytes. Input is checked: a malformed structure throws a RangeError.
 */

export interface Tlv {
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly start: number;
  /** Offset of the first content byte. */
  readonly contentStart: number;
  /** Offset just past the content. */
  readonly end: number;
}

export function readTlv(der: Uint8Array, offset: number, limit = der.length): Tlv {
  if (offset + 2 > limit) throw new RangeError('DER: truncated');
  const tag = der[offset] as number;
  let length = der[offset + 1] as number;
  let contentStart = offset + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4 || contentStart + bytes > limit) throw new RangeError('DER: bad length');
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + (der[contentStart + i] as number);
    contentStart += bytes;
  }
  const end = contentStart + length;
  if (end > limit) throw new RangeError('DER: truncated');
  return { tag, start: offset, contentStart, end };
}

/** The elements of a constructed value (SEQUENCE, SET, context tag). */
export function childrenOf(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.contentStart; at < parent.end; ) {
    const child = readTlv(der, at, parent.end);
    out.push(child);
    at = child.end;
  }
  return out;
}

/** The DER bytes of a value, tag and length included. */
export function bytesOf(der: Uint8Array, tlv: Tlv): Buffer {
  return Buffer.from(der.buffer, der.byteOffset + tlv.start, tlv.end - tlv.start);
}

/** An OBJECT IDENTIFIER's dotted form. */
export function oidOf(der: Uint8Array, tlv: Tlv): string {
  if (tlv.tag !== 0x06) throw new RangeError('DER: not an OID');
  const parts: number[] = [];
  let value = 0;
  for (let i = tlv.contentStart; i < tlv.end; i++) {
    const byte = der[i] as number;
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      if (parts.length === 0) parts.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else parts.push(value);
      value = 0;
    }
  }
  return parts.join('.');
}

/** A certificate's subject Name, as DER bytes (for comparing with a CRL's issuer). */
export function certificateSubjectDer(certificate: Uint8Array): Buffer {
  const top = readTlv(certificate, 0);
  const tbs = childrenOf(certificate, top)[0];
  if (!tbs) throw new RangeError('DER: no tbsCertificate');
  const fields = childrenOf(certificate, tbs);
  const first = fields[0]?.tag === 0xa0 ? 1 : 0; // [0] version is optional
  const subject = fields[first + 4];
  if (!subject) throw new RangeError('DER: no subject');
  return bytesOf(certificate, subject);
}
