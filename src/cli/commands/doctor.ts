/**
 * `gatehouse doctor`: what this Node.js gives Gatehouse. Prints the Node version and platform, then each
 * Node internal Gatehouse uses (src/platform/), probed by behaviour: whether its fast path is active or
 * which fallback is in use and why, and whether HTTP/2 is safe on this Node. Always exits 0: it reports.
 */
import { FALLBACKS_ENV } from '../../platform/fallbacks.js';
import { probePlatform, type PlatformCheck } from '../../platform/probes.js';

function line(check: PlatformCheck): string {
  const head = `${check.name.padEnd(22)} ${check.status === 'active' ? 'active  ' : check.status === 'fallback' ? 'FALLBACK' : 'MISSING '}`;
  const detail =
    check.status === 'active'
      ? `${check.internal}\n${' '.repeat(35)}probe: ${check.reason}`
      : `${check.internal}\n${' '.repeat(35)}${check.status === 'fallback' ? `using: ${check.fallback}` : 'no fallback: Gatehouse cannot start'}\n${' '.repeat(35)}why: ${check.reason}`;
  return `  ${head}  ${detail}`;
}

export async function doctorCommand(options: { json?: boolean }): Promise<number> {
  const report = await probePlatform({ http2: true });
  if (options.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  }
  const http2 = report.checks.find((check) => check.name === 'http2');
  const fallbacks = report.checks.filter((check) => check.status !== 'active');
  const out = [
    `Node.js    ${report.node}`,
    `platform   ${report.platform}, OpenSSL ${report.openssl}`,
    `forced     ${process.env[FALLBACKS_ENV] ? `${FALLBACKS_ENV}=${process.env[FALLBACKS_ENV]}` : 'none'}`,
    ...(report.unknownFallbacks.length > 0 ? [`           ${FALLBACKS_ENV} names no internal called ${report.unknownFallbacks.join(', ')} (ignored); names: ${report.checks.filter((c) => c.name !== 'parser').map((c) => c.name).join(', ')}`] : []),
    `HTTP/2     ${http2?.status === 'active' ? 'safe on this Node' : `off: ${(http2?.reason ?? 'not probed').replace(/^HTTP\/2 is off: /, '')}`}`,
    '',
    'fast paths (node internals, probed by behaviour):',
    ...report.checks.map(line),
    '',
    fallbacks.length === 0 ? 'every fast path is active' : `${fallbacks.length} fallback${fallbacks.length === 1 ? '' : 's'} in use: ${fallbacks.map((check) => check.name).join(', ')}`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}
