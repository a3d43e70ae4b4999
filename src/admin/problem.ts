/**
 * Problem details (RFC 9457) for every admin API error: `application/problem+json` with a stable `code`
 * that scripts (and the CLI's exit codes) can rely on. `type` is a URN built from the code.
 */
import type { ServerResponse } from 'node:http';

/** The codes the admin API answers with; stable: scripts and the CLI match on them. */
export type ProblemCode =
  | 'unauthenticated'
  | 'invalid_token'
  | 'certificate_not_trusted'
  | 'forbidden'
  | 'not_found'
  | 'farm_not_found'
  | 'server_not_found'
  | 'certificate_not_found'
  | 'certificate_exists'
  | 'certificate_in_use'
  | 'method_not_allowed'
  | 'unsupported_media_type'
  | 'invalid_json'
  | 'invalid_body'
  | 'body_too_large'
  | 'precondition_required'
  | 'precondition_failed'
  | 'worker_unavailable'
  | 'worker_failed'
  | 'audit_failed'
  | 'trace_not_found'
  | 'invalid_trace_id'
  | 'invalid_config'
  | 'reload_refused'
  | 'version_not_found'
  | 'site_not_found'
  | 'binding_not_found'
  | 'too_many_streams'
  | 'internal_error';

/** A field the request got wrong: its JSON path (`state`, `servers[0].address`) and what was expected. */
export interface FieldError {
  readonly field: string;
  readonly message: string;
}

export interface ProblemDetails {
  readonly status: number;
  readonly code: ProblemCode;
  readonly title: string;
  readonly detail: string;
  readonly errors?: readonly FieldError[];
}

/** An error a handler throws to answer with a problem. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: ProblemCode,
    readonly title: string,
    detail: string,
    readonly errors?: readonly FieldError[],
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'ApiProblem';
  }

  get details(): ProblemDetails {
    return { status: this.status, code: this.code, title: this.title, detail: this.message, ...(this.errors ? { errors: this.errors } : {}) };
  }
}

export function sendProblem(res: ServerResponse, problem: ProblemDetails, instance: string, headers: Record<string, string> = {}): void {
  const body = Buffer.from(JSON.stringify({ type: `urn:gatehouse:problem:${problem.code}`, ...problem, instance }));
  res.writeHead(problem.status, { 'content-type': 'application/problem+json', 'content-length': body.length, 'cache-control': 'no-store', ...headers });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}, isHead = false): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length, 'cache-control': 'no-store', ...headers });
  res.end(isHead ? undefined : body);
}
