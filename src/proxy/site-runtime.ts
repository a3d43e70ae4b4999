/**
 * Sites and bindings at run time: the config objects plus what the request path needs precomputed
 * (each farm's state and the headers to strip for it, the X-ARR-SSL server fields).
 */
import { createHash, X509Certificate, type Hash } from 'node:crypto';
import type { Binding, Farm, Rule, Site } from '../config/model.js';
import type { FarmState } from '../farm/farm-state.js';
import { windowsDn } from '../tls/distinguished-name.js';
import { forwardedCertificateHeaders } from './forwarded-certificate.js';
import { strippedRequestHeaders } from './request-headers.js';
import { ChainCache } from '../tls/chain-cache.js';
import type { ClientCertificate, DoorRevocation } from '../tls/client-certificate.js';
import type { OcspStaple } from '../tls/online/ocsp-stapling.js';
import type { Verdict } from '../tls/verdict.js';
import type { SiteTracer } from '../tracing/site-tracer.js';

const NO_HEADERS: readonly string[] = Object.freeze([]);

/** A site's limits on a request body as it streams. */
export interface BodyLimits {
  readonly maxBodyBytes: number;
  readonly bodyTimeoutMs: number;
}

/** What a route reads of a TLS connection (tls-connection.ts's TlsConnection, which knows its binding). */
export interface ConnectionCertificate {
  readonly certificate: ClientCertificate | undefined;
  readonly verdict: Verdict;
  /** The certificate headers for the site's primary farm, made once per connection. */
  readonly certificateHeaders: readonly string[];
}

/** A farm as a destination of one site: its state, and the request headers never forwarded to it. */
export class FarmRoute {
  readonly farm: FarmState;
  /** Lower-case request header names never forwarded from a client (they depend on the farm's protocol settings). */
  readonly strippedHeaders: ReadonlySet<string>;
  /** Whether its certificate headers are those the TLS connection makes for the site's primary farm. */
  readonly #sharesCertificateHeaders: boolean;
  /** Certificate headers per connection, when they differ from the primary farm's. */
  readonly #certificateHeaders = new WeakMap<ConnectionCertificate, readonly string[]>();

  constructor(farm: FarmState, primary: FarmState) {
    this.farm = farm;
    const protocol = farm.config.protocol;
    this.strippedHeaders = strippedRequestHeaders(protocol);
    const main = primary.config.protocol;
    this.#sharesCertificateHeaders = farm === primary || (protocol.clientCertHeaderName === main.clientCertHeaderName && protocol.clientCertFormat === main.clientCertFormat);
  }

  /** The certificate headers this farm gets for a connection (made once per connection). */
  certificateHeadersFor(tls: ConnectionCertificate): readonly string[] {
    if (this.#sharesCertificateHeaders) return tls.certificateHeaders;
    const certificate = tls.certificate;
    if (!certificate || tls.verdict.subStatus !== 0) return NO_HEADERS;
    let headers = this.#certificateHeaders.get(tls);
    if (!headers) this.#certificateHeaders.set(tls, (headers = forwardedCertificateHeaders(certificate, this.farm.config.protocol)));
    return headers;
  }
}

export class SiteRuntime {
  readonly name: string;
  readonly config: Site;
  /** The state of the site's primary farm (config.farm), as app.ts passes it. */
  readonly farm: FarmState;
  /** Lower-case request header names never forwarded to the primary farm (each route has its own: FarmRoute). */
  readonly strippedHeaders: ReadonlySet<string>;
  /** Whether the site has rules: all a site without them pays on the request path. */
  readonly hasRules: boolean;
  readonly rules: readonly Rule[];
  /** Failed request tracing for this site; undefined when the site has no tracing rules. */
  tracer: SiteTracer | undefined;
  /** Client chains seen on full handshakes, for resumed sessions that lack them (app.ts hands a site's on across reloads). */
  chains = new ChainCache();
  /**
   * Whether anything reads the chain a client sends (a forwarded format that carries it, a trace); a CRL
   * makes the door read it too. Otherwise a connection reads only the leaf (tls/client-certificate.ts).
   */
  readonly needsClientChain: boolean;
  /** maxAllowedContentLength and requestBodyTimeout, for a body as it streams (forward.ts). */
  readonly bodyLimits: BodyLimits;
  /** Revocation beyond the CRL files (online checks), the metrics and log it reports to; set by app.ts. */
  revocation: DoorRevocation | undefined;
  /** Farm name → route, for the farms the site's rules and default route use. */
  readonly #routes = new Map<string, FarmRoute>();
  #defaultRoute: FarmRoute | undefined;

