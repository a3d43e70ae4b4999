/**
 * A site as its pages read it (GET /sites/{site} with the Server Certificates listing), and how a binding
 * and its certificate are named on them: shared by the site page and its Bindings… and SSL Settings tabs.
 */
import { certificateName, type ServerCertificate } from './certificates';

export interface BindingDetail {
  readonly id: string;
  readonly protocol: 'http' | 'https';
  readonly address: string;
  readonly port: number;
  readonly hostName: string | null;
  readonly http2: boolean | null;
  readonly certificate: { readonly id?: string; readonly certFile?: string; readonly keyFile?: string; readonly pfxFile?: string } | null;
}
export interface SslDetail {
  readonly requireSsl: boolean;
  readonly clientCertificates: 'ignore' | 'accept' | 'require';
  readonly trustedCaFile: string | null;
  readonly crlFile: readonly string[];
  readonly revocation: { readonly check: string; readonly online: boolean; readonly whenUnknown: string };
}
export interface SiteDetail {
  readonly name: string;
  readonly etag: string;
  readonly farm: string | null;
  readonly bindings: readonly BindingDetail[];
  readonly ssl: SslDetail;
}

/** What the site's pages show: the site, its index in the config's `sites`, and the certificates. */
export interface SiteData {
  readonly site: SiteDetail;
  readonly index: number;
  readonly certificates: readonly ServerCertificate[];
}

export const CLIENT_CERTIFICATE_NAMES: Readonly<Record<SslDetail['clientCertificates'], string>> = { ignore: 'Ignore', accept: 'Accept', require: 'Require' };

/** A binding as IIS lists it: `https 127.0.0.1:8443 (localhost)`. */
export const bindingText = (b: BindingDetail): string => `${b.protocol} ${b.address.includes(':') ? `[${b.address}]` : b.address}:${b.port}${b.hostName ? ` (${b.hostName})` : ''}`;

/** A binding's certificate by its Server Certificates name, or its file. */
export function certificateText(b: BindingDetail, certificates: readonly ServerCertificate[]): string {
  const c = b.certificate;
  if (!c) return '–';
  const known = c.id ? certificates.find((e) => e.id === c.id) : c.certFile ? certificates.find((e) => e.files.certFile.endsWith(c.certFile as string) && e.kind !== 'ca') : undefined;
  if (known) return `${certificateName(known)} (${known.id.slice(0, 8)}…)`;
  return c.certFile ?? c.pfxFile ?? '–';
}

