/** The admin API's answers for Client Certificates and Failed Request Tracing, as the console reads them (docs/admin-api.md). */
export interface SeenClientCertificate {
  readonly subject: string;
  readonly issuer: string;
  readonly serialNumber: string;
  readonly thumbprintSha1: string;
  readonly thumbprintSha256: string;
  readonly notAfter: string;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly connections: number;
  readonly requests: number;
  readonly lastVerdict: string;
  readonly rejections: Readonly<Record<string, number>>;
  readonly sites: readonly string[];
}

/** A tracing rule as the config file holds it (`sites[].tracing.rules[]`). */
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

export interface TraceEvent {
  readonly name: string;
  readonly time: string;
  readonly elapsedMs: number;
  readonly data: Readonly<Record<string, unknown>>;
}
export interface DecodedCertificate {
  readonly header: string;
  readonly subject: string;
  readonly issuer: string;
  readonly serialNumber: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly thumbprintSha1: string;
  readonly thumbprintSha256: string;
}
export interface TraceView {
  readonly id: string;
  readonly site: string;
  readonly url: string;
  readonly verb: string;
  readonly statusCode: number;
  readonly subStatusCode: number;
  readonly outcome: string;
  readonly timeTakenMs: number;
  readonly failureReason: string;
  readonly rule: number;
  readonly activityId: string;
  readonly startTime: string;
  readonly events: readonly TraceEvent[];
  readonly clientCertificate: DecodedCertificate | { readonly header: string; readonly error: string } | null;
}
