/**
 * The admin API's answers for Client Certificates and Failed Request Tracing, as the console reads them
 * (docs/admin-api.md): the server's own types where they are plain data (type-only imports, erased by esbuild).
 */
import type { ClientCertificateEntry } from '../../shared/client-certificate-entry';
import type { DecodedTraceCertificate, Trace, TraceClientCertificate } from '../../shared/trace';

export type { TraceEvent } from '../../shared/trace';
export type SeenClientCertificate = ClientCertificateEntry;
export type DecodedCertificate = DecodedTraceCertificate;

/** A tracing rule as the config file holds it (`sites[].tracing.rules[]`, config/tracing-schema.ts). */
export interface TracingRule {
  readonly path?: string;
  readonly statusCodes?: string | number;
  readonly timeTaken?: string | number;
  readonly clientCertificate?: { readonly present?: boolean; readonly subject?: string; readonly issuer?: string; readonly thumbprint?: string };
}
export interface SiteTracing {
  readonly site: string;
  readonly etag: string;
  readonly tracing: { readonly rules?: readonly TracingRule[]; readonly [key: string]: unknown } | null;
}

/** GET /traces: one row. */
export interface TraceSummary {
  readonly id: string;
  readonly site: string;
  readonly time: string;
  readonly method: string;
  readonly url: string;
  readonly status: string;
  readonly outcome: string;
  readonly durationMs: number;
  readonly failureReason: string;
  readonly clientCertificate: string | null;
}

/** GET /traces/{id}: the trace file with its id and the forwarded certificate decoded. */
export type TraceView = Trace & { readonly id: string; readonly clientCertificate: TraceClientCertificate };
