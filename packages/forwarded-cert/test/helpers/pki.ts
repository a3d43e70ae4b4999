/**
 * Test certificates, made at test time with the `openssl` command line (node:crypto cannot issue
 * certificates). Each test process works in its own temporary folder, removed at exit.
 *
 * Why openssl rather than the project's src/pki: this package builds before the root project (see
 * the root `build` script) and its tsconfig's rootDir is the package, so it cannot depend on the
 * root's sources or its dist/; openssl is installed by .ci/run and gives full control over EKU,
 * keyUsage, basicConstraints, SANs, UTF-8 names and odd extensions.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCert {
  readonly name: string;
  readonly der: Buffer;
  readonly pem: string;
  readonly x509: X509Certificate;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface IssueOptions {
  /** OpenSSL -subj form, e.g. `/C=US/O=Example/CN=alice` (escape `/` `+` `\` with a backslash). */
  readonly subject: string;
  /** Signing CA; omitted → self-signed. */
  readonly issuer?: TestCert;
  /** Validity in days from now (default 30). */
  readonly days?: number;
  /** Extension lines in openssl config syntax, e.g. `extendedKeyUsage = clientAuth`. */
  readonly extensions: readonly string[];
}

let dir: string | undefined;
let counter = 0;

function workDir(): string {
  if (!dir) {
    dir = mkdtempSync(join(tmpdir(), 'forwarded-cert-test-'));
    const created = dir;
    process.once('exit', () => rmSync(created, { recursive: true, force: true }));
  }
  return dir;
}

function openssl(args: readonly string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = error as { code?: string; stderr?: Buffer };
    if (e.code === 'ENOENT') throw new Error('the tests need the openssl command line (apt-get install openssl)');
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr?.toString() ?? String(error)}`);
  }
}

/** Issues one certificate with a fresh P-256 key. */
export function issue(name: string, options: IssueOptions): TestCert {
  const base = join(workDir(), `${++counter}-${name.replace(/[^A-Za-z0-9]/g, '_')}`);
  const cnf = `${base}.cnf`;
  const keyFile = `${base}.key`;
  const certFile = `${base}.pem`;
  writeFileSync(cnf, ['[req]', 'distinguished_name = dn', 'string_mask = utf8only', 'utf8 = yes', '[dn]', '[ext]', ...options.extensions, ''].join('\n'));
  const serial = `0x${randomBytes(8).toString('hex')}`;
  const days = String(options.days ?? 30);
  const keyArgs = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile];
  if (!options.issuer) {
    openssl(['req', '-x509', '-new', ...keyArgs, '-subj', options.subject, '-utf8', '-days', days, '-config', cnf, '-extensions', 'ext', '-set_serial', serial, '-sha256', '-out', certFile]);
  } else {
    const csr = `${base}.csr`;
    openssl(['req', '-new', ...keyArgs, '-subj', options.subject, '-utf8', '-config', cnf, '-out', csr]);
    openssl(['x509', '-req', '-in', csr, '-CA', options.issuer.certFile, '-CAkey', options.issuer.keyFile, '-set_serial', serial, '-days', days, '-extfile', cnf, '-extensions', 'ext', '-sha256', '-out', certFile]);
  }
  const pem = readFileSync(certFile, 'utf8');
  const x509 = new X509Certificate(pem);
  return { name, der: x509.raw, pem, x509, certFile, keyFile };
}

/** A CA certificate (critical basicConstraints CA:TRUE, optional pathlen, keyCertSign). */
export function issueCa(name: string, subject: string, issuer?: TestCert, options: { pathlen?: number; days?: number } = {}): TestCert {
  return issue(name, {
    subject,
    ...(issuer ? { issuer } : {}),
    days: options.days ?? 3650,
    extensions: [
      `basicConstraints = critical, CA:TRUE${options.pathlen === undefined ? '' : `, pathlen:${options.pathlen}`}`,
      'keyUsage = critical, keyCertSign, cRLSign',
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid',
    ],
  });
}

/** A client certificate; `extensions` replaces the default EKU/keyUsage/SAN lines when given. */
export function issueClient(name: string, subject: string, issuer: TestCert, options: { days?: number; eku?: string | null; keyUsage?: string | null; san?: string | null; extra?: readonly string[] } = {}): TestCert {
  const lines = ['basicConstraints = critical, CA:FALSE', 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid'];
  const eku = options.eku === undefined ? 'clientAuth' : options.eku;
  const keyUsage = options.keyUsage === undefined ? 'critical, digitalSignature' : options.keyUsage;
  if (eku !== null) lines.push(`extendedKeyUsage = ${eku}`);
  if (keyUsage !== null) lines.push(`keyUsage = ${keyUsage}`);
  if (options.san) lines.push(`subjectAltName = ${options.san}`);
  lines.push(...(options.extra ?? []));
  return issue(name, { subject, issuer, days: options.days ?? 30, extensions: lines });
}

/** The certificates most tests use, made once per test process. */
export interface Fixtures {
  readonly root: TestCert;
  readonly intermediate: TestCert;
  /** Leaf issued by `intermediate`: /C=US/O=Example Corp/CN=alice, SAN URI + DNS, clientAuth. */
  readonly alice: TestCert;
  /** Leaf issued by `root` directly: /O=Example Corp/CN=bob. */
  readonly bob: TestCert;
  /** EKU serverAuth only. */
  readonly serverOnly: TestCert;
  /** No EKU extension. */
  readonly noEku: TestCert;
  /** EKU anyExtendedKeyUsage. */
  readonly anyEku: TestCert;
  /** KeyUsage keyAgreement only (no digitalSignature). */
  readonly noDigitalSignature: TestCert;
  /** A root with the same name as `root` but another key — a forger's CA. */
  readonly rogueRoot: TestCert;
  /** Leaf from `rogueRoot` named exactly like alice. */
  readonly mallory: TestCert;
  /** Name with `,` `"` `+`-free specials and UTF-8: /C=DE/O=Müller, Söhne & Co/CN=José "Pepe" <admin>. */
  readonly special: TestCert;
  /** An unknown critical extension. */
  readonly unknownCritical: TestCert;
}

