/**
 * Seeded, bounded fuzzing of Gatehouse's HTTP/1.x door (the http binding of a real `gatehouse start`
 * child process). Request heads come from a grammar (method, target, version, header list, body framing,
 * pipelined requests) and are then mutated byte by byte (CR, LF, NUL, SP, HT, `_`, `\`, `%`, `#`, high
 * bytes). Each input goes on a fresh TCP connection, one at a time. For EVERY input:
 *   1. the gatehouse process is still alive (and every PROBE_EVERY inputs and at the end a plain GET still
 *      gets the backend's 200);
 *   2. the answer is empty (connection closed) or well-formed HTTP/1.1 responses (strict parser);
 *   3. nothing Gatehouse refused reached the backend: when it answered a request itself with a refusal
 *      (4xx, 501, 505), every request the backend received for this input had its answer delivered; and the
 *      backend never receives a path a lenient server reads as /admin, a client-certificate header in any
 *      spelling, an HTTP/2 preface, or bytes that are not well-formed HTTP/1.1 requests (checkForwarded).
 *
 * Reproduce: the seed and numRuns of each property are constants below and are printed on failure.
 * `endOnFailure` stops at the first failing input (no shrinking); GATEHOUSE_FUZZ_SHRINK=1 shrinks it;
 * GATEHOUSE_FUZZ_SURVEY=1 runs every input and lists each kind of failure with its smallest input.
 */
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  adminSpelling,
  CERT_FAMILY,
  CLOSE_GRACE_MS,
  exchangeHttp1,
  FuzzFile,
  GATEHOUSE_HEADERS,
  headerOf,
  parseResponses,
  RUN_HEADER,
  RUN_PLACEHOLDER,
  SEQ_HEADER,
  show,
  SITE_HOST,
  spelled,
  type BackendRequest,
  type Checked,
  type FuzzStats,
  type Header,
} from './fuzz-support.js';

/** The seed of this file; property k uses SEED + k. */
const SEED = 20_250_610;
/** Inputs per property (a few thousand in all); each property also stops after BUDGET_MS. */
const NUM_RUNS = { mixed: 800, framing: 500, paths: 600, headers: 400, versions: 400 } as const;
const BUDGET_MS = 7_000;
/** And all properties of the file together stop after FILE_BUDGET_MS (the fixed-seed sequence is then run up to where time ran out). */
const FILE_BUDGET_MS = 35_000;
/** How long to wait for more answer bytes when fewer responses than requests came back. */
const ANSWER_TIMEOUT_MS = 250;
/** A plain GET checks that Gatehouse still proxies, every this many inputs. */
const PROBE_EVERY = 25;

// ---------------------------------------------------------------------------------------------
// The input model

interface RequestSpec {
  readonly method: string;
  readonly target: string;
  /** '' : a request line without a version. */
  readonly version: string;
  /** Raw lines `name: value` (names and values may hold anything). */
  readonly headers: readonly Header[];
  readonly body: string;
  /** Responses owed for requests hidden in the body (a smuggling attempt a correct parser reads as requests). */
  readonly extra: number;
}

interface Mutation {
  readonly op: 'insert' | 'replace' | 'delete';
  readonly at: number;
  readonly byte: number;
}

interface Http1Input {
  readonly requests: readonly RequestSpec[];
  /** Raw bytes after the requests (HTTP/2 preface, WebSocket frame, a second request), and the responses they may earn. */
  readonly trailer: string;
  readonly trailerResponses: number;
  readonly mutations: readonly Mutation[];
  /** Write the input in two parts, split at this fraction (per mille), 1 ms apart. */
  readonly splitAt: number | null;
}

function serialize(request: RequestSpec): string {
  const line = request.version === '' ? `${request.method} ${request.target}\r\n` : `${request.method} ${request.target} ${request.version}\r\n`;
  return line + request.headers.map(([name, value]) => `${name}: ${value}\r\n`).join('') + '\r\n' + request.body;
}

