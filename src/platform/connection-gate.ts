/**
 * `maxConnections` as IIS means it: past the limit a new connection waits, it is not refused. Node's own
 * `server.maxConnections` closes it at once, so instead the server is made to pause each accepted socket
 * (net.Server's `pauseOnConnect`, set as a property since node:http and node:https do not pass the
 * option on) and the server's connection listener is called only while fewer than the limit are open;
 * the others wait, accepted and unread, and go on in arrival order as connections close.
 *
 * Probed by behaviour on the first connection: the socket must arrive paused. If it does not (a Node that
 * dropped the property), the gate falls back to node's maxConnections (closed at once, counted the same).
 * Plain HTTP listeners only: on TLS listeners node's maxConnections applies (see canWait).
 */
import type { Server } from 'node:net';
import type { Socket } from 'node:net';

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

export function gateConnections(server: Server, maxOf: () => number, events: ConnectionGateEvents, canWait = true): ConnectionGate {
  const [listener] = server.listeners('connection') as ((this: Server, socket: Socket) => void)[];
  if (!listener) throw new Error('the server has no connection listener to gate');
  if (!canWait) {
    // TLS listeners: node's own limit (a connection past it is closed at once), counted. Holding a paused
    // socket under a TLS server stalled resumed sessions whose handshake also waited for online revocation.
    server.maxConnections = maxOf();
    server.on('drop', () => events.queued(true));
    return { open: 0, waiting: 0, closeWaiting: () => undefined };
  }
  server.removeListener('connection', listener);
  (server as Server & { pauseOnConnect?: boolean }).pauseOnConnect = true;
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
    socket.resume();
  };
  server.on('connection', (socket: Socket) => {
    if (admitted.has(socket)) {
      listener.call(server, socket); // handed back (an h2c upgrade served as plain HTTP/1.1): already counted
      return;
    }
    if (!isProbed) {
      isProbed = true;
      isFallback = !socket.isPaused();
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
