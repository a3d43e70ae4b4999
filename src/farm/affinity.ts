/**
 * Client affinity: which server a returning client goes back to.
 * - cookie (ARR): the cookie's value is the SHA-256 hex of the server's address (YARP's ARR cookie does
 *   the same), so every Gatehouse worker and instance with the same farm reads it alike.
 * - clientCertificate / serverVariable (beyond ARR): the key (certificate SHA-256 thumbprint, or the
 *   variable's value) picks a server by consistent hashing over the selectable servers, the same on every
 *   worker and instance; the choice is then remembered, so a draining server keeps the clients it has.
 * A pinned server keeps its clients while canKeepAffinity (healthy, available or draining); otherwise the
 * client is load-balanced again and re-pinned.
 */
import { createHash } from 'node:crypto';
import type { AffinityPolicy } from '../config/farm-model.js';
import { Rendezvous } from './algorithms/rendezvous.js';
import { serverVariableReader } from './algorithms/server-variable-hash.js';
import type { FarmServer } from './farm-server.js';
import type { RequestInfo } from './request-info.js';

/** Keys remembered per farm (certificate or variable affinity); oldest forgotten first. */
const MAX_REMEMBERED = 100_000;

export interface AffinityDecision {
  readonly server: FarmServer | undefined;
  /** The client had no (usable) affinity: a cookie should be set for the server that answers. */
  readonly isNew: boolean;
}

/** What affinity asks of its farm (FarmState, which builds it). */
export interface AffinityFarm {
  readonly servers: readonly FarmServer[];
  /** The algorithm's choice for a new request. */
  pick(request: RequestInfo): FarmServer | undefined;
  /** Whether a client pinned to `server` may keep going to it. */
  canKeepAffinity(server: FarmServer): boolean;
}

export class FarmAffinity {
  readonly policy: AffinityPolicy;
  readonly #farm: AffinityFarm;
  readonly #byCookieValue = new Map<string, FarmServer>();
  readonly #cookieValues = new Map<FarmServer, string>();
  readonly #remembered = new Map<string, FarmServer>();
  readonly #rendezvous: Rendezvous;
  readonly #readKey: ((request: RequestInfo) => string | undefined) | undefined;

  constructor(farm: AffinityFarm, policy: AffinityPolicy) {
    this.#farm = farm;
    this.policy = policy;
    for (const server of farm.servers) {
      const value = createHash('sha256').update(server.address).digest('hex');
      this.#byCookieValue.set(value, server);
      this.#cookieValues.set(server, value);
    }
    this.#rendezvous = new Rendezvous(farm.servers);
    this.#readKey = policy.by === 'serverVariable' && policy.hashServerVariable ? serverVariableReader(policy.hashServerVariable) : undefined;
  }

  get usesCookie(): boolean {
    return this.policy.by === 'cookie';
  }

  /** The server for this request: its pinned one when it may keep it, else a new choice. */
  decide(request: RequestInfo, certificateThumbprint256: string | undefined): AffinityDecision {
    const farm = this.#farm;
    if (this.policy.by === 'cookie') {
      const pinned = this.#byCookieValue.get(cookieValue(request.header('cookie'), this.policy.cookieName) ?? '');
      if (pinned && farm.canKeepAffinity(pinned)) return { server: pinned, isNew: false };
      return { server: farm.pick(request), isNew: true };
    }
    const key = this.policy.by === 'clientCertificate' ? certificateThumbprint256 : this.#readKey?.(request);
    if (!key) return { server: farm.pick(request), isNew: false };
    const known = this.#remembered.get(key);
    if (known && farm.canKeepAffinity(known)) return { server: known, isNew: false };
    const chosen = this.#rendezvous.pick(key, undefined) ?? farm.pick(request);
    if (chosen) this.#remember(key, chosen);
    return { server: chosen, isNew: true };
  }

  /**
   * A reload replaced the farm: the keys `previous` remembered keep their server when this farm kept it
   * (servers are the same objects; cookie values are the servers' addresses, so cookies need nothing).
   * Keys of another kind (a changed `by` or server variable) are not carried.
   */
  inherit(previous: FarmAffinity | undefined): void {
    if (!previous || previous.policy.by !== this.policy.by || previous.policy.hashServerVariable !== this.policy.hashServerVariable) return;
    const servers = new Set(this.#farm.servers);
    const own = [...this.#remembered];
    this.#remembered.clear();
    for (const [key, server] of previous.#remembered) if (servers.has(server)) this.#remembered.set(key, server);
    for (const [key, server] of own) this.#remember(key, server);
  }

  /**
   * Clients remembered per server (certificate or server-variable affinity; read by the admin API, never
   * on the request path). Undefined for cookie affinity: a cookie is kept by the client, not here.
   */
  clientCounts(): Map<FarmServer, number> | undefined {
    if (this.policy.by === 'cookie') return undefined;
    const counts = new Map<FarmServer, number>();
    for (const server of this.#remembered.values()) counts.set(server, (counts.get(server) ?? 0) + 1);
    return counts;
  }

  /** Re-pins a key after a retry moved the request to another server. */
  repin(request: RequestInfo, certificateThumbprint256: string | undefined, server: FarmServer): void {
    if (this.policy.by === 'cookie') return;
    const key = this.policy.by === 'clientCertificate' ? certificateThumbprint256 : this.#readKey?.(request);
    if (key) this.#remember(key, server);
  }

  /** The Set-Cookie value that pins a client to `server`. */
  setCookieFor(server: FarmServer, isHttps: boolean): string {
    const sameSite = this.policy.sameSite;
    const secure = isHttps ? '; Secure' : '';
    const site = sameSite && (sameSite !== 'None' || isHttps) ? `; SameSite=${sameSite}` : '';
    return `${this.policy.cookieName}=${this.#cookieValues.get(server) ?? ''}; Path=/; HttpOnly${secure}${site}`;
  }

  #remember(key: string, server: FarmServer): void {
    const remembered = this.#remembered;
    remembered.delete(key);
    if (remembered.size >= MAX_REMEMBERED) {
      const oldest = remembered.keys().next().value;
      if (oldest !== undefined) remembered.delete(oldest);
    }
    remembered.set(key, server);
  }
}

/** The value of cookie `name` in a Cookie header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end < 0) end = header.length;
    const eq = header.indexOf('=', start);
    if (eq > start && eq < end && header.slice(start, eq).trim() === name) return header.slice(eq + 1, end).trim();
    start = end + 1;
  }
  return undefined;
}