function applyMutations(bytes: Buffer, mutations: readonly Mutation[]): Buffer {
  let out = bytes;
  for (const m of mutations) {
    if (out.length === 0) break;
    if (m.op === 'insert') {
      const at = m.at % (out.length + 1);
      out = Buffer.concat([out.subarray(0, at), Buffer.from([m.byte]), out.subarray(at)]);
    } else if (m.op === 'replace') {
      const at = m.at % out.length;
      out = Buffer.from(out);
      out[at] = m.byte;
    } else {
      const at = m.at % out.length;
      out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1)]);
    }
  }
  return out;
}

/** The bytes of an input for run `run` (mutations apply to the template, then the run number is filled in). */
function bytesOf(input: Http1Input, run: number): Buffer {
  // Each request's X-Fuzz-Run says `RUN.INDEX.RUN` (INDEX: its position in the input, from 1).
  const template = Buffer.from(input.requests.map((q, i) => serialize(q).split(`${RUN_PLACEHOLDER}\r\n`).join(`${RUN_PLACEHOLDER}.${i + 1}.${RUN_PLACEHOLDER}\r\n`)).join('') + input.trailer, 'latin1');
  const mutated = applyMutations(template, input.mutations);
  return Buffer.from(mutated.toString('latin1').split(RUN_PLACEHOLDER).join(String(run)), 'latin1');
}

// ---------------------------------------------------------------------------------------------
// Generators

const BYTES = [0x0d, 0x0a, 0x00, 0x20, 0x09, 0x5f, 0x5c, 0x25, 0x23, 0x80, 0xff, 0xc0, 0x3a, 0x7f, 0x2f] as const;
const mutation: fc.Arbitrary<Mutation> = fc.record({ op: fc.constantFrom('insert', 'replace', 'delete'), at: fc.nat(), byte: fc.constantFrom(...BYTES) });

const methods = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('GET', 'POST') },
  { weight: 2, arbitrary: fc.constantFrom('PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT', 'get', 'Get', 'PRI', 'FOO', 'M-SEARCH', 'PROPFIND', 'GET\t', 'G_ET') },
);

const versions = fc.oneof(
  { weight: 12, arbitrary: fc.constant('HTTP/1.1') },
  { weight: 2, arbitrary: fc.constant('HTTP/1.0') },
  { weight: 2, arbitrary: fc.constantFrom('HTTP/2.0', 'HTTP/2', 'HTTP/3.0', 'HTTP/0.9', 'HTTP/1.2', 'HTTP/9.9', 'http/1.1', 'HTTP/1.10', 'HTTP/01.1', 'HTTP/11', '', 'HTTP/1.1 ', 'HTTP/2.0\t', 'HTTP/1.1x') },
);

const benignTarget = fc.constantFrom('/', '/ok', '/public/x', '/a/b?c=d', '/index.html', '/administrator', '/admin-x', '/adm', '/public/admin', '/?admin', '/x?y=%2F%5C', '/%E2%82%AC', '/a%20b');
const absoluteTarget = fc
  .tuple(fc.constantFrom('http://', 'https://', 'HTTP://', 'http:/', 'ws://'), fc.constantFrom(SITE_HOST, 'other.example', '127.0.0.1', `${SITE_HOST}:80`, 'FUZZ.TEST', `${SITE_HOST}.`, `user@${SITE_HOST}`, ''), fc.oneof(adminSpelling, benignTarget))
  .map(([scheme, host, path]) => scheme + host + (path.startsWith('/') ? path : `/${path}`));
const oddTarget = fc.constantFrom('*', `${SITE_HOST}:443`, '', 'admin', '?x', '/a b', '/\x00', '/%', '/%zz', '/%4', '/%C0%AF', '/%FF', '/x#y', '/\xe9', '//', '/' + 'a'.repeat(9000));
const targets = fc.oneof({ weight: 4, arbitrary: benignTarget }, { weight: 4, arbitrary: adminSpelling }, { weight: 2, arbitrary: absoluteTarget }, { weight: 1, arbitrary: oddTarget });

