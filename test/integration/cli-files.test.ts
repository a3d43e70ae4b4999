/**
 * `gatehouse validate` and the files a config names: certificates, keys, PFX, passphrase files, CA
 * bundles and CRLs. Relative paths are relative to the config file's folder.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCrl } from '../../src/pki/index.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { PROBLEM_LINE, canRead, linesOf, lineOf, literal, runCli, validate, writeText, type CliResult } from './cli-helpers.js';
import { tempDir } from '../support/temp.js';

let pki: TestPki;
before(async () => {
  pki = await createTestPki();
});
after(() => pki?.cleanup());

const FARMS = `farms:
  - name: web
    servers:
      - address: 127.0.0.1:9001
`;

/** One https site; `certificate` and `ssl` are YAML fragments already indented for their place. */
function httpsSite(certificate: string, ssl = ''): string {
  return `sites:
  - name: secure
    bindings:
      - protocol: https
        address: 127.0.0.1
        port: 8443
        certificate:
${certificate}${ssl ? `    ssl:\n${ssl}` : ''}    farm: web
${FARMS}`;
}

const pair = (cert: string, key: string) => `          certFile: ${cert}\n          keyFile: ${key}\n`;

function outputLines(result: CliResult): string[] {
  return linesOf(result.stdout + result.stderr);
}

/** Exit 1 and exactly the given problems (each `FILE:LINE path: …` matching `message`). */
function assertProblems(result: CliResult, file: string, expected: readonly { line: number; path: string; message: RegExp }[]): void {
  assert.equal(result.code, 1, `exit code\n${result.stdout}${result.stderr}`);
  const lines = outputLines(result);
  for (const line of lines) assert.match(line, PROBLEM_LINE);
  for (const want of expected) {
    const prefix = `${file}:${want.line} ${want.path}: `;
    const hit = lines.find((line) => line.startsWith(prefix));
    assert.ok(hit, `expected a line starting with "${prefix}"; got:\n${lines.join('\n')}`);
    assert.match(hit, want.message);
  }
  assert.equal(lines.length, expected.length, `exactly ${expected.length} problem line(s); got:\n${lines.join('\n')}`);
}

function assertOk(result: CliResult): void {
  assert.equal(result.code, 0, `exit code\n${result.stdout}${result.stderr}`);
  assert.equal(result.stdout, 'ok\n');
}

describe('gatehouse validate: relative paths', () => {
  test('relative paths are relative to the config file folder, not the current directory', async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, 'sub', 'certs'), { recursive: true });
    await copyFile(pki.server.certFile, join(dir, 'sub', 'certs', 'server.pem'));
    await copyFile(pki.server.keyFile, join(dir, 'sub', 'certs', 'server.key'));
    await mkdir(join(dir, 'sub', 'dir'), { recursive: true });
    await copyFile(pki.caFile, join(dir, 'sub', 'dir', 'ca.pem'));
    await copyFile(pki.crlFile, join(dir, 'sub', 'dir', 'ca.crl'));
    await writeText(dir, 'sub/dir/gatehouse.yaml', httpsSite(pair('../certs/server.pem', '../certs/server.key'), '      clientCertificates: accept\n      trustedCaFile: ca.pem\n      crlFile: [ca.crl]\n'));
    // cwd is the temp root: none of these paths exist relative to it.
    assertOk(await validate(dir, 'sub/dir/gatehouse.yaml'));
  });

  test('a missing certFile: the message names its absolute path (resolved from the config folder)', async (t) => {
    const dir = await tempDir(t);
    const text = httpsSite(pair('missing.pem', pki.server.keyFile));
    await writeText(dir, 'sub/dir/gatehouse.yaml', text);
    const result = await validate(dir, 'sub/dir/gatehouse.yaml');
    const absolute = join(dir, 'sub', 'dir', 'missing.pem');
    assertProblems(result, 'sub/dir/gatehouse.yaml', [
      { line: lineOf(text, 'missing.pem'), path: 'sites[0].bindings[0].certificate.certFile', message: new RegExp(`: ${literal(absolute)} does not exist \\(expected .+\\)$`) },
    ]);
  });

  test('every missing file (cert, key, CA bundle, CRL) is reported at once', async (t) => {
    const dir = await tempDir(t);
    const text = `sites:
  - name: one
    bindings:
      - protocol: https
        address: 127.0.0.1
        port: 8443
        certificate:
          certFile: no-cert.pem
          keyFile: no-key.pem
    farm: web
  - name: two
    bindings:
      - protocol: https
        address: 127.0.0.1
        port: 9443
        certificate:
          certFile: ${pki.server.certFile}
          keyFile: ${pki.server.keyFile}
    ssl:
      clientCertificates: require
      trustedCaFile: no-ca.pem
    farm: web
  - name: three
    bindings:
      - protocol: https
        address: 127.0.0.1
        port: 10443
        certificate:
          pfxFile: no.pfx
          passphraseFile: no-pass.txt
    ssl:
      clientCertificates: require
      trustedCaFile: ${pki.caFile}
      crlFile: no.crl
    farm: web
${FARMS}`;
    await writeText(dir, 'gatehouse.yaml', text);
    const result = await validate(dir, 'gatehouse.yaml');
    const missing = (name: string) => new RegExp(`${literal(join(dir, name))} does not exist`);
    assertProblems(result, 'gatehouse.yaml', [
      { line: lineOf(text, 'no-cert.pem'), path: 'sites[0].bindings[0].certificate.certFile', message: missing('no-cert.pem') },
      { line: lineOf(text, 'no-key.pem'), path: 'sites[0].bindings[0].certificate.keyFile', message: missing('no-key.pem') },
      { line: lineOf(text, 'no-ca.pem'), path: 'sites[1].ssl.trustedCaFile', message: missing('no-ca.pem') },
      { line: lineOf(text, 'no-pass.txt'), path: 'sites[2].bindings[0].certificate.passphraseFile', message: missing('no-pass.txt') },
      { line: lineOf(text, 'no.crl'), path: 'sites[2].ssl.crlFile', message: missing('no.crl') },
    ]);
  });

  test('a missing file does not hide a reference problem elsewhere (all problems at once)', async (t) => {
    const dir = await tempDir(t);
    const text = `sites:
  - name: secure
    bindings:
      - protocol: https
        address: 127.0.0.1
        port: 8443
        certificate:
          certFile: gone.pem
          keyFile: ${pki.server.keyFile}
    farm: web
  - name: secure
    bindings:
      - protocol: http
        address: 127.0.0.1
        port: 8080
    farm: web
${FARMS}`;
    await writeText(dir, 'gatehouse.yaml', text);
    const result = await validate(dir, 'gatehouse.yaml');
    assertProblems(result, 'gatehouse.yaml', [
      { line: lineOf(text, 'gone.pem'), path: 'sites[0].bindings[0].certificate.certFile', message: /gone\.pem does not exist/ },
      { line: 11, path: 'sites[1].name', message: /'secure'/ },
    ]);
  });
});

