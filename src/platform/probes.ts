/**
 * Every Node internal Gatehouse uses, its probe and its fallback, in one table; probePlatform runs every
 * probe once (concurrently, a few loopback connections and handshakes: tens of milliseconds) and sets each
 * fast path from its result, before anything listens. `gatehouse doctor` prints the report;
 * `gatehouse start` logs fallbackSummary's line when one is in use.
 */
import { FALLBACK_NAMES, FALLBACKS_ENV, forcedReason, isForced, unknownFallbackNames, type FallbackName } from './fallbacks.js';
import { parserProbe, probeSocketReads } from './llhttp.js';
import { probeTlsInternals } from './tls-internals.js';
import { probeGetCertificate } from './certificates.js';
import { probeCloseAllConnections } from './connections.js';
import { probePauseOnConnect } from './connection-gate.js';
import { ensureHttp2Probed } from './http2-probe.js';
import type { ProbeResult } from './probe-kit.js';

export interface PlatformInternal {
  /** The GATEHOUSE_PLATFORM_FALLBACKS name; `parser` has none (no fallback). */
  readonly name: FallbackName | 'parser';
  /** What Gatehouse uses of node, and for what. */
  readonly internal: string;
  /** How the probe tries it. */
  readonly probe: string;
  /** What is used instead when the probe fails or the name is forced. */
  readonly fallback: string;
}

/** The table (doctor prints it in this order; docs/architecture.md lists the same). */
export const PLATFORM_INTERNALS: readonly PlatformInternal[] = [
  {
    name: 'parser',
    internal: "_http_common.HTTPParser (llhttp) and its kOn* callback slots: node's own parser for farm responses",
    probe: 'canned responses: callbacks in order, HEAD body skipped, oversized head refused (at load)',
    fallback: 'none: Gatehouse does not start (a lenient parser would let malformed framing through)',
  },
  {
    name: 'consume',
    internal: 'HTTPParser.consume(handle) and kOnExecute: the parser reads farm sockets in C++',
    probe: 'a loopback response must reach the parser through kOnExecute',
    fallback: "the parser is fed from the socket's 'data' events",
  },
  {
    name: 'read-stop',
    internal: "the socket handle's readStop/readStart/reading: back-pressure on a consumed socket",
    probe: 'nothing is read between readStop and readStart, everything after',
    fallback: "'data' events with the stream's pause/resume",
  },
  {
    name: 'unref-timer',
    internal: "socket._unrefTimer(): refreshes a consumed socket's inactivity timer",
    probe: 'refreshing holds a socket timeout off, which fires once refreshing stops',
    fallback: "'data' events (node:net refreshes the timer itself)",
  },
  {
    name: 'request-cert',
    internal: "TLSWrap.setVerifyMode and socket._requestCert: asking for a client certificate per SNI name",
    probe: 'loopback handshakes: asked and verified for one name (trusted: authorized; untrusted: refused), not asked for another',
    fallback: "the server's public requestCert when any binding of the listener asks (clients of a site that ignores certificates are asked too)",
  },
  {
    name: 'sni-slot',
    internal: "the https server's Symbol(snicallback) slot: no SNI callback when one binding answers every name",
    probe: 'the callback put in the slot is the one called, and none once emptied',
    fallback: 'the SNI callback stays (about 5% more CPU per new TLS connection)',
  },
  {
    name: 'partial-trust-chain',
    internal: "server._sharedCreds.context.setAllowPartialTrustChain(): trusted intermediates on the default context",
    probe: 'a client without SNI, certificate from a trusted intermediate (no root), is authorized',
    fallback: 'the SNI callback stays; clients without SNI need a chain up to a root in trustedCaFile',
  },
  {
    name: 'ticket-renewal',
    internal: "server._sharedCreds.context ticket key callback: new TLS 1.3 tickets on resumption",
    probe: 'a resumed TLS 1.3 handshake brings a new ticket, which resumes',
    fallback: "node's own ticket callback: a client resumes once per full handshake",
  },
  {
    name: 'get-certificate',
    internal: 'SecureContext.context.getCertificate(): the leaf a PFX gives a binding',
    probe: 'contexts from a generated certificate (PEM and PFX) return its DER',
    fallback: 'a loopback handshake with the PFX: the certificate a client receives',
  },
  {
    name: 'close-all-connections',
    internal: "node:http's closeAllConnections called on an http2 server: its HTTP/1.1 connections at a drain's end",
    probe: 'an http2 server closes an HTTP/1.1 connection with a request in progress',
    fallback: "connections tracked from 'secureConnection'/'connection' events and destroyed",
  },
  {
    name: 'pause-on-connect',
    internal: 'net.Server pauseOnConnect set as a property: maxConnections connections wait, unread',
    probe: 'a connection to a server given the property arrives paused',
    fallback: "node's maxConnections: connections past the limit are closed",
  },
  {
    name: 'http2',
    internal: "node:http2 servers (this Node's HTTP/2 survives a known remote crash)",
    probe: 'a known crashing input sent to an HTTP/2 server in a child process',
    fallback: 'https bindings offer HTTP/1.1 only',
  },
];

