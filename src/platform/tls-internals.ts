/**
 * What Gatehouse needs of node's TLS server that node's public API does not offer, in one place. Each is
 * probed by behaviour, once, with a loopback handshake (probeTlsInternals; certificates made at probe
 * time), and each has a fallback, used when its probe fails or GATEHOUSE_PLATFORM_FALLBACKS names it:
 *
 * - `request-cert`: asking for a client certificate per SNI name (TLSWrap's setVerifyMode and the
 *   socket's _requestCert, which node reads to fill in `authorized`). Probe: in the SNI callback, one
 *   name asks and one does not; a certificate from the trusted CA must arrive verified (authorized), one
 *   from another CA must arrive refused (authorizationError), and the other name must not be asked, even
 *   on a server that asks by default. Fallback: the server's public requestCert option, set by
 *   serverRequestsCertificates when any binding of the listener asks; clients of a site that ignores
 *   certificates are then asked too, and what they send is ignored.
 * - `partial-trust-chain`: allowPartialTrustChain on the server's default context (_sharedCreds; node's
 *   tls.Server does not pass the option on), which clients without SNI use. Probe: a client without SNI
 *   whose certificate an intermediate issued must be authorized when only that intermediate is trusted.
 *   Fallback: clients keep their SNI callback (per-binding contexts get the option from node's public
 *   createSecureContext); clients without SNI must send a chain up to a root in trustedCaFile.
 * - `ticket-renewal`: renewing TLS 1.3 tickets on resumption (the default context's ticket key callback).
 *   Probe: a resumed handshake must bring a new ticket. Fallback: node's own callback (a client resumes
 *   once per full handshake).
 * - `sni-slot`: turning the SNI callback off when one binding answers every name (the server's
 *   Symbol(snicallback) slot). Probe: a callback put in the slot must be the one called, and none once the
 *   slot is emptied. Fallback: the callback stays (about 5% more CPU per new connection).
 */
