/**
 * The OpenAPI 3.1 document of the admin API, generated from the route table and the same zod schemas the
 * handlers validate with (z.toJSONSchema: JSON Schema 2020-12, OpenAPI 3.1's dialect). Request schemas
 * are the schemas' input side (a default makes a field optional).
 */
import { z } from 'zod';
import { API_PREFIX, type Route } from './route.js';
import { ROUTES } from './routes/index.js';

const PROBLEM = {
  description: 'a problem (RFC 9457) with a stable `code`',
  content: {
    'application/problem+json': {
      schema: {
        type: 'object',
        required: ['type', 'title', 'status', 'code', 'detail'],
        properties: {
          type: { type: 'string' },
          title: { type: 'string' },
          status: { type: 'integer' },
          code: { type: 'string' },
          detail: { type: 'string' },
          instance: { type: 'string' },
          errors: { type: 'array', items: { type: 'object', required: ['field', 'message'], properties: { field: { type: 'string' }, message: { type: 'string' } } } },
        },
      },
    },
  },
};

const STATUS_TEXT: Record<number, string> = {
  400: 'the body is not JSON',
  401: 'no or unknown credentials',
  403: 'the user lacks the role',
  404: 'no such resource',
  413: 'the body is larger than the endpoint takes',
  409: 'a conflict: the change is valid but its reload was refused (nothing changed: reload_refused), or the certificate exists or is in use',
  412: 'If-Match does not carry the resource\'s current ETag',
  415: 'the body is not application/json',
  422: 'the body does not match the schema (errors name each field)',
  428: 'If-Match is missing',
  429: 'the user already holds as many event streams open as allowed (too_many_streams; Retry-After)',
  503: 'the audit log cannot be written (nothing was changed)',
};

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const out = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete out.$schema;
  return out;
}

/** The request body schema of a route as the document states it (tests compare handlers against it). */
export function requestSchemaOf(route: Route): Record<string, unknown> | undefined {
  return route.body ? jsonSchema(route.body, 'input') : undefined;
}

function operationOf(route: Route): Record<string, unknown> {
  const parameters: unknown[] = Object.entries(route.params ?? {}).map(([name, description]) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } }));
  if (route.query) {
    const query = jsonSchema(route.query, 'input') as { properties?: Record<string, Record<string, unknown>>; required?: string[] };
    for (const [name, schema] of Object.entries(query.properties ?? {})) parameters.push({ name, in: 'query', required: query.required?.includes(name) ?? false, description: schema.description, schema });
  }
  const isWrite = route.method !== 'GET';
  if (isWrite) parameters.push({ name: 'If-Match', in: 'header', required: true, description: route.guard ?? "the resource's ETag", schema: { type: 'string' } });
  const errors = [401, 403, ...(isWrite ? [400, 413, 415, 422, 428, 412, 503] : []), ...(route.errors ?? [])];
  const responses: Record<string, unknown> = {
    '200': { description: route.response.description, content: { [route.response.contentType ?? 'application/json']: { schema: jsonSchema(route.response.schema, 'output') } } },
  };
  for (const status of [...new Set(errors)].sort()) responses[String(status)] = { ...PROBLEM, description: STATUS_TEXT[status] ?? PROBLEM.description };
  return {
    operationId: route.operationId,
    summary: route.summary,
    tags: [route.tag],
    'x-gatehouse-role': route.role,
    ...(parameters.length ? { parameters } : {}),
    ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: requestSchemaOf(route) } } } } : {}),
    responses,
  };
}

let cached: Record<string, unknown> | undefined;

export function openApiDocument(version: string): Record<string, unknown> {
  if (cached) return cached;
  const paths: Record<string, Record<string, unknown>> = {};
  const all: Route[] = [
    ...ROUTES,
    { method: 'GET', path: '/openapi.json', operationId: 'getOpenApi', summary: 'This document', role: 'viewer', tag: 'status', response: { description: 'the OpenAPI 3.1 document', schema: z.record(z.string(), z.unknown()) } },
  ];
  for (const route of all) (paths[route.path] ??= {})[route.method.toLowerCase()] = operationOf(route);
  cached = {
    openapi: '3.1.0',
    info: { title: 'Gatehouse admin API', version, description: 'Run-time management of Gatehouse (ARR\'s Monitoring and Management). Every endpoint needs a user of admin.users (bearer token or admin client certificate) with the role `x-gatehouse-role` or above (viewer < operator < administrator). Writes need Content-Type: application/json and If-Match with the ETag of the resource that guards them, and are audited.' },
    servers: [{ url: API_PREFIX }],
    security: [{ bearer: [] }, { badge: [] }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'a token from `gatehouse admin token`' },
        badge: { type: 'mutualTLS', description: 'a client certificate from admin.trustedCaFile, named in admin.users by subject or thumbprint' },
      },
    },
    paths,
  };
  return cached;
}