let cached: Fixtures | undefined;

export function fixtures(): Fixtures {
  if (cached) return cached;
  const root = issueCa('root', '/O=Gatehouse Tests/CN=Gatehouse Test Root CA');
  const intermediate = issueCa('intermediate', '/O=Gatehouse Tests/CN=Gatehouse Test Issuing CA', root, { pathlen: 0 });
  const rogueRoot = issueCa('rogue-root', '/O=Gatehouse Tests/CN=Gatehouse Test Root CA');
  cached = {
    root,
    intermediate,
    alice: issueClient('alice', '/C=US/O=Example Corp/CN=alice', intermediate, { san: 'URI:spiffe://example.org/alice, DNS:alice.example.org, DNS:alice.internal' }),
    bob: issueClient('bob', '/O=Example Corp/CN=bob', root),
    serverOnly: issueClient('server-only', '/O=Example Corp/CN=server', root, { eku: 'serverAuth' }),
    noEku: issueClient('no-eku', '/O=Example Corp/CN=no-eku', root, { eku: null }),
    anyEku: issueClient('any-eku', '/O=Example Corp/CN=any-eku', root, { eku: 'anyExtendedKeyUsage' }),
    noDigitalSignature: issueClient('no-ds', '/O=Example Corp/CN=no-ds', root, { keyUsage: 'critical, keyAgreement' }),
    rogueRoot,
    mallory: issueClient('mallory', '/C=US/O=Example Corp/CN=alice', rogueRoot),
    special: issueClient('special', '/C=DE/O=Müller, Söhne & Co/CN=José "Pepe" <admin>', root, { san: 'URI:https://example.org/a;b=c' }),
    unknownCritical: issueClient('unknown-critical', '/O=Example Corp/CN=odd', root, { extra: ['1.3.6.1.4.1.99999.1 = critical, ASN1:NULL'] }),
  };
  return cached;
}

/** A fixed point in time inside every fixture's validity: "now" for tests that pass a clock. */
export function insideValidity(): number {
  return Date.now() + 60_000;
}

export const DAY = 24 * 60 * 60 * 1000;
