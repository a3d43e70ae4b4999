/**
 * Failed Request Tracing: `GET /traces` lists the trace files the sites' tracing rules kept (newest
 * first) and `GET /traces/{id}` returns one, parsed. A trace's id is its file name (`fr000001.json`); each
 * site keeps its own folder, so `?site=` names the site when several hold that name. The files are read
 * with the trace writer's own code (as `gatehouse traces` does); header values the writer redacted
 * (Authorization, Proxy-Authorization, Cookie and the site's redactHeaders) stay redacted.
 */
import { basename, join } from 'node:path';
import { z } from 'zod';
import type { Config } from '../../config/model.js';
import type { Trace } from '../../shared/trace.js';
import { isTraceFileName, listTraceFiles, readTraceFile } from '../../tracing/trace-writer.js';
import { ApiProblem } from '../problem.js';
import { traceClientCertificate } from '../trace-client-certificate.js';
import type { Route } from '../route.js';

const traceSummarySchema = z.object({
  id: z.string().describe('the trace file\'s name: GET /traces/{id}'),
  site: z.string(),
  time: z.string().describe('when the request started (ISO 8601)'),
  method: z.string(),
  url: z.string(),
  status: z.string().describe('status.substatus: 403.16'),
  outcome: z.string().describe('how the request ended (the outcome code)'),
  durationMs: z.number(),
  failureReason: z.string().describe('why the rule kept it: STATUS_CODE, TIME_TAKEN, RULE_MATCHED'),
  clientCertificate: z.string().nullable().describe('the client certificate\'s subject; null when none was presented'),
});
const decodedCertificateSchema = z.object({
  header: z.string().describe('the header it travelled in (X-ARR-ClientCert)'),
  subject: z.string(),
  issuer: z.string(),
  serialNumber: z.string(),
  notBefore: z.string(),
  notAfter: z.string(),
  thumbprintSha1: z.string(),
  thumbprintSha256: z.string(),
});
const clientCertificateSchema = z
  .union([decodedCertificateSchema, z.object({ header: z.string(), error: z.string().describe('why the forwarded value does not parse as a certificate') })])
  .nullable()
  .describe('the client certificate Gatehouse forwarded to the server (X-ARR-ClientCert, or the farm\'s clientCertHeaderName and clientCertFormat), decoded; null when none was forwarded');
const traceSchema = z
  .object({ id: z.string(), site: z.string(), url: z.string(), verb: z.string(), statusCode: z.number().int(), subStatusCode: z.number().int(), outcome: z.string(), timeTakenMs: z.number(), failureReason: z.string(), startTime: z.string(), events: z.array(z.object({ name: z.string(), time: z.string(), elapsedMs: z.number(), data: z.record(z.string(), z.unknown()) })), clientCertificate: clientCertificateSchema })
  .catchall(z.unknown());

const statusFilter = /^\d{3}(\.\d+)?$/;
const listQuery = z.strictObject({
  site: z.string().min(1).optional().describe('only this site\'s traces'),
  status: z.string().regex(statusFilter, 'expected a status (403) or status.substatus (403.16)').optional().describe('only this status (403) or status.substatus (403.16)'),
  limit: z.coerce.number().int().min(1).max(10_000).default(100).describe('the newest traces to return, 1-10000 (default 100)'),
});
const showQuery = z.strictObject({ site: z.string().min(1).optional().describe('the site, when several keep a trace of that name') });

/** The sites with tracing rules (one, with `site`): their names and folders. */
function tracedSites(config: Config, site: string | undefined): { name: string; directory: string }[] {
  const traced = config.sites.filter((s) => s.tracing).map((s) => ({ name: s.name, directory: s.tracing?.directory as string }));
  if (site === undefined) return traced;
  const found = traced.filter((s) => s.name === site);
  if (found.length === 0) throw new ApiProblem(404, 'not_found', 'Not Found', `no site '${site}' with tracing rules (sites with tracing: ${traced.map((s) => s.name).join(', ') || 'none'})`);
  return found;
}