export type CheckStatus = 'active' | 'fallback' | 'unavailable' | 'not probed';

export interface PlatformCheck extends PlatformInternal {
  /** active: the fast path is used; fallback: its fallback is; unavailable: required and missing. */
  readonly status: CheckStatus;
  /** The probe's finding (or why it was not run). */
  readonly reason: string;
}

export interface PlatformReport {
  readonly node: string;
  readonly platform: string;
  readonly openssl: string;
  readonly checks: readonly PlatformCheck[];
  /** Names in GATEHOUSE_PLATFORM_FALLBACKS that match no internal. */
  readonly unknownFallbacks: readonly string[];
}

let probed: Promise<Record<string, ProbeResult>> | undefined;
let http2Result: ProbeResult | undefined;

/**
 * Set by a cluster primary for its workers (with the fallbacks its probes chose forced by name): the same
 * node binary on the same machine, so a worker takes the primary's verdicts instead of probing again.
 */
export const PROBED_ENV = 'GATEHOUSE_PLATFORM_PROBED';
const isProbedByPrimary = process.env[PROBED_ENV] === '1';

/** The environment a primary gives its workers: every fallback its probes chose (or were forced) by name. */
export function workerPlatformEnv(platform: PlatformReport): Record<string, string> {
  const names = new Set(platform.checks.filter((check) => check.status === 'fallback').map((check) => check.name as string));
  for (const name of FALLBACK_NAMES) if (isForced(name)) names.add(name);
  return { [FALLBACKS_ENV]: [...names].join(','), [PROBED_ENV]: '1' };
}

/** A worker's results: the primary's verdicts, carried by the environment. */
function fromPrimary(): Record<string, ProbeResult> {
  const results: Record<string, ProbeResult> = { parser: parserProbe };
  for (const name of FALLBACK_NAMES) {
    if (name === 'http2') continue;
    results[name] = isForced(name) ? { isActive: false, reason: `${forcedReason(name)} (the primary's verdict)` } : { isActive: true, reason: "the primary process's probe passed" };
  }
  return results;
}

/**
 * Runs every probe once and sets each fast path (memoized). `http2`: also run the HTTP/2 crash probe (a
 * child process; start runs it only when a binding offers HTTP/2, doctor always).
 */
export async function probePlatform(options: { http2?: boolean } = {}): Promise<PlatformReport> {
  probed ??= isProbedByPrimary ? Promise.resolve(fromPrimary()) : (async () => {
    const [reads, tls, getCertificate, closeAll, pause] = await Promise.all([probeSocketReads(), probeTlsInternals(), probeGetCertificate(), probeCloseAllConnections(), probePauseOnConnect()]);
    return { parser: parserProbe, ...reads, ...tls, 'get-certificate': getCertificate, 'close-all-connections': closeAll, 'pause-on-connect': pause };
  })();
  const results = await probed;
  if (options.http2 && !http2Result && isProbedByPrimary && !isForced('http2')) http2Result = { isActive: true, reason: "the primary process's probe passed" };
  if (options.http2 && !http2Result) {
    const http2 = await ensureHttp2Probed();
    http2Result = http2.isSafe ? { isActive: true, reason: 'the known crashing input did not crash an HTTP/2 server in a child process' } : { isActive: false, reason: http2.reason };
  }
  return report({ ...results, ...(http2Result ? { http2: http2Result } : {}) });
}

function report(results: Record<string, ProbeResult>): PlatformReport {
  const checks = PLATFORM_INTERNALS.map((entry): PlatformCheck => {
    const result = results[entry.name];
    if (!result) return { ...entry, status: 'not probed', reason: 'not probed' };
    const status: CheckStatus = result.isActive ? 'active' : entry.name === 'parser' ? 'unavailable' : 'fallback';
    return { ...entry, status, reason: result.reason };
  });
  return { node: process.version, platform: `${process.platform} ${process.arch}`, openssl: process.versions.openssl ?? '?', checks, unknownFallbacks: unknownFallbackNames };
}

/**
 * One line naming each fallback in use and why, for `gatehouse start`'s log; undefined when every fast
 * path is active (and no unknown name is forced).
 */
export function fallbackSummary(platform: PlatformReport): string | undefined {
  const parts = platform.checks.filter((check) => check.status === 'fallback' || check.status === 'unavailable').map((check) => `${check.name} (${check.reason})`);
  if (platform.unknownFallbacks.length > 0) parts.push(`${FALLBACKS_ENV} names no internal called ${platform.unknownFallbacks.join(', ')} (ignored)`);
  return parts.length === 0 ? undefined : `platform fallbacks in use on Node.js ${platform.node}: ${parts.join('; ')}`;
}

/** The problem that keeps Gatehouse from starting (a required internal is missing), or undefined. */
export function platformProblem(platform: PlatformReport): string | undefined {
  const missing = platform.checks.find((check) => check.status === 'unavailable');
  return missing ? missing.reason : undefined;
}
