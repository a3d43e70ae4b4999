/**
 * What Gatehouse needs of node's TLS server that node's public API does not offer, in one place. Each
 * is checked for presence when used, with the fallback or the error it names:
 * - asking for a client certificate per SNI name (TLSWrap's setVerifyMode, socket._requestCert): no
 *   fallback; without it a clear error at the first handshake that needs it;
 * - allowPartialTrustChain on the server's default context (_sharedCreds): a clear error naming the
 *   Node.js version that has it;
 * - renewing TLS 1.3 tickets on resumption (the context's ticket key callback): fallback, resumption once
 *   per full handshake;
 * - turning the SNI callback off when one binding answers every name (the server's snicallback slot):
 *   fallback, the callback stays (a little more CPU per handshake).
 */
import { randomFillSync } from 'node:crypto';
import type { Server as HttpsServer } from 'node:https';
import type { SecureContext, SecureContextOptions, TLSSocket } from 'node:tls';

/**
 * Whether this TLS connection asks for a client certificate, decided in the SNI callback (Node calls it
 * with the server-side socket as `this`, before the server sends its CertificateRequest). Node has no
 * public per-connection switch: this sets the OpenSSL verify mode on the socket's TLS handle and the
 * flag Node reads to fill in `authorized`. Without it, one site on a shared port that ignores client
 * certificates would have its clients asked for one because another site requires them.
 */
export function setClientCertificateRequest(socket: TLSSocket, isRequested: boolean): void {
  const internal = socket as TLSSocket & { _handle?: { setVerifyMode?: (request: boolean, reject: boolean) => void }; _requestCert?: boolean };
  if (typeof internal._handle?.setVerifyMode !== 'function') throw new Error('this Node.js version does not let Gatehouse choose per host name whether to ask for a client certificate');
  internal._handle.setVerifyMode(isRequested, false);
  internal._requestCert = isRequested;
}

/**
 * Node 20's tls.Server builds its default context without allowPartialTrustChain; clients without SNI
 * (and the binding without a host name) verify against that context, so set it there too.
 */
export function allowPartialTrustChainOnDefault(server: HttpsServer, options: SecureContextOptions): void {
  if (!(options as { allowPartialTrustChain?: boolean }).allowPartialTrustChain) return;
  const shared = (server as unknown as { _sharedCreds?: { context?: { setAllowPartialTrustChain?: () => void } } })._sharedCreds?.context;
  if (typeof shared?.setAllowPartialTrustChain !== 'function') {
    throw new Error('this Node.js version does not let Gatehouse trust an intermediate CA by itself on its default TLS context (allowPartialTrustChain); use Node.js 20.18 or later');
  }
  shared.setAllowPartialTrustChain();
}

/**
 * Keeps TLS 1.3 resumption going. OpenSSL sends a new session ticket after a resumed TLS 1.3 handshake
 * only when the ticket key callback asks to renew (returns 2); Node's built-in callback returns 1, so a
 * client resumes once and then needs a full handshake (every other connection is a full handshake).
 * Node has no public option for this: this installs its internal JS ticket key callback (the one Node's
 * own test-https-resume-after-renew uses) with the server's ticket keys, renewing on every decrypt.
 * Call it again after setSecureContext (a new default context).
 */
export function renewTicketsOnResumption(server: HttpsServer): void {
  type TicketCallback = (keyName: Buffer, iv: Buffer, isEncrypt: boolean) => unknown[];
  const context = (server as unknown as { _sharedCreds?: { context?: { enableTicketKeyCallback?: () => void; onticketkeycallback?: TicketCallback } } })._sharedCreds?.context;
  if (typeof context?.enableTicketKeyCallback !== 'function') return; // resumption still works, once per full handshake
  const keys = server.getTicketKeys(); // name (16) | HMAC key (16) | AES key (16), as in ticketKeys
  const name = Buffer.from(keys.subarray(0, 16));
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
}

/**
 * A listener whose only binding answers for every host name needs no SNI callback: the default context is
 * that binding's, and asking for a client certificate is already set for its site. Without a callback,
 * node completes the handshake in C++ without a round trip through JavaScript (about 5% of a new
 * connection's CPU here). Node has no public switch after creation: this sets the server's internal
 * SNI callback slot (read on every new connection), or leaves the callback on when that slot is not found.
 */
export function useSniCallback(server: HttpsServer, callback: ((servername: string, cb: (error: Error | null, context?: SecureContext) => void) => void) | undefined): void {
  const slot = Object.getOwnPropertySymbols(server).find((symbol) => symbol.description === 'snicallback');
  if (slot === undefined) return;
  (server as unknown as Record<symbol, unknown>)[slot] = callback;
}

