/**
 * Helpers for the door (client-certificate policy) tests: config builders (JSON, which is valid YAML),
 * a node:tls client that runs HTTP/1.1 requests over a socket it controls (sessions, resumption, SNI),
 * and a server-side view of each TLS connection as Gatehouse saw it.
 */
import { X509Certificate, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import * as tls from 'node:tls';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import { TlsConnection } from '../../src/proxy/tls-connection.js';
import type { Backend, EchoReply } from './backends.js';
import type { RunningGatehouse } from './gatehouse.js';

// ---------------------------------------------------------------------------------------------------------------
// Config

export interface CertPair {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface BindingSpec {
  protocol: 'http' | 'https';
  address: string;
  port: number;
  hostName?: string;
  certificate?: Record<string, string>;
}

export function httpsBinding(cert: CertPair | Record<string, string>, extra: { hostName?: string; address?: string } = {}): BindingSpec {
  const binding: BindingSpec = { protocol: 'https', address: extra.address ?? '127.0.0.1', port: 0, certificate: { ...cert } as Record<string, string> };
  if (extra.hostName !== undefined) binding.hostName = extra.hostName;
  return binding;
}

/** An http binding; port 0 bindings on one address share a listener, so http goes to another loopback address by default. */
export function httpBinding(extra: { hostName?: string; address?: string } = {}): BindingSpec {
  const binding: BindingSpec = { protocol: 'http', address: extra.address ?? '127.0.0.2', port: 0 };
  if (extra.hostName !== undefined) binding.hostName = extra.hostName;
  return binding;
}

export interface SiteSpec {
  name: string;
  farm: string;
  bindings: BindingSpec[];
  ssl?: { requireSsl?: boolean; clientCertificates?: 'ignore' | 'accept' | 'require'; trustedCaFile?: string; crlFile?: string | string[] };
}

/** A whole config text with `accessLog: off`; each farm has one server per backend. */
export function configText(sites: SiteSpec[], farms: Record<string, Backend[]>): string {
  return JSON.stringify(
    {
      accessLog: 'off',
      drainTimeout: 1,
      sites,
      farms: Object.entries(farms).map(([name, backends]) => ({ name, servers: backends.map((b) => ({ address: b.address })) })),
    },
    null,
    2,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Certificates and assertions' inputs

/** What X-ARR-ClientCert must hold for a PEM file (its first certificate). */
export function base64DerOf(pemFile: string): string {
  return new X509Certificate(readFileSync(pemFile)).raw.toString('base64');
}

/** SHA-1 thumbprint as Gatehouse logs it: upper-case hex without separators. */
export function thumbprintOf(pemFile: string): string {
  return new X509Certificate(readFileSync(pemFile)).fingerprint.replace(/:/g, '').toUpperCase();
}

/** A fresh path, so a test can find its own request among those a backend received. */
export function uniquePath(label: string): string {
  return `/${label}/${randomUUID()}`;
}

/** The requests a backend received for a path. */
export function receivedAt(backend: Backend, path: string): EchoReply[] {
  return backend.received.filter((r) => r.url === path);
}

// ---------------------------------------------------------------------------------------------------------------
// node:tls client

export interface TlsClient {
  readonly socket: TLSSocket;
  /** Sessions the server gave (TLS 1.3: NewSessionTicket after the handshake; TLS 1.2: at the handshake). */
  readonly sessions: Buffer[];
  /** The first session; rejects if the socket closes before one arrives. */
  session(): Promise<Buffer>;
  close(): void;
}

export type TlsClientOptions = tls.ConnectionOptions & { host: string; port: number };

/**
 * Opens a TLS connection and resolves after the handshake; rejects on a handshake error, on a close
 * before the handshake, or after `timeoutMs` of inactivity.
 */
export function connectTls(options: TlsClientOptions, timeoutMs = 10_000): Promise<TlsClient> {
  return new Promise((resolve, reject) => {
    const sessions: Buffer[] = [];
    const waiters: { resolve: (b: Buffer) => void; reject: (e: Error) => void }[] = [];
    let closed = false;
    const socket = tls.connect({ ...options });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`TLS connection idle for ${timeoutMs} ms`)));
    socket.on('session', (session: Buffer) => {
      sessions.push(session);
      for (const waiter of waiters.splice(0)) waiter.resolve(session);
    });
    socket.on('close', () => {
      closed = true;
      for (const waiter of waiters.splice(0)) waiter.reject(new Error('connection closed before the server sent a session'));
    });
    const client: TlsClient = {
      socket,
      sessions,
      session: () =>
        new Promise<Buffer>((res, rej) => {
          if (sessions[0]) return res(sessions[0]);
          if (closed) return rej(new Error('connection closed before the server sent a session'));
          waiters.push({ resolve: res, reject: rej });
        }),
      close: () => socket.destroy(),
    };
    const onError = (error: Error) => {
      socket.off('secureConnect', onSecure);
      socket.off('close', onEarlyClose);
      reject(error);
    };
    const onEarlyClose = () => {
      socket.off('error', onError);
      reject(new Error('connection closed during the TLS handshake'));
    };
    const onSecure = () => {
      socket.off('error', onError);
      socket.off('close', onEarlyClose);
      socket.on('error', () => {}); // later errors surface as request errors / close
      resolve(client);
    };
    socket.once('error', onError);
    socket.once('close', onEarlyClose);
    socket.once('secureConnect', onSecure);
  });
}

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP/1.1 request over an open (TLS) socket; the socket stays open (keep-alive). */
export function requestOver(socket: TLSSocket, options: { path: string; host?: string; method?: string; headers?: Record<string, string> }): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        createConnection: () => socket,
        method: options.method ?? 'GET',
        path: options.path,
        headers: { host: options.host ?? 'localhost', connection: 'keep-alive', ...(options.headers ?? {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

export interface TlsFetchResult extends HttpResult {
  readonly reused: boolean;
  readonly protocol: string | null;
  readonly session: Buffer | undefined;
  readonly localPort: number;
  readonly peerCertificate: DetailedPeerCertificate;
}

/**
 * Connect, one request, wait for a session when `wantSession`, close. The usual way the door tests use
 * node:tls.
 */
export async function tlsFetch(options: TlsClientOptions & { path: string; headers?: Record<string, string>; hostHeader?: string; wantSession?: boolean }): Promise<TlsFetchResult> {
  const { path, headers, hostHeader, wantSession, ...connect } = options;
  const client = await connectTls(connect);
  try {
    const reused = client.socket.isSessionReused();
    const protocol = client.socket.getProtocol();
    const localPort = client.socket.localPort ?? 0;
    const peerCertificate = client.socket.getPeerCertificate(true);
    const request: { path: string; host?: string; headers?: Record<string, string> } = { path };
    if (hostHeader !== undefined) request.host = hostHeader;
    if (headers !== undefined) request.headers = headers;
    const result = await requestOver(client.socket, request);
    const session = wantSession ? await client.session() : client.sessions[0];
    return { ...result, reused, protocol, session, localPort, peerCertificate };
  } finally {
    client.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Server side

/** How Gatehouse saw a TLS connection when its request arrived. */
export interface ServerSideView {
  readonly url: string;
  readonly protocol: string | null;
  readonly resumed: boolean;
  readonly authorized: boolean;
  readonly authorizationError: string | undefined;
  /** The peer leaf from getPeerCertificate(true), as base64 DER; undefined when there was none. */
  readonly peerLeaf: string | undefined;
  /** Subjects above the leaf in getPeerCertificate(true) (intermediates the client sent, and roots from the store). */
  readonly peerIssuers: string[];
  /** Gatehouse's verdict sub-status and the chain it kept (ClientCertificate.chain length). */
  readonly subStatus: number | undefined;
  readonly reason: string | undefined;
  readonly gatehouseChainLength: number | undefined;
}

/** Records a ServerSideView for every https request of a running Gatehouse (after Gatehouse's own handler ran). */
export function observeServerSide(running: RunningGatehouse): ServerSideView[] {
  const views: ServerSideView[] = [];
  for (const listener of running.gatehouse.listeners) {
    if (!listener.isHttps || !listener.server) continue;
    (listener.server as Server).on('request', (req) => {
      const socket = req.socket as TLSSocket;
      const connection = TlsConnection.of(socket);
      const peer = socket.getPeerCertificate(true);
      const issuers: string[] = [];
      let cert: DetailedPeerCertificate | undefined = peer && peer.raw ? peer : undefined;
      for (let i = 0; cert && i < 10; i++) {
        const issuer: DetailedPeerCertificate | undefined = cert.issuerCertificate;
        if (!issuer || issuer === cert) break;
        issuers.push(issuer.subject?.CN !== undefined ? `CN=${String(issuer.subject.CN)}` : '?');
        cert = issuer;
      }
      views.push({
        url: req.url ?? '',
        protocol: socket.getProtocol(),
        resumed: socket.isSessionReused(),
        authorized: socket.authorized,
        authorizationError: socket.authorizationError === undefined || socket.authorizationError === null ? undefined : String((socket.authorizationError as unknown as { code?: string }).code ?? socket.authorizationError),
        peerLeaf: peer && peer.raw ? peer.raw.toString('base64') : undefined,
        peerIssuers: issuers,
        subStatus: connection?.verdict.subStatus,
        reason: connection?.verdict.reason,
        gatehouseChainLength: connection?.certificate?.chain.length,
      });
    });
  }
  return views;
}

/** The IIS sub-status line Gatehouse puts in a local answer's body, e.g. `HTTP Error 403.7`. */
export function errorLine(status: number, subStatus: number): string {
  return `HTTP Error ${status}.${subStatus}`;
}
