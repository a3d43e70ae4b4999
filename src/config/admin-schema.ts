/**
 * The `admin` key: Gatehouse's admin listener (Prometheus metrics at `GET /metrics`, the admin API under
 * `/api/v1`). Closed by default: without the key nothing listens; with it, no endpoint but /metrics answers
 * without credentials (`users`: client certificates by subject or thumbprint, bearer tokens from files).
 * The listener binds 127.0.0.1 unless another address is written; an address reachable from other
 * machines needs `certificate` (https): tokens never cross a network in plain http.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import type { Problem } from './problem.js';
import { loadServerCertificate, loadTrustedCa, type ServerCertificate, type TrustedCa } from './tls-files.js';

export const DEFAULT_ADMIN_ADDRESS = '127.0.0.1';

export const ADMIN_ROLES = ['viewer', 'operator', 'administrator'] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];
export const ADMIN_METRICS = ['open', 'authenticated'] as const;

/** `3F:2A …`, `3f2a…` → `3F2A…`. */
export function normalizeThumbprint(value: string): string {
  return value.replace(/[\s:]/g, '').toUpperCase();
}

/** A user of the admin API: exactly one of subject, thumbprint, tokenFile (with name). */
const adminUserSchema = z
  .strictObject({
    subject: z.string().min(1).optional().describe('Distinguished name of an admin badge, as `CN=Alice Admin, O=Example` (RFC 4514 order as written, or as Windows prints it); compared without regard to spaces after commas and case of attribute names.'),
    thumbprint: z
      .string()
      .min(1)
      .optional()
      .refine((value) => value === undefined || /^[0-9A-F]{40}$/.test(normalizeThumbprint(value)), 'a SHA-1 thumbprint: 40 hex digits (colons and spaces allowed)')
      .describe('SHA-1 thumbprint of an admin badge (40 hex digits, as IIS shows it).'),
    name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, dot, dash or underscore (1-64)').optional().describe('The name of a token user, as the audit log shows it.'),
    tokenFile: z.string().min(1).optional().describe('File holding the user\'s bearer token (written by `gatehouse admin token`); only its SHA-256 is kept in memory.'),
    role: z.enum(ADMIN_ROLES).describe('viewer, operator or administrator.'),
  })
  .superRefine((user, ctx) => {
    const ways = [user.subject, user.thumbprint, user.tokenFile].filter((v) => v !== undefined).length;
    if (ways !== 1) ctx.addIssue({ code: 'custom', path: [], input: user, message: `names ${ways === 0 ? 'no way to sign in' : 'more than one way to sign in'} (expected exactly one of subject, thumbprint or tokenFile)` });
    if (user.tokenFile !== undefined && user.name === undefined) ctx.addIssue({ code: 'custom', path: ['name'], input: undefined, message: 'is missing (expected a name for the token user, as the audit log shows it)' });
    if (user.tokenFile === undefined && user.name !== undefined && ways === 1) ctx.addIssue({ code: 'custom', path: ['name'], input: user.name, message: 'is only for token users (expected tokenFile beside name, or no name)' });
  })
  .describe('A user of the admin API: exactly one of `subject`, `thumbprint` (client certificate users) or `tokenFile` (with `name`: a token user), and a `role`.');

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
      .describe('IP address of the admin listener. Default `127.0.0.1`: reachable from this machine only. Another address (`0.0.0.0`, `::`, a LAN address) must be written here and needs `certificate` (https); /metrics is open to every host that reaches it unless `metrics: authenticated`.'),
    port: z.number().int().min(0).max(65535).describe('TCP port of the admin listener, 1-65535; 0 picks a free port (printed at start).'),
    certificate: z
      .strictObject({
        certFile: z.string().min(1).describe('PEM certificate (chain) of the admin listener.'),
        keyFile: z.string().min(1).describe('PEM private key of that certificate.'),
      })
      .optional()
      .describe('The admin listener speaks https with this certificate. Required on an address other than loopback.'),
    trustedCaFile: z.string().min(1).optional().describe('PEM bundle of the CAs whose client certificates (admin badges) may sign in, matched to `users` by subject or thumbprint. Requires `certificate`.'),
    users: z
      .array(adminUserSchema)
      .optional()
      .describe('Who may use the admin API, each with a role: `{ subject: "CN=Alice, O=Example", role }` or `{ thumbprint: <SHA-1 hex>, role }` (a client certificate from `trustedCaFile`), or `{ name: ci, tokenFile: ci.token, role }` (a bearer token; `gatehouse admin token --name ci` makes one). Roles: viewer (read), operator (server state, health marks, counters), administrator (everything). Without users only /metrics answers.'),
    metrics: z.enum(ADMIN_METRICS).optional().describe('`open` (default): `GET /metrics` answers without credentials; `authenticated`: it needs a user, as the API does (viewer or above).'),
    certificateStore: z.string().min(1).optional().describe('The certificate store folder (IIS\'s Server Certificates): certificates made by the admin API (Create Self-Signed, Import) are written here as `<SHA-1 thumbprint>.pem` (certificate chain) and `<SHA-1 thumbprint>.key` (private key, mode 0600), and a binding can name one by that id. Default `certificates/` beside the config file.'),
    auditLog: z.string().min(1).optional().describe('The audit log: one JSON line per admin API write (who, what, before, after, result), written before the change is applied. Default `audit.log` beside the config file; created with mode 0600.'),
  })
  .describe('The admin listener: Prometheus metrics at `GET /metrics` (per farm and server the ARR Monitoring counters, response times, health and state; TLS handshakes; 403.x and 502.x answers by reason; client certificates about to expire) and the admin API under `/api/v1` (see README, Admin API). Without this key nothing listens. A reload applies `users`, `metrics`, `certificateStore`, a changed `certificate` and a changed `trustedCaFile` (new handshakes use them); `address`, `port`, adding or removing `certificate` or `trustedCaFile`, `auditLog` and adding or removing this key wait for a restart, and the event log says which.');