  /**
   * `farm` is the state of config.farm. The other farms the rules route to need `farms` (here or through
   * bindFarms); until then a request routed to one of them gets 502.4.
   */
  constructor(config: Site, farm: FarmState, farms?: ReadonlyMap<string, FarmState>) {
    this.name = config.name;
    this.config = config;
    this.bodyLimits = { maxBodyBytes: config.limits.maxAllowedContentLength, bodyTimeoutMs: config.limits.requestBodyTimeoutMs };
    this.farm = farm;
    this.rules = config.rules;
    this.hasRules = config.rules.length > 0;
    const destinations = [config.defaultFarm, ...config.rules.map((rule) => (rule.action.type === 'route' ? rule.action.farm : undefined))];
    this.needsClientChain =
      config.tracing !== undefined || destinations.some((f) => f !== undefined && f.protocol.clientCertHeaderName !== '' && (f.protocol.clientCertFormat === 'rfc9440' || f.protocol.clientCertFormat === 'xfcc'));
    const primary = new FarmRoute(farm, farm);
    this.#routes.set(farm.name, primary);
    this.strippedHeaders = primary.strippedHeaders;
    this.#defaultRoute = config.defaultFarm?.name === farm.name ? primary : undefined;
    if (farms) this.bindFarms(farms);
  }

