/**
 * `maxConnections` as IIS means it: past the limit a new connection waits, it is not refused. Node's own
 * `server.maxConnections` closes it at once, so instead the server is made to pause each accepted socket
 * (net.Server's `pauseOnConnect`, set as a property since node:http and node:https do not pass the
 * option on) and the server's connection listener is called only while fewer than the limit are open;
 * the others wait, accepted and unread, and go on in arrival order as connections close.
 *
 * `pause-on-connect`: probed by behaviour once at start (probePauseOnConnect: a loopback connection to a
 * server given the property must arrive paused) and again on each gated server's first connection. If it
 * does not (a Node that dropped the property), or GATEHOUSE_PLATFORM_FALLBACKS lists pause-on-connect, the
 * gate falls back to node's maxConnections (closed at once, counted the same). On TLS listeners the gate
 * waits after the handshake instead and needs no internal (see gateConnections).
 */
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { forcedReason, isForced } from './fallbacks.js';
import { closeServer, listenLoopback, runProbe, within, type ProbeResult } from './probe-kit.js';

/** Whether pauseOnConnect may be used: by the first connection until probePauseOnConnect ran. */
let isPauseOnConnectActive = !isForced('pause-on-connect');

async function check(): Promise<string> {
  const server = createServer();
  (server as Server & { pauseOnConnect?: boolean }).pauseOnConnect = true;
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const port = await listenLoopback(server);
  const client = connect({ host: '127.0.0.1', port });
  client.on('error', () => {});
  try {
    const [socket] = await within(accepted, 2_000, 'the connection');
    const isPaused = socket.isPaused();
    socket.destroy();
    if (!isPaused) throw new Error('a connection to a server with pauseOnConnect set after creation arrived flowing');
  } finally {
    client.destroy();
    await closeServer(server);
  }
  return 'a connection to a server given the property arrived paused';
}

let probing: Promise<ProbeResult> | undefined;

/** The probe, once. */
export function probePauseOnConnect(): Promise<ProbeResult> {
  return (probing ??= runProbe(check).then((result) => {
    const out = isForced('pause-on-connect') ? { isActive: false, reason: `${forcedReason('pause-on-connect')} (probe: ${result.reason})` } : result;
    isPauseOnConnectActive = out.isActive;
    return out;
  }));
}

export interface ConnectionGateEvents {
  /** A connection found the limit reached: it waits (or, on the fallback, is closed). */
  queued(isDropped: boolean): void;
}

export interface ConnectionGate {
  /** Connections being served. */
  readonly open: number;
  /** Connections waiting for one to close. */
  readonly waiting: number;
  /** Closes the waiting connections (the server is stopping: they will never be served). */
  closeWaiting(): void;
}

const admitted = new WeakSet<Socket>();

export function gateConnections(server: Server, maxOf: () => number, events: ConnectionGateEvents, isTls = false): ConnectionGate {
  // TLS: the gate stands between the finished handshake and the HTTP server ('secureConnection'): a waiting
  // connection has its handshake done and nothing read (the TLS layer stops reading at its buffer's
  // high-water mark). Pausing the TCP socket under TLS instead (pauseOnConnect) stalls TLS's own reads.
  const event = isTls ? 'secureConnection' : 'connection';
  const [listener] = server.listeners(event) as ((this: Server, socket: Socket) => void)[];
  if (!listener) throw new Error(`the server has no ${event} listener to gate`);
  server.removeListener(event, listener);
  const canPause = isPauseOnConnectActive;
  if (!isTls && canPause) (server as Server & { pauseOnConnect?: boolean }).pauseOnConnect = true;
  let open = 0;
  let isProbed = false;
  let isFallback = false;
  const waiting: Socket[] = [];
  const release = () => {
    open--;
    while (open < maxOf() && waiting.length > 0) {
      const next = waiting.shift() as Socket;
      if (!next.destroyed) admit(next);
    }
  };
  const admit = (socket: Socket) => {
    open++;
    admitted.add(socket);
    socket.once('close', release);
    listener.call(server, socket);
    if (!isTls) socket.resume();
  };
  server.prependListener(event, (socket: Socket) => {
    if (admitted.has(socket)) {
      listener.call(server, socket); // handed back (an h2c upgrade served as plain HTTP/1.1): already counted
      return;
    }
    if (!isProbed) {
      isProbed = true;
      isFallback = !isTls && (!canPause || !socket.isPaused());
      if (isFallback) server.maxConnections = maxOf();
    }
    if (isFallback) {
      admit(socket);
      return;
    }
    if (open < maxOf()) {
      admit(socket);
      return;
    }
    events.queued(false);
    waiting.push(socket);
    socket.once('close', () => {
      const at = waiting.indexOf(socket);
      if (at >= 0) waiting.splice(at, 1);
    });
  });
  server.on('drop', () => events.queued(true));
  return {
    get open() {
      return open;
    },
    get waiting() {
      return waiting.length;
    },
    closeWaiting() {
      for (const socket of waiting.splice(0)) socket.destroy();
    },
  };
}
