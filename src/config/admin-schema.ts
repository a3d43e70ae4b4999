/**
 * The `admin` key: Gatehouse's admin listener (Prometheus metrics at `GET /metrics`). Closed by default:
 * without the key nothing listens. With it, the listener binds 127.0.0.1 unless another address is
 * written, and an address reachable from other machines is reported as a warning at load time.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import type { Problem } from './problem.js';

export const DEFAULT_ADMIN_ADDRESS = '127.0.0.1';

/** `[::1]` → `::1`. */
function unbracket(address: string): string {
  return address.replace(/^\[(.*)\]$/, '$1');
}

export const adminSchema = z
  .strictObject({
    address: z
      .string()
      .min(1)
      .refine((value) => isIP(unbracket(value)) !== 0, 'an IP address such as 127.0.0.1 or ::1')
      .default(DEFAULT_ADMIN_ADDRESS)
      .describe('IP address of the admin listener. Default `127.0.0.1`: reachable from this machine only. Another address (`0.0.0.0`, `::`, a LAN address) must be written here, and serves the metrics without authentication to every host that reaches it.'),
    port: z.number().int().min(0).max(65535).describe('TCP port of the admin listener, 1-65535; 0 picks a free port (printed at start).'),
  })
  .describe('The admin listener: Prometheus metrics at `GET /metrics` (per farm and server the ARR Monitoring counters, response times, health and state; TLS handshakes; 403.x and 502.x answers by reason; client certificates about to expire). Without this key nothing listens.');

export type DeclaredAdmin = z.output<typeof adminSchema>;

/** The normalized admin settings (Config.admin); undefined when the admin listener is off. */
export interface AdminSettings {
  /** Without brackets: `127.0.0.1`, `::1`. */
  readonly address: string;
  readonly port: number;
}

export function normalizeAdmin(declared: DeclaredAdmin | undefined): AdminSettings | undefined {
  if (!declared) return undefined;
  return { address: unbracket(declared.address), port: declared.port };
}

/** 127.0.0.0/8, ::1 and ::ffff:127.x.y.z: addresses only this machine reaches. */
export function isLoopbackAddress(address: string): boolean {
  const bare = unbracket(address).toLowerCase();
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (bare === '::1' || bare === '0:0:0:0:0:0:0:1') return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
  return mapped !== null && (mapped[1] as string).startsWith('127.');
}

/**
 * The admin key's checks against the rest of the config: a problem when the admin port is a binding's port
 * on an overlapping address (it could not be bound), a warning when the address is not loopback.
 */
export function checkAdmin(declared: DeclaredAdmin | undefined, bindings: readonly { readonly address: string; readonly port: number }[], problems: Problem[], warnings: Problem[]): void {
  if (!declared) return;
  const address = unbracket(declared.address);
  if (!isLoopbackAddress(address)) {
    warnings.push({ path: ['admin', 'address'], message: `the admin listener on ${address} serves /metrics without authentication to every host that reaches it`, expected: `${DEFAULT_ADMIN_ADDRESS} (the default) unless a scraper on another machine needs it` });
  }
  if (declared.port === 0) return;
  const wildcard = (a: string) => a === '0.0.0.0' || a === '::';
  const clash = bindings.find((b) => {
    const other = unbracket(b.address);
    return b.port === declared.port && (other === address || wildcard(other) || wildcard(address));
  });
  if (clash) {
    problems.push({ path: ['admin', 'port'], message: `port ${declared.port} is also a site binding's port (${unbracket(clash.address)}:${clash.port})`, expected: 'a port of its own for the admin listener' });
  }
}
