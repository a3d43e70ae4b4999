/**
 * The URL test (ARR's active health test): a GET of the configured URL from each enabled server, one at
 * a time per server: the next test starts `interval` after the previous one ended, so a slow server
 * never has tests piling up, and tests are never multiplied by traffic. A test passes when the whole
 * response arrives within `timeout`, its status is in `statusCodeMatch` and, with `responseMatch`, its
 * body (first 64 KB) contains that text. Timers come from the injected clock; start() arms them and
 * close() clears them (idempotent) and aborts tests in flight.
 */
import type { HealthCheckPolicy } from '../../config/farm-model.js';
import { matchesStatus } from '../../shared/status-codes.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { FarmServer } from '../farm-server.js';

/** At most this much of a URL test's body is read. */
export const MAX_PROBE_BODY_BYTES = 64 * 1024;

/** One URL test request, as the probe sends it. */
export interface ProbeRequest {
  /** Path and query. */
  readonly path: string;
  /** The Host header. */
  readonly host: string;
  readonly timeoutMs: number;
  /** Whether the body is needed (responseMatch); it is read up to `maxBodyBytes`. */
  readonly readBody: boolean;
  readonly maxBodyBytes: number;
}

export interface ProbeResponse {
  readonly status: number;
  /** The body read (utf8, up to maxBodyBytes) when `readBody`. */
  readonly body?: string;
}

/** Sends one URL test to a server; rejects on a connection error. `signal` aborts it. */
export type HealthProbe = (server: FarmServer, request: ProbeRequest, signal: AbortSignal) => Promise<ProbeResponse>;

export interface UrlTestResult {
  readonly isPassed: boolean;
  /** `URL test passed (status 200)`, `URL test: status 503 not in 200-399`, `URL test: timeout after 30000 ms`, … */
  readonly reason: string;
  /** The response status, 0 when none. */
  readonly status: number;
}

/** Path and Host of the URL test for a server: an absolute URL gives both, a path takes the server's address. */
export function urlTestTarget(url: string, server: FarmServer): { path: string; host: string } {
  if (url.startsWith('/')) return { path: url, host: server.address };
  const parsed = new URL(url);
  return { path: `${parsed.pathname}${parsed.search}`, host: parsed.host };
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

function errorResult(error: unknown, timeoutMs: number): UrlTestResult {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && TIMEOUT_CODES.has(code)) return { isPassed: false, reason: `URL test: timeout after ${timeoutMs} ms (${code})`, status: 0 };
  const message = error instanceof Error ? error.message : String(error);
  return { isPassed: false, reason: `URL test: connection error: ${typeof code === 'string' ? `${code} ` : ''}${message}`, status: 0 };
}

/** The verdict on a response. */
export function judgeResponse(policy: HealthCheckPolicy, response: ProbeResponse): UrlTestResult {
  const status = response.status;
  if (!matchesStatus(policy.statusCodeMatch, status)) return { isPassed: false, reason: `URL test: status ${status} not in ${policy.statusCodeMatch.text}`, status };
  const expected = policy.responseMatch;
  if (expected !== undefined && !(response.body ?? '').includes(expected)) {
    return { isPassed: false, reason: `URL test: response body does not contain ${JSON.stringify(expected)} (status ${status})`, status };
  }
  return { isPassed: true, reason: `URL test passed (status ${status})`, status };
}

export class UrlTest {
  readonly #servers: readonly FarmServer[];
  readonly #policy: HealthCheckPolicy;
  readonly #url: string;
  readonly #clock: Clock;
  readonly #probe: HealthProbe;
  readonly #onResult: (server: FarmServer, result: UrlTestResult) => void;
  /** Per server: the timer of its next test, or of the current test's timeout. */
  readonly #next: (TimerHandle | undefined)[];
  readonly #deadline: (TimerHandle | undefined)[];
  readonly #inFlight: (AbortController | undefined)[];
  #isStarted = false;
  #isClosed = false;

  constructor(servers: readonly FarmServer[], policy: HealthCheckPolicy & { readonly url: string }, clock: Clock, probe: HealthProbe, onResult: (server: FarmServer, result: UrlTestResult) => void) {
    this.#servers = servers;
    this.#policy = policy;
    this.#url = policy.url;
    this.#clock = clock;
    this.#probe = probe;
    this.#onResult = onResult;
    this.#next = servers.map(() => undefined);
    this.#deadline = servers.map(() => undefined);
    this.#inFlight = servers.map(() => undefined);
  }

  /** Tests every enabled server now, then every `interval`. Once only. */
  start(): void {
    if (this.#isStarted || this.#isClosed) return;
    this.#isStarted = true;
    for (let i = 0; i < this.#servers.length; i++) {
      if ((this.#servers[i] as FarmServer).isEnabled) this.#next[i] = this.#clock.setTimeout(() => this.#run(i), 0);
    }
  }

  /** Clears every timer and aborts tests in flight; idempotent, and fine before or without start(). */
  close(): void {
    this.#isClosed = true;
    for (let i = 0; i < this.#servers.length; i++) {
      const next = this.#next[i];
      if (next !== undefined) this.#clock.clearTimeout(next);
      const deadline = this.#deadline[i];
      if (deadline !== undefined) this.#clock.clearTimeout(deadline);
      this.#next[i] = undefined;
      this.#deadline[i] = undefined;
      this.#inFlight[i]?.abort(new Error('farm closed'));
      this.#inFlight[i] = undefined;
    }
  }

  #run(index: number): void {
    this.#next[index] = undefined;
    if (this.#isClosed) return;
    const server = this.#servers[index] as FarmServer;
    const policy = this.#policy;
    const controller = new AbortController();
    this.#inFlight[index] = controller;
    let isDone = false;
    const finish = (result: UrlTestResult) => {
      if (isDone) return;
      isDone = true;
      const deadline = this.#deadline[index];
      if (deadline !== undefined) this.#clock.clearTimeout(deadline);
      this.#deadline[index] = undefined;
      this.#inFlight[index] = undefined;
      if (this.#isClosed) return;
      this.#next[index] = this.#clock.setTimeout(() => this.#run(index), policy.intervalMs);
      this.#onResult(server, result);
    };
    this.#deadline[index] = this.#clock.setTimeout(() => {
      finish({ isPassed: false, reason: `URL test: timeout after ${policy.timeoutMs} ms`, status: 0 });
      controller.abort(new Error('URL test timeout'));
    }, policy.timeoutMs);
    const target = urlTestTarget(this.#url, server);
    let sent: Promise<ProbeResponse>;
    try {
      sent = this.#probe(server, { path: target.path, host: target.host, timeoutMs: policy.timeoutMs, readBody: policy.responseMatch !== undefined, maxBodyBytes: MAX_PROBE_BODY_BYTES }, controller.signal);
    } catch (error) {
      sent = Promise.reject(error);
    }
    sent.then(
      (response) => finish(judgeResponse(policy, response)),
      (error: unknown) => finish(errorResult(error, policy.timeoutMs)),
    );
  }
}
