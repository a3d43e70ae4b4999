/**
 * The door with certificate chains (intermediates sent by the client, intermediates as trust anchors)
 * and revocation lists (PEM, DER, a list of CRLs from two CAs). Real client: curl.
 */
import { after, before, describe, test } from 'node:test';
import { assertAccepted, assertRejected, curlAs, uniquePath, withDoor } from '../support/door.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';

let pki: TestPki;

before(async () => {
  pki = await createTestPki();
});

after(async () => {
  await pki?.cleanup();
});

describe('chains', () => {
  test('client sends leaf + intermediate, trustedCaFile = root only → 200', async () => {
    await withDoor(pki, { clientCertificates: 'require', trustedCaFile: pki.caFile }, async (door) => {
      await assertAccepted(pki, door, pki.clients.viaIntermediate, 'chain-root');
    });
  });

  test('trustedCaFile = intermediate only: leaf + intermediate → 200, leaf only → 200 (partial trust chain)', async () => {
    await withDoor(pki, { clientCertificates: 'require', trustedCaFile: pki.intermediateCaFile }, async (door) => {
      await assertAccepted(pki, door, pki.clients.viaIntermediate, 'chain-int');
      await assertAccepted(pki, door, pki.clients.viaIntermediateLeafOnly, 'leaf-int');
    });
  });

  test('trustedCaFile = intermediate only: a certificate issued by the root itself → 403.16', async () => {
    await withDoor(pki, { clientCertificates: 'require', trustedCaFile: pki.intermediateCaFile }, async (door) => {
      const path = uniquePath('root-issued-vs-int');
      const result = await curlAs(pki, door, path, pki.clients.valid);
      assertRejected(result, 16, door, path, { reason: /trusted CA/, certFile: pki.clients.valid.certFile });
    });
  });

  test('leaf only (issued by the intermediate), trustedCaFile = root → 403.16', async () => {
    await withDoor(pki, { clientCertificates: 'require', trustedCaFile: pki.caFile }, async (door) => {
      const path = uniquePath('leaf-root');
      const result = await curlAs(pki, door, path, pki.clients.viaIntermediateLeafOnly);
      assertRejected(result, 16, door, path, { reason: /trusted CA/, certFile: pki.clients.viaIntermediateLeafOnly.certFile });
    });
  });
});

describe('revocation (crlFile)', () => {
  test('crlFile (PEM): revoked → 403.13, valid → 200', async () => {
    await withDoor(pki, { clientCertificates: 'require', trustedCaFile: pki.caFile, crlFile: pki.crlFile }, async (door) => {
      const path = uniquePath('revoked-pem');
      const result = await curlAs(pki, door, path, pki.clients.revoked);
      assertRejected(result, 13, door, path, { reason: /revoked/, certFile: pki.clients.revoked.certFile });
      await assertAccepted(pki, door, pki.clients.valid, 'valid-pem');
    });
  });

  test('crlFile (DER): revoked → 403.13, valid → 200', async () => {
    await withDoor(pki, { clientCertificates: 'require', trustedCaFile: pki.caFile, crlFile: pki.crlDerFile }, async (door) => {
      const path = uniquePath('revoked-der');
      const result = await curlAs(pki, door, path, pki.clients.revoked);
      assertRejected(result, 13, door, path, { reason: /revoked/, certFile: pki.clients.revoked.certFile });
      await assertAccepted(pki, door, pki.clients.valid, 'valid-der');
    });
  });

  test('crlFile as a list (root CRL in PEM, intermediate CRL in DER): each CRL revokes its own certificate', async () => {
    await withDoor(pki, { clientCertificates: 'require', trustedCaFile: pki.bundleCaFile, crlFile: [pki.crlFile, pki.intermediateCrlDerFile] }, async (door) => {
      const byRoot = uniquePath('revoked-list-root');
      assertRejected(await curlAs(pki, door, byRoot, pki.clients.revoked), 13, door, byRoot, { reason: /revoked/, certFile: pki.clients.revoked.certFile });
      const byIntermediate = uniquePath('revoked-list-int');
      assertRejected(await curlAs(pki, door, byIntermediate, pki.clients.revokedViaIntermediate), 13, door, byIntermediate, { reason: /revoked/, certFile: pki.clients.revokedViaIntermediate.certFile });
      await assertAccepted(pki, door, pki.clients.valid, 'valid-list');
      await assertAccepted(pki, door, pki.clients.viaIntermediate, 'via-int-list');
    });
  });

  test('crlFile as a one-element list (PEM) works like the single file', async () => {
    await withDoor(pki, { clientCertificates: 'require', trustedCaFile: pki.caFile, crlFile: [pki.crlFile] }, async (door) => {
      const path = uniquePath('revoked-list1');
      assertRejected(await curlAs(pki, door, path, pki.clients.revoked), 13, door, path, { reason: /revoked/, certFile: pki.clients.revoked.certFile });
    });
  });

  test('accept mode: a revoked certificate also gets 403.13', async () => {
    await withDoor(pki, { clientCertificates: 'accept', trustedCaFile: pki.caFile, crlFile: pki.crlFile }, async (door) => {
      const path = uniquePath('revoked-accept');
      assertRejected(await curlAs(pki, door, path, pki.clients.revoked), 13, door, path, { reason: /revoked/, certFile: pki.clients.revoked.certFile });
    });
  });

  test('trustedCaFile = intermediate only with its CRL: the revoked leaf (sent with or without the intermediate) → 403.13', async () => {
    await withDoor(pki, { clientCertificates: 'require', trustedCaFile: pki.intermediateCaFile, crlFile: pki.intermediateCrlFile }, async (door) => {
      const path = uniquePath('revoked-int-anchor');
      assertRejected(await curlAs(pki, door, path, pki.clients.revokedViaIntermediate), 13, door, path, { reason: /revoked/, certFile: pki.clients.revokedViaIntermediate.certFile });
      await assertAccepted(pki, door, pki.clients.viaIntermediate, 'via-int-anchor');
    });
  });
});
