/**
 * Revocation that holds (issue 11, the CRL files): a PEM bundle of several CRLs uses every one; a CRL
 * signed by the issuing intermediate that clients send (trustedCaFile = the root) is verified against
 * that intermediate and used; `revocation.check` chooses leaf or chain. Real client: curl; real
 * certificates and CRLs made at test time.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCa, createCrl, type Issued } from '../../src/pki/index.js';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/problem.js';
import { assertAccepted, assertRejected, curlAs, uniquePath, withDoor, type Door } from '../support/door.js';
import { createTestPki, type ClientFiles, type TestPki } from '../support/test-pki.js';

let pki: TestPki;
/** Root CRL revoking clients.revoked, then the intermediate's CRL revoking clients.revokedViaIntermediate, in one PEM. */
let bundleCrlFile: string;
/** The root's CRL revoking the intermediate itself. */
let intermediateRevokedCrlFile: string;
/** A CRL that names the root but is signed by another key. */
let forgedRootCrlFile: string;

before(async () => {
  pki = await createTestPki();
  const rootCrl = await createCrl({ ca: pki.root, revoked: [{ serialNumber: pki.clients.revoked.issued.serialNumber }] });
  const intermediateCrl = await createCrl({ ca: pki.intermediate, revoked: [{ serialNumber: pki.clients.revokedViaIntermediate.issued.serialNumber }] });
  bundleCrlFile = join(pki.dir, 'crl-bundle.pem');
  await writeFile(bundleCrlFile, rootCrl.pem + intermediateCrl.pem);
  intermediateRevokedCrlFile = join(pki.dir, 'root-revokes-intermediate.crl');
  await writeFile(intermediateRevokedCrlFile, (await createCrl({ ca: pki.root, revoked: [{ serialNumber: pki.intermediate.serialNumber }] })).pem);
  // Another CA under the same name as the trusted root: its CRL must never count as the root's.
  const impostor: Issued = await createCa({ commonName: 'Gatehouse Test Root', organization: 'Gatehouse Tests' });
  forgedRootCrlFile = join(pki.dir, 'forged-root.crl');
  await writeFile(forgedRootCrlFile, (await createCrl({ ca: impostor, revoked: [{ serialNumber: pki.clients.valid.issued.serialNumber }] })).pem);
});

after(async () => {
  await pki?.cleanup();
});

async function assertRevoked(door: Door, client: ClientFiles, label: string): Promise<void> {
  const path = uniquePath(label);
  assertRejected(await curlAs(pki, door, path, client), 13, door, path, { reason: /revoked/, certFile: client.certFile });
}

describe('CRL bundles', () => {
  test('a PEM file with two CRLs (the root\'s, then the issuing CA\'s): a leaf revoked in the second → 403.13', async () => {
    await withDoor(pki, { clientCertificates: 'require', trustedCaFile: pki.bundleCaFile, crlFile: bundleCrlFile }, async (door) => {
      await assertRevoked(door, pki.clients.revokedViaIntermediate, 'bundle-second');
      await assertRevoked(door, pki.clients.revoked, 'bundle-first');
      await assertAccepted(pki, door, pki.clients.viaIntermediate, 'bundle-valid-int');
      await assertAccepted(pki, door, pki.clients.valid, 'bundle-valid-root');
    });
  });
});

