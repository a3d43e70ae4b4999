/**
 * PEM armour for certificates: writing it the way OpenSSL does and reading it strictly.
 */

const BEGIN = '-----BEGIN CERTIFICATE-----';
const END = '-----END CERTIFICATE-----';

/** Strict standard base64 (RFC 4648 §4), padding required. */
export const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** `-----BEGIN CERTIFICATE-----`, base64 in 64-character lines, `-----END CERTIFICATE-----`, trailing newline. */
export function derToPem(der: Uint8Array): string {
  const body = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64').replace(/.{1,64}/g, '$&\n');
  return `${BEGIN}\n${body}${END}\n`;
}

/**
 * The base64 bodies of every CERTIFICATE block in `text`, whitespace removed, in order.
 * Returns `undefined` when the text holds no armour at all; throws a plain Error when the armour is
 * broken (BEGIN without END, text between blocks, another block type).
 */
export function pemBodies(text: string): string[] | undefined {
  if (!text.includes('-----BEGIN') && !text.includes('-----END')) return undefined;
  const bodies: string[] = [];
  let rest = text;
  for (;;) {
    rest = rest.replace(/^\s+/, '');
    if (rest === '') break;
    if (!rest.startsWith(BEGIN)) throw new Error(`expected '${BEGIN}'${bodies.length ? ' or the end of the value' : ''}`);
    const end = rest.indexOf(END, BEGIN.length);
    if (end < 0) throw new Error(`'${BEGIN}' without '${END}'`);
    const body = rest.slice(BEGIN.length, end).replace(/\s+/g, '');
    if (body.includes('-') || body.includes(':')) throw new Error('PEM headers or nested armour are not allowed');
    bodies.push(body);
    rest = rest.slice(end + END.length);
  }
  return bodies;
}
