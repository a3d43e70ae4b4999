/**
 * node's own HTTP parser (llhttp, from node:http's `_http_common` module) and the internals that let it
 * read a socket in C++, each probed by behaviour. Loading this module never throws (`gatehouse doctor`
 * reports what it found); http-parser.ts, which the request path uses, refuses to load without a parser.
 *
 * - `parser`: `_http_common.HTTPParser` with its kOn* callback slots, probed when this module loads by
 *   parsing canned responses: a chunked one must give message begin, head (status, headers, keep-alive),
 *   body and end, in that order; a HEAD answer's body must be skipped when the head callback says so; an
 *   oversized head must fail with HPE_HEADER_OVERFLOW. No fallback: a lenient JavaScript parser would
 *   let a server's malformed framing through (desync), so without it Gatehouse does not start.
 * - `consume` (parser.consume(handle) and kOnExecute): the parser reads the socket's handle in C++, as
 *   node:http's server reads its clients (no Buffer, stream push or 'data' event per read).
 * - `read-stop` (the handle's readStop/readStart/reading): back-pressure on a consumed socket.
 * - `unref-timer` (socket._unrefTimer): refreshes the inactivity timer, since reads no longer pass
 *   through node:net's JS.
 * Those three are probed together over a loopback TCP connection (probeSocketReads). The fallback for any
 * of them is the same: the parser is fed from the socket's public 'data' events (parser.execute), with the
 * stream's own pause/resume and timer; forced with GATEHOUSE_PLATFORM_FALLBACKS=consume, read-stop or
 * unref-timer.
 */
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { connect, createServer, Socket } from 'node:net';
import { forcedReason, isForced, type FallbackName } from './fallbacks.js';
import { closeServer, listenLoopback, PROBE_TIMEOUT_MS, within, type ProbeResult } from './probe-kit.js';

export interface HttpParser {
  initialize(type: number, resource: object, maxHeaderSize?: number, lenient?: number): void;
  execute(data: Buffer): number | Error;
  /** Reads the socket's handle in C++ (node:http's server does this): no JS read path, no read buffer per chunk. */
  consume(handle: unknown): void;
  finish(): number | Error | undefined;
  close(): void;
  [key: number]: unknown;
}
export interface HttpParserClass {
  new (): HttpParser;
  readonly prototype: HttpParser;
  readonly RESPONSE: number;
  readonly kOnMessageBegin: number;
  readonly kOnHeaders: number;
  readonly kOnHeadersComplete: number;
  readonly kOnBody: number;
  readonly kOnMessageComplete: number;
  readonly kOnExecute: number;
}
/** A socket's libuv handle as node:net keeps it. */
export interface StreamHandle {
  reading?: boolean;
  readStart(): number;
  readStop(): number;
}
/** What a consumed socket needs of node:net's internals (as node:http's server uses them). */
export interface ConsumableSocket {
  _handle: StreamHandle | null;
  /** Refreshes the socket's inactivity timer: reads through the parser do not pass through node:net's JS. */
  _unrefTimer(): void;
}

function parserProblem(detail: string): string {
  return `this Node.js version (${process.version}) does not provide node:http's HTTP parser (_http_common.HTTPParser) as Gatehouse uses it for its connections to farm servers: ${detail}`;
}

/** Parses `text` as one response on a fresh parser; returns the callbacks seen, in order. */
function parseCanned(parser: HttpParserClass, text: string, options: { maxHeaderSize?: number; skipBody?: boolean } = {}): { seen: string[]; result: number | Error } {
  const seen: string[] = [];
  const probe = new parser();
  probe.initialize(parser.RESPONSE, {}, options.maxHeaderSize ?? 16_384, 0);
  probe[parser.kOnMessageBegin] = () => void seen.push('begin');
  probe[parser.kOnHeaders] = (headers: string[]) => void seen.push(`headers ${headers.join(':')}`);
  probe[parser.kOnHeadersComplete] = (major: number, minor: number, headers: string[] | undefined, _method: unknown, _url: unknown, status: number, _message: string, upgrade: boolean, keepAlive: boolean) => {
    seen.push(`head ${major}.${minor} ${status} ${(headers ?? []).join(':')} upgrade=${upgrade} keepAlive=${keepAlive}`);
    return options.skipBody ? 1 : 0;
  };
  probe[parser.kOnBody] = (chunk: Buffer) => void seen.push(`body ${chunk.toString('latin1')}`);
  probe[parser.kOnMessageComplete] = () => void seen.push('end');
  try {
    return { seen, result: probe.execute(Buffer.from(text, 'latin1')) };
  } finally {
    probe.close();
  }
}

