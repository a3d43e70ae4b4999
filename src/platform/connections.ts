/**
 * `close-all-connections`: closing every HTTP/1.1 connection of a server now (a drain's timeout, the admin
 * listener's close). node:http and node:https servers have a public closeAllConnections(); an http2
 * server (HTTP/2 with HTTP/1.1 by ALPN) has none, but node tracks its HTTP/1.1 connections the same way,
 * so node:http's method works on it when called on it (an internal: the connection list it reads).
 *
 * Probe (once, at start): an http2 server with an HTTP/1.1 request in progress must see that connection
 * closed. Fallback (probe failed, or GATEHOUSE_PLATFORM_FALLBACKS lists close-all-connections): the
 * server's connections are tracked from its 'secureConnection' (TLS) or 'connection' events by
 * trackConnections, called when the server is made, and the HTTP/1.1 ones are destroyed. HTTP/2
 * connections are the caller's (their sessions): node's method leaves them too.
 */
import { once } from 'node:events';
import { Server as HttpServer } from 'node:http';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import type { Server as NetServer, Socket } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { forcedReason, isForced } from './fallbacks.js';
import { closeServer, listenLoopback, probePki, runProbe, within, type ProbeResult } from './probe-kit.js';

type AnyServer = NetServer | HttpServer | Http2SecureServer;

/** Whether node's method is used on http2 servers: until the probe ran, unless forced off. */
let isActive = !isForced('close-all-connections');
let isProbed = false;
const tracked = new WeakMap<object, Set<Socket>>();

/**
 * Call when a server is made (before it listens). Tracks its connections when the fallback may be needed
 * (probe failed, forced, or not yet run); otherwise nothing is added to any connection.
 */
export function trackConnections(server: AnyServer): void {
  if ((isActive && isProbed) || tracked.has(server) || typeof (server as { closeAllConnections?: unknown }).closeAllConnections === 'function') return;
  const sockets = new Set<Socket>();
  tracked.set(server, sockets);
  const event = typeof (server as { setSecureContext?: unknown }).setSecureContext === 'function' ? 'secureConnection' : 'connection';
  (server as NetServer).on(event, (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
}

/** Closes every HTTP/1.1 connection of `server` now, idle or not. */
export function closeAllConnections(server: AnyServer): void {
  const own = (server as { closeAllConnections?: () => void }).closeAllConnections;
  if (typeof own === 'function') {
    own.call(server); // node:http, node:https: public
    return;
  }
  const sockets = tracked.get(server);
  if (!isActive && sockets) {
    for (const socket of sockets) if ((socket as TLSSocket).alpnProtocol !== 'h2') socket.destroy();
    return;
  }
  HttpServer.prototype.closeAllConnections.call(server);
}

async function check(): Promise<string> {
  const pki = await probePki();
  const server = createSecureServer({ key: pki.server.keyPem, cert: pki.server.certPem, allowHTTP1: true });
  server.on('sessionError', () => {});
  server.on('tlsClientError', () => {});
  const requested = once(server, 'request');
  const port = await listenLoopback(server);
  const client = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
  client.on('error', () => {});
  try {
    await once(client, 'secureConnect');
    client.write('GET / HTTP/1.1\r\nHost: probe\r\n\r\n');
    await within(requested, 2_000, 'the HTTP/1.1 request');
    const closed = once(client, 'close');
    HttpServer.prototype.closeAllConnections.call(server);
    await within(closed, 2_000, "the HTTP/1.1 connection's close");
  } finally {
    client.destroy();
    await closeServer(server as unknown as NetServer);
  }
  return "node:http's closeAllConnections closed an http2 server's HTTP/1.1 connection with a request in progress";
}

let probing: Promise<ProbeResult> | undefined;

/** The probe, once; sets which way http2 servers' connections are closed. */
export function probeCloseAllConnections(): Promise<ProbeResult> {
  return (probing ??= runProbe(check).then((result) => {
    const out = isForced('close-all-connections') ? { isActive: false, reason: `${forcedReason('close-all-connections')} (probe: ${result.reason})` } : result;
    isActive = out.isActive;
    isProbed = true;
    return out;
  }));
}
