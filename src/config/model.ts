/**
 * The normalized config: what loadConfig produces and every other module consumes. Defaults are
 * applied, durations are milliseconds, paths are absolute, files are read and checked, references
 * between objects are resolved. Frozen: a reload builds a new one.
 */
import type { ClientCertFormat, ClientCertificateMode } from './schema.js';
import type { FarmPolicies } from './farm-model.js';
import type { TracingSettings } from './tracing-schema.js';
import type { AdminSettings } from './admin-schema.js';
import type { AccessLogSettings } from './access-log-schema.js';
import type { PathMatcher, Template, Wildcard } from '../proxy/rules/compile.js';
import type { RevocationList, ServerCertificate, TrustedCa } from './tls-files.js';
import type { DynamicIpSettings, Limits } from './limits-schema.js';
import type { TlsPolicy } from './tls-policy.js';

export type { AccessLogSettings, RevocationList, ServerCertificate, TrustedCa };

export interface Config {
  /** Absolute path of the file it came from. */
  readonly file: string;
  /** Every file it reads (itself, certificates, keys, CAs, CRLs, secrets), absolute: what a reload watches. */
  readonly files: readonly string[];
  readonly sites: readonly Site[];
  readonly farms: readonly Farm[];
  readonly drainTimeoutMs: number;
  /** The top-level access log: requests no site answered, and the default of every site. */
  readonly accessLog: AccessLogSettings;
  /** The admin listener (/metrics); undefined without an `admin` key: nothing listens. */
  readonly admin: AdminSettings | undefined;
  /** Worker processes: a number (`auto` resolved to the CPU count). */
  readonly workers: number;
  /** 48-byte TLS session ticket key from sessionTicketKeyFile; undefined: made at start. */
  readonly sessionTicketKey: Buffer | undefined;
  /** IIS Dynamic IP Restrictions; undefined when both checks are off. */
  readonly dynamicIpSecurity: DynamicIpSettings | undefined;
}

/** The former form of the access log setting; AccessLog still accepts it. */
export type AccessLogTarget = { readonly kind: 'stdout' | 'stderr' | 'off' } | { readonly kind: 'file'; readonly path: string };

export interface Site {
  readonly name: string;
  readonly bindings: readonly Binding[];
  readonly ssl: SslSettings;
  /**
   * The site's primary farm: `defaultFarm`, else the farm of its first route rule, else the config's first
   * farm (a site whose rules only redirect or respond). For what takes one farm per site: the TLS
   * connection's forwarded-certificate headers, SiteRuntime's constructor. Routing uses `defaultFarm` and `rules`.
   */
  readonly farm: Farm;
  /** The farm of the requests no rule answers (the site's `farm` key); undefined when the site has none (404). */
  readonly defaultFarm: Farm | undefined;
  /** Routing rules, in order; empty when the site has none (every request goes to `defaultFarm`). */
  readonly rules: readonly Rule[];
  /** Failed request tracing; undefined when the site has no tracing rules. */
  readonly tracing: TracingSettings | undefined;
  /** Request limits: the site's `limits` keys over the top-level ones. */
  readonly limits: Limits;
  /** The site's access log: its own `accessLog` keys over the top-level ones. */
  readonly accessLog: AccessLogSettings;
}

/** A routing rule's conditions, compiled (proxy/rules/compile.ts's matchers). */
export interface RuleMatch {
  /** Tested on the Host header without its port. */
  readonly host: Wildcard | undefined;
  /** Wildcard (`path`) or RegExp (`pathPattern`); undefined: every path, `{R:0}` the whole path. */
  readonly path: PathMatcher | undefined;
  /** Lower-case header names with their value wildcards. */
  readonly headers: readonly { readonly name: string; readonly value: Wildcard }[];
  readonly clientCertificate: CertificateCondition | undefined;
}

export interface CertificateCondition {
  readonly present: boolean | undefined;
  readonly subject: Wildcard | undefined;
  readonly issuer: Wildcard | undefined;
  /** Upper-case SHA-1 hex. */
  readonly thumbprint: string | undefined;
  /** Lower-case SHA-256 hex. */
  readonly thumbprintSha256: string | undefined;
}

