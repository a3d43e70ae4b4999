/**
 * A minimal, strict DER reader: just enough ASN.1 to read the parts of an X.509 certificate that
 * node:crypto does not expose (key usage bits, RDN types, SAN entries, validity as instants).
 * Every read is bounds-checked; a malformed encoding throws {@link DerError}.
 */

/** Thrown for any encoding that is not valid DER. */
export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

/** One tag-length-value element. */
export interface Tlv {
  /** 0 universal, 1 application, 2 context-specific, 3 private. */
  readonly tagClass: number;
  readonly constructed: boolean;
  /** Tag number within its class. */
  readonly tagNumber: number;
  /** The whole element, header included. */
  readonly bytes: Buffer;
  /** The contents only. */
  readonly value: Buffer;
}

/** Universal tag numbers used here. */
export const TAG = {
  BOOLEAN: 1,
  INTEGER: 2,
  BIT_STRING: 3,
  OCTET_STRING: 4,
  NULL: 5,
  OID: 6,
  UTF8_STRING: 12,
  SEQUENCE: 16,
  SET: 17,
  NUMERIC_STRING: 18,
  PRINTABLE_STRING: 19,
  TELETEX_STRING: 20,
  IA5_STRING: 22,
  UTC_TIME: 23,
  GENERALIZED_TIME: 24,
  VISIBLE_STRING: 26,
  UNIVERSAL_STRING: 28,
  BMP_STRING: 30,
} as const;

/** Reads the element starting at `offset`; returns it and the offset just after it. */
export function readTlv(buf: Buffer, offset: number): { tlv: Tlv; next: number } {
  let pos = offset;
  const first = byteAt(buf, pos++);
  const tagClass = first >> 6;
  const constructed = (first & 0x20) !== 0;
  let tagNumber = first & 0x1f;
  if (tagNumber === 0x1f) {
    tagNumber = 0;
    for (let i = 0; ; i++) {
      if (i > 3) throw new DerError('tag number too large');
      const b = byteAt(buf, pos++);
      if (i === 0 && b === 0x80) throw new DerError('non-minimal tag number');
      tagNumber = tagNumber * 128 + (b & 0x7f);
      if ((b & 0x80) === 0) break;
    }
    if (tagNumber < 0x1f) throw new DerError('non-minimal tag number');
  }
  const lenByte = byteAt(buf, pos++);
  let length: number;
  if (lenByte < 0x80) {
    length = lenByte;
  } else {
    const count = lenByte & 0x7f;
    if (count === 0) throw new DerError('indefinite length is not DER');
    if (count > 4) throw new DerError('length too large');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + byteAt(buf, pos++);
    if (length < 0x80 || (count > 1 && length < 256 ** (count - 1))) throw new DerError('non-minimal length');
  }
  const end = pos + length;
  if (end > buf.length) throw new DerError(`element at offset ${offset} runs past the end of the data (truncated?)`);
  return { tlv: { tagClass, constructed, tagNumber, bytes: buf.subarray(offset, end), value: buf.subarray(pos, end) }, next: end };
}

/** Reads a buffer that must hold exactly one element (no trailing bytes). */
export function readSingle(buf: Buffer): Tlv {
  const { tlv, next } = readTlv(buf, 0);
  if (next !== buf.length) throw new DerError(`${buf.length - next} unexpected byte(s) after the encoded value`);
  return tlv;
}

/** The child elements of a constructed element. */
export function children(tlv: Tlv): Tlv[] {
  if (!tlv.constructed) throw new DerError('expected a constructed element');
  const out: Tlv[] = [];
  let pos = 0;
  while (pos < tlv.value.length) {
    const { tlv: child, next } = readTlv(tlv.value, pos);
    out.push(child);
    pos = next;
  }
  return out;
}

/** Asserts a universal tag and returns the element. */
export function expectUniversal(tlv: Tlv | undefined, tagNumber: number, what: string): Tlv {
  if (!tlv || tlv.tagClass !== 0 || tlv.tagNumber !== tagNumber) throw new DerError(`expected ${what}`);
  return tlv;
}

/** Whether the element is context-specific `[n]`. */
export function isContext(tlv: Tlv | undefined, tagNumber: number): tlv is Tlv {
  return tlv !== undefined && tlv.tagClass === 2 && tlv.tagNumber === tagNumber;
}

/** Dotted form of an OBJECT IDENTIFIER's contents. */
export function decodeOid(value: Buffer): string {
  if (value.length === 0) throw new DerError('empty OBJECT IDENTIFIER');
  const arcs: number[] = [];
  let current = 0;
  let started = false;
  for (const b of value) {
    if (!started && b === 0x80) throw new DerError('non-minimal OBJECT IDENTIFIER arc');
    started = true;
    current = current * 128 + (b & 0x7f);
    if (current > Number.MAX_SAFE_INTEGER / 128) throw new DerError('OBJECT IDENTIFIER arc too large');
    if ((b & 0x80) === 0) {
      arcs.push(current);
      current = 0;
      started = false;
    }
  }
  if (started) throw new DerError('truncated OBJECT IDENTIFIER');
  const head = arcs[0] as number;
  const firstArc = head < 40 ? 0 : head < 80 ? 1 : 2;
  return [firstArc, head - firstArc * 40, ...arcs.slice(1)].join('.');
}

/** Milliseconds since the epoch of a UTCTime or GeneralizedTime (the forms RFC 5280 allows). */
export function decodeTime(tlv: Tlv): number {
  const text = tlv.value.toString('latin1');
  let m: RegExpExecArray | null;
  let year: number;
  if (tlv.tagClass === 0 && tlv.tagNumber === TAG.UTC_TIME && (m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(text))) {
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (tlv.tagClass === 0 && tlv.tagNumber === TAG.GENERALIZED_TIME && (m = /^(\d\d\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(text))) {
    year = Number(m[1]);
  } else {
    throw new DerError(`unsupported time value '${text}'`);
  }
  const ms = Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  if (!Number.isFinite(ms)) throw new DerError(`invalid time value '${text}'`);
  return ms;
}

function byteAt(buf: Buffer, pos: number): number {
  const b = buf[pos];
  if (b === undefined) throw new DerError('unexpected end of data (truncated?)');
  return b;
}
