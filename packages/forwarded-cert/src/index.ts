/**
 * @gatehouse/forwarded-cert — for Node.js backends behind Gatehouse or IIS ARR: read, validate and
 * trust the forwarded client certificate (X-ARR-ClientCert and other dialects), verify Gatehouse's
 * proxy signature, with middleware for node:http, Express and Fastify. Runtime: node: built-ins only.
 */
export { ForwardedCertificateError } from './errors.js';
export type { ForwardedCertificateErrorCode } from './errors.js';

export { DEFAULT_CERT_HEADER, FORWARDED_CERTIFICATE_FORMATS, RFC9440_CERT_HEADER, RFC9440_CHAIN_HEADER, XFCC_HEADER, headerNamesFor } from './formats.js';
export type { ForwardedCertificateFormat } from './formats.js';

export { derToPem } from './pem.js';

export { encodeClientCertificate } from './encode.js';
export type { CertificateToForward } from './encode.js';

export { decodeForwardedCertificate, decodeForwardedChain, parseForwardedCertificate, parseForwardedCertificateChain, MAX_CERT_HEADER_LENGTH, MAX_CHAIN_CERTIFICATES, MAX_CHAIN_HEADER_LENGTH } from './decode.js';
export type { DecodedCertificate, HeaderValue } from './decode.js';

export { certificateFields, issuerDn, subjectDn, OID } from './certificate-fields.js';
export type { CertificateFields, KeyUsage, SubjectAltName } from './certificate-fields.js';
export { dnEquals, parseRfc4514 } from './distinguished-name.js';
export type { AttributeTypeAndValue, DistinguishedName } from './distinguished-name.js';

export { createCertificateValidator, normalizeThumbprint, validateClientCertificate } from './validate.js';
export type { CertificateValidator, DnRule, ValidationErrorCode, ValidationOptions, ValidationResult } from './validate.js';

export { assertSignatureSecret, DEFAULT_MAX_SKEW_SECONDS, MIN_SECRET_BYTES, readSignatureSecretFile, SIGNATURE_HEADER, signForwardedIdentity, verifyForwardedIdentity } from './signature.js';
export type { SignatureErrorCode, SignatureSecret, SignatureVerification, SignInput, VerifyOptions } from './signature.js';
export { ReplayCache } from './replay-cache.js';
export type { ReplayCacheOptions } from './replay-cache.js';

export { createProxyAllowlist } from './proxy-allowlist.js';
export type { ProxyAllowlist } from './proxy-allowlist.js';
export { createClientCertificateVerifier } from './trust.js';
export type { ClientCertificateVerification, ClientCertificateVerifier, ClientCertificateVerifierOptions, VerificationErrorCode } from './trust.js';

export { rejectionBody, sendRejection } from './rejection.js';
export { nodeHttpMiddleware } from './node-http.js';
export type { ClientCertificateRejection, ClientCertificateRequestFields, MiddlewareOptions, NodeHttpMiddleware, RequestWithClientCertificate } from './node-http.js';
export { expressMiddleware } from './express.js';
export type { ExpressMiddleware } from './express.js';
export { fastifyOnRequestHook, fastifyPlugin } from './fastify.js';
export type { FastifyInstanceLike, FastifyOnRequestHook, FastifyPluginLike, FastifyReplyLike, FastifyRequestLike } from './fastify.js';
