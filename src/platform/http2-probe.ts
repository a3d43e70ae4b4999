/**
 * Whether this Node's HTTP/2 survives a known remote crash. Node 22.23.5's (and 22.23.3's) http2 aborts the whole process
 * (`Assertion failed: onread->IsFunction()` in StreamBase::CallJSOnreadMethod) on a few hundred bytes any
 * client can send: a request whose DATA exceeds its content-length, then a HEADERS with padding and an
 * empty DATA on a new stream. It happens in any node:http2 server, with or without a handler; Gatehouse's
 * fuzz found it. Node 20 and 24 survive it.
 *
 * So before an https binding offers HTTP/2, the input is tried on a cleartext HTTP/2 server in a child
 * process (a crash there costs nothing): if the child dies, HTTP/2 is not offered (ALPN http/1.1 only)
 * and one line says why. Once per process; forced with GATEHOUSE_PLATFORM_FALLBACKS=http2 (tests).
 */
import { execFile } from 'node:child_process';
import { forcedReason, isForced } from './fallbacks.js';

/**
 * The frames that abort Node 22.23.5, as Gatehouse's fuzz found and shrank them (after the preface and an
 * empty SETTINGS): HEADERS + two CONTINUATIONs for a POST with content-length 3, two padded DATA frames that
 * exceed it, then a padded HEADERS and an empty DATA with END_STREAM on stream 5. Base64.
 */
const CRASH_FRAMES = [
  'AAA7AQAAAAABAAc6bWV0aG9kBFBPU1QABzpzY2hlbWUFaHR0cHMABTpwYXRoCi9hZCU2RGluLy4ACjphdXRob3JpdHkAADsJ',
  'AAAAAAEJZnV6ei50ZXN0ABF4LXNzbF9jbGllbnRfY2VydAZmb3JnZWQADmNvbnRlbnQtbGVuZ3RoATMAEXhfcwAAOgkEAAAA',
  'AXNsLWNsaWVudC1jZXJ0BmZvcmdlZAAKeC1mdXp6LXJ1bgc1MC4wLjUwAA14LWZ1enotc3RyZWFtATEAAAYACAAAAAECYWIg',
  'AAAAAAgACQAAAAEEYWJ6AAAAAAAAjwEMAAAABQBABzptZXRob2QEUE9TVEAHOnNjaGVtZQVodHRwc0AFOnBhdGgQLy4lMmUv',
  'YURtSW4veCUyM0AKOmF1dGhvcml0eQlmdXp6LnRlc3RAEXhfc3NsLWNsaWVudC1jZXJ0CjpabTl5WjJWazpACngtZnV6ei1y',
  'dW4HNTAuMC41MEANeC1mdXp6LXN0cmVhbQEzAAAAAAEAAAAF',
].join('');

/** The script the child runs: an h2c server on loopback, and the input sent to it twice. */
function childScript(frames: string): string {
  return `
const { createServer } = require('node:http2');
const { connect } = require('node:net');
const body = Buffer.from(${JSON.stringify(frames)}, 'base64');
const preface = Buffer.concat([Buffer.from('PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);
const server = createServer(() => {});
server.listen(0, '127.0.0.1', async () => {
  for (let i = 0; i < 2; i++) {
    await new Promise((resolve) => {
      const socket = connect({ host: '127.0.0.1', port: server.address().port }, () => socket.write(Buffer.concat([preface, body])));
      socket.on('data', () => {});
      socket.on('error', () => {});
      socket.on('close', resolve);
      setTimeout(() => socket.destroy(), 150);
    });
  }
  process.exit(0);
});`;
}

export interface Http2Probe {
  /** HTTP/2 may be offered. */
  readonly isSafe: boolean;
  /** Why not (one line for the log); '' when safe. */
  readonly reason: string;
}

let probed: Promise<Http2Probe> | undefined;
const forced = isForced('http2');

/** Runs the probe with `nodePath` (tests pass a runtime to try); memoized for this process's own Node. */
export function probeHttp2(nodePath: string = process.execPath): Promise<Http2Probe> {
  if (nodePath === process.execPath && probed) return probed;
  const result = forced && nodePath === process.execPath
    ? Promise.resolve({ isSafe: false, reason: `HTTP/2 is off: ${forcedReason('http2')}` })
    : new Promise<Http2Probe>((resolve) => {
        execFile(nodePath, ['-e', childScript(CRASH_FRAMES)], { timeout: 10_000 }, (error) => {
          const signal = (error as (Error & { signal?: string }) | null)?.signal;
          if (!error) resolve({ isSafe: true, reason: '' });
          else if (signal === 'SIGABRT' || signal === 'SIGSEGV' || /Assertion failed/.test(String((error as Error & { stderr?: string }).stderr ?? error.message)))
            resolve({ isSafe: false, reason: `HTTP/2 is off: this Node.js (${nodePath === process.execPath ? process.version : nodePath}) aborts on a known malformed HTTP/2 input any client can send (onread->IsFunction() assertion); https bindings offer HTTP/1.1 only. Node 20 and 24 are not affected.` });
          else resolve({ isSafe: true, reason: '' }); // the probe itself failed (no child process?): keep HTTP/2, as before
        });
      });
  if (nodePath === process.execPath) probed = result;
  return result;
}

/** The probe's result once it ran (Gatehouse.start awaits it first); safe before. */
let known: Http2Probe = { isSafe: true, reason: '' };
export async function ensureHttp2Probed(): Promise<Http2Probe> {
  known = await probeHttp2();
  return known;
}

export function isHttp2Safe(): boolean {
  return known.isSafe;
}