export type DeclaredAdmin = z.output<typeof adminSchema>;

/** A user of the admin API, normalized: how it signs in and its role. */
export type AdminUser =
  | { readonly kind: 'subject'; readonly subject: string; readonly role: AdminRole }
  | { readonly kind: 'thumbprint'; readonly thumbprint: string; readonly role: AdminRole }
  /** A token user: only the token's SHA-256 is kept (the token itself is never held or logged). */
  | { readonly kind: 'token'; readonly name: string; readonly tokenSha256: Buffer; readonly role: AdminRole };

/** The normalized admin settings (Config.admin); undefined when the admin listener is off. */
export interface AdminSettings {
  /** Without brackets: `127.0.0.1`, `::1`. */
  readonly address: string;
  readonly port: number;
  /** The listener speaks https with it. */
  readonly certificate?: ServerCertificate;
  /** Issuers of admin badges (client certificates). */
  readonly trustedCa?: TrustedCa;
  /** Who may use the API (loadAdmin fills it; empty: only /metrics answers). */
  readonly users?: readonly AdminUser[];
  /** Whether /metrics needs a user (loadAdmin fills it; `open` by default). */
  readonly metrics?: (typeof ADMIN_METRICS)[number];
  /** Absolute path of the audit log (loadAdmin fills it). */
  readonly auditLogFile?: string;
  /** Absolute path of the certificate store folder (loadAdmin fills it). */
  readonly certificateStoreDir?: string;
}

export function normalizeAdmin(declared: DeclaredAdmin | undefined): AdminSettings | undefined {
  if (!declared) return undefined;
  return { address: unbracket(declared.address), port: declared.port };
}

/** `CN=Alice Admin,O=Example` and `cn=Alice Admin, O=Example` alike: attribute names upper-cased, spaces around separators dropped. */
export function normalizeSubject(dn: string): string {
  return dn
    .split(/\s*[,\n]\s*/)
    .filter(Boolean)
    .map((rdn) => {
      const eq = rdn.indexOf('=');
      const type = rdn.slice(0, eq).trim().toUpperCase();
      return `${type === 'S' ? 'ST' : type === 'E' ? 'EMAILADDRESS' : type}=${rdn.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1')}`;
    })
    .join(',');
}

/** A bearer token as the config holds it: SHA-256 of the token text (the file's first line). */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Tokens shorter than this are refused: `gatehouse admin token` writes 43 characters (32 random bytes). */
export const MIN_TOKEN_LENGTH = 32;

/**
 * The admin key's files read and checked (certificate against key, the badge CA bundle, token files) and
 * its defaults applied; problems name the key. Undefined without the key, or when a file is wrong.
 */
