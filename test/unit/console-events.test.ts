/**
 * The console's event-stream parser (src/console/ui/events.ts, browser code): bundled with esbuild as the
 * build does, then run here on chunks cut anywhere, as a network delivers them.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { before, describe, test } from 'node:test';
import { build } from 'esbuild';

interface ParsedEvent {
  readonly id: number;
  readonly type: string;
  readonly data: Record<string, unknown>;
}
interface Parser {
  push(chunk: string): void;
  lastId: string | undefined;
  retryMs: number | undefined;
}
let Parser: new (onEvent: (event: ParsedEvent) => void) => Parser;

before(async () => {
  const source = fileURLToPath(new URL('../../../src/console/ui/events.ts', import.meta.url));
  const bundled = await build({ entryPoints: [source], bundle: true, format: 'esm', write: false, platform: 'neutral', logLevel: 'silent' });
  const code = bundled.outputFiles[0]?.text ?? '';
  ({ EventStreamParser: Parser } = (await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)) as { EventStreamParser: typeof Parser });
});

const STREAM = 'retry: 3000\n\n: heartbeat\n\nid: 7\nevent: state\ndata: {"type":"state","farm":"web"}\n\nid: 8\r\nevent: admin\r\ndata: {"type":"admin",\r\ndata: "result":"applied"}\r\n\r\nid: 9\nevent: x\ndata: not json\n\n';

function parse(chunks: readonly string[]): { events: ParsedEvent[]; parser: Parser } {
  const events: ParsedEvent[] = [];
  const parser = new Parser((event) => events.push(event));
  for (const chunk of chunks) parser.push(chunk);
  return { events, parser };
}

describe('the console event-stream parser', () => {
  test('events with id, type and JSON data; comments skipped; CRLF and multi-line data; retry kept; non-JSON data skipped but its id kept', () => {
    const { events, parser } = parse([STREAM]);
    assert.deepEqual(events, [
      { id: 7, type: 'state', data: { type: 'state', farm: 'web' } },
      { id: 8, type: 'admin', data: { type: 'admin', result: 'applied' } },
    ]);
    assert.equal(parser.retryMs, 3000);
    assert.equal(parser.lastId, '9', 'Last-Event-ID: the last id the stream gave');
  });

  test('the same events whatever the chunks: cut at every position, and one character at a time', () => {
    const whole = parse([STREAM]).events;
    for (let cut = 1; cut < STREAM.length; cut++) assert.deepEqual(parse([STREAM.slice(0, cut), STREAM.slice(cut)]).events, whole, `cut at ${cut}`);
    assert.deepEqual(parse([...STREAM]).events, whole);
  });

  test('an event is dispatched only at its blank line', () => {
    const { events, parser } = parse(['id: 1\nevent: reload\ndata: {"ok":true}\n']);
    assert.deepEqual(events, []);
    parser.push('\n');
    assert.equal(events.length, 1);
  });
});
