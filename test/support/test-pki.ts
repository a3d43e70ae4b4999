/**
 * The test PKI, generated at test time into a temp folder (never committed: certificates expire):
 * a root CA, an intermediate CA, a server certificate for localhost/127.0.0.1/::1 and the SNI test names,
 * and client certificates for every verdict the door can give.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, createCrl, issueClient, issueServer, toPfx, type Issued } from '../../src/pki/index.js';

export interface ClientFiles {
  readonly issued: Issued;
  /** Leaf certificate PEM (plus chain for `viaIntermediate`). */
  readonly certFile: string;
  readonly keyFile: string;
}

export interface TestPki {
  readonly dir: string;
  readonly root: Issued;
  readonly intermediate: Issued;
  readonly otherRoot: Issued;
  /** root CA PEM: trustedCaFile of most tests. */
  readonly caFile: string;
  /** intermediate only. */
  readonly intermediateCaFile: string;
  /** root + intermediate in one PEM bundle (for CRLs of both CAs). */
  readonly bundleCaFile: string;
  /** otherRoot PEM: the CA of clients.untrusted, for a site that trusts it. */
  readonly otherCaFile: string;
  readonly server: { certFile: string; keyFile: string; chainFile: string; pfxFile: string; pfxPassword: string; issued: Issued };
  /** A second server certificate (other.example.test) for SNI tests. */
  readonly otherServer: { certFile: string; keyFile: string; issued: Issued };
  readonly clients: {
    readonly valid: ClientFiles;
    readonly expired: ClientFiles;
    readonly notYetValid: ClientFiles;
    readonly untrusted: ClientFiles;
    readonly serverAuthOnly: ClientFiles;
    readonly revoked: ClientFiles;
    /** Issued by the intermediate; certFile holds leaf + intermediate, as a client sends it. */
    readonly viaIntermediate: ClientFiles;
    /** Issued by the intermediate; certFile holds the leaf only. */
    readonly viaIntermediateLeafOnly: ClientFiles;
    /** Issued by the intermediate and revoked by intermediateCrlFile; certFile holds leaf + intermediate. */
    readonly revokedViaIntermediate: ClientFiles;
  };
  /** CRL of the root revoking clients.revoked (PEM) and the same in DER. */
  readonly crlFile: string;
  readonly crlDerFile: string;
  /** CRL of the intermediate revoking clients.revokedViaIntermediate, PEM and DER. */
  readonly intermediateCrlFile: string;
  readonly intermediateCrlDerFile: string;
  cleanup(): Promise<void>;
}

const DAY = 86_400_000;

export async function createTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-pki-'));
  const root = await createCa({ commonName: 'Gatehouse Test Root', organization: 'Gatehouse Tests' });
  const intermediate = await createCa({ commonName: 'Gatehouse Test Issuing CA', issuer: root, pathLength: 0 });
  const otherRoot = await createCa({ commonName: 'Some Other Root' });
  const write = async (name: string, content: string | Buffer) => {
    const file = join(dir, name);
    await writeFile(file, content, { mode: name.endsWith('.key') ? 0o600 : 0o644 });
    return file;
  };
  const server = await issueServer({ ca: root, dnsNames: ['localhost', 'app.example.test'], ipAddresses: ['127.0.0.1', '::1'], keyType: 'rsa-2048' });
  // RSA like the main server certificate: https bindings sharing a port must use one key type.
  const otherServer = await issueServer({ ca: root, dnsNames: ['other.example.test'], keyType: 'rsa-2048' });
  const pfxPassword = 'p@ss wörd';
  const client = async (name: string, issued: Issued, withChain = false): Promise<ClientFiles> => ({
    issued,
    certFile: await write(`${name}.pem`, withChain ? issued.certPem + issued.chainPem.join('') : issued.certPem),
    keyFile: await write(`${name}.key`, issued.keyPem),
  });
  const now = Date.now();
  const revokedIssued = await issueClient({ ca: root, commonName: 'Revoked Rita' });
  const viaIntermediateIssued = await issueClient({ ca: intermediate, commonName: 'Ivan Intermediate', organization: 'Branch Office' });
  const crl = await createCrl({ ca: root, revoked: [{ serialNumber: revokedIssued.serialNumber }] });
  const revokedViaIntermediateIssued = await issueClient({ ca: intermediate, commonName: 'Revoked Rob', organization: 'Branch Office' });
  const intermediateCrl = await createCrl({ ca: intermediate, revoked: [{ serialNumber: revokedViaIntermediateIssued.serialNumber }] });
  return {
    dir,
    root,
    intermediate,
    otherRoot,
    caFile: await write('ca.pem', root.certPem),
    intermediateCaFile: await write('intermediate-ca.pem', intermediate.certPem),
    bundleCaFile: await write('ca-bundle.pem', root.certPem + intermediate.certPem),
    otherCaFile: await write('other-root-ca.pem', otherRoot.certPem),
    server: {
      issued: server,
      certFile: await write('server.pem', server.certPem),
      keyFile: await write('server.key', server.keyPem),
      chainFile: await write('server-chain.pem', server.certPem + root.certPem),
      pfxFile: await write('server.pfx', toPfx({ issued: server, password: pfxPassword })),
      pfxPassword,
    },
    otherServer: await (async () => {
      return { issued: otherServer, certFile: await write('other.pem', otherServer.certPem), keyFile: await write('other.key', otherServer.keyPem) };
    })(),
    clients: {
      valid: await client('alice', await issueClient({ ca: root, commonName: 'Alice Badge', email: 'alice@example.test', organization: 'Example Corp' })),
      expired: await client('expired', await issueClient({ ca: root, commonName: 'Expired Ed', notBefore: new Date(now - 30 * DAY), notAfter: new Date(now - DAY) })),
      notYetValid: await client('future', await issueClient({ ca: root, commonName: 'Future Fay', notBefore: new Date(now + DAY), days: 30 })),
      untrusted: await client('untrusted', await issueClient({ ca: otherRoot, commonName: 'Mallory' })),
      serverAuthOnly: await client('serverauth', await issueClient({ ca: root, commonName: 'Wrong Usage', extendedKeyUsage: 'serverAuth' })),
      revoked: await client('revoked', revokedIssued),
      viaIntermediate: await client('ivan-chain', viaIntermediateIssued, true),
      viaIntermediateLeafOnly: await client('ivan', viaIntermediateIssued),
      revokedViaIntermediate: await client('rob-chain', revokedViaIntermediateIssued, true),
    },
    crlFile: await write('ca.crl', crl.pem),
    crlDerFile: await write('ca-crl.der', crl.der),
    intermediateCrlFile: await write('intermediate.crl', intermediateCrl.pem),
    intermediateCrlDerFile: await write('intermediate-crl.der', intermediateCrl.der),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
