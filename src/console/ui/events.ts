/**
 * The live events (GET /api/v1/events/stream) read with fetch() and a stream parser: EventSource cannot
 * send the Authorization header. Lines `id:`, `event:`, `data:` make an event at a blank line; comments
 * (`:`) are heartbeats. When the stream ends or fails it reconnects after the server's `retry:` delay with
 * Last-Event-ID, so the events in between are replayed, not lost.
 */
import { API, authHeaders } from './api';

export interface StreamEvent {
  readonly id: number;
  readonly type: string;
  readonly data: Record<string, unknown>;
}

/** Feeds text chunks, calls `onEvent` for each complete event; keeps the partial line between chunks. */
export class EventStreamParser {
  #buffer = '';
  #endedWithCr = false;
  #id: string | undefined;
  #type = 'message';
  #data: string[] = [];
  lastId: string | undefined;
  retryMs: number | undefined;
  constructor(private readonly onEvent: (event: StreamEvent) => void) {}

  push(chunk: string): void {
    // A CR that ended the previous chunk's last line and the LF that starts this one are one line end.
    this.#buffer += this.#endedWithCr && chunk.startsWith('\n') ? chunk.slice(1) : chunk;
    this.#endedWithCr = false;
    let newline: number;
    while ((newline = this.#buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.#buffer.slice(0, newline);
      const crlf = this.#buffer.startsWith('\r\n', newline);
      if (!crlf && this.#buffer[newline] === '\r' && newline === this.#buffer.length - 1) this.#endedWithCr = true;
      this.#buffer = this.#buffer.slice(newline + (crlf ? 2 : 1));
      this.#line(line);
    }
  }

  #line(line: string): void {
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') this.#id = value;
    else if (field === 'event') this.#type = value;
    else if (field === 'data') this.#data.push(value);
    else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
  }

  #dispatch(): void {
    if (this.#id !== undefined) this.lastId = this.#id;
    if (this.#data.length > 0) {
      try {
        this.onEvent({ id: Number(this.#id ?? 0), type: this.#type, data: JSON.parse(this.#data.join('\n')) as Record<string, unknown> });
      } catch {
        // not JSON: not one of Gatehouse's events; skipped
      }
    }
    this.#id = undefined;
    this.#type = 'message';
    this.#data = [];
  }
}

export type StreamStatus = 'connecting' | 'live' | 'reconnecting';

/** Follows the stream until `stop()`; `onStatus` tells whether it is live. */
export function followEvents(onEvent: (event: StreamEvent) => void, onStatus: (status: StreamStatus) => void): { stop(): void } {
  let stopped = false;
  let controller: AbortController | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const parser = new EventStreamParser(onEvent);
  const connect = async () => {
    controller = new AbortController();
    onStatus(parser.lastId === undefined ? 'connecting' : 'reconnecting');
    try {
      const headers: Record<string, string> = { accept: 'text/event-stream', ...authHeaders() };
      if (parser.lastId !== undefined) headers['last-event-id'] = parser.lastId;
      const res = await fetch(`${API}/events/stream`, { headers, credentials: 'same-origin', cache: 'no-store', signal: controller.signal });
      if (!res.ok || !res.body) throw new Error(`events stream: ${res.status}`);
      onStatus('live');
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.push(value);
      }
    } catch {
      // ended or failed: reconnect below
    }
    if (stopped) return;
    onStatus('reconnecting');
    timer = setTimeout(() => void connect(), parser.retryMs ?? 3000);
  };
  void connect();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      controller?.abort();
    },
  };
}
