/**
 * A trace: the ordered story of one request, kept when a tracing rule matched. Event names follow IIS
 * Failed Request Tracing (FREB) where it has one, so IIS people recognise them.
 */
export interface TraceEvent {
  /** FREB-style name, e.g. GENERAL_REQUEST_START, ARR_REQUEST_ROUTED. */
  readonly name: string;
  /** ISO time with milliseconds. */
  readonly time: string;
  /** Milliseconds since the request arrived. */
  readonly elapsedMs: number;
  readonly data: Record<string, unknown>;
}

export interface Trace {
  readonly format: 'gatehouse-trace/1';
  readonly url: string;
  readonly site: string;
  readonly verb: string;
  readonly statusCode: number;
  readonly subStatusCode: number;
  /** How the request ended (shared/outcome.ts). */
  readonly outcome: string;
  readonly timeTakenMs: number;
  /** Which rule kept it and why (status code or time taken). */
  readonly failureReason: string;
  readonly rule: number;
  readonly activityId: string;
  readonly startTime: string;
  readonly events: readonly TraceEvent[];
}

/**
 * The client certificate a trace shows Gatehouse forwarded (X-ARR-ClientCert), decoded when the admin API
 * shows the trace (admin/trace-client-certificate.ts): null when none was forwarded, `{ header, error }`
 * when the value does not parse.
 */
export interface DecodedTraceCertificate {
  /** The header it travelled in. */
  readonly header: string;
  readonly subject: string;
  readonly issuer: string;
  readonly serialNumber: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly thumbprintSha1: string;
  readonly thumbprintSha256: string;
}
export type TraceClientCertificate = DecodedTraceCertificate | { readonly header: string; readonly error: string } | null;
