/**
 * The config file's schema: the single source of the declared config's shape, its defaults, the
 * validator and the generated reference (docs/config-reference.md). Descriptions say what a key means
 * to the user, its default and its unit. Names follow IIS/ARR where ARR has one (camelCase).
 */
import { z } from 'zod';
import { adminSchema } from './admin-schema.js';
import { durationSchema } from './duration.js';
import { dynamicIpSecuritySchema, limitsSchema, siteLimitsSchema } from './limits-schema.js';
import { farmPolicyKeys } from './farm-schema.js';
import { siteAccessLogSchema, topLevelAccessLogSchema } from './access-log-schema.js';
import { tracingSchema } from './tracing-schema.js';
import { rulesSchema } from './rules-schema.js';
import { tlsPolicySchema } from './tls-policy.js';

const objectName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-", starting with a letter or digit');

const duration = durationSchema;

/** A header name; an empty string turns the header off. */
const headerName = z
  .string()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]*$/, 'an HTTP header name (token characters), or "" to turn the header off');

export const certificateSchema = z
  .strictObject({
    certFile: z.string().min(1).optional().describe('PEM file with the server certificate, optionally followed by its chain (leaf first).'),
    keyFile: z.string().min(1).optional().describe('PEM file with the private key of `certFile`. Should be readable only by Gatehouse (mode 0600).'),
    pfxFile: z.string().min(1).optional().describe('PKCS#12 (.pfx/.p12) file with the certificate, its chain and key; instead of `certFile` + `keyFile`.'),
    passphrase: z.string().optional().describe('Passphrase of `pfxFile` or of an encrypted `keyFile`. Prefer `passphraseFile`, which keeps the secret out of the config.'),
    passphraseFile: z.string().min(1).optional().describe('File whose content (trailing newline removed) is the passphrase of `pfxFile` or `keyFile`.'),
    ocspStapling: z
      .boolean()
      .default(false)
      .describe('Staple the OCSP answer about this certificate to handshakes that ask for it (`openssl s_client -status`): fetched from the responder in the certificate\'s Authority Information Access, checked against its issuer (the second certificate of `certFile`, or of the PFX chain), refreshed before its nextUpdate while a binding of the running config staples it (a reload that turns stapling off stops the refreshes). While the responder is down, handshakes go on without a staple (logged). Default false.'),
  })
  .describe('The server certificate of an https binding: `certFile` + `keyFile`, or `pfxFile`.');

export const bindingSchema = z
  .strictObject({
    protocol: z.enum(['http', 'https']).describe('`http` or `https` (TLS terminated by Gatehouse).'),
    address: z.string().min(1).default('0.0.0.0').describe('IP address to listen on: `0.0.0.0` (all IPv4), `::` (all IPv6), `127.0.0.1`, `::1`, …. Default `0.0.0.0`.'),
    port: z.number().int().min(0).max(65535).describe('TCP port, 1-65535; 0 picks a free port for this binding alone (printed at start).'),
    hostName: z
      .string()
      .regex(/^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/, 'a DNS name such as app.example.test or *.example.test')
      .optional()
      .describe('Host name this binding answers for: the TLS SNI name on https (several https bindings may share a port with different host names), the `Host` header on http. A binding without one answers for every other name on its port. `*.example.test` matches one label.'),
    certificate: certificateSchema.optional(),
    tls: tlsPolicySchema.optional(),
    http2: z
      .boolean()
      .optional()
      .describe('https only: offer HTTP/2 by ALPN (`h2`, then `http/1.1`), as IIS does on TLS bindings; requests still reach the farm over HTTP/1.1. Default true on https. Bindings that share an address and port must agree.'),
  })
  .describe('Where a site accepts connections (IIS site binding).');

