/**
 * Express integration. Express is an optional peer dependency: nothing is imported from it, the
 * middleware is typed structurally (an Express Request is an IncomingMessage, a Response a ServerResponse).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { applyVerification, type MiddlewareOptions } from './node-http.js';
import { createClientCertificateVerifier } from './trust.js';

/** An Express-compatible `(req, res, next)` handler. */
export type ExpressMiddleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/**
 * `app.use(expressMiddleware(options))`: accepted → `req.clientCertificate` (an X509Certificate, or
 * undefined when optional and absent) then `next()`; refused → 403 `text/plain` `Forbidden: <CODE>`.
 * For typing, augment Express's Request (see the README). Throws at creation for invalid options.
 */
export function expressMiddleware(options: MiddlewareOptions): ExpressMiddleware {
  const verify = createClientCertificateVerifier(options);
  return (req, res, next) => {
    if (applyVerification(verify, req, res, options.onRejected)) next();
  };
}
