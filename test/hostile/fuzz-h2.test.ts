/**
 * Seeded, bounded fuzzing of Gatehouse's HTTP/2 door (the https binding, `http2: true`, of a real
 * `gatehouse start` child process). Over node:tls with ALPN h2, each input sends the client preface, a
 * SETTINGS frame (header table 0, no push), then generated frames: HEADERS with HPACK literal fields
 * (pseudo-headers missing, duplicated, reordered, upper-case names, connection-specific fields, CR/LF/NUL
 * in values, `:path` spellings of /admin, forged certificate headers), header blocks split into
 * CONTINUATIONs, DATA that contradicts content-length, RST_STREAM right after HEADERS, WINDOW_UPDATE,
 * PRIORITY, SETTINGS, unknown frame types, and (chaos) frames of random type, flags, stream id and
 * payload, and truncated frames; then a PING. One connection per input, one input at a time. For EVERY input:
 *   1. the gatehouse process is still alive (a plain HTTP/2 GET every PROBE_EVERY inputs and at the end);
 *   2. the connection ends with well-formed frames, a GOAWAY or a close: every stream the client finished
 *      before any connection error gets END_STREAM or RST_STREAM within the timeout (no hang);
 *   3. the backend never receives a request for a stream Gatehouse must refuse (malformed per RFC 9113
 *      §8.2-8.3 or the spec, reset with REFUSED_STREAM, above the GOAWAY's last stream, or answered by
 *      Gatehouse itself with 4xx/501/505), nor an /admin spelling, a client-certificate header in any
 *      spelling, an HTTP/2 preface, or anything that is not well-formed HTTP/1.1 (checkForwarded).
 *
 * Reproduce: the seed and numRuns of each property are constants below and are printed on failure.
 * `endOnFailure` stops at the first failing input (no shrinking); GATEHOUSE_FUZZ_SHRINK=1 shrinks it;
 * GATEHOUSE_FUZZ_SURVEY=1 runs every input and lists each kind of failure with its smallest input.
 * On a node whose HTTP/2 Gatehouse turns off (support/http2.ts), each test asserts that fallback instead.
 */
import { describe, test, type TestContext } from 'node:test';
import fc from 'fast-check';
import {
  adminSpelling,
  CERT_FAMILY,
  describeFrames,
  ErrorCode,
  exchangeH2,
  Flag,
  frame,
  FrameType,
  FuzzFile,
  GATEHOUSE_HEADERS,
  hpackLiteral,
  runMark,
  settingsFrame,
  show,
  SITE_HOST,
  spelled,
  STREAM_HEADER,
  type BackendRequest,
  type Checked,
  type FuzzStats,
  type Header,
} from './fuzz-support.js';
import { assertHttp2Fallback, offersHttp2 } from '../support/http2.js';

/** The seed of this file; property k uses SEED + k. */
const SEED = 20_250_710;
/** Inputs per property (about twelve hundred in all); each property also stops after BUDGET_MS. */
const NUM_RUNS = { requests: 500, sequences: 400, chaos: 300 } as const;
const BUDGET_MS = 12_000;
/** And all properties of the file together stop after FILE_BUDGET_MS (the fixed-seed sequence is then run up to where time ran out). */
const FILE_BUDGET_MS = 38_000;
/** How long an input may take before the connection counts as hung. */
const TIMEOUT_MS = 1_000;
const PROBE_EVERY = 25;

// ---------------------------------------------------------------------------------------------
// The input model

type EndMode = 'headers' | 'data' | 'open';

interface H2Request {
  /** Header fields in order (pseudo-headers included), as sent. */
  readonly fields: readonly Header[];
  readonly representation: 'without' | 'never' | 'incremental';
  readonly end: EndMode;
  readonly data: readonly { readonly text: string; readonly pad: number | null }[];
  /** The header block in this many frames (HEADERS, then CONTINUATIONs). */
  readonly pieces: number;
  readonly priority: boolean;
  readonly pad: number | null;
}

