/**
 * src/platform/: each probe tries its internal by behaviour. On this Node every fast path passes; with
 * the internal broken the way a Node release could break it (renamed, a no-op, a slot that moved), its
 * probe fails and its fallback is chosen while the others stay active. Each breakage runs in a child
 * process (probes run once per process, and the breakage is global); the summary line and the
 * environment switch are checked too.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FALLBACK_NAMES } from '../../src/platform/fallbacks.js';
import { fallbackSummary, PLATFORM_INTERNALS, platformProblem, probePlatform, type PlatformCheck, type PlatformReport } from '../../src/platform/probes.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

interface ChildReport {
  statuses: Record<string, string>;
  reasons: Record<string, string>;
  readsInParser: boolean;
  summary: string | null;
}

/** Runs the probes in a child after `breakage` (CommonJS `require` is available to it). */
function probeInChild(breakage: string, env: Record<string, string> = {}): Promise<ChildReport> {
  const script = `
    import { createRequire } from 'node:module';
    const require = createRequire(process.cwd() + '/');
    ${breakage}
    const { probePlatform, fallbackSummary } = await import('./dist/src/platform/probes.js');
    const { readsInParser } = await import('./dist/src/platform/llhttp.js');
    const report = await probePlatform();
    const { readsInParser: after } = await import('./dist/src/platform/llhttp.js');
    console.log(JSON.stringify({
      statuses: Object.fromEntries(report.checks.map((c) => [c.name, c.status])),
      reasons: Object.fromEntries(report.checks.map((c) => [c.name, c.reason])),
      readsInParser: after,
      summary: fallbackSummary(report) ?? null,
    }));
    process.exit(0);`;
  return new Promise((resolve, reject) => {
    const { NODE_TEST_CONTEXT: _, GATEHOUSE_PLATFORM_FALLBACKS: __, ...inherited } = process.env;
    execFile(process.execPath, ['--no-deprecation', '--input-type=module', '-e', script], { cwd: root, env: { ...inherited, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`${error.message}\n${stderr}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop() as string) as ChildReport);
    });
  });
}

/** Every check other than `names` (and http2, not probed here) is active; the parser, when named, is unavailable. */
function assertOnly(report: ChildReport, names: readonly string[]): void {
  for (const [name, actual] of Object.entries(report.statuses)) {
    if (name === 'http2') assert.equal(actual, 'not probed');
    else if (names.includes(name)) assert.equal(actual, name === 'parser' ? 'unavailable' : 'fallback', `${name}: ${report.reasons[name]}`);
    else assert.equal(actual, 'active', `${name} should stay active: ${report.reasons[name]}`);
  }
}

const probeNames = FALLBACK_NAMES.filter((name) => name !== 'http2');

test('on this Node every fast path passes its probe (HTTP/2 is probed only when asked)', async () => {
  const report = await probePlatform();
  for (const check of report.checks) {
    if (check.name === 'http2') assert.equal(check.status, 'not probed');
    else assert.equal(check.status, 'active', `${check.name}: ${check.reason}`);
  }
  assert.equal(platformProblem(report), undefined);
  assert.equal(fallbackSummary(report), undefined);
  // Memoized: the same results, no second run.
  assert.deepEqual((await probePlatform()).checks, report.checks);
});

test('the table names every internal once, with a probe and a fallback, in the env names', () => {
  assert.deepEqual(
    PLATFORM_INTERNALS.map((entry) => entry.name),
    ['parser', ...FALLBACK_NAMES],
  );
  for (const entry of PLATFORM_INTERNALS) {
    assert.ok(entry.internal.length > 0 && entry.probe.length > 0 && entry.fallback.length > 0, entry.name);
  }
});

describe('a broken internal is caught by its probe, and only its fast path falls back', () => {
  const breakages: { name: string; what: string; code: string; expect: string[]; reason: RegExp }[] = [
    {
      name: 'parser',
      what: "the parser's body and end slots swapped",
      code: "const { HTTPParser } = require('_http_common'); const body = HTTPParser.kOnBody; HTTPParser.kOnBody = HTTPParser.kOnMessageComplete; HTTPParser.kOnMessageComplete = body;",
      // Without a parser the socket-read fast paths cannot be tried either.
      expect: ['parser', 'consume', 'read-stop', 'unref-timer'],
      reason: /a canned (chunked )?response/,
    },
    {
      name: 'consume',
      what: 'consume() a no-op',
      code: "require('_http_common').HTTPParser.prototype.consume = function () {};",
      expect: ['consume', 'read-stop', 'unref-timer'],
      reason: /kOnExecute/,
    },
    {
      name: 'read-stop',
      what: "the TCP handle's readStop a no-op",
      code: "const net = require('node:net'); const s = net.connect(9, '127.0.0.1'); s.on('error', () => {}); Object.getPrototypeOf(s._handle).readStop = function () { return 0; }; s.destroy();",
      expect: ['read-stop', 'consume', 'unref-timer'],
      reason: /bytes were read after readStop/,
    },
    {
      name: 'unref-timer',
      what: '_unrefTimer a no-op',
      code: "require('node:net').Socket.prototype._unrefTimer = function () {};",
      expect: ['unref-timer', 'consume', 'read-stop'],
      reason: /fired before one set later/,
    },
    {
      name: 'request-cert',
      what: '_requestCert renamed (node no longer reads what Gatehouse writes)',
      // node's own write (when the socket is made) sticks; a later one (Gatehouse's, in the SNI callback) is lost.
      code: "const kept = new WeakMap(); Object.defineProperty(require('node:tls').TLSSocket.prototype, '_requestCert', { get() { return kept.get(this) ?? false; }, set(value) { if (!kept.has(this)) kept.set(this, value); }, configurable: true });",
      expect: ['request-cert'],
      reason: /was not verified \(authorized false/,
    },
    {
      name: 'request-cert',
      what: 'setVerifyMode a no-op',
      code: "const tls = require('node:tls'); const net = require('node:net'); Object.getPrototypeOf(new tls.TLSSocket(new net.Socket())._handle).setVerifyMode = function () {};",
      // A no-op setVerifyMode also keeps node's own requestCert from asking: partial-trust-chain's probe sees no certificate.
      expect: ['request-cert', 'partial-trust-chain'],
      reason: /received none \(not requested\)/,
    },
    {
      name: 'sni-slot',
      what: 'the SNI callback slot renamed',
      code: "const own = Object.getOwnPropertySymbols; Object.getOwnPropertySymbols = (o) => own(o).filter((s) => s.description !== 'snicallback');",
      expect: ['sni-slot'],
      reason: /no Symbol\(snicallback\) slot/,
    },
    {
      name: 'partial-trust-chain',
      what: 'setAllowPartialTrustChain a no-op',
      code: "Object.getPrototypeOf(require('node:tls').createSecureContext().context).setAllowPartialTrustChain = function () {};",
      expect: ['partial-trust-chain'],
      reason: /trusted intermediate \(no root\) was not verified/,
    },
    {
      name: 'ticket-renewal',
      what: 'the ticket key callback never installed',
      code: "Object.getPrototypeOf(require('node:tls').createSecureContext().context).enableTicketKeyCallback = function () {};",
      expect: ['ticket-renewal'],
      reason: /(no new ticket|no session ticket)/,
    },
    {
      name: 'get-certificate',
      what: 'getCertificate returning nothing',
      code: "Object.getPrototypeOf(require('node:tls').createSecureContext().context).getCertificate = function () { return null; };",
      expect: ['get-certificate'],
      reason: /did not return the leaf/,
    },
    {
      name: 'close-all-connections',
      what: "node:http's closeAllConnections no longer closing an http2 server's connections",
      code: "const http = require('node:http'); const own = http.Server.prototype.closeAllConnections; http.Server.prototype.closeAllConnections = function () { if (this instanceof http.Server) own.call(this); };",
      expect: ['close-all-connections'],
      reason: /close did not happen/,
    },
    {
      name: 'pause-on-connect',
      what: 'pauseOnConnect no longer read from the server object',
      code: "Object.defineProperty(require('node:net').Server.prototype, 'pauseOnConnect', { get() { return false; }, set() {}, configurable: true });",
      expect: ['pause-on-connect'],
      reason: /arrived flowing/,
    },
  ];
  for (const breakage of breakages) {
    test(`${breakage.name}: ${breakage.what}`, async () => {
      const report = await probeInChild(breakage.code);
      assertOnly(report, breakage.expect);
      for (const name of breakage.expect) assert.notEqual(report.statuses[name], 'active');
      assert.match(report.reasons[breakage.name] as string, breakage.reason);
      if (breakage.expect.includes('consume')) assert.equal(report.readsInParser, false, "farm sockets are read through 'data' events");
      else assert.equal(report.readsInParser, true);
      assert.match(report.summary ?? '', new RegExp(`\\b${breakage.name} \\(`), 'the start line names it');
    });
  }
});

test('GATEHOUSE_PLATFORM_FALLBACKS forces each name, case and spaces aside; all forces every one; unknown names are reported', async () => {
  const one = await probeInChild('', { GATEHOUSE_PLATFORM_FALLBACKS: ' SNI-Slot , get-certificate,bogus' });
  assertOnly(one, ['sni-slot', 'get-certificate']);
  assert.match(one.reasons['sni-slot'] as string, /^forced by GATEHOUSE_PLATFORM_FALLBACKS=sni-slot \(probe: the callback in the slot was the one called/);
  assert.match(one.summary ?? '', /sni-slot \(forced by .*get-certificate \(forced by .*names no internal called bogus \(ignored\)/);
  const all = await probeInChild('', { GATEHOUSE_PLATFORM_FALLBACKS: 'all' });
  assertOnly(all, probeNames);
  assert.equal(all.readsInParser, false);
});

test('fallbackSummary: one line naming each fallback and why; platformProblem names a missing internal', () => {
  const check = (name: PlatformCheck['name'], status: PlatformCheck['status'], reason: string): PlatformCheck => ({ ...(PLATFORM_INTERNALS.find((entry) => entry.name === name) as PlatformCheck), status, reason });
  const report = (checks: PlatformCheck[], unknownFallbacks: string[] = []): PlatformReport => ({ node: 'v20.0.0', platform: 'linux x64', openssl: '3', checks, unknownFallbacks });
  assert.equal(fallbackSummary(report([check('consume', 'active', 'ok'), check('http2', 'not probed', 'not probed')])), undefined);
  const line = fallbackSummary(report([check('consume', 'fallback', 'probe failed: x'), check('sni-slot', 'active', 'ok'), check('http2', 'fallback', 'HTTP/2 is off: y')]));
  assert.equal(line, 'platform fallbacks in use on Node.js v20.0.0: consume (probe failed: x); http2 (HTTP/2 is off: y)');
  assert.doesNotMatch(line ?? '', /\n/);
  assert.equal(platformProblem(report([check('parser', 'unavailable', 'no parser here')])), 'no parser here');
  assert.equal(platformProblem(report([check('consume', 'fallback', 'x')])), undefined);
});

describe('cluster workers take the primary\'s verdicts', () => {
  test('the environment a primary gives its workers names its fallbacks; a worker with it probes nothing and ends up on the same fast paths', async () => {
    const { workerPlatformEnv, PROBED_ENV } = await import('../../src/platform/probes.js');
    const primary = await probeInChild("const own = Object.getOwnPropertySymbols; Object.getOwnPropertySymbols = (o) => own(o).filter((s) => s.description !== 'snicallback');");
    assert.equal(primary.statuses['sni-slot'], 'fallback', primary.reasons['sni-slot']);
    // What runPrimary passes to cluster.fork, from such a report.
    const checks = Object.entries(primary.statuses).map(([name, status]) => ({ name, status })) as unknown as PlatformCheck[];
    const env = workerPlatformEnv({ node: process.version, platform: '', openssl: '', checks, unknownFallbacks: [] });
    assert.equal(env[PROBED_ENV], '1');
    assert.deepEqual(env['GATEHOUSE_PLATFORM_FALLBACKS']?.split(','), ['sni-slot']);
    // The worker: nothing broken in it, yet it follows the primary (and runs no probe: every reason is the primary's).
    const worker = await probeInChild('', env);
    assertOnly(worker, ['sni-slot']);
    assert.match(worker.reasons['sni-slot'] ?? '', /the primary's verdict/);
    for (const name of probeNames.filter((n) => n !== 'sni-slot')) assert.equal(worker.reasons[name], "the primary process's probe passed", name);
  });
});
