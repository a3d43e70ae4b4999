/**
 * Which peers may send a forwarded-certificate header: IPv4/IPv6 addresses and CIDR ranges. IPv4
 * addresses match their IPv4-mapped IPv6 form (`::ffff:127.0.0.1`, what a dual-stack server sees)
 * and the other way round.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** Named ranges accepted in an allowlist, as Express's `trust proxy` names them. */
const PRESETS: Readonly<Record<string, readonly string[]>> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/** A compiled allowlist: `(address) => boolean`. */
export type ProxyAllowlist = (address: string | undefined) => boolean;

interface Range {
  bytes: Buffer;
  prefix: number;
}

/**
 * Compiles `entries` — addresses (`10.0.0.5`, `::1`), CIDR ranges (`10.0.0.0/8`, `fd00::/8`) and the
 * names `loopback`, `linklocal`, `uniquelocal` — into a matcher of peer addresses (`req.socket.remoteAddress`).
 * Throws a TypeError for an entry that is none of these. An empty list trusts no one.
 */
export function createProxyAllowlist(entries: readonly string[]): ProxyAllowlist {
  const ranges: Range[] = [];
  for (const raw of entries) {
    const entry = raw.trim();
    const preset = PRESETS[entry.toLowerCase()];
    if (preset) {
      for (const cidr of preset) ranges.push(parseRange(cidr, raw));
      continue;
    }
    ranges.push(parseRange(entry, raw));
  }
  return (address) => {
    if (address === undefined) return false;
    const bytes = addressBytes(address);
    if (!bytes) return false;
    return ranges.some((range) => matches(bytes, range));
  };
}

function parseRange(entry: string, original: string): Range {
  const slash = entry.indexOf('/');
  const host = slash < 0 ? entry : entry.slice(0, slash);
  const bytes = addressBytes(host);
  if (!bytes || host.includes('%')) throw new TypeError(`trustedProxies: '${original}' is not an IP address, a CIDR range or one of ${Object.keys(PRESETS).join(', ')}`);
  const v4 = isIPv4(host);
  let prefix = 128;
  if (slash >= 0) {
    const text = entry.slice(slash + 1);
    const n = Number(text);
    if (!/^\d{1,3}$/.test(text) || n > (v4 ? 32 : 128)) throw new TypeError(`trustedProxies: '${original}' has an invalid prefix length`);
    prefix = v4 ? 96 + n : n;
  }
  return { bytes, prefix };
}

/** 16 bytes for an IPv4 (as ::ffff:a.b.c.d) or IPv6 address; undefined for anything else. Zone ids are dropped. */
function addressBytes(address: string): Buffer | undefined {
  const a = address.trim();
  if (isIPv4(a)) return Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...a.split('.').map(Number)]);
  const noZone = a.replace(/%.*$/, '');
  if (!isIPv6(noZone)) return undefined;
  let text = noZone;
  let tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const octets = (v4[1] as string).split('.').map(Number);
    tail = [((octets[0] as number) << 8) | (octets[1] as number), ((octets[2] as number) << 8) | (octets[3] as number)];
    text = text.slice(0, -(v4[1] as string).length) + '0:0';
  }
  const [headText, tailText] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
  const head = headText === '' ? [] : headText.split(':').map((g) => parseInt(g, 16));
  const rest = tailText === undefined || tailText === '' ? [] : tailText.split(':').map((g) => parseInt(g, 16));
  const groups = tailText === undefined ? head : [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
  if (groups.length !== 8) return undefined;
  if (tail.length) groups.splice(6, 2, ...tail);
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

function matches(bytes: Buffer, range: Range): boolean {
  let bits = range.prefix;
  for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((bytes[i] as number) & mask) !== ((range.bytes[i] as number) & mask)) return false;
  }
  return true;
}
