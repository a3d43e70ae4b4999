/** The admin API's answers as the console reads them (docs/admin-api.md has the full shapes). */
export interface ServerView {
  readonly address: string;
  readonly state: 'available' | 'drain' | 'unavailable';
  readonly health: 'healthy' | 'unhealthy';
  readonly healthReason: string | null;
  readonly currentRequests: number;
  readonly totalRequests: number;
  readonly failedRequests: number;
  readonly requestsPerSecond: number;
  readonly responseTimeMs: number | null;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly weight: number;
  readonly enabled: boolean;
  readonly selectable: boolean;
  readonly requestDistributionPercent: number;
}
export interface FarmView {
  readonly name: string;
  readonly enabled: boolean;
  readonly etag: string;
  readonly algorithm: string;
  readonly healthyServers: number;
  readonly minServers: number;
  readonly ignoringHealth: boolean;
  readonly servers: readonly ServerView[];
}
export interface BindingView {
  readonly id: string;
  readonly protocol: 'http' | 'https';
  readonly address: string;
  readonly port: number;
  readonly hostName: string | null;
  readonly certificate: { readonly id?: string; readonly certFile?: string; readonly pfxFile?: string } | null;
}
export interface SiteView {
  readonly name: string;
  readonly farm: string | null;
  readonly bindings: readonly BindingView[];
  readonly ssl: { readonly requireSsl: boolean; readonly clientCertificates: 'ignore' | 'accept' | 'require'; readonly trustedCaFile: string | null };
  readonly tracing: boolean;
}
export interface StatusView {
  readonly version: string;
  readonly node: string;
  readonly uptimeSeconds: number;
  readonly workers: number;
  readonly configFile: string;
  readonly lastReload: { readonly at: string; readonly ok: boolean; readonly problems: readonly string[] } | null;
}
export interface CertificateEntry {
  readonly id: string;
  readonly friendlyName: string | null;
  readonly subject: string;
  readonly notAfter: string;
  readonly daysLeft: number;
  readonly kind: 'server' | 'ca' | 'admin';
  readonly usedBy: readonly { readonly site: string | null; readonly binding: string | null }[];
}
