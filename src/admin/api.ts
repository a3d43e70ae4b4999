/**
 * The admin API's request handling under /api/v1: routing (find-my-way, fastify's router), then in order
 * authentication (401), role (403), and for writes Content-Type (415), body (400 / 422 naming each
 * field), then under one write lock (admin writes run one at a time: a check and its change see the same
 * state) the resource (404), If-Match (428 missing, 412 stale), the audit `attempt` line, the change, the
 * audit `result` line. Every error is
 * application/problem+json with a stable code. Runs on the admin listener only: nothing here is on the
 * request path.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import FindMyWay from 'find-my-way';
import type { z } from 'zod';
import { auditIdentity, authenticate, requireRole, type Principal } from './auth.js';
import { AuditLog } from './audit-log.js';
import type { AdminContext } from './context.js';
import { openApiDocument } from './openapi.js';
import { ApiProblem, sendJson, sendProblem, type FieldError } from './problem.js';
import { API_PREFIX, GATEHOUSE_VERSION, type Call, type Route } from './route.js';
import { ROUTES } from './routes/index.js';

/** Request bodies larger than this are refused with 413 (a route may allow more: Route.maxBodyBytes). */
export const MAX_BODY_BYTES = 64 * 1024;

function tooLarge(limit: number): ApiProblem {
  return new ApiProblem(413, 'body_too_large', 'Content Too Large', `the body is larger than this endpoint takes (${limit} bytes)`, undefined, { connection: 'close' });
}

/** `{ state: … }` issues → `[{ field: 'state', message }]`. */
export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((issue) => {
    const field = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[') || '(body)';
    if (issue.code === 'unrecognized_keys') return { field: issue.keys.join(', '), message: `unknown field${issue.keys.length > 1 ? 's' : ''} (expected only the fields of the schema)` };
    const isMissing = (issue as { input?: unknown }).input === undefined;
    if (issue.code === 'invalid_type' && isMissing) return { field, message: `required (expected ${issue.expected})` };
    if (issue.code === 'invalid_value') return { field, message: `${isMissing ? 'required: ' : ''}expected one of: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}` };
    return { field, message: issue.message };
  });
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // A declared length over the limit is refused before a byte is read; the answer closes the connection.
    if (Number(req.headers['content-length'] ?? 0) > limit) return reject(tooLarge(limit));
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function parseBody(req: IncomingMessage, schema: z.ZodType, limit: number): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    req.resume();
    throw new ApiProblem(415, 'unsupported_media_type', 'Unsupported Media Type', `writes take a JSON body: Content-Type must be application/json${type ? `, not ${type}` : ' (none was sent)'}`);
  }
  const raw = (await readBody(req, limit)).toString('utf8');
  let value: unknown;
  try {
    value = raw.trim() === '' ? {} : JSON.parse(raw);
  } catch (error) {
    throw new ApiProblem(400, 'invalid_json', 'Bad Request', `the body is not JSON: ${(error as Error).message}`);
  }
  const parsed = schema.safeParse(value, { reportInput: true });
  if (!parsed.success) {
    const errors = fieldErrors(parsed.error);
    throw new ApiProblem(422, 'invalid_body', 'Unprocessable Content', errors.map((e) => `${e.field}: ${e.message}`).join('; '), errors);
  }
  return parsed.data;
}

