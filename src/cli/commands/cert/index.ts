/**
 * `gatehouse cert`: a small PKI for setting up and testing mTLS: a CA, server and client certificates,
 * revocation with a CRL that `ssl.crlFile` accepts, and inspection. Private keys are written 0600;
 * nothing is overwritten without --force; every file is written whole or not at all.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { createCa, createSelfSignedServer, issueClient, issueServer, REVOCATION_URL_EXPECTED, revocationUrlProblem, toPfx, writeAtomic, writeIssued, type Issued, type KeyType, type RevocationPointers } from '../../../pki/index.js';
import { fqdn } from '../../../demo/demo-pki.js';
import { CliError } from '../../cli-error.js';
import { loadCaFolder, readRevoked, writeRevocation } from './ca-folder.js';
import { inspectCommand, readCertificates } from './inspect.js';

const dn = (text: string) => text.split('\n').reverse().join(', ');
const slug = (text: string) => text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'cert';

function keyTypeOf(options: { rsa?: string }): KeyType {
  if (options.rsa === undefined) return 'ecdsa-p256';
  if (options.rsa === '2048' || options.rsa === '3072' || options.rsa === '4096') return `rsa-${options.rsa}`;
  throw new CliError(`--rsa ${options.rsa}: not a supported key size (expected 2048, 3072 or 4096)`);
}

function daysOf(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const days = Number(value);
  if (!Number.isInteger(days) || days < 1 || days > 36500) throw new CliError(`--days ${value}: not a number of days (expected a whole number from 1 to 36500)`);
  return days;
}

/** --crl-url / --ocsp-url as the pki options (each URL checked here, so the message names the flag). */
function revocationPointersOf(options: { crlUrl?: string[]; ocspUrl?: string[] }): RevocationPointers {
  const urls = (flag: string, values: string[] | undefined): string[] => {
    for (const url of values ?? []) {
      const problem = revocationUrlProblem(url);
      if (problem !== undefined) throw new CliError(`${flag} ${url}: ${problem} (expected ${REVOCATION_URL_EXPECTED})`);
    }
    return values ?? [];
  };
  return { crlUrls: urls('--crl-url', options.crlUrl), ocspUrls: urls('--ocsp-url', options.ocspUrl) };
}

async function guard<T>(action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new CliError(`${(error as Error).message}; use --force to replace it`);
    }
    if (error instanceof TypeError || error instanceof RangeError) throw new CliError(error.message);
    throw error;
  }
}

function describe(issued: Issued, files: string[]): string {
  return [
    ...files.map((f) => `wrote ${f}`),
    `subject      ${dn(issued.cert.subject)}`,
    `issuer       ${dn(issued.cert.issuer)}`,
    `valid to     ${new Date(issued.cert.validTo).toISOString()}`,
    `SHA-1        ${issued.cert.fingerprint.replace(/:/g, '')}`,
    `SHA-256      ${issued.cert.fingerprint256.replace(/:/g, '')}`,
  ].join('\n');
}

/** The names a server certificate answers for by default: this machine's FQDN, short name, localhost. */
async function defaultServerNames(): Promise<string[]> {
  return [...new Set([(await fqdn()) ?? hostname(), hostname().split('.')[0] ?? '', 'localhost'].filter(Boolean))];
}

async function serverNames(dns: string[] | undefined, ip: string[] | undefined, noDefaults: boolean | undefined): Promise<{ dnsNames: string[]; ipAddresses: string[] }> {
  const dnsNames = [...new Set([...(dns ?? []), ...(noDefaults ? [] : await defaultServerNames())])];
  const ipAddresses = [...new Set([...(ip ?? []), ...(noDefaults ? [] : ['127.0.0.1', '::1'])])];
  if (dnsNames.length === 0 && ipAddresses.length === 0) throw new CliError('no names: give --dns or --ip (expected at least one name the certificate answers for)');
  return { dnsNames, ipAddresses };
}