type Step =
  | { readonly kind: 'request'; readonly request: H2Request }
  /** RST_STREAM (CANCEL) on the last stream, right after its frames. */
  | { readonly kind: 'rst-last' }
  | { readonly kind: 'window'; readonly onLast: boolean; readonly increment: number }
  | { readonly kind: 'priority'; readonly self: boolean }
  | { readonly kind: 'ping' }
  | { readonly kind: 'settings'; readonly params: readonly (readonly [number, number])[] }
  | { readonly kind: 'unknown'; readonly type: number; readonly flags: number; readonly stream: number; readonly payload: Uint8Array }
  /** Connection errors: a header block interrupted by a PING, HEADERS on an even or an already used stream, DATA on stream 0, DATA with too much padding, DATA on a closed stream. */
  | { readonly kind: 'interrupted'; readonly request: H2Request }
  | { readonly kind: 'even-stream'; readonly request: H2Request }
  | { readonly kind: 'reused-stream'; readonly request: H2Request }
  | { readonly kind: 'data-stream0' }
  | { readonly kind: 'bad-pad' }
  | { readonly kind: 'data-closed' }
  /** Chaos: a frame of a known type with random flags, stream and payload. */
  | { readonly kind: 'raw'; readonly type: number; readonly flags: number; readonly stream: number; readonly payload: Uint8Array };

interface H2Input {
  readonly steps: readonly Step[];
  /** Cut the input inside its last frame (per mille of that frame's length); the PING is then not sent. */
  readonly truncate: number | null;
}

/**
 * What RFC 9113 §8.2-8.3 (and the spec: a `:path` not starting with `/`) says about a request's fields:
 * `refuse`: the request is malformed and must not be forwarded at all (pseudo-header errors,
 * connection-specific fields, `te` other than trailers); `drop`: fields that are not valid HTTP (empty or
 * non-token or upper-case names, NUL/CR/LF in values): nghttp2 drops such a field and lets the request
 * through, so the check is that the field never reaches the backend.
 */
function malformed(fields: readonly Header[]): { refuse: string | undefined; drop: readonly Header[] } {
  let sawRegular = false;
  const pseudo = new Map<string, string>();
  const drop: Header[] = [];
  let refuse: string | undefined;
  const why = (reason: string) => (refuse ??= reason);
  for (const [name, value] of fields) {
    if (name === '' || /[A-Z]/.test(name) || /[\0\r\n]/.test(value) || (!name.startsWith(':') && !/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name))) {
      drop.push([name, value]);
      continue;
    }
    if (name.startsWith(':')) {
      if (sawRegular) why(`pseudo-header ${name} after a regular field`);
      if (![':method', ':scheme', ':path', ':authority'].includes(name)) why(`pseudo-header ${name}`);
      if (pseudo.has(name)) why(`a second ${name}`);
      pseudo.set(name, value);
      continue;
    }
    sawRegular = true;
    if (['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'].includes(name)) why(`connection-specific field ${name}`);
    if (name === 'te' && value !== 'trailers') why(`te: ${value}`);
  }
  const method = pseudo.get(':method');
  const path = pseudo.get(':path');
  if (method === undefined) why('no :method');
  else if (method === 'CONNECT') {
    if (pseudo.has(':scheme') || pseudo.has(':path')) why('CONNECT with :scheme or :path');
    if (!pseudo.has(':authority')) why('CONNECT without :authority');
  } else if (path === undefined) why('no :path');
  else if (!pseudo.has(':scheme')) why('no :scheme');
  else if (path === '') why('an empty :path');
  else if (!path.startsWith('/') && !(path === '*' && method === 'OPTIONS')) why(`:path ${JSON.stringify(path)} does not start with / (spec: 400)`);
  return { refuse, drop };
}

interface Built {
  readonly bytes: Buffer;
  /** Streams that must end (END_STREAM or RST_STREAM) unless the connection ends. */
  readonly obligations: readonly number[];
  /** x-fuzz-stream tag → the stream it was sent on, why it must be refused (if it must), and invalid fields that must not reach the backend. */
  readonly tags: ReadonlyMap<number, { readonly stream: number; readonly refuse: string | undefined; readonly drop: readonly Header[] }>;
  readonly truncated: boolean;
  /** What was sent, one line per frame group. */
  readonly summary: readonly string[];
}

function split(block: Buffer, pieces: number): Buffer[] {
  if (pieces <= 1 || block.length < pieces) return [block];
  const size = Math.ceil(block.length / pieces);
  const out: Buffer[] = [];
  for (let at = 0; at < block.length; at += size) out.push(block.subarray(at, at + size));
  return out;
}