export const sslSchema = z
  .strictObject({
    requireSsl: z.boolean().default(false).describe('When true, a request on an http binding of the site gets 403.4 (IIS "Require SSL"). Default false.'),
    clientCertificates: z
      .enum(['ignore', 'accept', 'require'])
      .default('ignore')
      .describe('IIS "Client certificates": `ignore` (never asked for), `accept` (asked for during the TLS handshake; a request without one proceeds), `require` (a request without one gets 403.7). In `accept` and `require`, an invalid certificate gets 403.13, 403.16 or 403.17. Default `ignore`.'),
    trustedCaFile: z.string().min(1).optional().describe('PEM bundle of the CAs (roots and/or intermediates) that issue client certificates. Required when `clientCertificates` is `accept` or `require`. An intermediate listed here is a trust anchor by itself.'),
    crlFile: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .optional()
      .describe('Certificate revocation list(s), PEM or DER: one file or a list; a PEM file may hold any number of CRLs (the usual bundle: the root\'s CRL, then the issuing CA\'s), and every one is used. A CRL may be signed by a CA in `trustedCaFile`, or by a CA that clients send in their chain (the issuing intermediate of a corporate PKI): that one is verified with the key of the CA the client\'s verified chain shows under its issuer\'s name. A revoked client certificate gets 403.13.'),
    revocation: z
      .strictObject({
        check: z
          .enum(['off', 'leaf', 'chain'])
          .default('chain')
          .describe('Which certificates are checked for revocation: `chain` (the client certificate and every CA above it; a revoked intermediate revokes what it issued), `leaf` (the client certificate only), `off` (none: the CRLs are read and checked but not used, nothing is fetched). Default `chain`.'),
        online: z
          .boolean()
          .default(false)
          .describe('Also check online, as HTTP.sys does: fetch the CRL at each checked certificate\'s CRL distribution point (http) and ask the OCSP responder in its Authority Information Access; OCSP first, the CRL when OCSP cannot answer. Answers are verified against the issuing CA (or an OCSP signer it delegated), cached in memory and in `cacheFolder`, refreshed before they go stale, and fetched only while a new TLS connection waits, never on the request path of an established one. A certificate no source (file or online) can answer for has an unknown status: see `whenUnknown`. Default false.'),
        cachedOnly: z
          .boolean()
          .default(false)
          .describe('HTTP.sys `verifyrevocationwithcachedclientcertonly`: a handshake never waits for a fetch; it uses the cached answers only (a missing one is fetched in the background for the next handshake, and this one\'s status is unknown). Default false.'),
        freshness: duration
          .default('1d')
          .describe('HTTP.sys `revocationfreshnesstime`: an online answer older than this is fetched again, even when its nextUpdate is later. Default 1 day.'),
        fetchTimeout: duration
          .default('5s')
          .describe('HTTP.sys `urlretrievaltimeout`: how long one fetch (CRL or OCSP) may take; a handshake waits at most this long. Default 5 s.'),
        whenUnknown: z
          .enum(['deny', 'allow'])
          .default('deny')
          .describe('When online checking is on and no source could answer for a certificate (no CRL or OCSP pointer, responder down, stale or badly signed answer): `deny` answers 403.16 with the reason "revocation status unknown"; `allow` lets the request in, with a warning in the event log and the metric gatehouse_revocation_checks_total{result="unknown"}. Default deny.'),
        cacheFolder: z
          .string()
          .min(1)
          .default('gatehouse-cache/revocation')
          .describe('Where online answers are kept across restarts, relative to the config file; shared by the workers (and by instances that share the folder), which fetch one URL at a time between them. Created 0700; files written 0600. Default `gatehouse-cache/revocation`.'),
      })
      .default({ check: 'chain', online: false, cachedOnly: false, freshness: '1d', fetchTimeout: '5s', whenUnknown: 'deny', cacheFolder: 'gatehouse-cache/revocation' })
      .describe('Revocation settings (HTTP.sys\'s, by what they mean).'),
  })
  .describe('IIS SSL Settings of a site.');

