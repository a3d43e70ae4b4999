/**
 * Helpers for the door (client-certificate policy) tests: config builders (JSON, which is valid YAML),
 * a node:tls client that runs HTTP/1.1 requests over a socket it controls (sessions, resumption, SNI),
 * and a server-side view of each TLS connection as Gatehouse saw it.
 */
import { X509Certificate, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import { TlsConnection } from '../../src/proxy/tls-connection.js';
import assert from 'node:assert/strict';
import { startBackend, type Backend, type EchoReply } from './backends.js';
import { startGatehouse, type RunningGatehouse } from './gatehouse.js';
import { curl, type CurlResult } from './clients.js';
import type { ClientFiles, TestPki } from './test-pki.js';

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

/** An https binding on 127.0.0.1 port 0; `cert` is a cert/key pair (only certFile and keyFile are used) or a `certificate:` object. */
export function httpsBinding(cert: CertPair | { pfxFile: string; passphrase?: string; passphraseFile?: string }, extra: { hostName?: string; address?: string; port?: number } = {}): BindingSpec {
  const certificate: Record<string, string> =
    !('certFile' in cert)
      ? Object.fromEntries(Object.entries({ pfxFile: cert.pfxFile, passphrase: cert.passphrase, passphraseFile: cert.passphraseFile }).filter((e): e is [string, string] => e[1] !== undefined))
      : { certFile: (cert as CertPair).certFile, keyFile: (cert as CertPair).keyFile };
  const binding: BindingSpec = { protocol: 'https', address: extra.address ?? '127.0.0.1', port: extra.port ?? 0, certificate };
  if (extra.hostName !== undefined) binding.hostName = extra.hostName;
  return binding;
}

/** An http binding, on 127.0.0.2 by default (so it never shares an address and port with the https bindings). */
export function httpBinding(extra: { hostName?: string; address?: string; port?: number } = {}): BindingSpec {
  const binding: BindingSpec = { protocol: 'http', address: extra.address ?? '127.0.0.2', port: extra.port ?? 0 };
  if (extra.hostName !== undefined) binding.hostName = extra.hostName;
  return binding;
}

/**
 * A TCP port free right now on `address`, for bindings that must share one port (SNI, Host): each port-0
 * binding gets a listener of its own, so a shared port has to be named.
 */
export function freePort(address = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, address, () => {
      const port = (server.address() as AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export interface SiteSpec {
  name: string;
  farm: string;
  bindings: BindingSpec[];
  ssl?: { requireSsl?: boolean; clientCertificates?: 'ignore' | 'accept' | 'require'; trustedCaFile?: string; crlFile?: string | string[]; revocation?: { check?: 'off' | 'leaf' | 'chain' } };
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

/** The first certificate of a PEM file (the leaf of a leaf + chain file). */
export function firstCertificateOf(pemFile: string): X509Certificate {
  const text = readFileSync(pemFile, 'latin1');
  const block = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text);
  if (!block) throw new Error(`${pemFile} holds no PEM certificate`);
  return new X509Certificate(block[0]);
}

/** What X-ARR-ClientCert must hold for a PEM file: base64 of its first (leaf) certificate's DER. */
export function base64DerOf(pemFile: string): string {
  return firstCertificateOf(pemFile).raw.toString('base64');
}

/** SHA-1 thumbprint of a PEM file's leaf as Gatehouse logs it: upper-case hex without separators. */
export function thumbprintOf(pemFile: string): string {
  return firstCertificateOf(pemFile).fingerprint.replace(/:/g, '').toUpperCase();
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

// ---------------------------------------------------------------------------------------------------------------
// One-site doors and the 403 assertion

export interface Door {
  readonly running: RunningGatehouse;
  readonly backend: Backend;
  close(): Promise<void>;
}

/**
 * Gatehouse with one site `door` (https on 127.0.0.1 with `server`, plus http on 127.0.0.2 when `http`)
 * in front of one echo backend; `dir` is where the config file is written (the PKI folder).
 */
export async function startDoor(dir: string, server: CertPair | { pfxFile: string; passphrase?: string; passphraseFile?: string }, ssl: SiteSpec['ssl'], options: { http?: boolean } = {}): Promise<Door> {
  const backend = await startBackend('door-backend');
  const bindings = [httpsBinding(server)];
  if (options.http) bindings.push(httpBinding());
  let running: RunningGatehouse;
  try {
    running = await startGatehouse(configText([{ name: 'door', farm: 'farm', bindings, ...(ssl ? { ssl } : {}) }], { farm: [backend] }), dir);
  } catch (error) {
    await backend.close();
    throw error;
  }
  return {
    running,
    backend,
    close: async () => {
      await running.stop();
      await backend.close();
    },
  };
}

/**
 * A local 403.x answer: the status, `HTTP Error 403.x` then a one-line reason in the body, nothing at the
 * backend for `path`, and one event-log line for `path` naming the sub-status, the client, the reason and,
 * for `certFile`, the certificate's subject CN and SHA-1 thumbprint (without one: no thumbprint).
 */
export function assertRejected(result: { status: number; body: string }, subStatus: number, door: { running: RunningGatehouse; backend: Backend }, path: string, expect: { reason: RegExp; certFile?: string }): void {
  assert.equal(result.status, 403, `expected 403.${subStatus}, got ${result.status}: ${result.body}`);
  assert.match(result.body, new RegExp(`^HTTP Error 403\\.${subStatus} `), `the IIS sub-status 403.${subStatus} in the body: ${result.body}`);
  assert.equal(result.body.trim().split('\n').length, 2, 'status line + one-line reason');
  assert.deepEqual(receivedAt(door.backend, path), [], 'the backend received nothing');
  const lines = door.running.events.filter((e) => e.includes(` ${path}`));
  assert.equal(lines.length, 1, `one event-log line for ${path}: ${JSON.stringify(door.running.events)}`);
  const line = lines[0] as string;
  assert.match(line, new RegExp(`^warn 403\\.${subStatus} outcome=[a-z_]+ client 127\\.0\\.0\\.[12]:\\d+ `), `names the status, the outcome code and the client: ${line}`);
  assert.match(line, expect.reason, `names the reason: ${line}`);
  if (expect.certFile) {
    const cn = firstCertificateOf(expect.certFile).subject.split('\n').find((rdn) => rdn.startsWith('CN=')) as string;
    assert.ok(line.includes('subject="') && line.includes(cn), `names the subject (${cn}): ${line}`);
    assert.ok(line.includes(`thumbprint=${thumbprintOf(expect.certFile)}`), `names the SHA-1 thumbprint: ${line}`);
  } else {
    assert.doesNotMatch(line, /thumbprint=/, 'no certificate, no thumbprint');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// A door per test, visited with curl and a client certificate

/** curl to the door's site with a client certificate, trusting the test PKI's root. */
export function curlAs(pki: TestPki, door: Door, path: string, client: ClientFiles): Promise<CurlResult> {
  return curl(door.running.url('door') + path, { cacert: pki.caFile, cert: client.certFile, key: client.keyFile });
}

/** Opens a door (the test PKI's server certificate) with `ssl`, runs `body`, closes the door. */
export async function withDoor(pki: TestPki, ssl: SiteSpec['ssl'], body: (door: Door) => Promise<void>): Promise<void> {
  const door = await startDoor(pki.dir, pki.server, ssl);
  try {
    await body(door);
  } finally {
    await door.close();
  }
}

/** The client gets 200 and the backend the request once, with the leaf in X-ARR-ClientCert. */
export async function assertAccepted(pki: TestPki, door: Door, client: ClientFiles, label: string): Promise<void> {
  const path = uniquePath(label);
  const result = await curlAs(pki, door, path, client);
  assert.equal(result.status, 200, `${label}: ${result.status} ${result.body} ${result.stderr}`);
  const got = receivedAt(door.backend, path);
  assert.equal(got.length, 1, `${label}: forwarded once`);
  assert.equal(got[0]?.headers['x-arr-clientcert'], base64DerOf(client.certFile), `${label}: X-ARR-ClientCert is the leaf only`);
}
