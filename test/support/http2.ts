/**
 * HTTP/2 as this node gets it. Gatehouse.start runs the HTTP/2 crash probe (src/platform/http2-probe.ts)
 * once per process: on a node whose HTTP/2 any client can crash (of the releases probed: Node 22.23.3
 * and 22.23.5; not 22.12.0, 22.22.3, 22.23.0-22.23.2, 20.20.2 or 24.22.3), or with
 * GATEHOUSE_PLATFORM_FALLBACKS=http2, https bindings offer http/1.1 only by ALPN and the event log says
 * why. The tests decide at run time from the same probe (the result Gatehouse in this process uses, and a
 * child Gatehouse on this node gets): where HTTP/2 is on they assert HTTP/2 fully; where it is off they
 * assert that documented fallback instead (`assertHttp2Fallback`), never skip.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type ConnectionOptions } from 'node:tls';
import { ensureHttp2Probed } from '../../src/platform/http2-probe.js';
import type { ClientFiles } from './test-pki.js';

const probe = await ensureHttp2Probed();

/** Whether Gatehouse offers HTTP/2 (ALPN h2) on https bindings with `http2: true` on this node. */
export const offersHttp2 = probe.isSafe;

/** The warning Gatehouse logs at start on a node where HTTP/2 is off ('' where it is on). */
export const http2OffWarning = probe.reason;

/** An https binding of a running Gatehouse configured with HTTP/2 on, and where its event log is read. */
export interface Http2Door {
  readonly port: number;
  /** The CA to verify the server certificate with (PEM text or a file's contents). */
  readonly ca: string | Buffer;
  /** SNI; none by default (a client connecting by IP address). */
  readonly servername?: string;
  readonly clientCert?: ClientFiles;
  /** The Gatehouse's event log so far: its lines (in-process) or its stderr (a child process). */
  readonly log: () => readonly string[] | string;
}

function alpnOf(door: Http2Door, protocols: string[]): Promise<string | false | null> {
  return new Promise((resolve, reject) => {
    const options: ConnectionOptions = { host: '127.0.0.1', port: door.port, ca: door.ca, ALPNProtocols: protocols };
    if (door.servername !== undefined) options.servername = door.servername;
    if (door.clientCert) {
      options.cert = readFileSync(door.clientCert.certFile);
      options.key = readFileSync(door.clientCert.keyFile);
    }
    const socket = connect(options, () => {
      resolve(socket.alpnProtocol);
      socket.destroy();
    });
    socket.setTimeout(5_000, () => socket.destroy(new Error(`TLS handshake with 127.0.0.1:${door.port}: no answer in 5 s`)));
    socket.once('error', reject);
  });
}

/**
 * What a client gets on a node where Gatehouse turned HTTP/2 off (the README's "Runtime defects"): offering
 * h2 and http/1.1 by ALPN, it gets http/1.1; offering h2 alone, no HTTP/2 (the handshake is refused with
 * no_application_protocol); and the event log has the one line that says why. The test says so in a
 * diagnostic line.
 */
export async function assertHttp2Fallback(t: { diagnostic(message: string): void }, door: Http2Door): Promise<void> {
  const what = 'HTTP/2 fallback';
  assert.equal(offersHttp2, false, `${what}: asserted only where the probe turned HTTP/2 off`);
  assert.equal(await alpnOf(door, ['h2', 'http/1.1']), 'http/1.1', `${what}: ALPN picks http/1.1 when h2 is offered too`);
  const h2Only = await alpnOf(door, ['h2']).then(
    (alpn) => `negotiated ${String(alpn)}`,
    (error: NodeJS.ErrnoException) => error.code ?? error.message,
  );
  assert.equal(h2Only, 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL', `${what}: a client that speaks only h2 gets no HTTP/2`);
  assert.ok(http2OffWarning.startsWith('HTTP/2 is off: '), `${what}: the probe says why: ${http2OffWarning}`);
  // In-process lines are `warn <message>`; a child's stderr has `<time> warn <message>`.
  const line = `warn ${http2OffWarning}`;
  const log = door.log();
  const logged = typeof log === 'string' ? log.includes(line) : log.some((entry) => entry.includes(line));
  assert.ok(logged, `${what}: the event log has "${line}"; it has:\n${typeof log === 'string' ? log.slice(-2000) : log.slice(-10).join('\n')}`);
  t.diagnostic(`HTTP/2 is off on node ${process.version}: asserted the fallback instead (ALPN http/1.1, no h2, the warning logged)`);
}
