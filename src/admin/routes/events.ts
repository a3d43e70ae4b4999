/**
 * Events: `GET /events?since=&limit=` (the kept events after an id) and `GET /events/stream`, the same
 * events live as Server-Sent Events: each with `id:` (a reconnecting client's Last-Event-ID resumes:
 * the kept events after it are replayed, then live ones follow), `event:` (the type) and JSON `data:`;
 * a comment every 15 s keeps proxies from closing an idle stream. A client that stops reading is dropped
 * once its unsent answer passes the bus's bound (logged), never buffered without limit. One user holds at
 * most MAX_STREAMS_PER_USER streams at once (a console tab holds one); more is 429 too_many_streams.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { type EventBus, type GatehouseEvent } from '../events.js';
import { ApiProblem } from '../problem.js';
import type { Call, Route } from '../route.js';

const RETRY_MS = 3_000;
/** Streams one user (token or badge) may hold open at once: a console in many tabs, a few scripts. */
export const MAX_STREAMS_PER_USER = 32;
/** Open streams per user, per event bus (a Gatehouse, or a cluster's primary). */
const openStreams = new WeakMap<EventBus, Map<string, number>>();

const base = { id: z.number().int().describe('monotonic: a later event has a larger id'), time: z.string().describe('ISO 8601'), worker: z.number().int().optional().describe('the worker it happened in, with several') };
export const eventSchema = z.discriminatedUnion('type', [
  z.object({ ...base, type: z.literal('reload'), ok: z.boolean(), problems: z.array(z.string()), file: z.string() }).describe('a config reload tried: in force (ok) or refused with its problems'),
  z.object({ ...base, type: z.literal('health'), farm: z.string(), server: z.string(), healthy: z.boolean(), reason: z.string(), source: z.string().describe('urlTest, liveTraffic, retry or admin') }).describe('a server marked healthy or unhealthy'),
  z.object({ ...base, type: z.literal('state'), farm: z.string(), server: z.string(), from: z.string(), to: z.string(), by: z.string().describe('who: the admin user, or the config reload') }).describe("a server's availability changed"),
  z.object({ ...base, type: z.literal('rejections'), intervalSeconds: z.number(), total: z.number().int(), counts: z.array(z.object({ site: z.string(), status: z.string().describe('403.16'), reason: z.string().describe('the outcome code'), count: z.number().int() })) }).describe('answers Gatehouse gave itself since the previous summary (read from gatehouse_rejections_total; none: no event)'),
  z.object({ ...base, type: z.literal('admin'), who: z.string(), action: z.string(), operation: z.record(z.string(), z.unknown()), result: z.string() }).describe('an admin write, with its result (applied, unchanged, failed)'),
  z.object({ ...base, type: z.literal('certificate'), action: z.string(), certificate: z.string().describe('the certificate\'s id'), subject: z.string(), who: z.string().optional() }).describe('a certificate added to the store'),
]);

const eventsQuery = z.strictObject({
  since: z.coerce.number().int().min(0).default(0).describe('only events with a larger id (the `last` of the previous answer); default 0: every kept event'),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000).describe('at most this many (the oldest first), 1-10000, default 1000'),
});
const streamQuery = z.strictObject({
  since: z.coerce.number().int().min(0).optional().describe('replay the kept events after this id first (as Last-Event-ID does; the header wins)'),
});