/** The frames of a request on `stream` (the marker fields are appended to its fields). */
function requestFrames(request: H2Request, stream: number, markers: readonly Header[], options: { interruptWith?: Buffer } = {}): { frames: Buffer[]; completes: boolean } {
  const fields = [...request.fields, ...markers];
  const block = Buffer.concat(fields.map(([name, value]) => hpackLiteral(name, value, request.representation)));
  const parts = split(block, request.pieces);
  const frames: Buffer[] = [];
  const endOnHeaders = request.end === 'headers';
  parts.forEach((part, i) => {
    const last = i === parts.length - 1;
    if (i === 0) {
      let flags = (endOnHeaders ? Flag.END_STREAM : 0) | (last && !options.interruptWith ? Flag.END_HEADERS : 0);
      let payload = part;
      if (request.priority) {
        flags |= Flag.PRIORITY;
        payload = Buffer.concat([Buffer.from([0, 0, 0, 0, 15]), payload]);
      }
      if (request.pad !== null) {
        flags |= Flag.PADDED;
        payload = Buffer.concat([Buffer.from([request.pad]), payload, Buffer.alloc(request.pad)]);
      }
      frames.push(frame(FrameType.HEADERS, flags, stream, payload));
      if (options.interruptWith) frames.push(options.interruptWith);
    } else {
      frames.push(frame(FrameType.CONTINUATION, last ? Flag.END_HEADERS : 0, stream, part));
    }
  });
  if (options.interruptWith) return { frames, completes: false };
  // END_STREAM on HEADERS: no DATA (DATA on a closed stream is a step of its own).
  const data = request.end === 'headers' ? [] : request.end === 'data' && request.data.length === 0 ? [{ text: '', pad: null }] : request.data;
  data.forEach((d, i) => {
    const endStream = request.end === 'data' && i === data.length - 1;
    const body = Buffer.from(d.text, 'latin1');
    const payload = d.pad === null ? body : Buffer.concat([Buffer.from([d.pad]), body, Buffer.alloc(d.pad)]);
    frames.push(frame(FrameType.DATA, (endStream ? Flag.END_STREAM : 0) | (d.pad === null ? 0 : Flag.PADDED), stream, payload));
  });
  return { frames, completes: request.end !== 'open' };
}