const forgedCert: fc.Arbitrary<Header> = fc.tuple(spelled(CERT_FAMILY), fc.constantFrom('MIIBforged==', 'forged', '', ':Zm9yZ2Vk:', 'Hash=abc;Cert="x"'));
const forgedGatehouse: fc.Arbitrary<Header> = fc.tuple(spelled(GATEHOUSE_HEADERS), fc.constantFrom('https', '/admin', '1.2.3.4', '0', 'evil', 't=1;id=x;v1=y', '2048|256|CN=x|CN=y'));
const benignHeader = fc.constantFrom<Header>(['Accept', '*/*'], ['User-Agent', 'fuzz/1'], ['X-Custom', 'v'], ['Accept', 'text/html'], ['Cookie', 'a=b'], ['Content-Type', 'text/plain'], ['Accept-Encoding', 'gzip'], ['X-Empty', ''], ['TE', 'trailers'], ['Via', '1.1 other'], ['Forwarded', 'for=1.2.3.4;proto=https'], ['Expect', '100-continue'], ['Keep-Alive', 'timeout=5']);
const connectionHeader = fc.constantFrom('close', 'keep-alive', 'Upgrade', 'X-ARR-ClientCert', 'keep-alive, X-Forwarded-Proto', 'Upgrade, HTTP2-Settings', 'TE', 'X-Original-URL, Max-Forwards', 'x-arr-log-id', 'X-Forwarded-For').map((v): Header => ['Connection', v]);
const upgradeHeader = fc.oneof(
  fc.constantFrom('websocket', 'WebSocket', 'h2c', 'h2c, websocket', 'websocket, h2c', 'foo', 'TLS/1.0', 'HTTP/2.0').map((v): Header => ['Upgrade', v]),
  fc.constantFrom<Header>(['HTTP2-Settings', 'AAMAAABkAAQAAP__'], ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='], ['Sec-WebSocket-Version', '13']),
);
const nastyHeader = fc.constantFrom<Header>(
  ['X-Folded', 'a\r\n b'],
  ['X-Folded', 'a\r\n\tX-ARR-ClientCert: folded'],
  ['X-ARR-ClientCert ', 'space-before-colon'],
  ['X_ARR_ClientCert\t', 'tab-before-colon'],
  ['X-Nul', 'a\x00b'],
  ['X-Bare-CR', 'a\rX-ARR-ClientCert: bare-cr'],
  ['X-Bare-LF', 'a\nX-ARR-ClientCert: bare-lf'],
  ['X Y', 'space-in-name'],
  ['', 'empty-name'],
  ['X-High', 'caf\xe9'],
  ['Transfer-Encoding ', 'chunked'],
  [' X-Leading-Space', 'v'],
  ['Host\t', SITE_HOST],
  ['X-Long', 'a'.repeat(9000)],
);
const oddHost = fc.constantFrom<readonly Header[]>(
  [],
  [['Host', SITE_HOST], ['Host', SITE_HOST]],
  [['Host', SITE_HOST], ['Host', 'other.example']],
  [['Host', 'other.example']],
  [['Host', '']],
  [['Host', `${SITE_HOST}:80`]],
  [['HOST', SITE_HOST]],
  [['Host', 'a b']],
  [['Host', `${SITE_HOST}, other.example`]],
  [['Host', `${SITE_HOST}/admin`]],
);
/** Mostly `Host: fuzz.test`; now and then none, two, another name or a bad one. */
const hostHeaders = fc.oneof({ weight: 6, arbitrary: fc.constant<readonly Header[]>([['Host', SITE_HOST]]) }, { weight: 1, arbitrary: oddHost });
const anyHeader = fc.oneof({ weight: 4, arbitrary: benignHeader }, { weight: 2, arbitrary: forgedCert }, { weight: 2, arbitrary: forgedGatehouse }, { weight: 1, arbitrary: connectionHeader }, { weight: 1, arbitrary: upgradeHeader }, { weight: 1, arbitrary: nastyHeader });

interface FramingSpec {
  readonly headers: readonly Header[];
  readonly body: string;
  readonly extra: number;
}
const bodyText = fc.string({ unit: fc.constantFrom('a', 'b', 'z', '0', ' ', '='), maxLength: 24 });
const chunked = (parts: readonly string[]) => parts.filter((p) => p.length > 0).map((p) => `${p.length.toString(16)}\r\n${p}\r\n`).join('') + '0\r\n\r\n';
const SMUGGLED = [
  `GET /admin HTTP/1.1\r\nHost: ${SITE_HOST}\r\n\r\n`,
  `GET /%61dmin/x HTTP/1.1\r\nHost: ${SITE_HOST}\r\n\r\n`,
  `GET /ok HTTP/1.1\r\nHost: ${SITE_HOST}\r\nX-ARR-ClientCert: smuggled\r\n\r\n`,
  `GET /ok HTTP/1.1\r\nHost: ${SITE_HOST}\r\nX_ARR_ClientCert: smuggled\r\n\r\n`,
  'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
  `GET / HTTP/2.0\r\nHost: ${SITE_HOST}\r\n\r\n`,
] as const;
const smuggled = fc.constantFrom(...SMUGGLED);
const none: FramingSpec = { headers: [], body: '', extra: 0 };
const plainFraming = fc.oneof(
  { weight: 3, arbitrary: fc.constant(none) },
  { weight: 2, arbitrary: bodyText.map((b): FramingSpec => ({ headers: [['Content-Length', String(b.length)]], body: b, extra: 0 })) },
  { weight: 1, arbitrary: fc.array(bodyText, { maxLength: 3 }).map((parts): FramingSpec => ({ headers: [['Transfer-Encoding', 'chunked']], body: chunked(parts), extra: 0 })) },
);
const nastyFraming = fc.oneof(
  fc.tuple(bodyText, fc.boolean()).map(([b, clFirst]): FramingSpec => {
    const body = chunked([b]);
    const headers: Header[] = [['Content-Length', String(body.length)], ['Transfer-Encoding', 'chunked']];
    return { headers: clFirst ? headers : headers.reverse(), body, extra: 0 };
  }),
  fc.tuple(bodyText, fc.integer({ min: -3, max: 3 })).map(([b, d]): FramingSpec => ({ headers: [['Content-Length', String(b.length)], ['Content-Length', String(Math.max(0, b.length + d))]], body: b, extra: 0 })),
  fc.tuple(bodyText, fc.constantFrom('same', 'next')).map(([b, how]): FramingSpec => ({ headers: [['Content-Length', `${b.length}, ${how === 'same' ? b.length : b.length + 1}`]], body: b, extra: 0 })),
  fc.tuple(fc.constantFrom('identity, chunked', 'chunked, chunked', 'gzip, chunked', 'chunked, identity', 'xchunked', 'Chunked', 'CHUNKED', ' chunked', 'chunked ', 'chunked;q=1', 'chunked\x00', 'identity', 'chunk', '"chunked"', 'chunked, gzip', 'chunked\x0b'), bodyText).map(
    ([te, b]): FramingSpec => ({ headers: [['Transfer-Encoding', te]], body: chunked([b]), extra: 0 }),
  ),
  bodyText.map((b): FramingSpec => ({ headers: [['Transfer-Encoding', 'gzip'], ['Transfer-Encoding', 'chunked']], body: chunked([b]), extra: 0 })),
  fc.constantFrom('zz', '-1', '0x5', ' 5', '5 ', 'ffffffffffffffffff', '5;ext=1', '5\t', '+5', '', '05', '5\x00').map((size): FramingSpec => ({ headers: [['Transfer-Encoding', 'chunked']], body: `${size}\r\nhello\r\n0\r\n\r\n`, extra: 0 })),
  fc.constantFrom('+5', '5 5', '0x5', '-1', '05', '5,5', '5, 6', '', ' 5', '5.0', '1e1', '99999999999999999999', '5\x00').map((cl): FramingSpec => ({ headers: [['Content-Length', cl]], body: 'hello', extra: 0 })),
  fc.tuple(bodyText, smuggled).map(([b, s]): FramingSpec => ({ headers: [['Content-Length', String(b.length)]], body: b + s, extra: 1 })),
  fc.tuple(bodyText, smuggled).map(([b, s]): FramingSpec => ({ headers: [['Transfer-Encoding', 'chunked']], body: chunked([b]) + s, extra: 1 })),
  smuggled.map((s): FramingSpec => ({ headers: [['Content-Length', String(5 + s.length)], ['Transfer-Encoding', 'chunked']], body: `0\r\n\r\n${s}`, extra: 1 })),
  smuggled.map((s): FramingSpec => ({ headers: [['Transfer-Encoding', 'chunked'], ['Content-Length', '3']], body: `${(s.length + 3).toString(16)}\r\nabc${s}\r\n0\r\n\r\n`, extra: 1 })),
  fc.constant<FramingSpec>({ headers: [['Content-Length', '10']], body: 'short', extra: 0 }),
  fc.constant<FramingSpec>({ headers: [['Transfer-Encoding', 'chunked']], body: '5\r\nhello\r\n', extra: 0 }),
);

/** More than 100 header fields (spec: 431 + close, never a silent cut that loses a later Content-Length). */
const manyHeaders = fc.tuple(fc.integer({ min: 95, max: 1010 }), fc.boolean()).map(([n, withBody]): FramingSpec => {
  const headers: Header[] = Array.from({ length: n }, (_, i) => [`X-H${i}`, String(i)]);
  if (withBody) headers.push(['Content-Length', '5']);
  return { headers, body: withBody ? 'hello' : '', extra: 0 };
});

interface RequestOptions {
  readonly method?: fc.Arbitrary<string>;
  readonly target?: fc.Arbitrary<string>;
  readonly version?: fc.Arbitrary<string>;
  readonly headers?: fc.Arbitrary<readonly Header[]>;
  readonly host?: fc.Arbitrary<readonly Header[]>;
  readonly framing?: fc.Arbitrary<FramingSpec>;
}

function requests(options: RequestOptions = {}): fc.Arbitrary<RequestSpec> {
  return fc
    .record({
      method: options.method ?? methods,
      target: options.target ?? targets,
      version: options.version ?? versions,
      host: options.host ?? hostHeaders,
      headers: options.headers ?? fc.array(anyHeader, { maxLength: 5 }),
      framing: options.framing ?? plainFraming,
      markerAt: fc.nat(7),
    })
    .map(({ method, target, version, host, headers, framing, markerAt }): RequestSpec => {
      const all: Header[] = [...host, ...headers, ...framing.headers];
      all.splice(markerAt % (all.length + 1), 0, [RUN_HEADER, RUN_PLACEHOLDER]);
      return { method, target, version, headers: all, body: framing.body, extra: framing.extra };
    });
}

function inputs(request: fc.Arbitrary<RequestSpec>, options: { maxRequests?: number; mutations?: number; trailer?: fc.Arbitrary<readonly [string, number]> } = {}): fc.Arbitrary<Http1Input> {
  return fc.record({
    requests: fc.array(request, { minLength: 1, maxLength: options.maxRequests ?? 3 }),
    trailer: options.trailer ?? fc.constant<readonly [string, number]>(['', 0]),
    mutations: fc.array(mutation, { maxLength: options.mutations ?? 0 }),
    splitAt: fc.option(fc.integer({ min: 1, max: 999 }), { freq: 5 }),
  }).map(({ requests: list, trailer, mutations, splitAt }) => ({ requests: list, trailer: trailer[0], trailerResponses: trailer[1], mutations, splitAt }));
}

const websocketRequest = fc.record({ withBody: fc.boolean(), version: fc.constantFrom('13', '8'), target: fc.oneof(benignTarget, adminSpelling) }).map(({ withBody, version, target }): RequestSpec => ({
  method: 'GET',
  target,
  version: 'HTTP/1.1',
  headers: [['Host', SITE_HOST], [RUN_HEADER, RUN_PLACEHOLDER], ['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='], ['Sec-WebSocket-Version', version], ...(withBody ? ([['Content-Length', '5']] as Header[]) : [])],
  body: withBody ? 'hello' : '',
  extra: 0,
}));
const h2cRequest = fc.record({ settings: fc.boolean(), connection: fc.constantFrom('Upgrade, HTTP2-Settings', 'Upgrade', 'HTTP2-Settings', 'keep-alive'), target: fc.oneof(benignTarget, adminSpelling) }).map(({ settings, connection, target }): RequestSpec => ({
  method: 'GET',
  target,
  version: 'HTTP/1.1',
  headers: [['Host', SITE_HOST], [RUN_HEADER, RUN_PLACEHOLDER], ['Upgrade', 'h2c'], ['Connection', connection], ...(settings ? ([['HTTP2-Settings', 'AAMAAABkAAQAAP__']] as Header[]) : [])],
  body: '',
  extra: 0,
}));
const connectRequest = fc.constantFrom(`${SITE_HOST}:443`, '127.0.0.1:22', `${SITE_HOST}:80`, '/admin').map((target): RequestSpec => ({
  method: 'CONNECT',
  target,
  version: 'HTTP/1.1',
  headers: [['Host', target], [RUN_HEADER, RUN_PLACEHOLDER]],
  body: '',
  extra: 0,
}));
/** What follows an upgrade request: nothing, WebSocket frame bytes, the HTTP/2 preface, or a forged second request. */
const trailers = fc.constantFrom<readonly [string, number]>(
  ['', 0],
  ['\x81\x85\x00\x00\x00\x00hello', 0],
  ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 1],
  ['\x00\x00\x12\x04\x00\x00\x00\x00\x00', 0],
  [`GET /ok HTTP/1.1\r\nHost: ${SITE_HOST}\r\nX-ARR-ClientCert: after-upgrade\r\n\r\n`, 1],
  [`GET /admin/x HTTP/1.1\r\nHost: ${SITE_HOST}\r\n\r\n`, 1],
  [`GET /ok HTTP/1.1\r\nHost: ${SITE_HOST}\r\nx_arr_clientcert: after-upgrade\r\n\r\n`, 1],
);

