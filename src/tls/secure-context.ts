/** TLS contexts: one per https binding, holding its certificate and its site's trusted client-certificate CAs. */
import { createHash } from 'node:crypto';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { Binding, Site } from '../config/model.js';

/** Options for tls.createSecureContext / https.createServer for a binding of a site. */
export function secureContextOptions(binding: Binding, site: Site): SecureContextOptions {
  const certificate = binding.certificate;
  if (!certificate) throw new Error(`binding ${binding.address}:${binding.port} of site ${site.name} has no certificate`);
  const options: SecureContextOptions & { allowPartialTrustChain?: boolean } = {
    ...certificate.options,
    minVersion: 'TLSv1.2',
    // Sessions resume only on a context with the same trust: a session from one site never opens another.
    sessionIdContext: createHash('sha256').update(`${site.name}\0${site.ssl.clientCertificates}\0${site.ssl.trustedCa?.pem.toString('latin1') ?? ''}`).digest('hex').slice(0, 32),
  };
  if (site.ssl.trustedCa) {
    options.ca = site.ssl.trustedCa.pem;
    // An intermediate in trustedCaFile is a trust anchor by itself (IIS trusts intermediates in its store).
    options.allowPartialTrustChain = true;
  }
  return options;
}

export function secureContextFor(binding: Binding, site: Site): SecureContext {
  return createSecureContext(secureContextOptions(binding, site));
}
