/**
 * What the platform probes share: a result shape, a time bound, certificates made once for loopback TLS
 * probes, and a loopback TLS handshake that reports what the server side saw. Nothing here runs on the
 * request path: probes run once, at start (platform/probes.ts), or in `gatehouse doctor`.
 */
import { once } from 'node:events';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { Issued } from '../pki/types.js';
import { connect, type ConnectionOptions, type PeerCertificate, type Server as TlsServer, type TLSSocket } from 'node:tls';

/** A probe's finding: whether the fast path behaves (`isActive`) and what was seen, in one line. */
export interface ProbeResult {
  readonly isActive: boolean;
  readonly reason: string;
}

/** How long a probe may take before its fast path is given up (a probe that hangs is a failed probe). */
export const PROBE_TIMEOUT_MS = 5_000;

/** Rejects with `what` when `promise` does not settle within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs a probe: `check` resolves with what it saw when the fast path behaves, and throws (or times out)
 * when it does not; never rejects.
 */
export async function runProbe(check: () => Promise<string>, timeoutMs = PROBE_TIMEOUT_MS): Promise<ProbeResult> {
  try {
    return { isActive: true, reason: await within(check(), timeoutMs, 'the probe') };
  } catch (error) {
    return { isActive: false, reason: `probe failed: ${(error as Error).message}` };
  }
}

/** Listens on an ephemeral loopback port; resolves with the port. */
export async function listenLoopback(server: NetServer): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

export function closeServer(server: NetServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    (server as NetServer & { closeAllConnections?: () => void }).closeAllConnections?.();
  });
}

/** What one loopback TLS handshake showed on the server's side. */
export interface HandshakeSeen {
  /** The client's certificate as the server received it; undefined when the client sent none. */
  readonly peer: PeerCertificate | undefined;
  readonly authorized: boolean;
  readonly authorizationError: string | undefined;
  readonly isResumed: boolean;
  /** The client's side (still open: the caller ends it). */
  readonly client: TLSSocket;
}

/**
 * Connects to `server` (listening on loopback at `port`; `prepare` sees the client before it connects,
 * to listen to it from the start) and resolves once both sides finished the
 * handshake, with what the server saw. The caller ends the client (the server's side closes with it).
 */
export async function handshake(server: TlsServer, port: number, options: ConnectionOptions, prepare?: (client: TLSSocket) => void): Promise<HandshakeSeen> {
  const seen = new Promise<Omit<HandshakeSeen, 'client'>>((resolve) => {
    server.once('secureConnection', (socket: TLSSocket) => {
      const peer = socket.getPeerCertificate();
      resolve({
        peer: peer && Object.keys(peer).length > 0 ? peer : undefined,
        authorized: socket.authorized,
        authorizationError: socket.authorizationError === undefined || socket.authorizationError === null ? undefined : String(socket.authorizationError),
        isResumed: socket.isSessionReused(),
      });
      socket.on('error', () => {});
    });
  });
  const client = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
  client.on('error', () => {});
  prepare?.(client);
  const failed = once(client, 'error').then(([error]) => {
    throw error as Error;
  });
  await Promise.race([once(client, 'secureConnect'), failed]);
  return { ...(await Promise.race([seen, failed])), client };
}

/** Certificates for the loopback TLS probes, made once per process (EC P-256: a few milliseconds). */
export interface ProbePki {
  readonly root: Issued;
  readonly intermediate: Issued;
  /** A server certificate for 127.0.0.1 and localhost, issued by root. */
  readonly server: Issued;
  /** A client certificate issued by root. */
  readonly client: Issued;
  /** A client certificate issued by the intermediate. */
  readonly clientViaIntermediate: Issued;
  /** A client certificate from a CA nobody trusts. */
  readonly untrustedClient: Issued;
}

let pki: Promise<ProbePki> | undefined;

export function probePki(): Promise<ProbePki> {
  return (pki ??= (async () => {
    const { createCa, issueClient, issueServer } = await import('../pki/index.js');
    const [root, stranger] = await Promise.all([createCa({ commonName: 'Gatehouse platform probe root', days: 2 }), createCa({ commonName: 'Gatehouse platform probe stranger', days: 2 })]);
    const intermediate = await createCa({ commonName: 'Gatehouse platform probe intermediate', issuer: root, days: 2 });
    const [server, client, clientViaIntermediate, untrustedClient] = await Promise.all([
      issueServer({ ca: root, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], days: 1 }),
      issueClient({ ca: root, commonName: 'probe client', days: 1 }),
      issueClient({ ca: intermediate, commonName: 'probe client via intermediate', days: 1 }),
      issueClient({ ca: stranger, commonName: 'probe stranger', days: 1 }),
    ]);
    return { root, intermediate, server, client, clientViaIntermediate, untrustedClient };
  })());
}
