/**
 * How a request ended, as a code from one fixed catalogue (like YARP's ForwarderError or Envoy's response
 * flags). The code is decided where the outcome is decided (the door's verdict, admission, the exchange
 * with the server) and carried by the request record; metrics labels, the access log's `outcome` field,
 * traces and the event log read it. The prose reason beside it is for people only: rewording it changes
 * no label.
 *
 * A leaf module: it imports nothing, so every layer can name an outcome.
 */

/** One entry of the catalogue. */
export interface OutcomeEntry {
  /** Gatehouse answered (or cut) the request itself: counted by `gatehouse_rejections_total`. */
  readonly isRejection: boolean;
  /** sc-win32-status as ARR logs it (WinHTTP's error for a failed forward, 64 for a client gone); 0 otherwise. */
  readonly win32Status: number;
  /** For docs and `--help`: what happened. */
  readonly meaning: string;
}

function entry(isRejection: boolean, meaning: string, win32Status = 0): OutcomeEntry {
  return Object.freeze({ isRejection, meaning, win32Status });
}

export const OUTCOMES = Object.freeze({
  // Passed on.
  forwarded: entry(false, "the farm server's response was passed on whole"),
  switched: entry(false, 'a WebSocket connection was tunnelled to the farm server (101) and has ended'),
  rule_redirect: entry(false, "a rule of the site redirected the request"),
  rule_response: entry(false, 'a rule of the site answered the request with a fixed response'),
  // The door: SSL settings and client certificates (403.x).
  ssl_required: entry(true, 'the site requires SSL and the request came over http (403.4)'),
  certificate_required: entry(true, 'the site requires a client certificate and none was presented (403.7)'),
  revoked: entry(true, 'the client certificate is revoked (403.13)'),
  untrusted: entry(true, 'the client certificate is not issued by a trusted CA (403.16)'),
  bad_signature: entry(true, 'the client certificate has a bad signature (403.16)'),
  wrong_usage: entry(true, 'the client certificate is not valid for client authentication (403.16)'),
  revocation_unknown: entry(true, 'no source could say whether the client certificate is revoked (403.16)'),
  certificate_invalid: entry(true, 'the client certificate is invalid for another reason (403.16)'),
  expired: entry(true, 'the client certificate has expired (403.17)'),
  not_yet_valid: entry(true, 'the client certificate is not yet valid (403.17)'),
  // The request itself.
  bad_request: entry(true, 'the request is not valid HTTP or names no valid target (400)'),
  unknown_host: entry(true, 'no site on the socket answers for the Host (400)'),
  http_version: entry(true, 'the HTTP version is not supported (505)'),
  misdirected: entry(true, "the Host belongs to another site than the TLS handshake's (421)"),
  method_not_allowed: entry(true, 'CONNECT is not proxied (405)'),
  request_timeout: entry(true, 'the request head or body did not arrive in time (408)'),
  content_too_large: entry(true, 'the request body is over maxAllowedContentLength (413.13)'),
  url_too_long: entry(true, 'the URL is over maxUrl (414.14)'),
  query_string_too_long: entry(true, 'the query string is over maxQueryString (414.15)'),
  headers_too_large: entry(true, 'the header fields are over maxHeaderCount or maxRequestHeadersBytes (431)'),
  too_many_concurrent_requests: entry(true, 'Dynamic IP Restrictions: too many concurrent requests from the address (403.501)'),
  too_many_requests: entry(true, 'Dynamic IP Restrictions: too many requests from the address in the window (403.502)'),
  no_route: entry(true, 'no rule matched and the site has no farm (404)'),
  // The farm.
  no_server: entry(true, 'no server of the farm is available (502.4)'),
  connect_refused: entry(true, 'the farm server refused the connection (502.3)', 12029),
  connect_timeout: entry(true, 'the farm server did not accept the connection in time (502.3)', 12002),
  server_unreachable: entry(true, "the farm server's address cannot be reached (502.3)", 12029),
  server_not_resolved: entry(true, "the farm server's host name cannot be resolved (502.3)", 12007),
  pool_timeout: entry(true, 'every connection to the farm server stayed busy past the timeout (maxConnectionsPerServer, 502.3)', 12002),
  response_timeout: entry(true, 'the farm server did not answer, or stopped sending its response, in time (502.3)', 12002),
  server_reset: entry(true, 'the farm server closed or reset the connection before answering (502.3)', 12030),
  bad_response: entry(true, "the farm server's response could not be passed on (not HTTP, out of step, or not expressible to the client) (502.3)"),
  response_aborted: entry(true, "the farm server's response broke after it had started: the client connection was cut", 12030),
  client_aborted: entry(false, 'the client went away before the response was complete', 64),
  internal_error: entry(true, 'an unexpected error in Gatehouse (500)'),
});

export type OutcomeCode = keyof typeof OUTCOMES;

export const OUTCOME_CODES = Object.freeze(Object.keys(OUTCOMES) as OutcomeCode[]);

/**
 * The code of a failed exchange with a farm server, from the error's code (node's errno codes, Gatehouse's
 * upstream codes): decided once, where the failure happens. `isResponseStarted`: the response had begun.
 */
export function farmFailureOutcome(errorCode: string | undefined, isResponseStarted: boolean): OutcomeCode {
  if (isResponseStarted) return errorCode === 'ERR_BODY_TIMEOUT' ? 'response_timeout' : 'response_aborted';
  switch (errorCode) {
    case 'ECONNREFUSED':
      return 'connect_refused';
    case 'ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connect_timeout';
    case 'ERR_HEADERS_TIMEOUT':
    case 'ERR_BODY_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'ETIMEDOUT':
    case 'ESOCKETTIMEDOUT':
      return 'response_timeout';
    case 'ERR_POOL_TIMEOUT':
      return 'pool_timeout';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
    case 'ERR_POOL_CLOSED':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return 'server_reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENETDOWN':
    case 'EADDRNOTAVAIL':
      return 'server_unreachable';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'server_not_resolved';
    default:
      return 'bad_response';
  }
}