describe('gatehouse validate: certificates and keys', () => {
  test('a key that does not match the certificate', async (t) => {
    const dir = await tempDir(t);
    const text = httpsSite(pair(pki.server.certFile, pki.otherServer.keyFile));
    await writeText(dir, 'gatehouse.yaml', text);
    const result = await validate(dir, 'gatehouse.yaml');
    assertProblems(result, 'gatehouse.yaml', [
      {
        line: lineOf(text, 'keyFile:'),
        path: 'sites[0].bindings[0].certificate.keyFile',
        message: new RegExp(`${literal(pki.otherServer.keyFile)} does not match the certificate in ${literal(pki.server.certFile)}.* \\(expected .*private key.*\\)$`),
      },
    ]);
  });

  test('an unreadable key (mode 000)', async (t) => {
    const dir = await tempDir(t);
    await chmod(dir, 0o755); // so that an unprivileged user can reach the config, below
    await writeText(dir, 'server.pem', await readFile(pki.server.certFile), 0o644);
    const key = await writeText(dir, 'server.key', await readFile(pki.server.keyFile), 0o600);
    await chmod(key, 0o000);
    const text = httpsSite(pair('server.pem', 'server.key'));
    await writeText(dir, 'gatehouse.yaml', text, 0o644);
    const expectDenied = (result: CliResult) =>
      assertProblems(result, 'gatehouse.yaml', [
        { line: lineOf(text, 'keyFile:'), path: 'sites[0].bindings[0].certificate.keyFile', message: new RegExp(`${literal(key)} is not readable \\(permission denied\\)`) },
      ]);

    const result = await validate(dir, 'gatehouse.yaml');
    if (await canRead(key)) {
      // Running as root (or with CAP_DAC_READ_SEARCH): mode 000 does not stop the read, so the file is fine.
      assertOk(result);
      // Exercise the permission-denied path as an unprivileged user when we can switch to one.
      if (process.getuid?.() === 0) {
        const nobody = { uid: 65534, gid: 65534 };
        // Only when the unprivileged user can load Gatehouse at all (the checkout, or the node binary itself,
        // may be private to root: then the spawn fails with EACCES).
        const probe = await runCli(['--help'], { cwd: dir, ...nobody }).catch((error: Error): CliResult => ({ code: null, signal: null, stdout: '', stderr: error.message }));
        if (probe.code === 0) expectDenied(await validate(dir, 'gatehouse.yaml', nobody));
        else t.diagnostic(`running as root; uid 65534 cannot run the CLI here, so only the root case was checked (${probe.stderr.split('\n')[0]})`);
      }
    } else {
      expectDenied(result);
    }
  });

  test('a PFX with the wrong passphrase', async (t) => {
    const dir = await tempDir(t);
    const text = httpsSite(`          pfxFile: ${pki.server.pfxFile}\n          passphrase: not-the-password\n`);
    await writeText(dir, 'gatehouse.yaml', text);
    const result = await validate(dir, 'gatehouse.yaml');
    assertProblems(result, 'gatehouse.yaml', [
      { line: lineOf(text, 'pfxFile:'), path: 'sites[0].bindings[0].certificate.pfxFile', message: new RegExp(`${literal(pki.server.pfxFile)} .*wrong passphrase`) },
    ]);
  });

  test('a PFX with its passphrase in passphraseFile (trailing newline removed) is valid', async (t) => {
    const dir = await tempDir(t);
    await writeText(dir, 'secrets/pfx-pass.txt', `${pki.server.pfxPassword}\n`, 0o600);
    await writeText(dir, 'gatehouse.yaml', httpsSite(`          pfxFile: ${pki.server.pfxFile}\n          passphraseFile: secrets/pfx-pass.txt\n`));
    assertOk(await validate(dir, 'gatehouse.yaml'));
  });

  test('a PFX with the wrong passphrase in passphraseFile', async (t) => {
    const dir = await tempDir(t);
    await writeText(dir, 'pass.txt', 'nope\n', 0o600);
    const text = httpsSite(`          pfxFile: ${pki.server.pfxFile}\n          passphraseFile: pass.txt\n`);
    await writeText(dir, 'gatehouse.yaml', text);
    const result = await validate(dir, 'gatehouse.yaml');
    assertProblems(result, 'gatehouse.yaml', [{ line: lineOf(text, 'pfxFile:'), path: 'sites[0].bindings[0].certificate.pfxFile', message: /wrong passphrase/ }]);
  });
});