export const siteSchema = z
  .strictObject({
    name: objectName.describe('Unique name of the site; appears in logs.'),
    bindings: z.array(bindingSchema).min(1).describe('At least one binding.'),
    ssl: sslSchema.default({ requireSsl: false, clientCertificates: 'ignore', revocation: { check: 'chain', online: false, cachedOnly: false, freshness: '1d', fetchTimeout: '5s', whenUnknown: 'deny', cacheFolder: 'gatehouse-cache/revocation' } }),
    farm: objectName
      .optional()
      .describe('Name of the farm (in `farms`) that serves the requests of this site (with `rules`, those no rule answers). Required unless the site has `rules`; a request no rule answers then gets 404.'),
    rules: rulesSchema.optional(),
    tracing: tracingSchema.optional(),
    accessLog: siteAccessLogSchema,
    limits: siteLimitsSchema,
  })
  .superRefine(
    (site, ctx) => {
      const { farm, rules } = site as { farm?: unknown; rules?: unknown };
      if (farm === undefined && (rules === undefined || (Array.isArray(rules) && rules.length === 0))) {
        ctx.addIssue({ code: 'custom', path: ['farm'], input: undefined, message: '(required when the site has no rules) (expected the name of a farm in `farms`)' });
      }
    },
    // Also when other keys of the site are wrong, so that every problem is reported at once.
    { when: (payload) => typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value) },
  )
  .describe('A front door: bindings, SSL settings, routing rules and the farm behind it (IIS site).');

export const CLIENT_CERT_FORMATS = ['base64Der', 'rfc9440', 'pemUrlEncoded', 'xfcc'] as const;

export const protocolSchema = z
  .strictObject({
    timeout: duration.default(30).describe('How long to wait to connect to a server, for its response headers, and between two chunks of its body, before answering 502.3. Default 30 s (ARR).'),
    clientCertHeaderName: headerName.default('X-ARR-ClientCert').describe('Header that carries the client certificate in the `base64Der` and `pemUrlEncoded` formats; "" turns certificate forwarding off in every format. Default `X-ARR-ClientCert`.'),
    clientCertFormat: z
      .enum(CLIENT_CERT_FORMATS)
      .default('base64Der')
      .describe('How the certificate is forwarded: `base64Der` (ARR: base64 of the DER leaf, in `clientCertHeaderName`), `rfc9440` (`Client-Cert` and `Client-Cert-Chain`), `pemUrlEncoded` (nginx `$ssl_client_escaped_cert`, in `clientCertHeaderName`), `xfcc` (Envoy `x-forwarded-client-cert`: Hash, Cert, Chain, Subject, URI, DNS). Default `base64Der`.'),
    sslHeaderName: headerName.default('X-ARR-SSL').describe('Header describing the TLS connection: `<server key bits>|<cipher key bits>|<server cert issuer>|<server cert subject>`; sent only for requests that arrived over TLS. "" turns it off. Default `X-ARR-SSL`.'),
    logGuidName: headerName.default('X-ARR-LOG-ID').describe('Header with a fresh GUID per proxied request, also written to the access log. "" turns it off. Default `X-ARR-LOG-ID`.'),
    xForwardedForHeaderName: headerName.default('X-Forwarded-For').describe('Header to which the client address is appended (`, ` separated). "" turns it off. Default `X-Forwarded-For`.'),
    includePortInXForwardedFor: z.boolean().default(true).describe('Append `ip:port` (IPv6 as `[ip]:port`) rather than the bare ip. Default true (ARR).'),
    forwardedProtoHeaderName: headerName.default('X-Forwarded-Proto').describe('Header set to `https` or `http` (replacing any client copy); ARR lacks it, ASP.NET Core needs it. "" turns it off. Default `X-Forwarded-Proto`.'),
    preserveHostHeader: z.boolean().default(true).describe('Send the client\'s `Host` header to the server (ARR farm default). When false, `Host` is the server\'s address. Default true.'),
    reverseRewriteHostInResponseHeaders: z
      .boolean()
      .default(false)
      .describe('Rewrite `Location` and `Content-Location` response headers that point at the server itself (its `host:port`) to the address the client used (scheme and Host), so redirects from a server that does not know it is proxied still work. Default false (ARR farm default).'),
    maxForwards: z.number().int().min(0).max(255).default(10).describe('Value of `Max-Forwards` on every forwarded request. Default 10 (ARR).'),
    maxResponseHeaderSize: z.number().int().min(1024).max(1_048_576).default(65_536).describe('The largest response head (status line and header fields) a server may send, in bytes; a larger one is a 502.3 and the server connection is closed. Default 65536 (ARR).'),
    signatureSecretFile: z
      .string()
      .min(1)
      .optional()
      .describe('Beyond ARR: a file holding a shared secret (at least 32 bytes). When set, Gatehouse signs the forwarded identity of every request (HMAC-SHA256 over the certificate, the log id and a timestamp) in `signatureHeaderName`, and a backend using @gatehouse/forwarded-cert rejects a forged header even when it is reachable directly. Keep it readable only by Gatehouse (mode 0600).'),
    signatureHeaderName: headerName
      .default('X-Gatehouse-Signature')
      .describe('Header carrying the proxy signature: `t=<unix seconds>;id=<log id>;v1=<base64url HMAC>`. Any client copy is removed. Default `X-Gatehouse-Signature`.'),
  })
  .describe('How requests are forwarded to the farm\'s servers (ARR farm `applicationRequestRouting/protocol`).');

