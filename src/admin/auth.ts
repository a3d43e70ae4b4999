/**
 * Who is asking the admin API: a client certificate (admin badge) verified against admin.trustedCaFile and
 * matched to a user by subject DN or SHA-1 thumbprint, or a bearer token matched to a token user. Tokens
 * are compared in constant time (SHA-256 of both, timingSafeEqual against every token user); the token
 * itself is never kept, logged or audited: the audit names the token's user.
 */
import { X509Certificate, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { normalizeSubject, tokenDigest, type AdminRole, type AdminUser } from '../config/admin-schema.js';
import { ApiProblem } from './problem.js';

export const ROLE_RANK: Readonly<Record<AdminRole, number>> = { viewer: 0, operator: 1, administrator: 2 };

/** A signed-in user, as the audit log records it. */
export type Principal =
  | { readonly kind: 'certificate'; readonly subject: string; readonly thumbprint: string; readonly role: AdminRole }
  | { readonly kind: 'token'; readonly user: string; readonly role: AdminRole };

interface BadgeIdentity {
  /** Node's subject lines (`CN=x\nO=y`), in the certificate's order. */
  readonly subjectLines: string;
  readonly thumbprint: string;
}

/** The verified badge of a TLS connection, read once per connection. */
const badges = new WeakMap<object, BadgeIdentity | null>();

function badgeOf(req: IncomingMessage): BadgeIdentity | null {
  const socket = req.socket as TLSSocket;
  if (typeof socket.getPeerCertificate !== 'function') return null;
  const known = badges.get(socket);
  if (known !== undefined) return known;
  let identity: BadgeIdentity | null = null;
  if (socket.authorized) {
    const raw = socket.getPeerCertificate().raw;
    if (raw) {
      const certificate = new X509Certificate(raw);
      identity = { subjectLines: certificate.subject, thumbprint: certificate.fingerprint.replace(/:/g, '').toUpperCase() };
    }
  }
  badges.set(socket, identity);
  return identity;
}

/** Whether a client sent a certificate the admin CA does not vouch for. */
function hasUntrustedCertificate(req: IncomingMessage): boolean {
  const socket = req.socket as TLSSocket;
  if (typeof socket.getPeerCertificate !== 'function' || socket.authorized) return false;
  const peer = socket.getPeerCertificate();
  return peer !== null && typeof peer === 'object' && peer.raw !== undefined;
}

/** The subject in its encoded order and reversed (RFC 4514 prints the last RDN first). */
function subjectForms(lines: string): [string, string] {
  const rdns = lines.split('\n').filter(Boolean);
  return [normalizeSubject(rdns.join('\n')), normalizeSubject([...rdns].reverse().join('\n'))];
}

/**
 * The principal of a request, or an ApiProblem 401: a bearer token that matches no token user, or no
 * credentials at all. A request with an Authorization header is judged by it alone.
 */
export function authenticate(req: IncomingMessage, users: readonly AdminUser[]): Principal {
  const authorization = req.headers.authorization;
  if (authorization !== undefined) {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
    if (!match) throw unauthenticated('invalid_token', 'the Authorization header is not `Bearer <token>`');
    const digest = tokenDigest(match[1] as string);
    let found: Extract<AdminUser, { kind: 'token' }> | undefined;
    // Every token user is compared, found or not: the time taken does not depend on which (if any) matched.
    for (const user of users) {
      if (user.kind !== 'token') continue;
      if (timingSafeEqual(digest, user.tokenSha256) && !found) found = user;
    }
    if (!found) throw unauthenticated('invalid_token', 'the bearer token matches no admin user');
    return { kind: 'token', user: found.name, role: found.role };
  }
  const badge = badgeOf(req);
  if (badge) {
    const [encoded, reversed] = subjectForms(badge.subjectLines);
    const user = users.find((u) => (u.kind === 'thumbprint' && u.thumbprint === badge.thumbprint) || (u.kind === 'subject' && (u.subject === encoded || u.subject === reversed)));
    const subject = reversed.replace(/,/g, ', ');
    if (!user) throw unauthenticated('unauthenticated', `the client certificate ${subject} (SHA-1 ${badge.thumbprint}) is not an admin user`);
    return { kind: 'certificate', subject, thumbprint: badge.thumbprint, role: user.role };
  }
  if (hasUntrustedCertificate(req)) throw unauthenticated('certificate_not_trusted', 'the client certificate is not issued by a CA in admin.trustedCaFile (or is expired)');
  throw unauthenticated('unauthenticated', 'credentials are required: a bearer token (Authorization: Bearer …) or an admin client certificate');
}

function unauthenticated(code: 'unauthenticated' | 'invalid_token' | 'certificate_not_trusted', detail: string): ApiProblem {
  return new ApiProblem(401, code, 'Unauthorized', detail, undefined, { 'www-authenticate': 'Bearer realm="gatehouse-admin"' });
}

/** 403 unless the principal has `role` or a higher one. */
export function requireRole(principal: Principal, role: AdminRole): void {
  if (ROLE_RANK[principal.role] >= ROLE_RANK[role]) return;
  const who = principal.kind === 'token' ? `token user ${principal.user}` : principal.subject;
  throw new ApiProblem(403, 'forbidden', 'Forbidden', `${who} has the role ${principal.role}; this needs ${role} or above`);
}

/** How the audit log names a principal: the token's user, or the badge's subject and thumbprint. */
export function auditIdentity(principal: Principal): Record<string, string> {
  return principal.kind === 'token' ? { user: principal.user, via: 'token', role: principal.role } : { subject: principal.subject, thumbprint: principal.thumbprint, via: 'certificate', role: principal.role };
}
