/**
 * The demo's certificates, made once in the state folder and reused: a test CA, a server certificate
 * for this machine (FQDN, short name, localhost, 127.0.0.1, ::1) and a client certificate as PEM and
 * password-protected PFX.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createCa, issueClient, issueServer, toPfx, writeIssued } from '../pki/index.js';

export interface DemoPki {
  readonly dir: string;
  readonly caFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  readonly clientPfxFile: string;
  readonly clientPfxPassword: string;
  readonly serverNames: readonly string[];
  readonly created: boolean;
}

/** This machine's fully qualified name (`hostname -f`), when it has one. */
export function fqdn(): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('hostname', ['-f'], { timeout: 2000 }, (error, stdout) => resolve(error ? undefined : stdout.trim() || undefined));
  });
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

export async function ensureDemoPki(dir: string): Promise<DemoPki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const files = {
    caFile: join(dir, 'demo-ca.pem'),
    serverCertFile: join(dir, 'server.pem'),
    serverKeyFile: join(dir, 'server.key'),
    clientCertFile: join(dir, 'client.pem'),
    clientKeyFile: join(dir, 'client.key'),
    clientPfxFile: join(dir, 'client.pfx'),
    passwordFile: join(dir, 'client.pfx.password'),
    namesFile: join(dir, 'server-names.txt'),
  };
  const short = hostname().split('.')[0] ?? 'localhost';
  if (await exists(files.passwordFile)) {
    const names = (await readFile(files.namesFile, 'utf8')).split('\n').filter(Boolean);
    return { dir, ...files, clientPfxPassword: (await readFile(files.passwordFile, 'utf8')).trim(), serverNames: names, created: false };
  }
  const names = [...new Set([(await fqdn()) ?? hostname(), short, 'localhost'].filter(Boolean))];
  const ca = await createCa({ commonName: 'Gatehouse Demo CA', organization: 'Gatehouse Demo' });
  const server = await issueServer({ ca, dnsNames: names, ipAddresses: ['127.0.0.1', '::1'] });
  const client = await issueClient({ ca, commonName: 'Demo User', email: 'demo.user@example.test', organization: 'Gatehouse Demo', organizationalUnit: 'Badges' });
  const password = randomBytes(9).toString('base64url');
  await writeFile(files.caFile, ca.certPem, { mode: 0o644 });
  await writeIssued(dir, 'server', server, { force: true });
  await writeIssued(dir, 'client', client, { force: true });
  await writeFile(files.clientPfxFile, toPfx({ issued: client, password, friendlyName: 'Gatehouse Demo User' }), { mode: 0o600 });
  await writeFile(files.namesFile, `${names.join('\n')}\n`);
  // Written last: its presence means the folder is complete.
  await writeFile(files.passwordFile, `${password}\n`, { mode: 0o600 });
  return { dir, ...files, clientPfxPassword: password, serverNames: names, created: true };
}
