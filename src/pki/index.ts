/**
 * Small PKI toolkit: CAs, server/client certificates, CRLs, PKCS#12 export and safe file output.
 * Built on @peculiar/x509 + Node WebCrypto; node-forge is used only for PKCS#12.
 */
import 'reflect-metadata'; // @peculiar/x509 (tsyringe) needs the Reflect metadata API
export type { Issued, KeyType, Validity } from './types.js';
export { createCa } from './ca.js';
export type { CaOptions } from './ca.js';
export { createSelfSignedServer, DEFAULT_OCSP_RESPONDER_DAYS, issueClient, issueOcspResponder, issueServer } from './issue.js';
export type { IssueClientOptions, IssueOcspResponderOptions, IssueServerOptions, ServerOptions } from './issue.js';
export { REVOCATION_URL_EXPECTED, revocationUrlProblem } from './signer.js';
export type { RevocationPointers } from './signer.js';
export { createCrl } from './crl.js';
export type { CrlOptions } from './crl.js';
export { toPfx } from './pfx.js';
export type { PfxOptions } from './pfx.js';
export { writeAtomic, writeIssued } from './write.js';
export { loadIssued, splitPemCertificates } from './load.js';
export { PfxError, readPfx } from './pfx-read.js';
export type { PfxContents } from './pfx-read.js';
