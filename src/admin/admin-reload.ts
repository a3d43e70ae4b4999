/**
 * What a config reload changes of the running admin listener. Its users, their roles and tokens, the
 * certificate store and whether /metrics needs a user are read from the config in force at each request,
 * so a reload applies them by itself. Here: the listener's certificate and the CAs of admin badges, which
 * new handshakes take at once (node's setSecureContext; open connections keep theirs). The rest (address,
 * port, http or https, asking for badges or not, the audit log file, the admin key added or removed) needs
 * a restart: each is named in the event log, with what stays in force.
 */
import type { AdminSettings } from '../config/admin-schema.js';
import type { ServerCertificate } from '../config/tls-files.js';

export interface AdminReload {
  /** The listener's TLS material changed (and can change in place): new handshakes use `next`'s. */
  readonly tls: boolean;
  /** One sentence per setting that waits for a restart. */
  readonly restart: readonly string[];
}

const sameBytes = (a: Buffer | undefined, b: Buffer | undefined) => (a === undefined || b === undefined ? a === b : a.equals(b));

function sameCertificate(a: ServerCertificate, b: ServerCertificate): boolean {
  return sameBytes(a.options.cert, b.options.cert) && sameBytes(a.options.key, b.options.key) && sameBytes(a.options.pfx, b.options.pfx) && a.options.passphrase === b.options.passphrase;
}

/** `running`: the settings the listener was started with (or last reconfigured to); `next`: the new config's. */
export function adminReload(running: Pick<AdminSettings, 'address' | 'port' | 'certificate' | 'trustedCa' | 'auditLogFile'>, next: AdminSettings | undefined, url: string): AdminReload {
  if (!next) return { tls: false, restart: [`admin: the key was removed, but the admin listener stays on ${url} until Gatehouse restarts`] };
  const restart: string[] = [];
  const stays = `the admin listener stays on ${url} until Gatehouse restarts`;
  if (next.address !== running.address || next.port !== running.port) restart.push(`admin.address/port changed to ${next.address}:${next.port}: ${stays}`);
  if (Boolean(next.certificate) !== Boolean(running.certificate)) restart.push(`admin.certificate was ${next.certificate ? 'added' : 'removed'}: ${stays}`);
  if (Boolean(next.trustedCa) !== Boolean(running.trustedCa)) restart.push(`admin.trustedCaFile was ${next.trustedCa ? 'added: the listener asks for admin badges once Gatehouse restarts' : 'removed: no admin badge is trusted from now on, and the listener goes on asking for one until Gatehouse restarts'}`);
  if ((next.auditLogFile ?? '') !== (running.auditLogFile ?? '')) restart.push(`admin.auditLog changed to ${next.auditLogFile ?? '(default)'}: admin writes go on being recorded in ${running.auditLogFile ?? '(default)'} until Gatehouse restarts`);
  // In place when https before and after: the certificate, and the badge CAs (none when the key was removed).
  const isHttps = next.certificate !== undefined && running.certificate !== undefined;
  const changed = isHttps && (!sameCertificate(next.certificate as ServerCertificate, running.certificate as ServerCertificate) || !sameBytes(next.trustedCa?.pem, running.trustedCa?.pem));
  return { tls: changed, restart };
}