describe('a CRL signed by the intermediate clients send (trustedCaFile = the root)', () => {
  test('the config loads, with a warning naming the CA that must be in the client\'s chain', async () => {
    const yaml = JSON.stringify({ sites: [{ name: 's', bindings: [{ protocol: 'https', port: 0, certificate: { certFile: pki.server.certFile, keyFile: pki.server.keyFile } }], ssl: { clientCertificates: 'require', trustedCaFile: pki.caFile, crlFile: pki.intermediateCrlFile }, farm: 'f' }], farms: [{ name: 'f', servers: [{ address: '127.0.0.1:9' }] }] });
    const { warnings } = await loadConfigText(yaml, join(pki.dir, 'revocation.yaml'), pki.dir);
    const line = warnings.find((w) => w.includes('intermediate.crl'));
    assert.ok(line, `a warning for the CRL: ${warnings.join('\n')}`);
    assert.match(line, /not signed by a CA in trustedCaFile; it is checked against the CA "[^"]*Gatehouse Test Issuing CA[^"]*" that clients send in their chain/);
  });

  test('a revoked leaf sent with its intermediate → 403.13; a valid one → 200 (and again, from the verified cache)', async () => {
    await withDoor(pki, { clientCertificates: 'require', trustedCaFile: pki.caFile, crlFile: pki.intermediateCrlFile }, async (door) => {
      await assertRevoked(door, pki.clients.revokedViaIntermediate, 'int-signed-revoked');
      await assertAccepted(pki, door, pki.clients.viaIntermediate, 'int-signed-valid');
      await assertRevoked(door, pki.clients.revokedViaIntermediate, 'int-signed-revoked-again');
      await assertAccepted(pki, door, pki.clients.valid, 'int-signed-root-client');
    });
  });

  test('in a bundle with the root\'s CRL, as DER in a list: both hold', async () => {
    await withDoor(pki, { clientCertificates: 'require', trustedCaFile: pki.caFile, crlFile: [pki.crlFile, pki.intermediateCrlDerFile] }, async (door) => {
      await assertRevoked(door, pki.clients.revoked, 'mixed-root');
      await assertRevoked(door, pki.clients.revokedViaIntermediate, 'mixed-int');
      await assertAccepted(pki, door, pki.clients.viaIntermediate, 'mixed-valid');
    });
  });

  test('a CRL under the trusted root\'s name but signed by another key is refused at load', async () => {
    const yaml = JSON.stringify({ sites: [{ name: 's', bindings: [{ protocol: 'https', port: 0, certificate: { certFile: pki.server.certFile, keyFile: pki.server.keyFile } }], ssl: { clientCertificates: 'require', trustedCaFile: pki.caFile, crlFile: forgedRootCrlFile }, farm: 'f' }], farms: [{ name: 'f', servers: [{ address: '127.0.0.1:9' }] }] });
    await assert.rejects(loadConfigText(yaml, join(pki.dir, 'forged.yaml'), pki.dir), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.lines.join('\n'), /forged-root\.crl: CRL issued by ".*Gatehouse Test Root.*" names a CA in trustedCaFile but is not signed with its key/);
      return true;
    });
  });
});

describe('revocation.check', () => {
  test('chain (the default): an intermediate revoked by the root revokes the certificates it issued', async () => {
    await withDoor(pki, { clientCertificates: 'require', trustedCaFile: pki.caFile, crlFile: intermediateRevokedCrlFile }, async (door) => {
      await assertRevoked(door, pki.clients.viaIntermediate, 'chain-int-revoked');
      await assertAccepted(pki, door, pki.clients.valid, 'chain-root-client');
    });
  });

  test('leaf: only the client certificate is looked up', async () => {
    await withDoor(pki, { clientCertificates: 'require', trustedCaFile: pki.caFile, crlFile: [intermediateRevokedCrlFile, pki.crlFile], revocation: { check: 'leaf' } }, async (door) => {
      await assertAccepted(pki, door, pki.clients.viaIntermediate, 'leaf-int-revoked-ignored');
      await assertRevoked(door, pki.clients.revoked, 'leaf-revoked');
    });
  });

  test('off: the CRLs are read but nobody is refused for revocation', async () => {
    await withDoor(pki, { clientCertificates: 'require', trustedCaFile: pki.caFile, crlFile: bundleCrlFile, revocation: { check: 'off' } }, async (door) => {
      await assertAccepted(pki, door, pki.clients.revoked, 'off-revoked');
    });
  });
});
