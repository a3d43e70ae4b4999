/**
 * What a route of the admin API is: method, path, role, request schemas (zod: the handler validates with
 * them and the OpenAPI document is generated from them) and one of three ways to answer: `handle` (a read),
 * `write` (a change guarded by an ETag and audited: api.ts runs the pipeline), `stream` (a long-lived
 * answer such as Server-Sent Events). Each area of the API keeps its routes in routes/<area>.ts.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import type { AdminRole } from '../config/admin-schema.js';
import type { Principal } from './auth.js';
import type { AdminContext } from './context.js';

export const API_PREFIX = '/api/v1';

export const GATEHOUSE_VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
})();

export interface Call<Body = unknown, Query = Record<string, unknown>> {
  readonly ctx: AdminContext;
  readonly principal: Principal;
  /** Who asked, in words (`token user ci`, `CN=Alice (SHA-1 3F2A…)`): for health reasons and the event log. */
  readonly actor: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: Query;
  readonly body: Body;
}

export interface Reply {
  readonly status?: number;
  readonly body: unknown;
  readonly etag?: string;
}

/**
 * A write, prepared under the API's write lock (no other admin write runs between prepare and apply):
 * the ETag of the resource that guards it (If-Match must carry it), the change as a serialisable object,
 * and the touched part as it is now. api.ts checks If-Match, writes the audit `attempt` line, then applies.
 */
export interface PreparedWrite {
  readonly etag: string;
  /** The change, serialisable (the audit line and the answer show it): `{ type: 'server.setState', … }`. */
  readonly operation: Record<string, unknown>;
  readonly before: unknown;
  apply(): Promise<AppliedWrite>;
}

export interface AppliedWrite {
  /** False when the resource already was as asked. */
  readonly changed: boolean;
  readonly after: unknown;
  /** What the audit records when the change was tried and refused after the attempt line (a reload refused). */
  readonly failed?: string;
  readonly status?: number;
  readonly body: unknown;
  /** The resource's new ETag (sent as the ETag header). */
  readonly etag?: string;
}

export interface Route {
  readonly method: 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  /** OpenAPI form, under API_PREFIX: `/farms/{farm}`. */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly role: AdminRole;
  readonly tag: string;
  readonly params?: Readonly<Record<string, string>>;
  readonly query?: z.ZodObject;
  readonly body?: z.ZodType;
  /** The largest body taken (default 64 KiB; more answers 413). */
  readonly maxBodyBytes?: number;
  /** For writes: what If-Match must carry (the OpenAPI document says it): `the farm's ETag (GET /farms/{farm})`. */
  readonly guard?: string;
  readonly response: { readonly description: string; readonly schema: z.ZodType; readonly contentType?: string };
  /** A read: its answer. */
  readonly handle?: (call: Call) => Reply | Promise<Reply>;
  /** A write: prepares the change (throws ApiProblem 404 for a missing resource, 422 for a bad request). */
  readonly write?: (call: Call) => Promise<PreparedWrite>;
  /** A long-lived answer (authenticated and authorised first): the route writes `res` itself. */
  readonly stream?: (call: Call, req: IncomingMessage, res: ServerResponse) => void;
  /** Extra answers it documents. */
  readonly errors?: readonly number[];
}