/** A trace, or undefined when the file went away (the writer keeps the newest maxFiles). */
async function readIfThere(file: string): Promise<Trace | undefined> {
  try {
    return await readTraceFile(file);
  } catch (error) {
    if (((error as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return undefined;
    throw error;
  }
}

function summaryOf(trace: Trace, id: string, site: string): z.output<typeof traceSummarySchema> {
  const certificate = trace.events.find((event) => event.name === 'SSL_CLIENT_CERTIFICATE')?.data['Subject'];
  return {
    id,
    site,
    time: trace.startTime,
    method: trace.verb,
    url: trace.url,
    status: `${trace.statusCode}.${trace.subStatusCode}`,
    outcome: trace.outcome,
    durationMs: trace.timeTakenMs,
    failureReason: trace.failureReason,
    clientCertificate: typeof certificate === 'string' && certificate !== '' ? certificate : null,
  };
}

export const TRACE_ROUTES: readonly Route[] = [
  {
    method: 'GET',
    path: '/traces',
    operationId: 'listTraces',
    summary: 'The failed-request traces the sites\' tracing rules kept, newest first',
    role: 'viewer',
    tag: 'tracing',
    query: listQuery,
    errors: [404, 422],
    response: { description: 'the traces, newest first', schema: z.object({ traces: z.array(traceSummarySchema) }) },
    handle: async ({ ctx, query }) => {
      const { site, status, limit } = query as z.output<typeof listQuery>;
      const matches = (summary: z.output<typeof traceSummarySchema>) => status === undefined || summary.status === status || summary.status.startsWith(`${status}.`);
      const found: (z.output<typeof traceSummarySchema> & { sequence: number })[] = [];
      for (const traced of tracedSites(ctx.config(), site)) {
        // Newest first, and no more than `limit` per site: the merge below keeps the newest overall.
        const files = (await listTraceFiles(traced.directory)).reverse();
        let kept = 0;
        for (const { sequence, file } of files) {
          if (kept >= limit) break;
          const trace = await readIfThere(file);
          if (!trace) continue;
          const summary = summaryOf(trace, basename(file), traced.name);
          if (!matches(summary)) continue;
          found.push({ ...summary, sequence });
          kept++;
        }
      }
      found.sort((a, b) => (a.time === b.time ? b.sequence - a.sequence : a.time < b.time ? 1 : -1));
      return { body: { traces: found.slice(0, limit).map(({ sequence: _, ...summary }) => summary) } };
    },
  },
  {
    method: 'GET',
    path: '/traces/{id}',
    operationId: 'getTrace',
    summary: 'One trace: every step Gatehouse took for the request (redacted header values stay redacted)',
    role: 'viewer',
    tag: 'tracing',
    params: { id: 'the trace file\'s name (fr000001.json), as GET /traces gives it' },
    query: showQuery,
    errors: [404, 422],
    response: { description: 'the trace, as its file holds it, with its id and the forwarded client certificate decoded', schema: traceSchema },
    handle: async ({ ctx, params, query }) => {
      const id = params.id as string;
      // Only a trace file's name: no folder, no `..`: nothing outside the sites' trace folders is read.
      if (!isTraceFileName(id)) throw new ApiProblem(422, 'invalid_trace_id', 'Unprocessable Content', `id: expected a trace file name such as fr000001.json (as GET /traces gives it), not ${JSON.stringify(id)}`, [{ field: 'id', message: 'expected a trace file name such as fr000001.json' }]);
      const found: { site: string; trace: Trace }[] = [];
      for (const traced of tracedSites(ctx.config(), (query as z.output<typeof showQuery>).site)) {
        const trace = await readIfThere(join(traced.directory, id));
        if (trace) found.push({ site: traced.name, trace });
      }
      if (found.length === 0) throw new ApiProblem(404, 'trace_not_found', 'Not Found', `no trace ${id}; GET /traces lists the kept ones`);
      if (found.length > 1) throw new ApiProblem(422, 'invalid_trace_id', 'Unprocessable Content', `several sites keep a trace ${id} (${found.map((f) => f.site).join(', ')}): name one with ?site=`, [{ field: 'site', message: `expected one of: ${found.map((f) => f.site).join(', ')}` }]);
      const { site, trace } = found[0] as { site: string; trace: Trace };
      return { body: { id, ...trace, site, clientCertificate: traceClientCertificate(trace, ctx.config()) } };
    },
  },
];