// ---------------------------------------------------------------------------------------------
// Running one input

const fuzzing = new FuzzFile({ file: 'fuzz-http1', seed: SEED, budgetMs: BUDGET_MS, fileBudgetMs: FILE_BUDGET_MS, probeEvery: PROBE_EVERY, door: 'http1' });

function isOurs(request: BackendRequest, runNumber: number): boolean {
  if (request.isProbe) return false;
  if (request.markedRun !== undefined && !Number.isNaN(request.markedRun)) return request.markedRun === runNumber;
  return request.windowRun === runNumber;
}

async function checkInput(input: Http1Input, stats: FuzzStats): Promise<Checked> {
  const current = await fuzzing.begin();
  const { run: r, backend } = current;
  const bytes = bytesOf(input, r);
  const split = input.splitAt === null ? 0 : Math.floor((bytes.length * input.splitAt) / 1000);
  const chunks = split > 0 && split < bytes.length ? [bytes.subarray(0, split), bytes.subarray(split)] : [bytes];
  const expectedResponses = input.requests.reduce((n, q) => n + 1 + q.extra, 0) + input.trailerResponses;
  const exchange = await exchangeHttp1(fuzzing.gatehouse.httpPort, chunks, { expectedResponses, timeoutMs: ANSWER_TIMEOUT_MS });
  await current.settle();

  const add = (code: string, text: string) => current.add(code, text);
  const parsed = parseResponses(exchange.received, exchange.closed);
  if (parsed.error !== undefined) add(`answer: not well-formed (${parsed.error.replace(/[:`].*$/s, '')})`, `the answer is not well-formed HTTP/1.1: ${parsed.error}`);
  if (parsed.incomplete && exchange.timedOut) add('answer: cut short', `a response was cut short: no more bytes for ${ANSWER_TIMEOUT_MS} ms inside it`);
  if (parsed.responses.some((response) => response.closes) && !exchange.closed) add('answer: Connection: close, connection left open', `a response says Connection: close, but the connection stayed open ${CLOSE_GRACE_MS} ms after it`);
  if (parsed.responses.some((response) => response.status === 101)) add('answer: 101', 'a 101 Switching Protocols the backend never sent (it answers 200 to everything)');
  const added = current.checkBackend();
  const seqs = new Set<number>();
  for (const response of parsed.responses) {
    const value = headerOf(response.headers, SEQ_HEADER);
    if (value === undefined) continue;
    const seq = Number(value);
    seqs.add(seq);
    const request = backend.requests[seq - 1];
    if (!request || !isOurs(request, r)) add('answer: another request\'s response', `the client got the backend's answer #${seq} to another connection's request \`${show(request?.head ?? '?', 200)}\``);
  }
  const refusals = parsed.responses.filter((response) => headerOf(response.headers, SEQ_HEADER) === undefined && ((response.status >= 400 && response.status < 500) || response.status === 501 || response.status === 505));
  const unanswered = added.filter((request) => isOurs(request, r) && !seqs.has(request.seq));
  if (refusals.length > 0 && unanswered.length > 0) {
    add(
      'refused, yet the backend got a request whose answer never came',
      `Gatehouse answered ${refusals.map((response) => response.status).join(', ')} itself, and the backend received ${unanswered.length} request(s) whose answers the client never got (a refused request reached the backend, or an owed answer was dropped): ${unanswered.map((q) => `#${q.seq}${q.markedIndex === undefined ? '' : ` = request ${q.markedIndex} of the input`} \`${show(q.head, 300)}\``).join(' ; ')}`,
    );
  }

  const key = parsed.responses.length === 0 ? (exchange.timedOut ? 'timeout' : 'closed') : parsed.responses.map((response) => `${response.status}${headerOf(response.headers, SEQ_HEADER) === undefined ? '' : 'b'}`).join('+');
  return current.finish(stats, exchange.timedOut && parsed.responses.length > 0 ? `${key}(open)` : key, bytes.length, () => [
    `input (run ${r}, ${bytes.length} bytes, ${chunks.length} write(s), ${expectedResponses} response(s) expected):`,
    `  \`${show(bytes)}\``,
    `answer (${exchange.received.length} bytes, ${exchange.closed ? 'closed by gatehouse' : exchange.timedOut ? 'still open at the timeout' : 'complete'}, ${exchange.ms.toFixed(0)} ms):`,
    `  \`${show(exchange.received, 1200)}\``,
  ]);
}

