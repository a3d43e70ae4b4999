/**
 * `gatehouse cert inspect CERT --ca … --crl … [--online]` says whether a certificate is revoked, as the door
 * would: CRL files (a bundle, an intermediate's CRL), then the OCSP responder and CRL distribution point the
 * certificates name (a real OpenSSL responder on 127.0.0.1). Run as a real child process.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createCa, createCrl, issueClient, type Issued } from '../../src/pki/index.js';
import { startResponders, type Responders } from '../support/revocation-responders.js';
import { runCli } from './cli-helpers.js';
import { makeTempDir, type TempDir } from '../support/temp.js';

let tmp: TempDir | undefined;
let dir: string;
let responders: Responders;
let root: Issued;
let issuing: Issued;
const files: Record<string, string> = {};

before(async () => {
  tmp = await makeTempDir('gatehouse-inspect-revocation-');
  dir = tmp.dir;
  responders = await startResponders();
  root = await createCa({ commonName: 'Inspect Root' });
  issuing = await createCa({ commonName: 'Inspect Issuing CA', issuer: root, pathLength: 0 });
  const good = await issueClient({ ca: issuing, commonName: 'Inspect Good', ocspUrls: [responders.ocspUrl('i')] });
  const revoked = await issueClient({ ca: issuing, commonName: 'Inspect Revoked', ocspUrls: [responders.ocspUrl('i')] });
  const silent = await issueClient({ ca: issuing, commonName: 'Inspect Silent', ocspUrls: ['http://127.0.0.1:9/ocsp'] });
  responders.setOcsp('i', issuing);
  responders.setStatus('i', good.serialNumber, 'good');
  responders.setStatus('i', revoked.serialNumber, 'revoked');
  const write = async (name: string, text: string) => {
    files[name] = join(dir, name);
    await writeFile(files[name] as string, text);
  };
  await write('root.pem', root.certPem);
  await write('good.pem', good.certPem + issuing.certPem);
  await write('revoked.pem', revoked.certPem + issuing.certPem);
  await write('silent.pem', silent.certPem + issuing.certPem);
  // The root's CRL (empty), then the issuing CA's revoking `revoked`: one bundle.
  await write('root.crl', (await createCrl({ ca: root, revoked: [] })).pem);
  await write('bundle.crl', (await createCrl({ ca: root, revoked: [] })).pem + (await createCrl({ ca: issuing, revoked: [{ serialNumber: revoked.serialNumber }] })).pem);
});

after(async () => {
  await responders?.close();
  await tmp?.remove();
});

const inspect = (...args: string[]) => runCli(['cert', 'inspect', ...args], { cwd: dir });

test('--crl: a leaf revoked by the issuing CA\'s CRL in a bundle → REVOKED, exit 1; a valid one → not revoked, exit 0', async () => {
  const bad = await inspect('revoked.pem', '--ca', 'root.pem', '--crl', 'bundle.crl');
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stdout, /^revocation {3}REVOKED \(CRL file .*bundle\.crl \(CRL 2 of 2\): serial [0-9A-F]+\)$/m);
  const ok = await inspect('good.pem', '--ca', 'root.pem', '--crl', 'bundle.crl');
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^revocation {3}not revoked: not on bundle\.crl$/m);
});

test('--online: the responder the certificate names says revoked, good, or cannot be reached', async () => {
  const bad = await inspect('revoked.pem', '--ca', 'root.pem', '--online', '--crl', 'bundle.crl');
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /^revocation {3}REVOKED \(CRL file/m, 'the file answers first');
  const revokedOnline = await inspect('revoked.pem', '--ca', 'root.pem', '--online');
  assert.equal(revokedOnline.code, 1, revokedOnline.stderr);
  // The issuing CA names no responder: with --online alone its status is unknown, as the door would say.
  assert.match(revokedOnline.stdout, /^revocation {3}(REVOKED \(OCSP http:\/\/127\.0\.0\.1:\d+\/ocsp\/i: CN=Inspect Revoked|UNKNOWN \(CN=Inspect Issuing CA)/m);
  // The root's CRL answers for the issuing CA; the leaf's responder for the leaf.
  const good = await inspect('good.pem', '--ca', 'root.pem', '--online', '--crl', 'root.crl');
  assert.equal(good.code, 0, good.stdout + good.stderr);
  assert.match(good.stdout, /^revocation {3}not revoked: not on root\.crl; good \(OCSP http:\/\/127\.0\.0\.1:\d+\/ocsp\/i\)$/m);
  const silent = await inspect('silent.pem', '--ca', 'root.pem', '--online', '--crl', 'root.crl');
  assert.equal(silent.code, 1);
  assert.match(silent.stdout, /^revocation {3}UNKNOWN \(CN=Inspect Silent: OCSP http:\/\/127\.0\.0\.1:9\/ocsp: ECONNREFUSED/m);
});

test('--crl without --ca is refused, naming what is missing', async () => {
  const result = await inspect('good.pem', '--crl', 'bundle.crl');
  assert.equal(result.code, 1);
  assert.match(result.stderr, /--crl and --online need --ca/);
});