export const serverSchema = z
  .strictObject({
    address: z.string().min(1).describe('`host:port` of the server; IPv6 as `[::1]:9001`. The port is required.'),
    weight: z.number().int().min(1).max(100000).default(100).describe('Relative share of requests (100/100 = 1:1, 200/100 = 2:1). Default 100 (ARR).'),
    enabled: z.boolean().default(true).describe('When false the server takes no requests (ARR `server/@enabled`). Default true.'),
    state: z
      .enum(['available', 'drain', 'unavailable'])
      .default('available')
      .describe('`available` (default); `drain`: no new clients, but clients with affinity and requests in flight stay (ARR "Disallow new connections"); `unavailable`: nothing new.'),
  })
  .describe('One backend server of a farm.');

export const farmSchema = z
  .strictObject({
    name: objectName.describe('Unique name of the farm, used by `sites[].farm`.'),
    servers: z.array(serverSchema).min(1).describe('At least one server. Requests are spread by `loadBalancing.algorithm`.'),
    enabled: z.boolean().default(true).describe('When false the farm takes no requests: its sites answer 502.4. Default true.'),
    maxConnectionsPerServer: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('Open connections to each server of the farm, at most (none: unlimited, as ARR). A request that finds them all busy waits for one to be free, at most the protocol timeout, then gets 502.3 (or another server, when a retry is safe).'),
    protocol: protocolSchema.default(protocolSchema.parse({})),
    ...farmPolicyKeys,
  })
  .describe('A named group of equivalent backend servers (ARR server farm).');

export const accessLogSchema = topLevelAccessLogSchema;

export const configSchema = z
  .strictObject({
    sites: z.array(siteSchema).min(1).describe('At least one site.'),
    farms: z.array(farmSchema).min(1).describe('At least one farm.'),
    drainTimeout: duration.default(30).describe('On SIGTERM/SIGINT, how long in-flight requests may take to finish before their connections are closed. Default 30 s.'),
    accessLog: accessLogSchema,
    limits: limitsSchema,
    dynamicIpSecurity: dynamicIpSecuritySchema,
    admin: adminSchema.optional(),
    workers: z
      .union([z.literal('auto'), z.number().int().min(1).max(256)])
      .default('auto')
      .describe('Worker processes sharing the listening sockets: `auto` (one per CPU core, the default) or a number. `gatehouse start` runs them under one primary process that replaces a worker that dies.'),
    sessionTicketKeyFile: z
      .string()
      .min(1)
      .optional()
      .describe('File holding 48 bytes (raw, or 96 hex characters, or 64 base64 characters) used to encrypt TLS session tickets, so a client resumes its session whichever worker or Gatehouse instance it reaches. Without it, the workers of one instance share a key made at start. Keep it 0600 and rotate it by replacing the file and restarting.'),
  })
  .describe('A Gatehouse config file (YAML; JSON is valid YAML).');

export type DeclaredConfig = z.output<typeof configSchema>;
export type DeclaredSite = z.output<typeof siteSchema>;
export type DeclaredBinding = z.output<typeof bindingSchema>;
export type DeclaredFarm = z.output<typeof farmSchema>;
export type ClientCertFormat = (typeof CLIENT_CERT_FORMATS)[number];
export type ClientCertificateMode = DeclaredSite['ssl']['clientCertificates'];
