/** A client certificate seen, as the admin API (and the console, which imports this type) shows it; no imports, so the browser build can read it. */
/** One certificate as the admin API shows it: plain JSON, summable over workers (mergeSnapshots). */
export interface ClientCertificateEntry {
  readonly subject: string;
  readonly issuer: string;
  readonly serialNumber: string;
  /** Upper-case hex (as IIS shows it). */
  readonly thumbprintSha1: string;
  /** Lower-case hex. */
  readonly thumbprintSha256: string;
  readonly notAfter: string;
  readonly firstSeen: string;
  readonly lastSeen: string;
  /** New TLS connections that presented it (each counted on its first request). */
  readonly connections: number;
  /** Requests on those connections. */
  readonly requests: number;
  /** The door's outcome code for its newest connection (shared/outcome.ts), or `accepted`. */
  readonly lastVerdict: string;
  /** Connections refused, by 403 sub-status: `{ '403.16': 2 }`. */
  readonly rejections: Readonly<Record<string, number>>;
  readonly sites: readonly string[];
}