function build(input: H2Input, run: number): Built {
  const out: Buffer[] = [];
  const summary: string[] = [];
  const tags = new Map<number, { stream: number; refuse: string | undefined; drop: readonly Header[] }>();
  const obligations: { stream: number; end: number }[] = [];
  let size = 0;
  let nextStream = 1;
  let lastStream = 0;
  const closed = new Set<number>();
  let poisoned = false;
  let tag = 0;
  const push = (...frames: Buffer[]) => {
    for (const f of frames) {
      out.push(f);
      size += f.length;
    }
  };
  const markers = (t: number): Header[] => [
    ['x-fuzz-run', runMark(run)],
    [STREAM_HEADER, String(t)],
  ];
  const describe = (request: H2Request) => `${request.fields.map(([n, v]) => `${show(n, 40)}: ${show(v, 80)}`).join(', ')} [${request.end}${request.data.length ? `, ${request.data.length} DATA` : ''}${request.pieces > 1 ? `, ${request.pieces} pieces` : ''}${request.pad !== null ? ', padded' : ''}${request.priority ? ', priority' : ''}, ${request.representation}]`;
  for (const step of input.steps) {
    switch (step.kind) {
      case 'request': {
        const stream = nextStream;
        nextStream += 2;
        lastStream = stream;
        const t = ++tag;
        const { refuse, drop } = malformed(step.request.fields);
        tags.set(t, { stream, refuse, drop });
        const { frames, completes } = requestFrames(step.request, stream, markers(t));
        push(...frames);
        // A malformed request is reset at once; a finished one is answered.
        if (!poisoned && (completes || refuse)) obligations.push({ stream, end: size });
        if (completes) closed.add(stream);
        summary.push(`stream ${stream} (tag ${t}${refuse ? `, malformed: ${refuse}` : ''}${drop.length ? `, invalid fields: ${drop.map(([n]) => JSON.stringify(n)).join(' ')}` : ''}): ${describe(step.request)}`);
        break;
      }
      case 'rst-last':
        if (lastStream === 0) break;
        push(frame(FrameType.RST_STREAM, 0, lastStream, Buffer.from([0, 0, 0, ErrorCode.CANCEL])));
        for (const o of obligations) if (o.stream === lastStream) o.end = Number.MAX_SAFE_INTEGER; // cancelled: owed nothing
        summary.push(`RST_STREAM CANCEL on ${lastStream}`);
        break;
      case 'window': {
        const payload = Buffer.alloc(4);
        payload.writeUInt32BE(step.increment >>> 0);
        const stream = step.onLast ? lastStream : 0;
        push(frame(FrameType.WINDOW_UPDATE, 0, stream, payload));
        if (stream === 0 && (step.increment === 0 || step.increment > 0x7fffffff - 65_535)) poisoned = true;
        summary.push(`WINDOW_UPDATE ${step.increment} on ${stream}`);
        break;
      }
      case 'priority': {
        if (lastStream === 0) break;
        const payload = Buffer.alloc(5);
        payload.writeUInt32BE(step.self ? lastStream : 0);
        payload[4] = 200;
        push(frame(FrameType.PRIORITY, 0, lastStream, payload));
        summary.push(`PRIORITY on ${lastStream}${step.self ? ' depending on itself' : ''}`);
        break;
      }
      case 'ping':
        push(frame(FrameType.PING, 0, 0, Buffer.from('fuzzping', 'latin1')));
        summary.push('PING');
        break;
      case 'settings':
        push(settingsFrame(step.params));
        if (step.params.some(([id, value]) => (id === 2 && value > 1) || (id === 4 && value > 0x7fffffff) || (id === 5 && (value < 16_384 || value > 16_777_215)))) poisoned = true;
        summary.push(`SETTINGS ${step.params.map(([id, value]) => `${id}=${value}`).join(' ')}`);
        break;
      case 'unknown':
        push(frame(step.type, step.flags, step.stream, Buffer.from(step.payload)));
        summary.push(`unknown frame type ${step.type} flags ${step.flags} stream ${step.stream} (${step.payload.length} B)`);
        break;
      case 'interrupted': {
        const stream = nextStream;
        nextStream += 2;
        lastStream = stream;
        const t = ++tag;
        tags.set(t, { stream, refuse: 'its header block was interrupted (connection error)', drop: [] });
        const { frames } = requestFrames({ ...step.request, pieces: Math.max(2, step.request.pieces) }, stream, markers(t), { interruptWith: frame(FrameType.PING, 0, 0, Buffer.from('interrup', 'latin1')) });
        push(...frames);
        poisoned = true;
        summary.push(`stream ${stream} (tag ${t}): header block interrupted by a PING: ${describe(step.request)}`);
        break;
      }
      case 'even-stream':
      case 'reused-stream': {
        if (step.kind === 'reused-stream' && lastStream === 0) break;
        const stream = step.kind === 'even-stream' ? nextStream + 1 : lastStream;
        const t = ++tag;
        tags.set(t, { stream, refuse: step.kind === 'even-stream' ? 'HEADERS on an even stream (connection error)' : `HEADERS on stream ${stream}, already used (connection error)`, drop: [] });
        push(...requestFrames(step.request, stream, markers(t)).frames);
        poisoned = true;
        summary.push(`stream ${stream} (tag ${t}): ${step.kind}: ${describe(step.request)}`);
        break;
      }
      case 'data-stream0':
        push(frame(FrameType.DATA, 0, 0, Buffer.from('x')));
        poisoned = true;
        summary.push('DATA on stream 0');
        break;
      case 'bad-pad':
        push(frame(FrameType.DATA, Flag.PADDED, Math.max(1, lastStream), Buffer.from([9, 0x41, 0x41])));
        poisoned = true;
        summary.push(`DATA with pad length 9 in 3 bytes on ${Math.max(1, lastStream)}`);
        break;
      case 'data-closed': {
        const stream = [...closed][0];
        if (stream === undefined) break;
        push(frame(FrameType.DATA, Flag.END_STREAM, stream, Buffer.from('late', 'latin1')));
        summary.push(`DATA on the closed stream ${stream}`);
        break;
      }
      case 'raw':
        push(frame(step.type, step.flags, step.stream, Buffer.from(step.payload)));
        poisoned = true;
        // On a stream it may be an RST_STREAM (or a second HEADERS...): that stream is owed nothing.
        for (const o of obligations) if (o.stream === step.stream) o.end = Number.MAX_SAFE_INTEGER;
        summary.push(`chaos frame type ${step.type} flags 0x${step.flags.toString(16)} stream ${step.stream}: ${show(Buffer.from(step.payload), 60)}`);
        break;
    }
  }
  let bytes = Buffer.concat(out);
  let truncated = false;
  const last = out[out.length - 1];
  if (input.truncate !== null && last && last.length > 1) {
    const lastStart = bytes.length - last.length;
    const keep = 1 + Math.floor(((last.length - 1) * input.truncate) / 1000);
    bytes = bytes.subarray(0, lastStart + keep);
    truncated = true;
    summary.push(`(the last frame is cut after ${keep} of its ${last.length} bytes)`);
  }
  return { bytes, obligations: obligations.filter((o) => o.end <= bytes.length).map((o) => o.stream), tags, truncated, summary };
}

// ---------------------------------------------------------------------------------------------
// Generators

