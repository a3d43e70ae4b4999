/**
 * `gatehouse certs list`: IIS's Server Certificates over the admin API (GET /certificates): every
 * certificate the config names, with who uses it and its problems. (`gatehouse cert …` makes and inspects
 * certificate files locally; `certs` asks the running Gatehouse.)
 */
import { Command } from 'commander';
import { renderTable } from '../table.js';
import { adminSubcommand, showAnswer, type AdminOptions, type Run } from './admin-connection.js';

interface CertificateView {
  friendlyName?: string | null;
  subject: string;
  issuer: string;
  notAfter: string;
  daysLeft: number;
  thumbprintSha1: string;
  usedBy: { site: string; binding: string | number }[];
  problems: string[];
}

/** The CN of a distinguished name (`CN=web, O=Example` → `web`), or the whole name when it has none. */
export function commonName(dn: string): string {
  const match = /(?:^|[,\n/]\s*)CN=((?:\\.|[^,\n/])*)/i.exec(dn ?? '');
  return match ? (match[1] as string).trim() : (dn ?? '');
}

export function renderCertificates(certificates: readonly CertificateView[]): string {
  if (certificates.length === 0) return 'no certificates\n';
  return renderTable(
    [{ header: 'FRIENDLY NAME' }, { header: 'ISSUED TO' }, { header: 'ISSUED BY' }, { header: 'EXPIRATION' }, { header: 'DAYS LEFT', right: true }, { header: 'THUMBPRINT' }, { header: 'USED BY' }, { header: 'PROBLEMS' }],
    certificates.map((c) => [
      c.friendlyName || '-',
      commonName(c.subject),
      commonName(c.issuer),
      String(c.notAfter).slice(0, 10),
      String(c.daysLeft),
      c.thumbprintSha1,
      c.usedBy.length ? c.usedBy.map((u) => `${u.site} (${u.binding})`).join(', ') : '-',
      c.problems.length ? c.problems.join('; ') : '-',
    ]),
  );
}

export function certsCommand(run: Run): Command {
  const certs = new Command('certs').description("the running Gatehouse's certificates over the admin API (IIS Server Certificates)");
  certs.addCommand(
    adminSubcommand('list', 'every certificate the config names: friendly name, issued to, issued by, expiration, days left, thumbprint, used by, problems').action((options: AdminOptions) =>
      showAnswer(run, options, '/certificates', (answer: { certificates: CertificateView[] }) => renderCertificates(answer.certificates)),
    ),
  );
  return certs;
}