export async function loadAdmin(declared: DeclaredAdmin | undefined, configFile: string, problems: Problem[]): Promise<AdminSettings | undefined> {
  if (!declared) return undefined;
  const dir = dirname(configFile);
  const at = ['admin'] as const;
  const before = problems.length;
  let certificate: ServerCertificate | undefined;
  if (declared.certificate) {
    const loaded = await loadServerCertificate(dir, declared.certificate, [...at, 'certificate']);
    if (loaded.ok) certificate = loaded.value;
    else problems.push(...loaded.problems);
  }
  let trustedCa: TrustedCa | undefined;
  if (declared.trustedCaFile !== undefined) {
    if (!declared.certificate) problems.push({ path: [...at, 'trustedCaFile'], message: 'admin badges need the admin listener to speak https', expected: 'admin.certificate beside admin.trustedCaFile' });
    const loaded = await loadTrustedCa(dir, declared.trustedCaFile, [...at, 'trustedCaFile']);
    if (loaded.ok) trustedCa = loaded.value;
    else problems.push(...loaded.problems);
  }
  const users: AdminUser[] = [];
  const names = new Set<string>();
  for (const [index, user] of (declared.users ?? []).entries()) {
    const path = [...at, 'users', index];
    if ((user.subject !== undefined || user.thumbprint !== undefined) && declared.trustedCaFile === undefined) {
      problems.push({ path: [...path, user.subject !== undefined ? 'subject' : 'thumbprint'], message: 'a certificate user, but no CA is trusted for admin badges', expected: 'admin.trustedCaFile (and admin.certificate)' });
    }
    if (user.subject !== undefined) users.push({ kind: 'subject', subject: normalizeSubject(user.subject), role: user.role });
    else if (user.thumbprint !== undefined) users.push({ kind: 'thumbprint', thumbprint: normalizeThumbprint(user.thumbprint), role: user.role });
    else if (user.tokenFile !== undefined && user.name !== undefined) {
      if (names.has(user.name)) problems.push({ path: [...path, 'name'], message: `'${user.name}' is a second token user of that name`, expected: 'a unique name per token user' });
      names.add(user.name);
      const full = resolve(dir, user.tokenFile);
      let text: string;
      try {
        text = await readFile(full, 'utf8');
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'error';
        problems.push({ path: [...path, 'tokenFile'], message: `${full} ${code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable (permission denied)' : `cannot be read (${code})`}`, expected: 'a token file written by `gatehouse admin token --name NAME -o FILE`' });
        continue;
      }
      const token = text.split(/\r?\n/)[0]?.trim() ?? '';
      if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
        problems.push({ path: [...path, 'tokenFile'], message: `${full} holds ${token.length < MIN_TOKEN_LENGTH ? `a token of ${token.length} characters` : 'a token with spaces'}`, expected: `one line of at least ${MIN_TOKEN_LENGTH} characters without spaces (\`gatehouse admin token\` writes one)` });
        continue;
      }
      users.push({ kind: 'token', name: user.name, tokenSha256: tokenDigest(token), role: user.role });
    }
  }
  if (problems.length > before) return undefined;
  return {
    ...normalizeAdmin(declared),
    ...(certificate ? { certificate } : {}),
    ...(trustedCa ? { trustedCa } : {}),
    users,
    metrics: declared.metrics ?? 'open',
    auditLogFile: resolve(dir, declared.auditLog ?? 'audit.log'),
    certificateStoreDir: resolve(dir, declared.certificateStore ?? 'certificates'),
  } as AdminSettings;
}

/** The files the admin key names (a change of one reloads the config). */
export function adminFiles(declared: DeclaredAdmin | undefined): string[] {
  if (!declared) return [];
  return [declared.certificate?.certFile, declared.certificate?.keyFile, declared.trustedCaFile, ...(declared.users ?? []).map((user) => user.tokenFile)].filter((name): name is string => name !== undefined);
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
 * on an overlapping address (it could not be bound) or when an address other than loopback has no
 * `certificate` (tokens and everything the API answers would cross the network in plain http); a warning
 * when /metrics is open on such an address.
 */
export function checkAdmin(declared: DeclaredAdmin | undefined, bindings: readonly { readonly address: string; readonly port: number }[], problems: Problem[], warnings: Problem[]): void {
  if (!declared) return;
  const address = unbracket(declared.address);
  if (!isLoopbackAddress(address)) {
    if (!declared.certificate) problems.push({ path: ['admin', 'address'], message: `${address} is reachable from other machines, and the admin listener has no certificate: tokens and admin answers would cross the network in plain http`, expected: `admin.certificate (https), or ${DEFAULT_ADMIN_ADDRESS} (the default)` });
    if (declared.metrics !== 'authenticated') warnings.push({ path: ['admin', 'address'], message: `the admin listener on ${address} serves /metrics without authentication to every host that reaches it`, expected: `${DEFAULT_ADMIN_ADDRESS} (the default) unless a scraper on another machine needs it, or admin.metrics: authenticated` });
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