const bodyText = fc.string({ unit: fc.constantFrom('a', 'b', 'z', '0', ' ', '='), maxLength: 20 });
const methods = fc.oneof({ weight: 8, arbitrary: fc.constantFrom('GET', 'POST') }, { weight: 2, arbitrary: fc.constantFrom('PUT', 'DELETE', 'OPTIONS', 'CONNECT', 'HEAD', 'get', 'PRI', 'G ET', 'TRACE') });
const benignPath = fc.constantFrom('/', '/ok', '/public/x', '/a/b?c=d', '/administrator', '/admin-x', '/public/admin', '/?admin', '/x?y=%2F%5C', '/%E2%82%AC');
const paths = fc.oneof(
  { weight: 4, arbitrary: benignPath },
  { weight: 4, arbitrary: adminSpelling },
  { weight: 1, arbitrary: fc.constantFrom('admin', '', '*', 'https://fuzz.test/admin', '//admin', 'fuzz.test:443', '/x#y', '/%zz', '/%FF', '/\x7f', '/a b') },
);
const authorities = fc.oneof({ weight: 6, arbitrary: fc.constant(SITE_HOST) }, { weight: 1, arbitrary: fc.constantFrom('localhost', 'other.example', '', `${SITE_HOST}:443`, `user@${SITE_HOST}`, 'FUZZ.TEST', 'a b') });
const schemes = fc.oneof({ weight: 8, arbitrary: fc.constant('https') }, { weight: 1, arbitrary: fc.constantFrom('http', 'ftp', '', 'HTTPS') });
const lower = (arbitrary: fc.Arbitrary<string>) => arbitrary.map((name) => name.toLowerCase());
const h2Header: fc.Arbitrary<Header> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom<Header>(['accept', '*/*'], ['user-agent', 'fuzz/2'], ['content-type', 'text/plain'], ['cookie', 'a=b'], ['cookie', 'c=d'], ['te', 'trailers'], ['accept-encoding', 'gzip'], ['x-empty', '']) },
  { weight: 3, arbitrary: fc.tuple(lower(spelled(CERT_FAMILY)), fc.constantFrom('MIIBforged==', 'forged', ':Zm9yZ2Vk:')) },
  { weight: 1, arbitrary: fc.tuple(spelled(CERT_FAMILY), fc.constant('upper-case name')) },
  { weight: 2, arbitrary: fc.tuple(lower(spelled(GATEHOUSE_HEADERS)), fc.constantFrom('http', '/admin', '1.2.3.4', '0', 't=1;id=x;v1=y')) },
  { weight: 1, arbitrary: fc.constantFrom<Header>(['connection', 'keep-alive'], ['keep-alive', 'timeout=5'], ['proxy-connection', 'keep-alive'], ['transfer-encoding', 'chunked'], ['upgrade', 'h2c'], ['upgrade', 'websocket'], ['te', 'gzip'], ['http2-settings', 'AAMAAABkAAQAAP__'], ['connection', 'x-arr-clientcert']) },
  { weight: 1, arbitrary: fc.constantFrom<Header>(['x-crlf', 'a\r\nx-arr-clientcert: injected'], ['x-nul', 'a\x00b'], ['x-lf', 'a\nb'], ['x bad', 'v'], ['x:colon', 'v'], ['', 'empty name'], ['x-lead', ' v'], ['x-high', 'caf\xe9'], ['host', SITE_HOST], ['host', 'other.example'], ['x-arr-clientcert\r\nx', 'v']) },
  { weight: 1, arbitrary: fc.constantFrom<Header>(['content-length', '0'], ['content-length', '3'], ['content-length', '100'], ['content-length', 'abc'], ['content-length', '-1']) },
);

const PSEUDO_EDITS = ['none', 'drop :method', 'drop :scheme', 'drop :path', 'drop :authority', 'dup :path', 'dup :method', 'unknown', ':status', 'shuffle', 'after regular', 'upper-case'] as const;
const pseudoEdit = fc.oneof({ weight: 10, arbitrary: fc.constant('none' as const) }, { weight: 4, arbitrary: fc.constantFrom(...PSEUDO_EDITS) });

interface RequestOptions {
  readonly path?: fc.Arbitrary<string>;
  readonly headers?: fc.Arbitrary<readonly Header[]>;
  readonly edit?: fc.Arbitrary<(typeof PSEUDO_EDITS)[number]>;
  readonly end?: fc.Arbitrary<EndMode>;
  readonly pieces?: fc.Arbitrary<number>;
}