describe('gatehouse validate: trusted CAs and CRLs', () => {
  const cert = () => pair(pki.server.certFile, pki.server.keyFile);

  test('the test CA bundle with its PEM and DER CRLs is valid', async (t) => {
    const dir = await tempDir(t);
    await writeText(dir, 'gatehouse.yaml', httpsSite(cert(), `      clientCertificates: require\n      trustedCaFile: ${pki.caFile}\n      crlFile:\n        - ${pki.crlFile}\n        - ${pki.crlDerFile}\n`));
    assertOk(await validate(dir, 'gatehouse.yaml'));
  });

  test('a trustedCaFile that holds a certificate that is not a CA', async (t) => {
    const dir = await tempDir(t);
    const text = httpsSite(cert(), `      clientCertificates: accept\n      trustedCaFile: ${pki.server.certFile}\n`);
    await writeText(dir, 'gatehouse.yaml', text);
    const result = await validate(dir, 'gatehouse.yaml');
    assertProblems(result, 'gatehouse.yaml', [
      { line: lineOf(text, 'trustedCaFile:'), path: 'sites[0].ssl.trustedCaFile', message: new RegExp(`${literal(pki.server.certFile)}: .*is not a CA certificate \\(expected .*CA.*\\)$`) },
    ]);
  });

  test('a CRL signed by a CA that is not in trustedCaFile: valid, and the warning names the CA clients must send', async (t) => {
    const dir = await tempDir(t);
    const other = await createCrl({ ca: pki.otherRoot, revoked: [] });
    const crl = await writeText(dir, 'other.crl', other.pem);
    const text = httpsSite(cert(), `      clientCertificates: require\n      trustedCaFile: ${pki.caFile}\n      crlFile: other.crl\n`);
    await writeText(dir, 'gatehouse.yaml', text);
    const result = await validate(dir, 'gatehouse.yaml');
    assert.equal(result.code, 0, `exit code\n${result.stdout}${result.stderr}`);
    assert.match(result.stderr, new RegExp(`sites\\[0\\]\\.ssl\\.crlFile: warning: ${literal(crl)}: CRL issued by "[^"]*Some Other Root[^"]*" is not signed by a CA in trustedCaFile; it is checked against the CA "[^"]*Some Other Root[^"]*" that clients send in their chain`));
  });

  test('a garbage CRL file (one of a list)', async (t) => {
    const dir = await tempDir(t);
    const garbage = await writeText(dir, 'garbage.crl', 'this is not a certificate revocation list\n');
    const text = httpsSite(cert(), `      clientCertificates: require\n      trustedCaFile: ${pki.caFile}\n      crlFile:\n        - ${pki.crlFile}\n        - garbage.crl   # <-\n`);
    await writeText(dir, 'gatehouse.yaml', text);
    const result = await validate(dir, 'gatehouse.yaml');
    assertProblems(result, 'gatehouse.yaml', [
      { line: lineOf(text, '# <-'), path: 'sites[0].ssl.crlFile[1]', message: new RegExp(`${literal(garbage)} is not a CRL`) },
    ]);
  });

  test('a garbage CRL file (single) with a PEM header and broken body', async (t) => {
    const dir = await tempDir(t);
    const garbage = await writeText(dir, 'broken.crl', '-----BEGIN X509 CRL-----\nbm90IGEgY3Js\n-----END X509 CRL-----\n');
    const text = httpsSite(cert(), `      clientCertificates: require\n      trustedCaFile: ${pki.caFile}\n      crlFile: broken.crl\n`);
    await writeText(dir, 'gatehouse.yaml', text);
    const result = await validate(dir, 'gatehouse.yaml');
    assertProblems(result, 'gatehouse.yaml', [{ line: lineOf(text, 'crlFile:'), path: 'sites[0].ssl.crlFile', message: new RegExp(`${literal(garbage)} is not a CRL`) }]);
  });
});