import { randomBytes, randomFillSync } from 'node:crypto';
import { once } from 'node:events';
import type { Server as HttpsServer } from 'node:https';
import { createServer as createTlsServer, type SecureContext, type SecureContextOptions, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { forcedReason, isForced, type FallbackName } from './fallbacks.js';
import { closeServer, handshake, listenLoopback, probePki, runProbe, within, type ProbeResult } from './probe-kit.js';

type ServerWithCreds = { _sharedCreds?: { context?: { setAllowPartialTrustChain?: () => void; enableTicketKeyCallback?: () => void; onticketkeycallback?: unknown } } };
type SniCallback = (servername: string, cb: (error: Error | null, context?: SecureContext) => void) => void;

export const TLS_NAMES = ['request-cert', 'partial-trust-chain', 'ticket-renewal', 'sni-slot'] as const satisfies readonly FallbackName[];
export type TlsInternalName = (typeof TLS_NAMES)[number];

/** Whether each fast path is used: by presence until probeTlsInternals ran, then by its probe. */
const active: Record<TlsInternalName, boolean> = {
  'request-cert': !isForced('request-cert'),
  'partial-trust-chain': !isForced('partial-trust-chain'),
  'ticket-renewal': !isForced('ticket-renewal'),
  'sni-slot': !isForced('sni-slot'),
};

// ---- request-cert ----

/** The internal path: sets the socket's OpenSSL verify mode and the flag node reads for `authorized`. */
function applyVerifyMode(socket: TLSSocket, isRequested: boolean): void {
  const internal = socket as TLSSocket & { _handle?: { setVerifyMode?: (request: boolean, reject: boolean) => void }; _requestCert?: boolean };
  if (typeof internal._handle?.setVerifyMode !== 'function') throw new Error('TLS sockets have no setVerifyMode');
  internal._handle.setVerifyMode(isRequested, false);
  internal._requestCert = isRequested;
}

/**
 * Whether this TLS connection asks for a client certificate, decided in the SNI callback (Node calls it
 * with the server-side socket as `this`, before the server sends its CertificateRequest). Node has no
 * public per-connection switch. Without it, one site on a shared port that ignores client certificates
 * would have its clients asked for one because another site requires them: on the fallback this does
 * nothing, and serverRequestsCertificates has every connection of such a listener asked.
 */
export function setClientCertificateRequest(socket: TLSSocket, isRequested: boolean): void {
  if (active['request-cert']) applyVerifyMode(socket, isRequested);
}

/**
 * The https server's requestCert option for a listener: its default binding's choice while the per-SNI
 * switch works; on the fallback, true when any of its bindings asks (the public, per-server switch).
 */
export function serverRequestsCertificates(defaultBindingAsks: boolean, anyBindingAsks: boolean): boolean {
  return active['request-cert'] ? defaultBindingAsks : anyBindingAsks;
}

async function checkRequestCert(): Promise<string> {
  const pki = await probePki();
  const server = createTlsServer({
    key: pki.server.keyPem,
    cert: pki.server.certPem,
    ca: pki.root.certPem,
    requestCert: false,
    rejectUnauthorized: false,
    SNICallback(this: TLSSocket, servername: string, cb: (error: Error | null, context?: SecureContext) => void) {
      applyVerifyMode(this, servername === 'ask.probe.invalid');
      cb(null);
    },
  });
  server.on('tlsClientError', () => {});
  const port = await listenLoopback(server);
  try {
    const asked = await handshake(server, port, { servername: 'ask.probe.invalid', key: pki.client.keyPem, cert: pki.client.certPem });
    asked.client.destroy();
    if (!asked.peer) throw new Error('a name that asks for a certificate received none (not requested)');
    if (!asked.authorized) throw new Error(`a certificate from the trusted CA was not verified (authorized false, ${asked.authorizationError ?? 'no error'})`);
    const stranger = await handshake(server, port, { servername: 'ask.probe.invalid', key: pki.untrustedClient.keyPem, cert: pki.untrustedClient.certPem });
    stranger.client.destroy();
    if (!stranger.peer || stranger.authorized || !stranger.authorizationError) throw new Error('a certificate from an untrusted CA was not refused by verification');
    const quiet = await handshake(server, port, { servername: 'quiet.probe.invalid', key: pki.client.keyPem, cert: pki.client.certPem });
    quiet.client.destroy();
    if (quiet.peer) throw new Error('a name that does not ask for a certificate received one');
    (server as TlsServer & { requestCert?: boolean }).requestCert = true;
    const off = await handshake(server, port, { servername: 'quiet.probe.invalid', key: pki.client.keyPem, cert: pki.client.certPem });
    off.client.destroy();
    if (off.peer) throw new Error('a server that asks by default could not be told not to ask');
  } finally {
    await closeServer(server);
  }
  return 'per-SNI name, a certificate was asked for and verified (trusted: authorized; untrusted: refused), or not asked for';
}

// ---- partial-trust-chain ----

/** Servers whose default context could not get allowPartialTrustChain: they keep their SNI callback. */
const partialOnSniOnly = new WeakSet<object>();

function applyPartialTrustChain(server: object): void {
  const shared = (server as ServerWithCreds)._sharedCreds?.context;
  if (typeof shared?.setAllowPartialTrustChain !== 'function') throw new Error("the server's default context has no setAllowPartialTrustChain");
  shared.setAllowPartialTrustChain();
}

/**
 * Node's tls.Server builds its default context without allowPartialTrustChain; clients without SNI (and
 * the binding without a host name) verify against that context, so set it there too. On the fallback
 * the server keeps its SNI callback (see useSniCallback), so clients that send SNI get the binding's own
 * context, which has it.
 */
export function allowPartialTrustChainOnDefault(server: HttpsServer, options: SecureContextOptions): void {
  if (!(options as { allowPartialTrustChain?: boolean }).allowPartialTrustChain) return;
  if (active['partial-trust-chain']) {
    try {
      applyPartialTrustChain(server);
      return;
    } catch {
      active['partial-trust-chain'] = false; // found missing before the probe ran: the fallback from now on
    }
  }
  partialOnSniOnly.add(server);
}

async function checkPartialTrustChain(): Promise<string> {
  const pki = await probePki();
  const server = createTlsServer({ key: pki.server.keyPem, cert: pki.server.certPem, ca: pki.intermediate.certPem, requestCert: true, rejectUnauthorized: false });
  server.on('tlsClientError', () => {});
  applyPartialTrustChain(server);
  const port = await listenLoopback(server);
  try {
    // No servername: an IP address sends no SNI, so the default context verifies.
    const seen = await handshake(server, port, { key: pki.clientViaIntermediate.keyPem, cert: pki.clientViaIntermediate.certPem });
    seen.client.destroy();
    if (!seen.peer) throw new Error('the client certificate was not received');
    if (!seen.authorized) throw new Error(`a client certificate of a trusted intermediate (no root) was not verified on the default context (${seen.authorizationError ?? 'no error'})`);
  } finally {
    await closeServer(server);
  }
  return 'a client without SNI was verified against a trusted intermediate alone on the default context';
}

// ---- ticket-renewal ----

function applyTicketRenewal(server: object, keys: Buffer): boolean {
  type TicketCallback = (keyName: Buffer, iv: Buffer, isEncrypt: boolean) => unknown[];
  const context = (server as ServerWithCreds)._sharedCreds?.context as { enableTicketKeyCallback?: () => void; onticketkeycallback?: TicketCallback } | undefined;
  if (typeof context?.enableTicketKeyCallback !== 'function') return false;
  const name = Buffer.from(keys.subarray(0, 16)); // name (16) | HMAC key (16) | AES key (16), as in ticketKeys
  const hmac = Buffer.from(keys.subarray(16, 32));
  const aes = Buffer.from(keys.subarray(32, 48));
  context.enableTicketKeyCallback();
  // OpenSSL asks for a fresh IV for each ticket (two per full TLS 1.3 handshake) and copies it before the
  // callback returns: views of one CSPRNG block, refilled when used up, spare a randomBytes call each.
  const ivs = Buffer.allocUnsafe(16 * 256);
  let nextIv = ivs.length;
  context.onticketkeycallback = (keyName, _iv, isEncrypt) => {
    if (isEncrypt) {
      if (nextIv === ivs.length) {
        randomFillSync(ivs);
        nextIv = 0;
      }
      const iv = ivs.subarray(nextIv, nextIv + 16);
      nextIv += 16;
      return [1, hmac, aes, name, iv];
    }
    return keyName.equals(name) ? [2, hmac, aes] : [0, hmac, aes];
  };
  return true;
}

/**
 * Keeps TLS 1.3 resumption going. OpenSSL sends a new session ticket after a resumed TLS 1.3 handshake
 * only when the ticket key callback asks to renew (returns 2); Node's built-in callback returns 1, so a
 * client resumes once and then needs a full handshake (every other connection is a full handshake).
 * Node has no public option for this: this installs its internal JS ticket key callback (the one Node's
 * own test-https-resume-after-renew uses) with the server's ticket keys, renewing on every decrypt.
 * Call it again after setSecureContext (a new default context). On the fallback it does nothing.
 */
export function renewTicketsOnResumption(server: HttpsServer): void {
  if (!active['ticket-renewal']) return;
  if (!applyTicketRenewal(server, server.getTicketKeys())) active['ticket-renewal'] = false; // resumption still works, once per full handshake
}

async function checkTicketRenewal(): Promise<string> {
  const pki = await probePki();
  const server = createTlsServer({ key: pki.server.keyPem, cert: pki.server.certPem, ticketKeys: randomBytes(48), minVersion: 'TLSv1.3' });
  server.on('tlsClientError', () => {});
  // After the handshake the server writes a byte and closes: tickets are sent before it, so by the client's
  // 'close' every ticket the handshake brought has been seen (Node 20 and 22 report them after the byte).
  server.on('secureConnection', (socket: TLSSocket) => {
    socket.on('error', () => {});
    socket.end('x');
  });
  if (!applyTicketRenewal(server, server.getTicketKeys())) throw new Error("the server's default context has no ticket key callback");
  const port = await listenLoopback(server);
  const connectOnce = async (session: Buffer | undefined) => {
    let ticket: Buffer | undefined;
    let closed!: Promise<void>;
    const seen = await handshake(server, port, { servername: 'localhost', ...(session ? { session } : {}) }, (client) => {
      client.on('session', (next: Buffer) => (ticket = next));
      client.resume();
      closed = once(client, 'close').then(() => undefined);
      closed.catch(() => {}); // awaited below, unless the handshake failed first
    });
    await within(closed, 2_000, "the server's close after its byte");
    seen.client.destroy();
    return { ticket, isResumed: seen.isResumed };
  };
  try {
    const first = await connectOnce(undefined);
    if (!first.ticket) throw new Error('a full handshake brought no session ticket');
    const second = await connectOnce(first.ticket);
    if (!second.isResumed) throw new Error('the ticket of a full handshake did not resume');
    if (!second.ticket) throw new Error('a resumed handshake brought no new ticket (not renewed)');
    const third = await connectOnce(second.ticket);
    if (!third.isResumed) throw new Error('a renewed ticket did not resume');
  } finally {
    await closeServer(server);
  }
  return 'a resumed TLS 1.3 handshake brought a new ticket, which resumed in turn';
}

// ---- sni-slot ----

function sniSlotOf(server: object): symbol | undefined {
  return Object.getOwnPropertySymbols(server).find((symbol) => symbol.description === 'snicallback');
}

/**
 * A listener whose only binding answers for every host name needs no SNI callback: the default context is
 * that binding's, and asking for a client certificate is already set for its site. Without a callback,
 * node completes the handshake in C++ without a round trip through JavaScript (about 5% of a new
 * connection's CPU here). Node has no public switch after creation: this sets the server's internal
 * SNI callback slot (read on every new connection). On the fallback the callback stays; it stays too on
 * a server whose default context lacks partial trust chains (allowPartialTrustChainOnDefault).
 */
export function useSniCallback(server: HttpsServer, callback: SniCallback | undefined): void {
  if (!active['sni-slot']) return;
  if (callback === undefined && partialOnSniOnly.has(server)) return;
  const slot = sniSlotOf(server);
  if (slot === undefined) {
    active['sni-slot'] = false;
    return;
  }
  (server as unknown as Record<symbol, unknown>)[slot] = callback;
}

async function checkSniSlot(): Promise<string> {
  const pki = await probePki();
  const calls: string[] = [];
  const named = (name: string): SniCallback => (_servername, cb) => {
    calls.push(name);
    cb(null);
  };
  const server = createTlsServer({ key: pki.server.keyPem, cert: pki.server.certPem, SNICallback: named('constructor') });
  server.on('tlsClientError', () => {});
  const slot = sniSlotOf(server);
  if (slot === undefined) throw new Error('the server has no Symbol(snicallback) slot');
  const port = await listenLoopback(server);
  try {
    (server as unknown as Record<symbol, unknown>)[slot] = named('slot');
    (await handshake(server, port, { servername: 'probe.invalid' })).client.destroy();
    if (calls.join() !== 'slot') throw new Error(`a callback put in the slot was not the one called (${calls.join() || 'none'} was)`);
    (server as unknown as Record<symbol, unknown>)[slot] = undefined;
    (await handshake(server, port, { servername: 'probe.invalid' })).client.destroy();
    if (calls.join() !== 'slot') throw new Error('a callback was still called after the slot was emptied');
  } finally {
    await closeServer(server);
  }
  return 'the callback in the slot was the one called, and none once the slot was emptied';
}

// ---- probes ----

const checks: Record<TlsInternalName, () => Promise<string>> = {
  'request-cert': checkRequestCert,
  'partial-trust-chain': checkPartialTrustChain,
  'ticket-renewal': checkTicketRenewal,
  'sni-slot': checkSniSlot,
};

let probing: Promise<Record<TlsInternalName, ProbeResult>> | undefined;

/** Runs the four probes once (concurrently); from then on each fast path is used only if its probe passed. */
export function probeTlsInternals(): Promise<Record<TlsInternalName, ProbeResult>> {
  return (probing ??= (async () => {
    const results = await Promise.all(TLS_NAMES.map(async (name) => [name, await runProbe(checks[name])] as const));
    const out = {} as Record<TlsInternalName, ProbeResult>;
    for (const [name, result] of results) {
      out[name] = isForced(name) ? { isActive: false, reason: `${forcedReason(name)} (probe: ${result.reason})` } : result;
      active[name] = out[name].isActive;
    }
    return out;
  })());
}