function requests(options: RequestOptions = {}): fc.Arbitrary<H2Request> {
  return fc
    .record({
      method: methods,
      scheme: schemes,
      path: options.path ?? paths,
      authority: authorities,
      edit: options.edit ?? pseudoEdit,
      order: fc.nat(23),
      headers: options.headers ?? fc.array(h2Header, { maxLength: 4 }),
      representation: fc.constantFrom('without' as const, 'never' as const, 'incremental' as const),
      end: options.end ?? fc.oneof({ weight: 5, arbitrary: fc.constant<EndMode>('headers') }, { weight: 3, arbitrary: fc.constant<EndMode>('data') }, { weight: 1, arbitrary: fc.constant<EndMode>('open') }),
      data: fc.array(fc.record({ text: bodyText, pad: fc.option(fc.nat(6), { freq: 6 }) }), { maxLength: 3 }),
      pieces: options.pieces ?? fc.oneof({ weight: 4, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.integer({ min: 2, max: 4 }) }),
      priority: fc.boolean(),
      pad: fc.option(fc.nat(8), { freq: 6 }),
    })
    .map(({ method, scheme, path, authority, edit, order, headers, representation, end, data, pieces, priority, pad }): H2Request => {
      let pseudo: Header[] = method === 'CONNECT' ? [[':method', method], [':authority', authority]] : [[':method', method], [':scheme', scheme], [':path', path], [':authority', authority]];
      const regular: Header[] = [...headers];
      switch (edit) {
        case 'drop :method':
        case 'drop :scheme':
        case 'drop :path':
        case 'drop :authority':
          pseudo = pseudo.filter(([n]) => n !== edit.slice(5));
          break;
        case 'dup :path':
          pseudo.push([':path', '/admin']);
          break;
        case 'dup :method':
          pseudo.push([':method', 'GET']);
          break;
        case 'unknown':
          pseudo.push([':protocol-x', 'websocket']);
          break;
        case ':status':
          pseudo.push([':status', '200']);
          break;
        case 'shuffle':
          pseudo = pseudo.map((f, i) => [f, (i * 7 + order) % 11] as const).sort((a, b) => a[1] - b[1]).map(([f]) => f);
          break;
        case 'after regular': {
          const moved = pseudo.splice(order % pseudo.length, 1);
          regular.splice(0, 0, ['accept', '*/*']);
          regular.push(...moved);
          break;
        }
        case 'upper-case':
          pseudo = pseudo.map(([n, v], i) => (i === order % pseudo.length ? [n.toUpperCase(), v] : [n, v]));
          break;
        case 'none':
          break;
      }
      return { fields: [...pseudo, ...regular], representation, end, data, pieces, priority, pad };
    });
}

const goodRequest = requests({ edit: fc.constant('none'), headers: fc.array(fc.constantFrom<Header>(['accept', '*/*'], ['user-agent', 'fuzz/2']), { maxLength: 1 }), path: fc.oneof(benignPath, adminSpelling) });

const controlSteps = fc.oneof(
  fc.constant<Step>({ kind: 'rst-last' }),
  fc.record({ onLast: fc.boolean(), increment: fc.constantFrom(1, 1000, 65_535, 0, 0x7fffffff) }).map((w): Step => ({ kind: 'window', ...w })),
  fc.boolean().map((self): Step => ({ kind: 'priority', self })),
  fc.constant<Step>({ kind: 'ping' }),
  fc.array(fc.constantFrom<readonly [number, number]>([2, 0], [2, 1], [3, 100], [3, 0], [4, 65_535], [4, 1 << 20], [6, 100_000], [8, 1], [0x99, 5], [2, 2], [4, 0x80000000], [5, 100]), { maxLength: 3 }).map((params): Step => ({ kind: 'settings', params })),
  fc.record({ type: fc.integer({ min: 0x0a, max: 0xff }), flags: fc.nat(255), stream: fc.constantFrom(0, 1, 2, 3, 0x7fffffff), payload: fc.uint8Array({ maxLength: 16 }) }).map((u): Step => ({ kind: 'unknown', ...u })),
);
const errorSteps = fc.oneof(
  goodRequest.map((request): Step => ({ kind: 'interrupted', request })),
  goodRequest.map((request): Step => ({ kind: 'even-stream', request })),
  goodRequest.map((request): Step => ({ kind: 'reused-stream', request })),
  fc.constantFrom<Step>({ kind: 'data-stream0' }, { kind: 'bad-pad' }, { kind: 'data-closed' }),
);
const chaosStep = fc
  .record({ type: fc.integer({ min: 0, max: 9 }), flags: fc.nat(255), stream: fc.constantFrom(0, 1, 2, 3, 5, 0x7fffffff, 0x80000001), payload: fc.uint8Array({ maxLength: 24 }) })
  .map((r): Step => ({ kind: 'raw', ...r }));

