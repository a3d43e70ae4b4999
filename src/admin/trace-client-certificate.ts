/**
 * The Compact View's certificate: the client certificate a trace shows Gatehouse forwarded to the server
 * (`GENERAL_SET_REQUEST_HEADER` of X-ARR-ClientCert, or the farm's own header and format), decoded with
 * @gatehouse/forwarded-cert (what a backend uses) into node:crypto's X509Certificate. Read when a trace is
 * shown, never on the request path. A value that does not parse is `{ error }`, never an exception.
 */
import { X509Certificate } from 'node:crypto';
import { DEFAULT_CERT_HEADER, decodeForwardedCertificate, headerNamesFor, type ForwardedCertificateFormat } from '@gatehouse/forwarded-cert';
import type { Config } from '../config/model.js';
import type { Trace, TraceClientCertificate } from '../shared/trace.js';

/** OpenSSL's one-attribute-per-line names as one line, most significant first as Windows shows them: `CN=Alice, O=Example`. */
const oneLine = (name: string) => name.split('\n').filter(Boolean).reverse().join(', ');
const hex = (colonHex: string) => colonHex.replace(/:/g, '').toUpperCase();

/** The farm the trace routed to (ARR_REQUEST_ROUTED), for its header name and format; ARR's defaults otherwise. */
function forwardingOf(trace: Trace, config: Config): { header: string; format: ForwardedCertificateFormat } {
  const routed = [...trace.events].reverse().find((e) => e.name === 'ARR_REQUEST_ROUTED')?.data['WebFarm'];
  const protocol = config.farms.find((f) => f.name === routed)?.protocol;
  const format = (protocol?.clientCertFormat ?? 'base64Der') as ForwardedCertificateFormat;
  return { header: headerNamesFor(format, protocol?.clientCertHeaderName || DEFAULT_CERT_HEADER).cert, format };
}

export function traceClientCertificate(trace: Trace, config: Config): TraceClientCertificate {
  const { header, format } = forwardingOf(trace, config);
  const set = trace.events.find((e) => e.name === 'GENERAL_SET_REQUEST_HEADER' && String(e.data['HeaderName']).toLowerCase() === header.toLowerCase());
  const value = set?.data['HeaderValue'];
  if (typeof value !== 'string' || value === '') return null;
  try {
    const decoded = decodeForwardedCertificate(value, format);
    if (!decoded) return null;
    const cert: X509Certificate = decoded.certificate;
    return {
      header: String(set?.data['HeaderName']),
      subject: oneLine(cert.subject),
      issuer: oneLine(cert.issuer),
      serialNumber: cert.serialNumber.toUpperCase(),
      notBefore: new Date(cert.validFrom).toISOString(),
      notAfter: new Date(cert.validTo).toISOString(),
      thumbprintSha1: hex(cert.fingerprint),
      thumbprintSha256: hex(cert.fingerprint256),
    };
  } catch (error) {
    return { header: String(set?.data['HeaderName']), error: `${header} does not hold a ${format} certificate: ${(error as Error).message}` };
  }
}
