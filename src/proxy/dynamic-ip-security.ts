/**
 * IIS Dynamic IP Restrictions (`dynamicIpSecurity`): per client IP, requests in flight at once and
 * requests per interval. A request over either gets the deny action; trusted clients are never counted.
 * State is this process's: with several workers each enforces its share (the limit divided by the
 * workers, rounded up), as connections are spread over them. The counting is all behind admit/release,
 * so a fleet could keep it in a shared store without changing the config.
 */
import { BlockList } from 'node:net';
import type { DynamicIpSettings } from '../config/limits-schema.js';
import { parseCidr } from '../config/limits-schema.js';

export type IpDenial = { readonly subStatus: 501 | 502; readonly reason: string };

/** At most this many client addresses are remembered for the rate; the oldest window goes first. */
const MAX_CLIENTS = 100_000;

interface Window {
  startMs: number;
  count: number;
}

export class DynamicIpSecurity {
  readonly settings: DynamicIpSettings;
  readonly #maxConcurrent: number | undefined;
  readonly #maxRequests: number | undefined;
  readonly #trusted = new BlockList();
  readonly #hasTrusted: boolean;
  readonly #inFlight = new Map<string, number>();
  readonly #windows = new Map<string, Window>();
  readonly #sweeper: NodeJS.Timeout;

  /** `workers`: how many processes share the clients (each enforces its share of the limits). */
  constructor(settings: DynamicIpSettings, workers = 1) {
    this.settings = settings;
    const share = (limit: number | undefined) => (limit === undefined ? undefined : Math.max(1, Math.ceil(limit / workers)));
    this.#maxConcurrent = share(settings.maxConcurrentRequests);
    this.#maxRequests = share(settings.maxRequests);
    for (const entry of settings.trustedClients) {
      const cidr = parseCidr(entry);
      if (cidr) this.#trusted.addSubnet(cidr.address, cidr.prefix, cidr.family);
    }
    this.#hasTrusted = settings.trustedClients.length > 0;
    // Windows long past are forgotten, so the map holds the clients of the last moments only.
    this.#sweeper = setInterval(() => this.#sweep(), Math.max(settings.requestIntervalMs * 4, 10_000));
    this.#sweeper.unref();
  }

  /**
   * Counts a request from `address`: undefined when it may go on (call `release` when it ends), or the
   * denial. A trusted client is never counted (no release needed, but it is harmless).
   */
  admit(address: string, nowMs = performance.now()): IpDenial | undefined {
    if (this.#hasTrusted && this.#isTrusted(address)) return undefined;
    const maxRequests = this.#maxRequests;
    if (maxRequests !== undefined) {
      let window = this.#windows.get(address);
      if (!window || nowMs - window.startMs >= this.settings.requestIntervalMs) {
        if (!window && this.#windows.size >= MAX_CLIENTS) this.#windows.delete(this.#windows.keys().next().value as string);
        window = { startMs: nowMs, count: 0 };
        this.#windows.delete(address);
        this.#windows.set(address, window);
      }
      window.count++;
      if (window.count > maxRequests) return { subStatus: 502, reason: `client ${address} made more than ${maxRequests} requests within ${this.settings.requestIntervalMs} ms (dynamicIpSecurity.denyByRequestRate)` };
    }
    const maxConcurrent = this.#maxConcurrent;
    if (maxConcurrent !== undefined) {
      const current = this.#inFlight.get(address) ?? 0;
      if (current >= maxConcurrent) return { subStatus: 501, reason: `client ${address} has ${current} requests in flight, the most allowed (dynamicIpSecurity.denyByConcurrentRequests)` };
      this.#inFlight.set(address, current + 1);
    }
    return undefined;
  }

  /** A request admitted for `address` ended. */
  release(address: string): void {
    if (this.#maxConcurrent === undefined) return;
    const current = this.#inFlight.get(address);
    if (current === undefined) return;
    if (current <= 1) this.#inFlight.delete(address);
    else this.#inFlight.set(address, current - 1);
  }

  /** Whether admitted requests must be released (the concurrent-request check is on). */
  get countsInFlight(): boolean {
    return this.#maxConcurrent !== undefined;
  }

  close(): void {
    clearInterval(this.#sweeper);
  }

  #isTrusted(address: string): boolean {
    const mapped = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
    return this.#trusted.check(mapped, mapped.includes(':') ? 'ipv6' : 'ipv4');
  }

  #sweep(): void {
    const now = performance.now();
    for (const [address, window] of this.#windows) {
      if (now - window.startMs >= this.settings.requestIntervalMs) this.#windows.delete(address);
    }
  }
}