// ---------------------------------------------------------------------------------------------
// Running one input

const fuzzing = new FuzzFile({ file: 'fuzz-h2', seed: SEED, budgetMs: BUDGET_MS, fileBudgetMs: FILE_BUDGET_MS, probeEvery: PROBE_EVERY, door: 'h2' });
let tlsSession: Buffer | undefined;

const LOCAL = /^HTTP Error (\d{3})\.(\d+)/;

async function checkInput(input: H2Input, stats: FuzzStats): Promise<Checked> {
  const current = await fuzzing.begin();
  const { run: r, backend } = current;
  const built = build(input, r);
  const exchange = await exchangeH2(fuzzing.gatehouse.httpsPort, built.bytes, {
    obligations: built.obligations,
    truncatedTail: built.truncated,
    timeoutMs: TIMEOUT_MS,
    ca: fuzzing.gatehouse.pki?.root.certPem ?? '',
    session: tlsSession,
    onSession: (session) => (tlsSession = session),
  });
  await current.settle();

  const add = (code: string, text: string) => current.add(code, text);
  for (const error of exchange.errors) add(`h2: bad frames from gatehouse (${error.replace(/^stream \d+: /, '').replace(/[(:].*$/s, '').trim()})`, error);
  const unmet = built.obligations.filter((id) => {
    const s = exchange.streams.get(id);
    return !s || (!s.ended && s.resetCode === undefined);
  });
  if (exchange.timedOut && !exchange.closed && !exchange.goaway && unmet.length > 0) {
    add('h2: hang', `no END_STREAM, RST_STREAM, GOAWAY or close within ${TIMEOUT_MS} ms for stream(s) ${unmet.join(', ')} (the client finished them)`);
  }
  const added = current.checkBackend();

  // Streams Gatehouse refused, or must refuse.
  const refused = new Map<number, string>();
  for (const [t, { stream, refuse }] of built.tags) {
    const seen = exchange.streams.get(stream);
    const body = Buffer.concat(seen?.body ?? []).toString('latin1');
    const local = LOCAL.exec(body);
    if (refuse) refused.set(t, `stream ${stream} must be refused: ${refuse}`);
    else if (seen?.resetCode === ErrorCode.REFUSED_STREAM) refused.set(t, `stream ${stream} was reset with REFUSED_STREAM`);
    else if (exchange.goaway && stream > exchange.goaway.lastStreamId) refused.set(t, `stream ${stream} is above the GOAWAY's last stream ${exchange.goaway.lastStreamId}`);
    else if (local && (local[1]?.startsWith('4') || local[1] === '501' || local[1] === '505')) refused.set(t, `Gatehouse answered stream ${stream} itself with ${local[1]}.${local[2]}`);
  }
  const ours = (q: BackendRequest) => !q.isProbe && q.markedRun === r;
  for (const request of added.filter(ours)) {
    const t = request.markedStream;
    for (const [name, value] of t === undefined ? [] : (built.tags.get(t)?.drop ?? [])) {
      const lower = name.toLowerCase();
      if (lower !== '' && request.headers.some(([n]) => n.toLowerCase() === lower)) add('h2: an invalid field reached the backend', `the field \`${show(name)}: ${show(value, 80)}\` is not valid HTTP/2 (RFC 9113 §8.2.1), yet the backend received ${lower}: \`${show(request.head, 400)}\``);
    }
    const why = t === undefined ? undefined : refused.get(t);
    if (why) add(`h2: refused stream reached the backend (${why.replace(/^stream \d+ (must be refused: )?/, '').replace(/\d+/g, 'N').slice(0, 60)})`, `${why}, yet the backend received it: \`${show(request.head, 400)}\``);
  }
  // A backend answer must be the answer to this stream's request.
  for (const [stream, seen] of exchange.streams) {
    const seq = /^ok (\d+)\n$/.exec(Buffer.concat(seen.body).toString('latin1'))?.[1];
    if (seq === undefined) continue;
    const request = backend.requests[Number(seq) - 1];
    const tag = request?.markedStream;
    if (!request || !ours(request) || tag === undefined || built.tags.get(tag)?.stream !== stream) {
      add('h2: another request\'s response', `stream ${stream} got the backend's answer #${seq} to \`${show(request?.head ?? '?', 200)}\``);
    }
  }

  const outcomes = [...exchange.streams.entries()].map(([, s]) => {
    const body = Buffer.concat(s.body).toString('latin1');
    return s.resetCode !== undefined ? `RST${s.resetCode}` : `${s.status ?? '?'}${/^ok \d+/.test(body) ? 'b' : ''}`;
  });
  if (exchange.goaway) outcomes.push(`GOAWAY${exchange.goaway.errorCode}`);
  if (exchange.timedOut) outcomes.push('timeout');
  return current.finish(stats, outcomes.sort().join('+') || (exchange.closed ? 'closed' : 'nothing'), built.bytes.length, () => [
    `input (run ${r}, ${built.bytes.length} bytes after the preface and SETTINGS${built.truncated ? ', cut inside its last frame' : ', then a PING'}; obligations: ${built.obligations.join(', ') || 'none'}):`,
    ...built.summary.map((line) => `  ${line}`),
    `  bytes: \`${show(built.bytes, 1200)}\``,
    `answer (${exchange.ms.toFixed(0)} ms, ${exchange.closed ? 'closed by gatehouse' : exchange.timedOut ? 'open at the timeout' : 'done'}${exchange.goaway ? `, GOAWAY last ${exchange.goaway.lastStreamId} code ${exchange.goaway.errorCode} ${show(exchange.goaway.debug, 100)}` : ''}): ${describeFrames(exchange.frames)}`,
    ...[...exchange.streams.entries()].map(([id, s]) => `  stream ${id}: status ${s.status ?? '-'}${s.resetCode !== undefined ? `, reset ${s.resetCode}` : ''}${s.ended ? ', ended' : ''}, body \`${show(Buffer.concat(s.body), 120)}\``),
  ]);
}