export function certCommand(run: (action: () => Promise<number>) => void): Command {
  const cert = new Command('cert').description('a small PKI for mTLS: CA, server and client certificates, revocation, inspection');
  const out = (dir: string | undefined, fallback: string) => resolve(dir ?? fallback);

  cert
    .command('create-ca')
    .description('create a certificate authority (ECDSA P-256 by default) in a folder')
    .requiredOption('--name <name>', 'common name of the CA')
    .option('--out <dir>', 'folder to write ca.pem and ca.key to (default ./<name>)')
    .addOption(new Option('--rsa <bits>', 'RSA key instead of ECDSA P-256').choices(['2048', '3072', '4096']))
    .option('--days <n>', 'validity in days (default 3650)')
    .option('--force', 'replace existing files')
    .action((o: { name: string; out?: string; rsa?: string; days?: string; force?: boolean }) =>
      run(async () => {
        const dir = out(o.out, slug(o.name));
        const ca = await guard(() => createCa({ commonName: o.name, keyType: keyTypeOf(o), days: daysOf(o.days, 3650) }));
        await mkdir(dir, { recursive: true });
        const { certFile, keyFile } = await guard(() => writeIssued(dir, 'ca', ca, { force: o.force === true }));
        process.stdout.write(`${describe(ca, [certFile, keyFile])}\ntrust it in Gatehouse: ssl.trustedCaFile: ${certFile}\n`);
        return 0;
      }),
    );

  const serverAction = (selfSigned: boolean) => (o: { ca?: string; dns?: string[]; ip?: string[]; defaultNames?: boolean; out?: string; name?: string; rsa?: string; days?: string; crlUrl?: string[]; ocspUrl?: string[]; force?: boolean }) =>
    run(async () => {
      // commander stores --no-default-names as defaultNames: false.
      const names = await serverNames(o.dns, o.ip, o.defaultNames === false);
      const keyType = keyTypeOf(o);
      const days = daysOf(o.days, 397);
      const pointers = revocationPointersOf(o);
      const issued = selfSigned
        ? await guard(() => createSelfSignedServer({ ...names, keyType, days, ...pointers }))
        : await guard(async () => issueServer({ ca: await loadCaFolder(resolve(o.ca as string)), ...names, keyType, days, ...pointers }));
      const dir = out(o.out, '.');
      const { certFile, keyFile } = await guard(() => writeIssued(dir, o.name ?? 'server', issued, { force: o.force === true }));
      process.stdout.write(`${describe(issued, [certFile, keyFile])}\nanswers for  ${[...names.dnsNames, ...names.ipAddresses].join(', ')}\nuse it in a binding: certificate: { certFile: ${certFile}, keyFile: ${keyFile} }\n`);
      return 0;
    });
  for (const selfSigned of [false, true]) {
    const command = cert
      .command(selfSigned ? 'create-self-signed' : 'create-server')
      .description(selfSigned ? 'a self-signed server certificate' : 'a server certificate issued by a CA folder');
    if (!selfSigned) command.requiredOption('--ca <dir>', 'CA folder (from create-ca)');
    command
      .option('--dns <name...>', 'DNS names (subjectAltName); this machine\'s FQDN, short name and localhost are added')
      .option('--ip <address...>', 'IP addresses (subjectAltName); 127.0.0.1 and ::1 are added')
      .option('--no-default-names', 'only the names given with --dns and --ip')
      .option('--out <dir>', 'folder to write to (default .)')
      .option('--name <base>', 'file base name (default server)')
      .addOption(new Option('--rsa <bits>', 'RSA key instead of ECDSA P-256').choices(['2048', '3072', '4096']))
      .option('--days <n>', 'validity in days (default 397)')
      .option('--crl-url <url...>', 'http:// URLs of the CA\'s CRL (cRLDistributionPoints)')
      .option('--ocsp-url <url...>', 'http:// URLs of the CA\'s OCSP responder (authorityInfoAccess)')
      .option('--force', 'replace existing files')
      .action(serverAction(selfSigned));
  }

  cert
    .command('issue-client')
    .description('a client certificate (extendedKeyUsage clientAuth) as PEM and password-protected PFX')
    .requiredOption('--ca <dir>', 'CA folder (from create-ca)')
    .requiredOption('--cn <name>', 'common name')
    .option('--email <address>', 'e-mail address (subject and subjectAltName)')
    .option('--ou <unit>', 'organizational unit')
    .option('--o <organization>', 'organization')
    .option('--days <n>', 'validity in days (default 365)')
    .option('--out <dir>', 'folder to write to (default .)')
    .option('--name <base>', 'file base name (default from the common name)')
    .option('--pfx-password <password>', 'PFX password (default: a random one, printed)')
    .addOption(new Option('--rsa <bits>', 'RSA key instead of ECDSA P-256').choices(['2048', '3072', '4096']))
    .option('--crl-url <url...>', 'http:// URLs of the CA\'s CRL (cRLDistributionPoints)')
    .option('--ocsp-url <url...>', 'http:// URLs of the CA\'s OCSP responder (authorityInfoAccess)')
    .option('--force', 'replace existing files')
    .action((o: { ca: string; cn: string; email?: string; ou?: string; o?: string; days?: string; out?: string; name?: string; pfxPassword?: string; rsa?: string; crlUrl?: string[]; ocspUrl?: string[]; force?: boolean }) =>
      run(async () => {
        const pointers = revocationPointersOf(o);
        const ca = await loadCaFolder(resolve(o.ca));
        const issued = await guard(() =>
          issueClient({
            ca,
            commonName: o.cn,
            keyType: keyTypeOf(o),
            days: daysOf(o.days, 365),
            ...pointers,
            ...(o.email === undefined ? {} : { email: o.email }),
            ...(o.ou === undefined ? {} : { organizationalUnit: o.ou }),
            ...(o.o === undefined ? {} : { organization: o.o }),
          }),
        );
        const dir = out(o.out, '.');
        const base = o.name ?? slug(o.cn);
        const password = o.pfxPassword ?? randomBytes(12).toString('base64url');
        const { certFile, keyFile } = await guard(() => writeIssued(dir, base, issued, { force: o.force === true }));
        const pfxFile = join(dir, `${base}.pfx`);
        await guard(() => writeAtomic(pfxFile, toPfx({ issued, password, friendlyName: o.cn }), 0o600, o.force === true));
        process.stdout.write(`${describe(issued, [certFile, keyFile, pfxFile])}\nPFX password ${password}\ncurl: curl --cert ${certFile} --key ${keyFile} https://…\n`);
        return 0;
      }),
    );

  cert
    .command('revoke')
    .description('revoke a certificate issued by a CA folder and rewrite its CRL (crl.pem, crl.der)')
    .requiredOption('--ca <dir>', 'CA folder')
    .argument('<cert>', 'certificate file to revoke (PEM or DER)')
    .option('--days <n>', 'CRL validity in days (default 7)')
    .action((file: string, o: { ca: string; days?: string }) =>
      run(async () => {
        const dir = resolve(o.ca);
        const ca = await loadCaFolder(dir);
        const [leaf] = await readCertificates(file, 'CERT');
        if (!leaf) throw new CliError(`CERT ${file}: holds no certificate`);
        if (!leaf.checkIssued(ca.cert) || !leaf.verify(ca.cert.publicKey)) throw new CliError(`CERT ${file}: was not issued by the CA in ${dir} (its issuer is ${dn(leaf.issuer)})`);
        const revoked = await readRevoked(dir);
        const serial = leaf.serialNumber.toUpperCase().replace(/^0+(?=.)/, '');
        if (!revoked.some((r) => r.serialNumber === serial)) revoked.push({ serialNumber: serial, revokedAt: new Date().toISOString(), subject: dn(leaf.subject) });
        const crl = await writeRevocation(dir, ca, revoked, daysOf(o.days, 7));
        process.stdout.write(`revoked ${dn(leaf.subject)} (serial ${serial})\nwrote ${crl} (${revoked.length} revoked); use it: ssl.crlFile: ${crl}\n`);
        return 0;
      }),
    );

  cert
    .command('crl')
    .description('(re)write the CRL of a CA folder (crl.pem, crl.der), e.g. before it goes stale')
    .requiredOption('--ca <dir>', 'CA folder')
    .option('--days <n>', 'CRL validity in days (default 7)')
    .action((o: { ca: string; days?: string }) =>
      run(async () => {
        const dir = resolve(o.ca);
        const ca = await loadCaFolder(dir);
        const revoked = await readRevoked(dir);
        const crl = await writeRevocation(dir, ca, revoked, daysOf(o.days, 7));
        process.stdout.write(`wrote ${crl} (${revoked.length} revoked)\n`);
        return 0;
      }),
    );

  cert
    .command('inspect')
    .description('subject, issuer, SANs, usages, validity, serial, thumbprints, revocation pointers; with --ca, whether it chains to that CA and why not; with --crl / --online, whether it is revoked')
    .argument('<file>', 'certificate (PEM, possibly with its chain, or DER)')
    .option('--ca <cafile>', 'CA certificate(s) to check the chain against')
    .option('--crl <file...>', 'with --ca: CRL files (PEM bundles or DER) to check the certificate and its chain against, as ssl.crlFile does')
    .option('--online', 'with --ca: also ask the OCSP responders and CRL distribution points the certificates name, as ssl.revocation.online does')
    .action((file: string, o: { ca?: string; crl?: string[]; online?: boolean }) => run(() => inspectCommand(file, o)));
  return cert;
}
