/**
 * Distinguished names: decoding them from DER, printing them as RFC 4514 strings, parsing RFC 4514
 * strings (for configured subject/issuer rules) and comparing them.
 */
import { children, decodeOid, DerError, expectUniversal, TAG, type Tlv } from './der.js';

/** One `type=value` pair of a distinguished name. */
export interface AttributeTypeAndValue {
  /** Dotted object identifier, e.g. `2.5.4.3`. */
  readonly oid: string;
  /** Short name (`CN`, `O`, `emailAddress`…) or, for unknown types, the dotted OID. */
  readonly type: string;
  /** The decoded string; for a value that is not a string type, `#` and the hex of its DER (RFC 4514 §2.4). */
  readonly value: string;
}

/** A distinguished name with convenient accessors. */
export interface DistinguishedName {
  /** The RDNs in encoded order (most general first: C, O, …, CN); each RDN holds one or more attributes. */
  readonly rdns: readonly (readonly AttributeTypeAndValue[])[];
  /** RFC 4514 form, most specific first, e.g. `CN=alice,O=Example Corp,C=US`. */
  readonly rfc4514: string;
  /** The most specific value of an attribute (`CN`, `cn`, `commonName` or `2.5.4.3`), or undefined. */
  get(type: string): string | undefined;
  /** Every value of an attribute, most specific first. */
  getAll(type: string): string[];
}

const SHORT_NAMES: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.4': 'SN',
  '2.5.4.5': 'SERIALNUMBER',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'STREET',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.12': 'title',
  '2.5.4.42': 'GN',
  '2.5.4.43': 'initials',
  '2.5.4.44': 'generationQualifier',
  '2.5.4.46': 'dnQualifier',
  '2.5.4.65': 'pseudonym',
  '2.5.4.97': 'organizationIdentifier',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

/** Lower-cased names and aliases (OpenSSL long names, Windows' `S` and `E`) → OID. */
const TYPE_TO_OID: ReadonlyMap<string, string> = new Map<string, string>([
  ...Object.entries(SHORT_NAMES).map(([oid, name]): [string, string] => [name.toLowerCase(), oid]),
  ['commonname', '2.5.4.3'],
  ['surname', '2.5.4.4'],
  ['serialnumber', '2.5.4.5'],
  ['countryname', '2.5.4.6'],
  ['localityname', '2.5.4.7'],
  ['s', '2.5.4.8'],
  ['stateorprovincename', '2.5.4.8'],
  ['streetaddress', '2.5.4.9'],
  ['organizationname', '2.5.4.10'],
  ['organizationalunitname', '2.5.4.11'],
  ['givenname', '2.5.4.42'],
  ['domaincomponent', '0.9.2342.19200300.100.1.25'],
  ['userid', '0.9.2342.19200300.100.1.1'],
  ['e', '1.2.840.113549.1.9.1'],
  ['email', '1.2.840.113549.1.9.1'],
]);

/** The OID for an attribute type name or dotted OID; undefined for an unknown name. */
export function attributeOid(type: string): string | undefined {
  const t = type.trim();
  if (/^\d+(?:\.\d+)+$/.test(t)) return t;
  if (/^oid\.\d+(?:\.\d+)+$/i.test(t)) return t.slice(4);
  return TYPE_TO_OID.get(t.toLowerCase());
}

/** Decodes a DER `Name` (SEQUENCE OF SET OF AttributeTypeAndValue). */
export function decodeName(tlv: Tlv): DistinguishedName {
  expectUniversal(tlv, TAG.SEQUENCE, 'a Name (SEQUENCE)');
  const rdns = children(tlv).map((set) => {
    expectUniversal(set, TAG.SET, 'a RelativeDistinguishedName (SET)');
    const avas = children(set).map((seq) => {
      expectUniversal(seq, TAG.SEQUENCE, 'an AttributeTypeAndValue (SEQUENCE)');
      const [typeTlv, valueTlv, extra] = children(seq);
      if (extra || !valueTlv) throw new DerError('AttributeTypeAndValue must have exactly two elements');
      const oid = decodeOid(expectUniversal(typeTlv, TAG.OID, 'an attribute type (OBJECT IDENTIFIER)').value);
      return { oid, type: SHORT_NAMES[oid] ?? oid, value: decodeAttributeValue(valueTlv) };
    });
    if (avas.length === 0) throw new DerError('empty RelativeDistinguishedName');
    return avas;
  });
  return makeName(rdns);
}

/** Builds the accessor object around RDNs given in encoded order. */
export function makeName(rdns: readonly (readonly AttributeTypeAndValue[])[]): DistinguishedName {
  const specificFirst = [...rdns].reverse();
  const rfc4514 = specificFirst.map((rdn) => rdn.map((ava) => `${ava.type}=${escapeDnValue(ava.value)}`).join('+')).join(',');
  const getAll = (type: string): string[] => {
    const oid = attributeOid(type);
    if (oid === undefined) return [];
    return specificFirst.flatMap((rdn) => rdn.filter((ava) => ava.oid === oid).map((ava) => ava.value));
  };
  return { rdns, rfc4514, getAll, get: (type) => getAll(type)[0], toString: () => rfc4514 } as DistinguishedName;
}