async function fuzz(t: { diagnostic(message: string): void }, name: string, offset: number, numRuns: number, arbitrary: fc.Arbitrary<Http1Input>): Promise<void> {
  await fuzzing.property(t, name, offset, numRuns, arbitrary, checkInput);
}

/** A property over inputs of one or two requests of `requests(options)`, with at most one byte mutation. */
async function fuzzRequests(t: { diagnostic(message: string): void }, name: keyof typeof NUM_RUNS, offset: number, options: RequestOptions): Promise<void> {
  await fuzz(t, name, offset, NUM_RUNS[name], inputs(requests(options), { maxRequests: 2, mutations: 1 }));
}

describe('fuzz: HTTP/1.x on the http binding of a gatehouse child process', () => {
  test('mixed grammar with byte mutations', async (t) => {
    await fuzz(t, 'mixed', 1, NUM_RUNS.mixed, inputs(requests({ framing: fc.oneof({ weight: 3, arbitrary: plainFraming }, { weight: 1, arbitrary: nastyFraming }) }), { mutations: 3 }));
  });

  test('framing: Content-Length / Transfer-Encoding contradictions, bad chunks, smuggled requests, many fields', async (t) => {
    await fuzzRequests(t, 'framing', 2, {
      method: fc.constantFrom('POST', 'PUT', 'GET'),
      target: fc.oneof(benignTarget, fc.constant('/admin/x')),
      version: fc.oneof({ weight: 4, arbitrary: fc.constant('HTTP/1.1') }, { weight: 1, arbitrary: fc.constant('HTTP/1.0') }),
      headers: fc.array(fc.oneof(benignHeader, fc.constantFrom<Header>(['Connection', 'keep-alive'])), { maxLength: 2 }),
      framing: fc.oneof({ weight: 1, arbitrary: plainFraming }, { weight: 5, arbitrary: nastyFraming }, { weight: 1, arbitrary: manyHeaders }),
    });
  });

  test('paths: /admin spellings in origin and absolute form', async (t) => {
    await fuzzRequests(t, 'paths', 3, {
      method: fc.constantFrom('GET', 'POST', 'OPTIONS', 'DELETE'),
      target: fc.oneof({ weight: 5, arbitrary: adminSpelling }, { weight: 2, arbitrary: absoluteTarget }, { weight: 1, arbitrary: benignTarget }),
      version: fc.oneof({ weight: 5, arbitrary: fc.constant('HTTP/1.1') }, { weight: 1, arbitrary: fc.constant('HTTP/1.0') }),
      host: fc.oneof({ weight: 6, arbitrary: fc.constant<readonly Header[]>([['Host', SITE_HOST]]) }, { weight: 1, arbitrary: fc.constantFrom<readonly Header[]>([['Host', 'other.example']], []) }),
      headers: fc.array(benignHeader, { maxLength: 2 }),
      framing: fc.constant(none),
    });
  });

  test('headers: forged certificate and Gatehouse headers in every spelling, Connection listings, obs-fold, Host', async (t) => {
    await fuzzRequests(t, 'headers', 4, {
      method: fc.constantFrom('GET', 'POST'),
      target: benignTarget,
      version: fc.oneof({ weight: 5, arbitrary: fc.constant('HTTP/1.1') }, { weight: 1, arbitrary: fc.constant('HTTP/1.0') }),
      headers: fc.array(fc.oneof({ weight: 3, arbitrary: forgedCert }, { weight: 2, arbitrary: forgedGatehouse }, { weight: 1, arbitrary: connectionHeader }, { weight: 1, arbitrary: nastyHeader }, { weight: 1, arbitrary: benignHeader }), { minLength: 1, maxLength: 6 }),
    });
  });

  test('versions, upgrades (websocket, h2c), CONNECT and pipelining', async (t) => {
    const oddVersion = requests({ version: fc.constantFrom('HTTP/2.0', 'HTTP/2', 'HTTP/3.0', 'HTTP/0.9', 'HTTP/1.2', 'HTTP/9.9', 'http/1.1', 'HTTP/1.10', 'HTTP/11', '', 'HTTP/1.0', 'HTTP/1.1'), target: fc.oneof(benignTarget, adminSpelling) });
    const request = fc.oneof({ weight: 3, arbitrary: oddVersion }, { weight: 2, arbitrary: websocketRequest }, { weight: 2, arbitrary: h2cRequest }, { weight: 1, arbitrary: connectRequest }, { weight: 1, arbitrary: requests({ method: fc.constant('OPTIONS'), target: fc.constant('*') }) });
    await fuzz(t, 'versions', 5, NUM_RUNS.versions, inputs(request, { maxRequests: 2, trailer: trailers, mutations: 1 }));
  });

  test('afterwards: the process is alive and a plain GET still gets the backend', async () => {
    await fuzzing.assertSurvived();
  });
});