  /** Resolves the farms of the site's rules (and its default farm) to their states. Idempotent. */
  bindFarms(farms: ReadonlyMap<string, FarmState>): void {
    const names = new Set<string>();
    if (this.config.defaultFarm) names.add(this.config.defaultFarm.name);
    for (const rule of this.rules) if (rule.action.type === 'route') names.add(rule.action.farm.name);
    for (const name of names) {
      const state = farms.get(name);
      if (!state || this.#routes.get(name)?.farm === state) continue;
      this.#routes.set(name, new FarmRoute(state, this.farm));
    }
    const defaultName = this.config.defaultFarm?.name;
    this.#defaultRoute = defaultName === undefined ? undefined : this.#routes.get(defaultName);
  }

  #tlsKey: string | undefined;

  /**
   * What the TLS connections of the site's bindings depend on from the site: the client-certificate mode,
   * the trusted CAs, the CRLs and the online revocation settings, as one digest (made on first use: a
   * reload compares them). Equal digests: a connection's certificate verdict still holds.
   */
  get tlsKey(): string {
    if (this.#tlsKey !== undefined) return this.#tlsKey;
    const ssl = this.config.ssl;
    return (this.#tlsKey = digestOf([ssl.clientCertificates, ssl.trustedCa?.pem, ssl.revocation.check, ssl.revocation.byIssuerFingerprint, ssl.revocation.byIssuerSubject, ssl.revocation.pending, ssl.onlineRevocation]));
  }

  /** Where requests no rule answers go; undefined when the site has no farm of its own (404). */
  get defaultRoute(): FarmRoute | undefined {
    return this.#defaultRoute;
  }

  /** The route to a farm of the site's rules; undefined while its state is not bound. */
  routeTo(farm: Farm): FarmRoute | undefined {
    return this.#routes.get(farm.name);
  }

  /** Whether every farm the site routes to has its state (bindFarms was called, or none is needed). */
  get isBound(): boolean {
    if (this.config.defaultFarm && !this.#routes.has(this.config.defaultFarm.name)) return false;
    return this.rules.every((rule) => rule.action.type !== 'route' || this.#routes.has(rule.action.farm.name));
  }
}

export class BindingRuntime {
  readonly config: Binding;
  readonly site: SiteRuntime;
  /** `<server key bits>|` … the X-ARR-SSL fields that depend on the binding's certificate only. */
  readonly sslServerKeyBits: number;
  readonly sslServerIssuer: string;
  readonly sslServerSubject: string;
  /** `https://127.0.0.1:8443` for the startup line. */
  readonly url: string;
  /** `certificate.ocspStapling`: the staple handed to handshakes that ask (set by app.ts). */
  staple: OcspStaple | undefined;
  /**
   * The listener generation since which this binding's TLS material (tlsKey) is what it is now: a
   * connection whose handshake is older met other material and closes after its response (HTTP/1.1) or
   * gets a GOAWAY (HTTP/2) at the reload; a younger one carries on. Set by the listener (prepare).
   */
  tlsSince = 0;
  #tlsKey: string | undefined;

  constructor(config: Binding, site: SiteRuntime) {
    this.config = config;
    this.site = site;
    const leaf = config.certificate?.leaf;
    const details = leaf?.publicKey.asymmetricKeyDetails;
    this.sslServerKeyBits = details?.modulusLength ?? curveBits(details?.namedCurve) ?? 0;
    this.sslServerIssuer = leaf ? windowsDn(leaf.issuer) : '';
    this.sslServerSubject = leaf ? windowsDn(leaf.subject) : '';
    const host = config.address.includes(':') ? `[${config.address}]` : config.address;
    this.url = `${config.protocol}://${host}:${config.port}`;
  }

  /**
   * What a TLS connection of this binding depends on: its certificate and key, its TLS policy and its
   * site's tlsKey (client-certificate mode, trusted CAs, CRLs, online revocation), as one digest made on
   * first use. HTTP/2 on the port is not in it: a reload cannot change it (listener.ts).
   */
  get tlsKey(): string {
    return (this.#tlsKey ??= digestOf([this.config.certificate?.options, this.config.tls, this.site.tlsKey]));
  }

  /** X-ARR-SSL for a connection using `cipherBits`. */
  sslHeaderValue(cipherBits: number): string {
    return `${this.sslServerKeyBits}|${cipherBits}|${this.sslServerIssuer}|${this.sslServerSubject}`;
  }
}

/** A SHA-256 digest of config values (plain objects, arrays, Maps, Sets, Buffers, certificates): equal values, equal digests. */
export function digestOf(value: unknown): string {
  const hash = createHash('sha256');
  feed(hash, value);
  return hash.digest('hex');
}

function feed(hash: Hash, value: unknown): void {
  if (value === null || value === undefined) {
    hash.update(value === null ? 'n;' : 'u;');
  } else if (typeof value !== 'object') {
    const text = String(value);
    hash.update(`${typeof value}${text.length}:${text};`);
  } else if (value instanceof Uint8Array) {
    hash.update(`b${value.length}:`);
    hash.update(value);
  } else if (value instanceof X509Certificate) {
    hash.update(`x:${value.fingerprint256};`);
  } else if (value instanceof Map) {
    hash.update('M');
    for (const [key, item] of value) {
      feed(hash, key);
      feed(hash, item);
    }
    hash.update('m');
  } else if (value instanceof Set || Array.isArray(value)) {
    hash.update('[');
    for (const item of value as Iterable<unknown>) feed(hash, item);
    hash.update(']');
  } else {
    hash.update('{');
    for (const [key, item] of Object.entries(value)) {
      hash.update(`${key.length}:${key}=`);
      feed(hash, item);
    }
    hash.update('}');
  }
}

function curveBits(curve: string | undefined): number | undefined {
  if (!curve) return undefined;
  const match = /(\d{3})/.exec(curve);
  return match ? Number(match[1]) : curve === 'ed25519' ? 256 : undefined;
}