/**
 * RFC 4514 §2.4 escaping: `"+,;<>\` and a leading `#` or space, a trailing space, and control
 * characters (as `\XX`). A `#`-hex value (non-string attribute) is left as it is.
 */
export function escapeDnValue(value: string): string {
  if (/^#(?:[0-9a-f]{2})+$/.test(value)) return value;
  let out = value.replace(/[\\"+,;<>]/g, '\\$&').replace(/[\x00-\x1f\x7f]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  if (out.startsWith(' ') || out.startsWith('#')) out = `\\${out}`;
  if (value.length > 1 && value.endsWith(' ')) out = `${out.slice(0, -1)}\\ `;
  return out;
}

/**
 * Parses an RFC 4514 string (`CN=alice,O=Example\, Inc.,C=US`; spaces around `,` `+` `=` are
 * tolerated, type names are case-insensitive, `S`/`E` aliases accepted). Returns the RDNs most
 * specific first. Throws a TypeError for a string that is not a DN.
 */
export function parseRfc4514(text: string): AttributeTypeAndValue[][] {
  const rdns: AttributeTypeAndValue[][] = [];
  let rdn: AttributeTypeAndValue[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new TypeError(`'${text}' is not an RFC 4514 distinguished name: ${why}`);
  };
  if (text.trim() === '') return [];
  while (i <= text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) fail(`missing '=' after position ${i}`);
    const type = text.slice(i, eq).trim();
    const oid = attributeOid(type) ?? fail(`unknown attribute type '${type}'`);
    i = eq + 1;
    while (text[i] === ' ') i++;
    const bytes: number[] = [];
    let lastSignificant = 0;
    for (; i < text.length; i++) {
      const c = text[i] as string;
      if (c === ',' || c === '+' || c === ';') break;
      if (c === '\\') {
        const next = text.slice(i + 1, i + 3);
        if (/^[0-9a-fA-F]{2}$/.test(next)) {
          bytes.push(parseInt(next, 16));
          i += 2;
        } else if (text[i + 1] !== undefined) {
          bytes.push(...Buffer.from(text[i + 1] as string, 'utf8'));
          i += 1;
        } else {
          fail('dangling backslash');
        }
        lastSignificant = bytes.length;
        continue;
      }
      bytes.push(...Buffer.from(c, 'utf8'));
      if (c !== ' ') lastSignificant = bytes.length;
    }
    const value = Buffer.from(bytes.slice(0, lastSignificant)).toString('utf8');
    rdn.push({ oid, type: SHORT_NAMES[oid] ?? oid, value });
    const sep = text[i];
    i++;
    if (sep !== '+') {
      rdns.push(rdn);
      rdn = [];
    }
    if (sep === undefined) break;
  }
  return rdns;
}

/**
 * Whether `name` equals the RFC 4514 string `expected`: same RDNs in the same order, attribute types
 * compared by OID, values compared exactly (a `#`-hex value case-insensitively).
 */
export function dnEquals(name: DistinguishedName, expected: string): boolean {
  const want = parseRfc4514(expected);
  const have = [...name.rdns].reverse();
  if (want.length !== have.length) return false;
  const key = (rdn: readonly AttributeTypeAndValue[]): string =>
    rdn
      .map((ava) => `${ava.oid}=${ava.value.startsWith('#') ? ava.value.toLowerCase() : ava.value}`)
      .sort()
      .join('\u0000');
  return want.every((rdn, index) => key(rdn) === key(have[index] as readonly AttributeTypeAndValue[]));
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeAttributeValue(tlv: Tlv): string {
  if (tlv.tagClass === 0 && !tlv.constructed) {
    try {
      switch (tlv.tagNumber) {
        case TAG.UTF8_STRING:
          return utf8.decode(tlv.value);
        case TAG.PRINTABLE_STRING:
        case TAG.IA5_STRING:
        case TAG.NUMERIC_STRING:
        case TAG.VISIBLE_STRING:
          if (/[^\x00-\x7f]/.test(tlv.value.toString('latin1'))) break;
          return tlv.value.toString('latin1');
        case TAG.TELETEX_STRING:
          return tlv.value.toString('latin1');
        case TAG.BMP_STRING: {
          if (tlv.value.length % 2) break;
          const swapped = Buffer.from(tlv.value);
          swapped.swap16();
          return swapped.toString('utf16le');
        }
        case TAG.UNIVERSAL_STRING: {
          if (tlv.value.length % 4) break;
          const points: number[] = [];
          for (let p = 0; p < tlv.value.length; p += 4) points.push(tlv.value.readUInt32BE(p));
          return String.fromCodePoint(...points);
        }
      }
    } catch {
      // fall through to the hex form
    }
  }
  return `#${tlv.bytes.toString('hex')}`;
}
