import 'reflect-metadata'; // @peculiar/x509 (tsyringe) needs the Reflect metadata API
import * as x509 from '@peculiar/x509';
import { pkiCrypto, toPem } from './keys.js';
import { normalizeSerial } from './names.js';
import { caSignerOf } from './signer.js';
import type { Issued } from './types.js';

const DAY_MS = 86_400_000;
const OID_CRL_NUMBER = '2.5.29.20';

/** Options for createCrl. */
export interface CrlOptions {
  ca: Issued;
  /** Serials in hex (any case, colons allowed); revokedAt defaults to thisUpdate. */
  revoked: Array<{ serialNumber: string; revokedAt?: Date }>;
  /** Defaults to now. */
  thisUpdate?: Date;
  /** Defaults to thisUpdate + 7 days. */
  nextUpdate?: Date;
  /** cRLNumber extension value; defaults to thisUpdate in whole seconds (increases over time). */
  crlNumber?: bigint | number;
}

/** DER INTEGER for a non-negative bigint. */
function derInteger(n: bigint): Uint8Array {
  if (n < 0n) throw new RangeError('crlNumber must be non-negative');
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  if (parseInt(hex.slice(0, 2), 16) >= 0x80) hex = `00${hex}`;
  const body = Buffer.from(hex, 'hex');
  if (body.length > 20) throw new RangeError('crlNumber must fit in 20 octets');
  return Uint8Array.from([0x02, body.length, ...body]);
}

/** Creates a v2 CRL signed by `ca` (with authorityKeyIdentifier and cRLNumber extensions). */
export async function createCrl(opts: CrlOptions): Promise<{ pem: string; der: Buffer }> {
  const signer = caSignerOf(opts.ca);
  const thisUpdate = opts.thisUpdate ?? new Date();
  const nextUpdate = opts.nextUpdate ?? new Date(thisUpdate.getTime() + 7 * DAY_MS);
  if (nextUpdate.getTime() <= thisUpdate.getTime()) throw new RangeError('nextUpdate must be later than thisUpdate');
  const crlNumber = BigInt(opts.crlNumber ?? Math.floor(thisUpdate.getTime() / 1000));
  const extensions: x509.Extension[] = [new x509.Extension(OID_CRL_NUMBER, false, derInteger(crlNumber))];
  const keyId = signer.keyId;
  if (keyId !== undefined) extensions.unshift(new x509.AuthorityKeyIdentifierExtension(keyId, false));
  const seen = new Set<string>();
  const entries = opts.revoked.map((r) => {
    let serialNumber = normalizeSerial(r.serialNumber);
    if (seen.has(serialNumber)) throw new TypeError(`serial ${serialNumber} listed twice`);
    seen.add(serialNumber);
    if (serialNumber.length % 2) serialNumber = `0${serialNumber}`;
    return { serialNumber, revocationDate: r.revokedAt ?? thisUpdate };
  });
  const crl = await x509.X509CrlGenerator.create(
    {
      issuer: signer.cert.subjectName,
      thisUpdate,
      nextUpdate,
      signingAlgorithm: signer.signingAlgorithm,
      signingKey: signer.privateKey,
      extensions,
      entries,
    },
    pkiCrypto,
  );
  const der = Buffer.from(crl.rawData);
  // @peculiar/x509 labels it 'CRL'; OpenSSL and Node expect 'X509 CRL'.
  return { pem: toPem('X509 CRL', der), der };
}
