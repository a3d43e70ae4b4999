/**
 * FarmServer: one server of a farm at run time: its address, weight, state and the counters ARR's
 * Monitoring page shows. `FarmServer` rather than `Server`, which would read as an http.Server.
 */
import type { Dispatcher } from 'undici';
import type { ServerConfig } from '../config/model.js';
import type { ExchangeReport } from './request-info.js';

/** Counters per server, as ARR's Monitoring page shows them. */
export interface ServerCounters {
  totalRequests: number;
  currentRequests: number;
  failedRequests: number;
  /** Bytes of request bodies sent to the server. */
  bytesSent: number;
  /** Bytes of response bodies received from the server. */
  bytesReceived: number;
}

export class FarmServer {
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  /** `http://host:port`, the origin requests are sent to. */
  readonly origin: string;
  /** Whether the server may take new requests (a later health test and the admin API change it). */
  isAvailable = true;
  readonly counters: ServerCounters = { totalRequests: 0, currentRequests: 0, failedRequests: 0, bytesSent: 0, bytesReceived: 0 };
  /** Keep-alive connection pool to the server; set by the proxy when the farm is built. */
  dispatcher: Dispatcher | undefined;
  /** Smooth weighted round robin state (nginx's algorithm). */
  currentWeight = 0;

  /** A request is being sent to this server. */
  onRequestStart(): void {
    this.counters.totalRequests++;
    this.counters.currentRequests++;
  }

  /** The exchange with this server ended (after a response, or a failure). */
  onRequestEnd(report: ExchangeReport): void {
    this.counters.currentRequests--;
    this.counters.bytesSent += report.bytesSent;
    this.counters.bytesReceived += report.bytesReceived;
    if (report.isConnectionError) this.counters.failedRequests++;
  }

  constructor(config: ServerConfig) {
    this.address = config.address;
    this.host = config.host;
    this.port = config.port;
    this.weight = config.weight;
    this.isAvailable = config.enabled && config.state === 'available';
    this.origin = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
  }
}
