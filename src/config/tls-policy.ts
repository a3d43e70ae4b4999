/**
 * The TLS policy of an https binding (what IIS administrators set with IIS Crypto): protocol versions,
 * TLS 1.2 ciphers, TLS 1.3 suites, key-exchange groups, session resumption. The default is Mozilla's
 * "intermediate" profile without DHE: ECDHE key exchange with AES-GCM or ChaCha20-Poly1305, no CBC, no
 * SHA-1 MAC, no RSA key exchange. Each policy is tried on OpenSSL when the config loads, so a string
 * OpenSSL refuses is a config error, and known-weak choices are warnings.
 */
import { createSecureContext, type SecureContextOptions, type SecureVersion } from 'node:tls';
import { z } from 'zod';
import type { Problem } from './problem.js';

type Path = readonly (string | number)[];

export const DEFAULT_CIPHERS = 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305';
export const DEFAULT_CIPHER_SUITES = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';
export const DEFAULT_CURVES = 'X25519:P-256:P-384';

const version = z.enum(['TLSv1.2', 'TLSv1.3']);

export const tlsPolicySchema = z
  .strictObject({
    minVersion: version.default('TLSv1.2').describe('Lowest protocol version: `TLSv1.2` (default) or `TLSv1.3`. TLS 1.0 and 1.1 are never offered.'),
    maxVersion: version.default('TLSv1.3').describe('Highest protocol version: `TLSv1.3` (default) or `TLSv1.2`.'),
    ciphers: z.string().min(1).default(DEFAULT_CIPHERS).describe(`OpenSSL cipher string for TLS 1.2. Default (Mozilla intermediate, without DHE): \`${DEFAULT_CIPHERS}\`.`),
    cipherSuites: z.string().min(1).default(DEFAULT_CIPHER_SUITES).describe(`TLS 1.3 cipher suites, \`:\`-separated. Default \`${DEFAULT_CIPHER_SUITES}\`.`),
    curves: z.string().min(1).default(DEFAULT_CURVES).describe(`Key-exchange groups, in order of preference. Default \`${DEFAULT_CURVES}\`.`),
    sessionResumption: z.boolean().default(true).describe('Resume TLS sessions with tickets (faster reconnects). Default true; off on a port shared by several bindings whatever this says (a session made for one site must not open another).'),
  })
  .describe('TLS policy of an https binding (IIS Crypto\'s settings). Bindings that share an address and port must have the same policy: OpenSSL picks versions and ciphers before the SNI name picks a binding.');

export type TlsPolicy = z.output<typeof tlsPolicySchema>;

export const DEFAULT_TLS_POLICY: TlsPolicy = Object.freeze(tlsPolicySchema.parse({}));

/** The node options a policy sets (the TLS 1.2 ciphers and TLS 1.3 suites go in one `ciphers` string). */
export function tlsPolicyOptions(policy: TlsPolicy): { minVersion: SecureVersion; maxVersion: SecureVersion; ciphers: string; ecdhCurve: string; honorCipherOrder: boolean } {
  return {
    minVersion: policy.minVersion,
    maxVersion: policy.maxVersion,
    ciphers: `${policy.cipherSuites}:${policy.ciphers}`,
    ecdhCurve: policy.curves,
    honorCipherOrder: false, // Mozilla intermediate: the client picks among what the policy allows
  };
}

/** Cipher-string tokens that name something weak (tokens prefixed with ! or - remove, so they are fine). */
const WEAK: [RegExp, string][] = [
  [/^(?:ALL|DEFAULT|HIGH|MEDIUM|LOW|COMPLEMENTOFDEFAULT|kRSA|RSA|aRSA)$/, 'a broad set that includes CBC, SHA-1 or RSA key-exchange suites'],
  [/(?:^|-)(?:RC4|3DES|DES|IDEA|SEED|NULL|EXP|EXPORT|MD5|CAMELLIA)(?:-|$)/, 'a broken or obsolete algorithm'],
  [/-CBC-|^(?:ECDHE-|DHE-)?(?:ECDSA-|RSA-)?AES(?:128|256)-SHA(?:256|384)?$/, 'CBC mode (padding-oracle attacks)'],
  [/-SHA$/, 'a SHA-1 MAC'],
  [/^(?:AES|CHACHA|CAMELLIA|ARIA)/, 'RSA key exchange (no forward secrecy)'],
];

function weakTokens(ciphers: string): string[] {
  const found: string[] = [];
  for (const token of ciphers.split(/[:, ]+/)) {
    if (token === '' || token.startsWith('!') || token.startsWith('-') || token.startsWith('@')) continue;
    const name = token.replace(/^\+/, '');
    const weak = WEAK.find(([pattern]) => pattern.test(name));
    if (weak) found.push(`${name} (${weak[1]})`);
  }
  return found;
}

/** Tries the policy on OpenSSL: problems for what it refuses, warnings for known-weak choices. */
export function checkTlsPolicy(policy: TlsPolicy, at: Path, problems: Problem[], warnings: Problem[]): void {
  if (policy.minVersion === 'TLSv1.3' && policy.maxVersion === 'TLSv1.2') {
    problems.push({ path: [...at, 'maxVersion'], message: 'maxVersion TLSv1.2 is below minVersion TLSv1.3', expected: 'maxVersion at least minVersion' });
    return;
  }
  const tries: [keyof TlsPolicy, SecureContextOptions, string][] = [
    ['ciphers', { ciphers: policy.ciphers, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }, 'an OpenSSL cipher string that names at least one TLS 1.2 cipher, e.g. ECDHE-RSA-AES128-GCM-SHA256'],
    ['cipherSuites', { ciphers: `${policy.cipherSuites}:${DEFAULT_CIPHERS}` }, 'TLS 1.3 suites such as TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256'],
    ['curves', { ecdhCurve: policy.curves }, 'groups OpenSSL knows, e.g. X25519:P-256:P-384'],
  ];
  for (const [key, options, expected] of tries) {
    try {
      createSecureContext(options);
    } catch (error) {
      problems.push({ path: [...at, key], message: `OpenSSL refuses ${JSON.stringify(policy[key])}: ${(error as Error).message}`, expected });
    }
  }
  if (policy.cipherSuites.split(':').some((suite) => suite !== '' && !suite.startsWith('TLS_'))) {
    problems.push({ path: [...at, 'cipherSuites'], message: `${JSON.stringify(policy.cipherSuites)} holds names that are not TLS 1.3 suites`, expected: 'TLS 1.3 suite names, each starting with TLS_' });
  }
  if (policy.maxVersion === 'TLSv1.2' || policy.minVersion === 'TLSv1.2') {
    const weak = weakTokens(policy.ciphers);
    if (weak.length > 0) warnings.push({ path: [...at, 'ciphers'], message: `the TLS 1.2 ciphers include ${weak.join(', ')}`, expected: "ECDHE with AES-GCM or ChaCha20-Poly1305 (Mozilla's intermediate profile, the default)" });
  }
}