async function fuzz(t: { diagnostic(message: string): void }, name: string, offset: number, numRuns: number, arbitrary: fc.Arbitrary<H2Input>): Promise<void> {
  await fuzzing.property(t, name, offset, numRuns, arbitrary, checkInput);
}

/**
 * A test of the fuzz target's HTTP/2 door; on a node where Gatehouse turned HTTP/2 off (support/http2.ts),
 * the door is not there to fuzz: the test asserts that fallback on the child's https binding instead.
 */
function fuzzTest(name: string, fn: (t: TestContext) => Promise<void>): void {
  test(name, (t) =>
    offersHttp2
      ? fn(t)
      : assertHttp2Fallback(t, { port: fuzzing.gatehouse.httpsPort, ca: fuzzing.gatehouse.pki?.root.certPem ?? '', servername: 'localhost', log: () => fuzzing.gatehouse.current?.output ?? '' }),
  );
}

describe('fuzz: HTTP/2 on the https binding of a gatehouse child process', () => {
  fuzzTest('requests: pseudo-headers, field names and values, :path spellings, forged headers', async (t) => {
    await fuzz(
      t,
      'requests',
      1,
      NUM_RUNS.requests,
      fc.record({ steps: fc.array(requests().map((request): Step => ({ kind: 'request', request })), { minLength: 1, maxLength: 3 }), truncate: fc.constant(null) }),
    );
  });

  fuzzTest('sequences: CONTINUATION, DATA against content-length, RST_STREAM after HEADERS, flow control, PRIORITY, SETTINGS, connection errors', async (t) => {
    const step = fc.oneof(
      { weight: 5, arbitrary: requests({ headers: fc.array(fc.oneof(h2Header, fc.constantFrom<Header>(['content-length', '3'], ['content-length', '0'])), { maxLength: 3 }), pieces: fc.integer({ min: 1, max: 4 }) }).map((request): Step => ({ kind: 'request', request })) },
      { weight: 3, arbitrary: controlSteps },
      { weight: 1, arbitrary: errorSteps },
    );
    await fuzz(t, 'sequences', 2, NUM_RUNS.sequences, fc.record({ steps: fc.array(step, { minLength: 1, maxLength: 6 }), truncate: fc.constant(null) }));
  });

  fuzzTest('chaos: random frame types, flags, stream ids and payloads; truncated frames', async (t) => {
    const step = fc.oneof({ weight: 3, arbitrary: goodRequest.map((request): Step => ({ kind: 'request', request })) }, { weight: 2, arbitrary: chaosStep }, { weight: 1, arbitrary: controlSteps });
    await fuzz(t, 'chaos', 3, NUM_RUNS.chaos, fc.record({ steps: fc.array(step, { minLength: 1, maxLength: 5 }), truncate: fc.option(fc.nat(999), { freq: 3 }) }));
  });

  fuzzTest('afterwards: the process is alive and a plain HTTP/2 GET still gets the backend', async () => {
    await fuzzing.assertSurvived();
  });
});