/** The `parser` probe: the class, its slots and three canned responses. Returns the class, or the problem. */
function loadParser(): { parser: HttpParserClass; reason: string } | { parser: undefined; reason: string } {
  let parser: HttpParserClass | undefined;
  try {
    parser = (createRequire(import.meta.url)('_http_common') as { HTTPParser?: HttpParserClass }).HTTPParser;
  } catch (error) {
    return { parser: undefined, reason: parserProblem(`_http_common cannot be loaded (${(error as Error).message})`) };
  }
  if (typeof parser !== 'function') return { parser: undefined, reason: parserProblem('_http_common has no HTTPParser') };
  const slots = ['kOnMessageBegin', 'kOnHeaders', 'kOnHeadersComplete', 'kOnBody', 'kOnMessageComplete'] as const;
  const missing = slots.filter((slot) => typeof parser[slot] !== 'number');
  if (missing.length > 0) return { parser: undefined, reason: parserProblem(`HTTPParser lacks ${missing.join(', ')}`) };
  try {
    const chunked = parseCanned(parser, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Probe: 1\r\n\r\n2\r\nok\r\n0\r\n\r\n');
    const expected = 'begin|head 1.1 200 Transfer-Encoding:chunked:X-Probe:1 upgrade=false keepAlive=true|body ok|end';
    if (chunked.result instanceof Error || chunked.seen.join('|') !== expected) return { parser: undefined, reason: parserProblem(`a canned chunked response parsed as ${JSON.stringify(chunked.seen)}`) };
    const head = parseCanned(parser, 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', { skipBody: true });
    if (head.result instanceof Error || head.seen.at(-1) !== 'end') return { parser: undefined, reason: parserProblem(`the answer to a HEAD request (body skipped) parsed as ${JSON.stringify(head.seen)}`) };
    const overflow = parseCanned(parser, `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(300)}\r\n\r\n`, { maxHeaderSize: 100 });
    if (!(overflow.result instanceof Error) || (overflow.result as Error & { code?: string }).code !== 'HPE_HEADER_OVERFLOW') return { parser: undefined, reason: parserProblem('a response head over maxHeaderSize was not refused with HPE_HEADER_OVERFLOW') };
  } catch (error) {
    return { parser: undefined, reason: parserProblem(`a canned response threw (${(error as Error).message})`) };
  }
  return { parser, reason: 'canned responses parse as node:http parses them (begin, head, body, end; HEAD body skipped; oversized head refused)' };
}

const loaded = loadParser();
/** node's parser class; undefined when the probe failed (`parserProbe` says why). */
export const LoadedParser: HttpParserClass | undefined = loaded.parser;
export const parserProbe: ProbeResult = { isActive: loaded.parser !== undefined, reason: loaded.reason };

const READ_NAMES = ['consume', 'read-stop', 'unref-timer'] as const satisfies readonly FallbackName[];
type ReadName = (typeof READ_NAMES)[number];

/** Presence, before the behaviour probe ran (what is used until then). */
function isPresent(): boolean {
  return (
    LoadedParser !== undefined &&
    typeof LoadedParser.kOnExecute === 'number' &&
    typeof LoadedParser.prototype.consume === 'function' &&
    typeof (Socket.prototype as unknown as Partial<ConsumableSocket>)._unrefTimer === 'function'
  );
}

/**
 * Whether farm sockets are read by the parser in C++ (false: the 'data'-event fallback). Set by presence
 * when this module loads and by probeSocketReads; read when a farm connection starts (platform/probes.ts
 * runs the probe before any does).
 */
export let readsInParser = !READ_NAMES.some((name) => isForced(name)) && isPresent();

/** The probe results of consume, read-stop and unref-timer, once probeSocketReads ran. */
let readProbes: Record<ReadName, ProbeResult> | undefined;

const sleepTurns = async (turns: number) => {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

/**
 * One loopback TCP connection, read by a parser that consumes its handle: a response must arrive through
 * kOnExecute (consume); after readStop a second response must not be read until readStart (read-stop);
 * a socket timeout refreshed with _unrefTimer must fire after one set after it (unref-timer).
 */
async function checkSocketReads(parser: HttpParserClass): Promise<Record<ReadName, ProbeResult>> {
  const failed = (reason: string): ProbeResult => ({ isActive: false, reason });
  const server = createServer();
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const port = await listenLoopback(server);
  const client = connect({ host: '127.0.0.1', port });
  client.on('error', () => {});
  const probe = new parser();
  try {
    await once(client, 'connect');
    const [peer] = await accepted;
    peer.on('error', () => {});
    const consumable = client as unknown as Partial<ConsumableSocket>;
    const handle = consumable._handle;
    const events: string[] = [];
    probe.initialize(parser.RESPONSE, {}, 16_384, 0);
    probe[parser.kOnHeadersComplete] = (_major: number, _minor: number, _headers: unknown, _method: unknown, _url: unknown, status: number) => {
      events.push(`head ${status}`);
      return 0;
    };
    probe[parser.kOnBody] = (chunk: Buffer) => void events.push(`body ${chunk.toString('latin1')}`);
    probe[parser.kOnMessageComplete] = () => void events.push('end');
    let executed = 0;
    let onExecute: () => void = () => {};
    probe[parser.kOnExecute] = (result: number | Error) => {
      if (typeof result === 'number') executed += result;
      else events.push(`error ${(result as Error & { code?: string }).code ?? result.message}`);
      onExecute();
    };
    const response = (body: string) => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const readUntil = (bytes: number, what: string) =>
      within(
        new Promise<void>((resolve) => {
          onExecute = () => {
            if (executed >= bytes) resolve();
          };
          onExecute();
        }),
        2_000,
        what,
      );
    if (!handle || typeof probe.consume !== 'function') return { consume: failed('the socket has no handle for the parser to consume'), 'read-stop': failed('not tried (consume failed)'), 'unref-timer': failed('not tried (consume failed)') };
    probe.consume(handle);
    const first = response('one');
    peer.write(first);
    try {
      await readUntil(first.length, 'a response read through the consumed handle (kOnExecute)');
    } catch (error) {
      return { consume: failed(`probe failed: ${(error as Error).message}`), 'read-stop': failed('not tried (consume failed)'), 'unref-timer': failed('not tried (consume failed)') };
    }
    const consume = events.join('|') === 'head 200|body one|end' && executed === first.length ? { isActive: true, reason: 'a loopback response was read by the parser in C++ and reported through kOnExecute' } : failed(`probe failed: the consumed socket gave ${JSON.stringify(events)} for ${executed} bytes`);
    if (!consume.isActive) return { consume, 'read-stop': failed('not tried (consume failed)'), 'unref-timer': failed('not tried (consume failed)') };

    // read-stop: nothing is read while stopped (the bytes are in the kernel's buffer once the write
    // completes; a poll phase runs between the two turns), everything once started again.
    let readStop: ProbeResult;
    if (typeof handle.readStop !== 'function' || typeof handle.readStart !== 'function') readStop = failed('the handle has no readStop/readStart');
    else {
      handle.reading = false;
      handle.readStop();
      const second = response('two');
      await new Promise<void>((resolve) => peer.write(second, () => resolve()));
      await sleepTurns(3);
      const whileStopped = executed - first.length;
      handle.reading = true;
      handle.readStart();
      try {
        await readUntil(first.length + second.length, 'reading again after readStart');
        readStop = whileStopped === 0 ? { isActive: true, reason: 'a stopped handle read nothing, and read again after readStart' } : failed(`probe failed: ${whileStopped} bytes were read after readStop`);
      } catch (error) {
        readStop = failed(`probe failed: ${(error as Error).message}`);
      }
    }

    // unref-timer: two sockets get the same timeout, the consumed one first, then it is refreshed. A
    // refresh moves its timer behind the other's (node keeps one list per duration, in order of start), so
    // the other times out first; without one, the consumed socket's would. The order, not a clock, decides.
    let unrefTimer: ProbeResult;
    if (typeof consumable._unrefTimer !== 'function') unrefTimer = failed('sockets have no _unrefTimer');
    else {
      const order: string[] = [];
      const both = Promise.all([once(client, 'timeout').then(() => order.push('refreshed')), once(peer, 'timeout').then(() => order.push('other'))]);
      client.setTimeout(20);
      peer.setTimeout(20);
      consumable._unrefTimer.call(client);
      try {
        await within(both, 2_000, 'both timeouts');
        unrefTimer = order.join() === 'other,refreshed' ? { isActive: true, reason: "a refreshed socket's timeout fired after one set later" } : failed(`probe failed: a refreshed socket's timeout fired before one set later (${order.join(', ')})`);
      } catch (error) {
        unrefTimer = failed(`probe failed: ${(error as Error).message}`);
      }
      client.setTimeout(0);
      peer.setTimeout(0);
    }
    return { consume, 'read-stop': readStop, 'unref-timer': unrefTimer };
  } finally {
    client.destroy();
    probe.close();
    await closeServer(server);
  }
}

let probing: Promise<Record<ReadName, ProbeResult>> | undefined;

/** Probes consume, read-stop and unref-timer once; sets readsInParser from the result. Never rejects. */
export function probeSocketReads(): Promise<Record<ReadName, ProbeResult>> {
  return (probing ??= (async () => {
    let results: Record<ReadName, ProbeResult>;
    const all = (result: ProbeResult) => ({ consume: result, 'read-stop': result, 'unref-timer': result });
    if (!LoadedParser) results = all({ isActive: false, reason: 'not tried: there is no parser' });
    else {
      try {
        results = await within(checkSocketReads(LoadedParser), PROBE_TIMEOUT_MS, 'the loopback socket-read probe');
      } catch (error) {
        results = all({ isActive: false, reason: `probe failed: ${(error as Error).message}` });
      }
    }
    for (const name of READ_NAMES) if (isForced(name)) results[name] = { isActive: false, reason: `${forcedReason(name)} (probe: ${results[name].reason})` };
    readsInParser = READ_NAMES.every((name) => results[name].isActive);
    if (!readsInParser) {
      // One fallback for the three: a fast path that passed is unused too.
      const cause = READ_NAMES.filter((name) => !results[name].isActive).join(', ');
      for (const name of READ_NAMES) if (results[name].isActive) results[name] = { isActive: false, reason: `probe passed, but unused: ${cause} ${cause.includes(',') ? 'are' : 'is'} on the 'data'-event fallback` };
    }
    readProbes = results;
    return results;
  })());
}

/** The probes' results, once probeSocketReads ran. */
export function socketReadProbes(): Record<ReadName, ProbeResult> | undefined {
  return readProbes;
}
