/**
 * node:http integration: a `(req, res, next)` middleware and a `wrap(handler)` helper that run the
 * verifier and set `req.clientCertificate` before your code sees the request.
 */
import type { X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendRejection } from './rejection.js';
import { createClientCertificateVerifier, type ClientCertificateVerification, type ClientCertificateVerifier, type ClientCertificateVerifierOptions } from './trust.js';

/** What the middlewares add to a request that passed. */
export interface ClientCertificateRequestFields {
  /** The validated client certificate; undefined when none was forwarded and none is required. */
  clientCertificate?: X509Certificate | undefined;
  /** The validated forwarded intermediates (closest first). */
  clientCertificateChain?: readonly X509Certificate[] | undefined;
  /** Gatehouse's log id (X-ARR-LOG-ID) from a verified signature. */
  gatehouseLogId?: string | undefined;
}

/** A node:http request after the middleware. */
export type RequestWithClientCertificate = IncomingMessage & ClientCertificateRequestFields;

/** A refusal, as passed to `onRejected`. */
export type ClientCertificateRejection = Extract<ClientCertificateVerification, { ok: false }>;

/** Verifier options plus middleware hooks. */
export interface MiddlewareOptions extends ClientCertificateVerifierOptions {
  /** Called for every refusal before the 403 is sent, e.g. to log `rejection.reason`. */
  readonly onRejected?: ((req: IncomingMessage, rejection: ClientCertificateRejection) => void) | undefined;
}

/** The node:http middleware: call it as `(req, res, next)`, or use `wrap(handler)`. */
export interface NodeHttpMiddleware {
  (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void;
  /** A `(req, res)` listener for `http.createServer` that calls `handler` only for accepted requests. */
  wrap<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse>(handler: (req: Req & ClientCertificateRequestFields, res: Res) => void): (req: Req, res: Res) => void;
  /** The underlying verifier. */
  readonly verify: ClientCertificateVerifier;
}

/**
 * node:http middleware. Accepted → sets `req.clientCertificate` (and `clientCertificateChain`,
 * `gatehouseLogId`) and calls `next()`. Refused → 403 `text/plain` body `Forbidden: <CODE>`.
 * Throws at creation for invalid options.
 */
export function nodeHttpMiddleware(options: MiddlewareOptions): NodeHttpMiddleware {
  const verify = createClientCertificateVerifier(options);
  const run = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void => {
    if (applyVerification(verify, req, res, options.onRejected)) next();
  };
  return Object.assign(run, {
    verify,
    wrap<Req extends IncomingMessage, Res extends ServerResponse>(handler: (req: Req & ClientCertificateRequestFields, res: Res) => void) {
      return (req: Req, res: Res): void => {
        if (applyVerification(verify, req, res, options.onRejected)) handler(req as Req & ClientCertificateRequestFields, res);
      };
    },
  });
}

/** Runs the verifier; on success decorates `req` and returns true, otherwise answers 403 and returns false. */
export function applyVerification(verify: ClientCertificateVerifier, req: IncomingMessage, res: ServerResponse, onRejected: MiddlewareOptions['onRejected']): boolean {
  const result = verify(req);
  if (!result.ok) {
    notify(onRejected, req, result);
    sendRejection(res, result.code);
    return false;
  }
  decorate(req, result);
  return true;
}

/** Sets the ClientCertificateRequestFields of an accepted request. */
export function decorate(target: object, result: Extract<ClientCertificateVerification, { ok: true }>): void {
  const fields = target as ClientCertificateRequestFields;
  fields.clientCertificate = result.certificate;
  fields.clientCertificateChain = result.chain;
  fields.gatehouseLogId = result.logId;
}

/** Calls onRejected, never letting a throwing logger break the 403. */
export function notify(onRejected: MiddlewareOptions['onRejected'], req: IncomingMessage, rejection: ClientCertificateRejection): void {
  try {
    onRejected?.(req, rejection);
  } catch {
    // a failing logger must not turn a refusal into a crash
  }
}
