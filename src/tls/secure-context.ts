/** TLS contexts: one per https binding, holding its certificate, its TLS policy and its site's trusted client-certificate CAs. */
import { constants, createHash } from 'node:crypto';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { Binding, Site } from '../config/model.js';
import { tlsPolicyOptions } from '../config/tls-policy.js';

/**
 * Options for tls.createSecureContext / https.createServer for a binding of a site.
 * `isSharedPort`: other bindings share the listening socket. OpenSSL resumes a session before the SNI
 * callback picks the binding, so a session made on one site could open another with different trust;
 * on a shared port resumption is therefore off (no tickets, and no session cache is kept).
 */
export function secureContextOptions(binding: Binding, site: Site, isSharedPort = false): SecureContextOptions {
  const certificate = binding.certificate;
  if (!certificate) throw new Error(`binding ${binding.address}:${binding.port} of site ${site.name} has no certificate`);
  const options: SecureContextOptions & { allowPartialTrustChain?: boolean } = {
    ...certificate.options,
    ...tlsPolicyOptions(binding.tls),
    ...(isSharedPort || !binding.tls.sessionResumption ? { secureOptions: constants.SSL_OP_NO_TICKET } : {}),
    sessionIdContext: createHash('sha256').update(`${site.name}\0${site.ssl.clientCertificates}\0${site.ssl.trustedCa?.pem.toString('latin1') ?? ''}`).digest('hex').slice(0, 32),
  };
  if (site.ssl.trustedCa) {
    options.ca = site.ssl.trustedCa.pem;
    // An intermediate in trustedCaFile is a trust anchor by itself (IIS trusts intermediates in its store).
    options.allowPartialTrustChain = true;
  }
  return options;
}

export function secureContextFor(binding: Binding, site: Site, isSharedPort = false): SecureContext {
  return createSecureContext(secureContextOptions(binding, site, isSharedPort));
}
