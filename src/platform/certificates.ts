/**
 * `get-certificate`: the leaf certificate a PKCS#12 (PFX) file gives a TLS context. Node reads PFX files
 * with OpenSSL but has no public way to say which certificate it took as the server's own; its
 * SecureContext has an internal getCertificate() that returns it (DER).
 *
 * Probe (once, when a PFX is first read): contexts made from a generated certificate, as PEM and as PFX,
 * must return exactly that certificate's DER. Fallback (probe failed, or GATEHOUSE_PLATFORM_FALLBACKS
 * lists get-certificate): a loopback TLS handshake with a server made from the same PFX, whose certificate
 * the client reads with the public getPeerCertificate(): the very bytes the binding will send, for any
 * PFX OpenSSL opens (a PKCS#12 parser in JavaScript re-encodes certificates and lacks some ciphers).
 */
import { X509Certificate } from 'node:crypto';
import { createSecureContext, createServer as createTlsServer, type SecureContext, type SecureContextOptions } from 'node:tls';
import { forcedReason, isForced } from './fallbacks.js';
import { closeServer, handshake, listenLoopback, probePki, runProbe, type ProbeResult } from './probe-kit.js';

function getCertificateOf(context: SecureContext): Buffer | null {
  const inner = (context as SecureContext & { context?: { getCertificate?: () => Buffer | null } }).context;
  if (typeof inner?.getCertificate !== 'function') throw new Error('SecureContext has no getCertificate');
  return inner.getCertificate();
}

async function check(): Promise<string> {
  const pki = await probePki();
  const { toPfx } = await import('../pki/index.js');
  const der = new X509Certificate(pki.server.certPem).raw;
  const fromPem = getCertificateOf(createSecureContext({ key: pki.server.keyPem, cert: pki.server.certPem + pki.root.certPem }));
  if (!fromPem?.equals(der)) throw new Error('a context made from a PEM certificate and its chain did not return the leaf');
  const pfx = toPfx({ issued: pki.server, password: 'probe' });
  const fromPfx = getCertificateOf(createSecureContext({ pfx, passphrase: 'probe' }));
  if (!fromPfx?.equals(der)) throw new Error('a context made from a PFX did not return its leaf');
  return "a context's certificate (from PEM and from PFX) came back as the leaf's DER";
}

let probing: Promise<ProbeResult> | undefined;

/** The probe, once. */
export function probeGetCertificate(): Promise<ProbeResult> {
  return (probing ??= runProbe(check).then((result) => (isForced('get-certificate') ? { isActive: false, reason: `${forcedReason('get-certificate')} (probe: ${result.reason})` } : result)));
}

/** The fallback: what a client sees of a server made from these options. */
async function leafByHandshake(options: SecureContextOptions): Promise<Buffer | null> {
  const server = createTlsServer(options);
  server.on('tlsClientError', () => {});
  const port = await listenLoopback(server);
  try {
    const seen = await handshake(server, port, { servername: 'localhost' });
    const raw = seen.client.getPeerCertificate().raw as Buffer | undefined;
    seen.client.destroy();
    return raw ?? null;
  } finally {
    await closeServer(server);
  }
}

/**
 * The leaf certificate (DER) of a context made from a PFX (`options` are the ones it was made with), or
 * null when the PFX holds none.
 */
export async function pfxLeafCertificate(context: SecureContext, options: SecureContextOptions): Promise<Buffer | null> {
  if ((await probeGetCertificate()).isActive) return getCertificateOf(context);
  return leafByHandshake(options);
}
