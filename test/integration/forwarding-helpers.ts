/**
 * Helpers for the forwarding and farm integration tests: config text for one site in front of one
 * farm, a node http/https client that reports exactly what it sent and received, raw TCP backends for
 * responses node:http would not produce, and deterministic large bodies.
 */
import { createHash } from 'node:crypto';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import type { TestPki } from '../support/test-pki.js';

/** What node:test's TestContext offers that the helpers use. */
export interface Cleanup {
  after(fn: () => unknown): void;
}

export const SITE = 'app';
export const FARM = 'web';

export type BindingSpec = 'http' | 'https' | { protocol: 'http' | 'https'; address?: string; hostName?: string };
export type ServerSpec = string | { address: string; weight?: number; enabled?: boolean };

export interface GatehouseSpec {
  servers: readonly ServerSpec[];
  bindings?: readonly BindingSpec[];
  clientCertificates?: 'ignore' | 'accept' | 'require';
  /** Farm `protocol` keys, as written in the config. */
  protocol?: Record<string, unknown>;
  /** Default `off`. */
  accessLog?: string;
  siteName?: string;
  farmName?: string;
  /** The site's `limits` keys. */
  limits?: Record<string, unknown>;
}

/** The config (JSON, which is YAML) of one site with its bindings in front of one farm. */
export function gatehouseConfig(pki: TestPki, spec: GatehouseSpec): string {
  const bindings = (spec.bindings ?? ['http', 'https']).map((b) => {
    const binding = typeof b === 'string' ? { protocol: b } : b;
    return {
      protocol: binding.protocol,
      address: binding.address ?? '127.0.0.1',
      port: 0,
      ...(binding.hostName ? { hostName: binding.hostName } : {}),
      ...(binding.protocol === 'https' ? { certificate: { certFile: pki.server.certFile, keyFile: pki.server.keyFile } } : {}),
    };
  });
  const mode = spec.clientCertificates ?? 'ignore';
  const config = {
    accessLog: spec.accessLog ?? 'off',
    sites: [
      {
        name: spec.siteName ?? SITE,
        bindings,
        ssl: { clientCertificates: mode, ...(mode === 'ignore' ? {} : { trustedCaFile: pki.caFile }) },
        farm: spec.farmName ?? FARM,
        ...(spec.limits ? { limits: spec.limits } : {}),
      },
    ],
    farms: [
      {
        name: spec.farmName ?? FARM,
        servers: spec.servers.map((s) => (typeof s === 'string' ? { address: s } : s)),
        ...(spec.protocol ? { protocol: spec.protocol } : {}),
      },
    ],
  };
  return JSON.stringify(config, null, 2);
}

/** Starts Gatehouse for a spec and stops it when the test ends. */
export async function launch(t: Cleanup, pki: TestPki, dir: string, spec: GatehouseSpec): Promise<RunningGatehouse> {
  const running = await startGatehouse(gatehouseConfig(pki, spec), dir);
  t.after(() => running.stop());
  return running;
}

export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// ---------------------------------------------------------------------------------------------
// Raw TCP backends

export interface RawBackend {
  readonly server: NetServer;
  readonly address: string;
  readonly port: number;
  /** Request heads received, in order. */
  readonly heads: string[];
  close(): Promise<void>;
}

/**
 * A TCP server speaking just enough HTTP/1.1: for each request head (everything up to the blank line,
 * bodies are not expected) it calls `answer` with the socket. One request per head; pipelining is not used.
 */
export async function startRawBackend(answer: (socket: Socket, head: string) => void): Promise<RawBackend> {
  const heads: string[] = [];
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'), n = 0; end >= 0 && n < 100; end = pending.indexOf('\r\n\r\n'), n++) {
        const head = pending.slice(0, end);
        pending = pending.slice(end + 4);
        heads.push(head);
        answer(socket, head);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    address: `127.0.0.1:${port}`,
    heads,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// Deterministic large bodies

export const MB = 1024 * 1024;

/**
 * `totalBytes` of deterministic, non-periodic bytes in `chunkBytes` chunks (a fresh buffer per chunk,
 * since streams hold on to what they are given). `hash` is updated with every byte produced.
 */
export async function* deterministicBytes(totalBytes: number, hash: ReturnType<typeof createHash>, chunkBytes = 256 * 1024, onChunk?: () => void): AsyncGenerator<Buffer> {
  const pattern = Buffer.alloc(chunkBytes);
  for (let i = 0; i < chunkBytes; i++) pattern[i] = (i * 31 + 7) & 0xff;
  let produced = 0;
  for (let index = 0; produced < totalBytes && index < 1_000_000; index++) {
    const size = Math.min(chunkBytes, totalBytes - produced);
    const chunk = Buffer.allocUnsafe(size);
    pattern.copy(chunk, 0, 0, size);
    if (size >= 8) chunk.writeBigUInt64BE(BigInt(index), 0);
    hash.update(chunk);
    produced += size;
    onChunk?.();
    yield chunk;
  }
}

/** The DER of the first certificate in a PEM text. */
export function derOfPem(pem: string): Buffer {
  const body = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  return Buffer.from(body, 'base64');
}

export type { RunningGatehouse };
