/**
 * GATEHOUSE_PLATFORM_FALLBACKS: a comma-separated list of the fast paths to leave off, so their fallback
 * is used whatever the probes find (tests run the behaviour with each one forced; an operator can turn
 * one off that misbehaves). One name per Node internal (see platform/probes.ts for what each is); `all`
 * forces every one. Read once, when this module loads.
 */

/** The names, in the order `gatehouse doctor` prints them. */
export const FALLBACK_NAMES = [
  'consume',
  'read-stop',
  'unref-timer',
  'request-cert',
  'sni-slot',
  'partial-trust-chain',
  'ticket-renewal',
  'get-certificate',
  'close-all-connections',
  'pause-on-connect',
  'http2',
] as const;

export type FallbackName = (typeof FALLBACK_NAMES)[number];

export const FALLBACKS_ENV = 'GATEHOUSE_PLATFORM_FALLBACKS';

const listed = (process.env[FALLBACKS_ENV] ?? '')
  .split(',')
  .map((name) => name.trim().toLowerCase())
  .filter((name) => name !== '');

const isAll = listed.includes('all');

/** Whether the environment forces this fast path off. */
export function isForced(name: FallbackName): boolean {
  return isAll || listed.includes(name);
}

/** Names in the variable that are none of FALLBACK_NAMES (a typo forces nothing: doctor and start say so). */
export const unknownFallbackNames: readonly string[] = listed.filter((name) => name !== 'all' && !(FALLBACK_NAMES as readonly string[]).includes(name));

/** The probe's reason when the environment forced a fallback. */
export function forcedReason(name: FallbackName): string {
  return `forced by ${FALLBACKS_ENV}=${isAll ? 'all' : name}`;
}
