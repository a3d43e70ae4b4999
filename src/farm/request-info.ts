/** What an algorithm or an affinity rule may know about a request, without depending on node:http. */
export interface RequestInfo {
  /** Path and query as received, e.g. `/cart?id=3`. */
  readonly url: string;
  /** The Host header, if any. */
  readonly host: string | undefined;
  /** The client's IP address (no port). */
  readonly remoteAddress: string;
  /** A request header by lower-case name (several values joined with `, `). */
  header(name: string): string | undefined;
}

/** What the proxy reports when an exchange with a server ends. */
export interface ExchangeReport {
  /** Response status, or 0 when no response came (connection error, timeout). */
  readonly status: number;
  /** Time from sending the request to the end of the response, ms. */
  readonly responseTimeMs: number;
  /** Request body bytes sent to the server. */
  readonly bytesSent: number;
  /** Response body bytes received from the server. */
  readonly bytesReceived: number;
  /** The server refused, reset, timed out, or broke the response. */
  readonly isConnectionError: boolean;
}