function parseQuery(search: string, schema: z.ZodObject | undefined): Record<string, unknown> {
  if (!schema) return {};
  const parsed = schema.safeParse(Object.fromEntries(new URLSearchParams(search)), { reportInput: true });
  if (!parsed.success) {
    const errors = fieldErrors(parsed.error);
    throw new ApiProblem(422, 'invalid_body', 'Unprocessable Content', `query: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, errors);
  }
  return parsed.data as Record<string, unknown>;
}

export function actorOf(principal: Principal): string {
  return principal.kind === 'token' ? `token user ${principal.user}` : `${principal.subject} (SHA-1 ${principal.thumbprint})`;
}

/** The If-Match check against the guarding resource's ETag in force now. */
function checkPrecondition(req: IncomingMessage, current: string, guard: string): void {
  const header = req.headers['if-match'];
  if (header === undefined || header.trim() === '') throw new ApiProblem(428, 'precondition_required', 'Precondition Required', `writes need If-Match with ${guard}; it is ${current} now`);
  const tags = header.split(',').map((tag) => tag.trim().replace(/^W\//, ''));
  if (!tags.includes(current) && !tags.includes('*')) throw new ApiProblem(412, 'precondition_failed', 'Precondition Failed', `it changed since ${header.trim()} was read: ${guard} is now ${current}; GET it again, check, and retry`);
}

/** Runs admin writes one at a time (each check and its change see the same state). */
function writeLock(): <T>(task: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return (task) => {
    const run = tail.then(task, task);
    tail = run.catch(() => {});
    return run;
  };
}

export interface AdminApi {
  /** Answers a request whose path starts with /api/ (the admin server dispatches). */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Whether a request is authenticated as some user (for `metrics: authenticated`); answers 401 itself when not. */
  authenticateOrAnswer(req: IncomingMessage, res: ServerResponse): boolean;
}

type Handler = (req: IncomingMessage, res: ServerResponse, params: Record<string, string | undefined>) => void;

export function createAdminApi(ctx: AdminContext): AdminApi {
  const router = FindMyWay({ ignoreTrailingSlash: false, caseSensitive: true, maxParamLength: 200 });
  const users = () => ctx.config().admin?.users ?? [];
  const instanceOf = (req: IncomingMessage) => (req.url ?? '/').split('?')[0] as string;
  const fail = (req: IncomingMessage, res: ServerResponse, error: unknown) => {
    req.resume();
    if (res.headersSent) return void res.destroy();
    if (error instanceof ApiProblem) return sendProblem(res, error.details, instanceOf(req), error.headers);
    ctx.eventLog?.error(`admin API: ${req.method} ${instanceOf(req)} failed: ${(error as Error).stack ?? String(error)}`);
    sendProblem(res, { status: 500, code: 'internal_error', title: 'Internal Server Error', detail: 'the request failed inside Gatehouse (logged)' }, instanceOf(req));
  };

  const locked = writeLock();
  const serve = (route: Route): Handler => (req, res, rawParams) => {
    void (async () => {
      const principal = authenticate(req, users());
      const params = Object.fromEntries(Object.entries(rawParams).map(([k, v]) => [k, v ?? '']));
      const search = (req.url ?? '').includes('?') ? (req.url ?? '').slice((req.url ?? '').indexOf('?') + 1) : '';
      try {
        requireRole(principal, route.role);
      } catch (error) {
        req.resume();
        // A write refused to a signed-in user is audited (who tried what); reads are not.
        if (route.write && error instanceof ApiProblem) await ctx.audit.append({ id: AuditLog.newId(), phase: 'result', who: auditIdentity(principal), action: route.operationId, target: params, result: 'failed', reason: `${error.status} ${error.code}: ${error.message}` }).catch(() => {});
        throw error;
      }
      const actor = actorOf(principal);
      if (route.write) return await write(route, req, res, principal, params, actor);
      req.resume();
      const call: Call = { ctx, principal, actor, params, query: parseQuery(search, route.query), body: undefined };
      if (route.stream) return route.stream(call, req, res);
      const reply = await (route.handle as NonNullable<Route['handle']>)(call);
      sendJson(res, reply.status ?? 200, reply.body, reply.etag ? { etag: reply.etag } : {}, req.method === 'HEAD');
    })().catch((error: unknown) => fail(req, res, error));
  };

  const write = async (route: Route, req: IncomingMessage, res: ServerResponse, principal: Principal, params: Record<string, string>, actor: string) => {
    const who = auditIdentity(principal);
    const action = route.operationId;
    const target = { ...params };
    const refused = async (error: unknown, operation?: Record<string, unknown>) => {
      // Refused before anything was tried: one line says who was refused and why.
      if (error instanceof ApiProblem) await ctx.audit.append({ id: AuditLog.newId(), phase: 'result', who, action, target, ...(operation ? { operation } : {}), result: 'failed', reason: `${error.status} ${error.code}: ${error.message}` }).catch(() => {});
      return error;
    };
    let body: unknown;
    try {
      body = route.body ? await parseBody(req, route.body, route.maxBodyBytes ?? MAX_BODY_BYTES) : (req.resume(), undefined);
    } catch (error) {
      throw await refused(error);
    }
    const call: Call = { ctx, principal, actor, params, query: {}, body };
    const answer = await locked(async () => {
      let prepared: Awaited<ReturnType<NonNullable<Route['write']>>> | undefined;
      try {
        prepared = await (route.write as NonNullable<Route['write']>)(call);
        checkPrecondition(req, prepared.etag, route.guard ?? "the resource's ETag");
      } catch (error) {
        throw await refused(error, prepared?.operation);
      }
      const { operation, before } = prepared;
      const id = AuditLog.newId();
      try {
        await ctx.audit.append({ id, phase: 'attempt', who, action, target: { ...target, operation }, before });
      } catch (error) {
        throw new ApiProblem(503, 'audit_failed', 'Service Unavailable', `the audit log ${ctx.audit.file} cannot be written (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); nothing was changed`);
      }
      let applied: Awaited<ReturnType<typeof prepared.apply>>;
      try {
        applied = await prepared.apply();
      } catch (error) {
        await ctx.audit.append({ id, phase: 'result', who, action, target, result: 'failed', reason: error instanceof ApiProblem ? `${error.status} ${error.code}: ${error.message}` : String(error) }).catch(() => {});
        throw error;
      }
      const result = applied.failed !== undefined ? 'failed' : applied.changed ? 'applied' : 'unchanged';
      await ctx.audit.append({ id, phase: 'result', who, action, target, before, after: applied.after, result, ...(applied.failed !== undefined ? { reason: applied.failed } : {}) }).catch((error: unknown) => ctx.eventLog?.error(`admin API: the audit result of ${id} could not be written: ${(error as Error).message}`));
      ctx.eventLog?.info(`admin: ${actor} ${action} ${JSON.stringify(operation)}: ${result}`);
      ctx.events.publish({ type: 'admin', who: actor, action, operation, result });
      return applied;
    });
    sendJson(res, answer.status ?? 200, answer.body, answer.etag ? { etag: answer.etag } : {});
  };

  for (const route of ROUTES) {
    const path = API_PREFIX + route.path.replace(/\{(\w+)\}/g, ':$1');
    const handler = serve(route);
    router.on(route.method, path, handler as FindMyWay.Handler<FindMyWay.HTTPVersion.V1>);
    if (route.method === 'GET') router.on('HEAD', path, handler as FindMyWay.Handler<FindMyWay.HTTPVersion.V1>);
  }
  router.on(['GET', 'HEAD'], `${API_PREFIX}/openapi.json`, ((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    try {
      requireRole(authenticate(req, users()), 'viewer');
      sendJson(res, 200, openApiDocument(GATEHOUSE_VERSION), {}, req.method === 'HEAD');
    } catch (error) {
      fail(req, res, error);
    }
  }) as FindMyWay.Handler<FindMyWay.HTTPVersion.V1>);
  const methods = ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'] as const;

  return {
    handle(req, res) {
      const url = req.url ?? '/';
      const path = url.split('?')[0] as string;
      const found = router.find((req.method ?? 'GET') as FindMyWay.HTTPMethod, path);
      if (found) return void (found.handler as unknown as Handler)(req, res, found.params);
      // Unknown paths answer 401 to strangers: the route table is not disclosed before sign-in.
      try {
        authenticate(req, users());
      } catch (error) {
        return fail(req, res, error);
      }
      const allowed = methods.filter((method) => router.find(method, path) !== null);
      if (allowed.length) return fail(req, res, new ApiProblem(405, 'method_not_allowed', 'Method Not Allowed', `${path} answers ${allowed.join(', ')}`, undefined, { allow: allowed.join(', ') }));
      fail(req, res, new ApiProblem(404, 'not_found', 'Not Found', `no endpoint ${path}; the API is described at ${API_PREFIX}/openapi.json`));
    },
    authenticateOrAnswer(req, res) {
      try {
        authenticate(req, users());
        return true;
      } catch (error) {
        fail(req, res, error);
        return false;
      }
    },
  };
}