function frame(event: GatehouseEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** The id a reconnecting client last saw (Last-Event-ID), else ?since, else none (live only). */
function resumeFrom(req: IncomingMessage, query: z.output<typeof streamQuery>): number | undefined {
  const header = req.headers['last-event-id'];
  if (typeof header === 'string' && header.trim() !== '') {
    const id = Number(header.trim());
    if (!Number.isSafeInteger(id) || id < 0) throw new ApiProblem(422, 'invalid_body', 'Unprocessable Content', `Last-Event-ID: expected the id of an event (an integer ≥ 0), not ${JSON.stringify(header)}`, [{ field: 'Last-Event-ID', message: 'expected an integer ≥ 0' }]);
    return id;
  }
  return query.since;
}

function stream(call: Call, req: IncomingMessage, res: ServerResponse): void {
  const bus = call.ctx.events;
  const from = resumeFrom(req, call.query as z.output<typeof streamQuery>);
  const who = call.actor;
  const open = openStreams.get(bus) ?? new Map<string, number>();
  openStreams.set(bus, open);
  const held = open.get(who) ?? 0;
  if (held >= MAX_STREAMS_PER_USER) {
    throw new ApiProblem(429, 'too_many_streams', 'Too Many Requests', `${who} already holds ${held} event streams open (at most ${MAX_STREAMS_PER_USER} at once); close one first`, undefined, { 'retry-after': String(RETRY_MS / 1000) });
  }
  open.set(who, held + 1);
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
  const release = () => {
    const now = (open.get(who) ?? 1) - 1;
    if (now > 0) open.set(who, now);
    else open.delete(who);
  };
  if (req.method === 'HEAD') {
    release();
    return void res.end();
  }
  const limit = bus.maxStreamBufferBytes;
  let closed = false;
  let unsubscribe = () => {};
  const heartbeat = setInterval(() => send(': heartbeat\n\n'), bus.heartbeatMs);
  heartbeat.unref();
  const finish = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    unsubscribe();
    release();
  };
  /** Writes, or drops a client that does not read: its unsent answer stays within `limit`. */
  function send(text: string): void {
    if (closed) return;
    res.write(text);
    if (res.writableLength > limit) {
      call.ctx.eventLog?.warn(`admin API: events stream of ${who} dropped: it does not read (${res.writableLength} bytes unsent, more than ${limit})`);
      finish();
      res.destroy();
    }
  }
  // The replay and the subscription happen in one synchronous step: no event in between, none lost, none twice.
  send(`retry: ${RETRY_MS}\n\n`);
  if (from !== undefined) {
    if (from + 1 < bus.oldest && from < bus.last) send(`: events ${from + 1} to ${bus.oldest - 1} are no longer kept\n\n`);
    for (const event of bus.since(from, bus.capacity)) send(frame(event));
  }
  if (closed) return; // dropped during the replay
  unsubscribe = bus.subscribe((event) => send(frame(event)));
  res.on('close', finish);
}

export const EVENT_ROUTES: readonly Route[] = [
  {
    method: 'GET',
    path: '/events',
    operationId: 'listEvents',
    summary: 'What happened, oldest first: reloads, health and state changes, rejections summarised, admin writes',
    role: 'viewer',
    tag: 'events',
    query: eventsQuery,
    response: { description: 'the kept events after `since` (the bus keeps the last 1,000) and the newest id', schema: z.object({ events: z.array(eventSchema), last: z.number().int().describe('the newest event\'s id: pass it as `since` next time'), oldest: z.number().int().describe('the oldest kept event\'s id') }) },
    handle: (call) => {
      const bus = call.ctx.events;
      const { since, limit } = call.query as z.output<typeof eventsQuery>;
      return { body: { events: bus.since(since, limit), last: bus.last, oldest: bus.oldest } };
    },
  },
  {
    method: 'GET',
    path: '/events/stream',
    operationId: 'streamEvents',
    summary: 'The events live (Server-Sent Events); Last-Event-ID resumes where a client left',
    role: 'viewer',
    tag: 'events',
    query: streamQuery,
    errors: [422, 429],
    response: {
      description: 'text/event-stream: `retry:`, then per event `id:` (its id), `event:` (its type) and `data:` (the event as JSON, as GET /events gives it); a `: heartbeat` comment every 15 s. With Last-Event-ID (or ?since) the kept events after it come first.',
      schema: eventSchema,
      contentType: 'text/event-stream',
    },
    stream,
  },
];