export type RedirectStatus = 301 | 302 | 307 | 308;

export type RuleAction =
  | { readonly type: 'route'; readonly farm: Farm; readonly rewrite: Template | undefined; readonly appendQueryString: boolean }
  | { readonly type: 'redirect'; readonly status: RedirectStatus; readonly url: Template; readonly appendQueryString: boolean }
  | { readonly type: 'respond'; readonly status: number; readonly subStatus: number; readonly body: Buffer | undefined; readonly contentType: string };

/** A routing rule of a site, as loaded: conditions and templates compiled, farms resolved (proxy/rules/compile-rules.ts). */
export interface Rule {
  readonly name: string;
  /** Position in the site's `rules`. */
  readonly index: number;
  readonly match: RuleMatch;
  readonly action: RuleAction;
  readonly stopProcessing: boolean;
}

export interface Binding {
  readonly siteName: string;
  readonly protocol: 'http' | 'https';
  readonly address: string;
  readonly port: number;
  /** Lower-cased; undefined answers for every other name on the port. */
  readonly hostName: string | undefined;
  /** https only. */
  readonly certificate: ServerCertificate | undefined;
  /** https: HTTP/2 offered by ALPN (h2, http/1.1). Always false on http. */
  readonly http2: boolean;
  /** https: versions, ciphers, groups, resumption (the default policy when the binding sets none). */
  readonly tls: TlsPolicy;
}

export interface SslSettings {
  readonly requireSsl: boolean;
  readonly clientCertificates: ClientCertificateMode;
  /** PEM bundle of trusted client-certificate issuers; present when clientCertificates is not 'ignore' or when configured. */
  readonly trustedCa: TrustedCa | undefined;
  readonly revocation: RevocationList;
  /** `revocation.online`: undefined when off (or `check: off`). */
  readonly onlineRevocation: OnlineRevocationSettings | undefined;
  /** Where and how online answers are fetched and kept (also for OCSP stapling of the site's bindings). */
  readonly revocationCache: RevocationCacheSettings;
}

export interface RevocationCacheSettings {
  readonly freshnessMs: number;
  readonly fetchTimeoutMs: number;
  /** Absolute path of the cache folder. */
  readonly cacheFolder: string;
}

/** HTTP.sys's online revocation settings (`ssl.revocation`), by what they mean. */
export interface OnlineRevocationSettings extends RevocationCacheSettings {
  readonly cachedOnly: boolean;
  readonly whenUnknown: 'deny' | 'allow';
}

export interface Farm {
  readonly name: string;
  readonly enabled: boolean;
  /** Connections to each server at most; undefined: unlimited. */
  readonly maxConnectionsPerServer: number | undefined;
  readonly servers: readonly ServerConfig[];
  readonly protocol: ProtocolSettings;
  /** Load balancing, health tests and the other policies src/farm/ applies. */
  readonly policies: FarmPolicies;
}

export interface ServerConfig {
  /** As written: `host:port`. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  /** False: the server takes no requests. */
  readonly enabled: boolean;
  readonly state: 'available' | 'drain' | 'unavailable';
}

export interface ProtocolSettings {
  readonly timeoutMs: number;
  readonly clientCertHeaderName: string;
  readonly clientCertFormat: ClientCertFormat;
  readonly sslHeaderName: string;
  readonly logGuidName: string;
  readonly xForwardedForHeaderName: string;
  readonly includePortInXForwardedFor: boolean;
  readonly forwardedProtoHeaderName: string;
  readonly preserveHostHeader: boolean;
  readonly reverseRewriteHostInResponseHeaders: boolean;
  readonly maxForwards: number;
  /** The largest response head a server may send (bytes). */
  readonly maxResponseHeaderSize: number;
  /** Shared secret for the proxy signature; undefined when signing is off. */
  readonly signatureSecret: Buffer | undefined;
  readonly signatureHeaderName: string;
}
