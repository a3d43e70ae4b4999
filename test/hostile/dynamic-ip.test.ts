/**
 * Dynamic IP Restrictions (issue 12, IIS's, by its names): per client IP, requests in flight and requests
 * per interval; each deny action; trusted clients; one client's limit never touches another's (clients
 * come from 127.0.0.1 and 127.0.0.2). What the client got and what reached the backend, both asserted.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { describe, test } from 'node:test';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/problem.js';
import { DynamicIpSecurity } from '../../src/proxy/dynamic-ip-security.js';
import { hostileSuite, startRecordingBackend, type Hostile, type RecordingBackend } from './support.js';

const suite = hostileSuite();

interface Reply {
  readonly status: number;
  readonly body: string;
  readonly error?: string;
}

function get(gh: Hostile, path: string, from = '127.0.0.1'): Promise<Reply> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port: gh.httpPort, path, localAddress: from, agent: false, headers: { host: 'app.test' } }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (error) => resolve({ status: 0, body: '', error: (error as NodeJS.ErrnoException).code ?? error.message }));
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** A backend that holds every /hold request until released. */
async function holdingBackend(): Promise<{ backend: RecordingBackend; held: (() => void)[] }> {
  const held: (() => void)[] = [];
  const backend = await startRecordingBackend({
    reply: (req, connection) => {
      if (!req.target.startsWith('/hold')) return undefined;
      held.push(() => connection.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nheld'));
      return { bytes: '' };
    },
  });
  return { backend, held };
}

describe('denyByConcurrentRequests', () => {
  test('a third request in flight from one IP → 403.501 (not forwarded); another IP is not limited; after one ends, the next passes', async () => {
    const { backend, held } = await holdingBackend();
    try {
      const gh = await suite.launch({ backend, bindings: ['http'], dynamicIpSecurity: { denyByConcurrentRequests: { enabled: true, maxConcurrentRequests: 2 } } });
      const first = get(gh, '/hold-1');
      const second = get(gh, '/hold-2');
      await backend.waitFor(() => held.length === 2, 'two requests at the backend');
      const third = await get(gh, '/hold-3');
      assert.equal(third.status, 403, third.body);
      assert.match(third.body, /^HTTP Error 403\.501 /);
      assert.ok(!backend.requests.some((r) => r.target === '/hold-3'), 'the third never reached the backend');
      const other = await get(gh, '/other-ip', '127.0.0.2');
      assert.equal(other.status, 200, 'another client is not limited');
      (held.shift() as () => void)();
      assert.equal((await first).status, 200);
      const fourth = get(gh, '/hold-4');
      await backend.waitFor(() => held.length === 2, 'the fourth reaches the backend');
      for (const release of held.splice(0)) release();
      assert.equal((await second).status, 200);
      assert.equal((await fourth).status, 200);
      assert.ok(gh.running.events.some((e) => /^warn 403\.501 outcome=too_many_concurrent_requests client 127\.0\.0\.1:\d+ site app GET \/hold-3: client 127\.0\.0\.1 has 2 requests in flight/.test(e)), gh.running.events.join('\n'));
      await gh.stop();
    } finally {
      for (const release of held) release();
      await backend.close();
    }
  });
});

describe('denyByRequestRate', () => {
  test('more than maxRequests within requestInterval → 403.502; the backend gets maxRequests; a trusted client is never limited', async () => {
    const backend = await startRecordingBackend();
    try {
      const gh = await suite.launch({ backend, bindings: ['http'], dynamicIpSecurity: { denyByRequestRate: { enabled: true, maxRequests: 4, requestInterval: '10s' }, trustedClients: ['127.0.0.2/32'] } });
      const replies: Reply[] = [];
      for (let i = 0; i < 6; i++) replies.push(await get(gh, `/rate-${i}`));
      assert.deepEqual(replies.map((r) => r.status), [200, 200, 200, 200, 403, 403]);
      assert.match(replies[4]?.body ?? '', /^HTTP Error 403\.502 /);
      assert.equal(backend.requests.filter((r) => r.target.startsWith('/rate-')).length, 4);
      for (let i = 0; i < 8; i++) assert.equal((await get(gh, `/trusted-${i}`, '127.0.0.2')).status, 200, 'trusted');
      await gh.stop();
    } finally {
      await backend.close();
    }
  });

  for (const [action, expected] of [['notFound', 404], ['unauthorized', 401], ['abortRequest', 0]] as const) {
    test(`denyAction ${action} → ${expected || 'the connection closed without an answer'}`, async () => {
      const backend = await startRecordingBackend();
      try {
        const gh = await suite.launch({ backend, bindings: ['http'], dynamicIpSecurity: { denyByRequestRate: { enabled: true, maxRequests: 1, requestInterval: '10s' }, denyAction: action } });
        assert.equal((await get(gh, `/${action}-1`)).status, 200);
        const denied = await get(gh, `/${action}-2`);
        assert.equal(denied.status, expected, JSON.stringify(denied));
        if (expected === 0) assert.match(denied.error ?? '', /ECONNRESET|socket hang up/);
        assert.ok(!backend.requests.some((r) => r.target === `/${action}-2`));
        await gh.stop();
      } finally {
        await backend.close();
      }
    });
  }
});

describe('across workers and in the config', () => {
  test('each worker enforces its share: the limit divided by the workers, rounded up', () => {
    const settings = { maxConcurrentRequests: 5, maxRequests: 20, requestIntervalMs: 1000, denyAction: 'forbidden' as const, trustedClients: [] };
    const two = new DynamicIpSecurity(settings, 2);
    const results = Array.from({ length: 11 }, (_, i) => two.admit('10.0.0.1', 1000 + i));
    assert.equal(results.filter((r) => r === undefined).length, 3, 'ceil(5 / 2) in flight');
    assert.equal(results[3]?.subStatus, 501);
    const rate = new DynamicIpSecurity({ ...settings, maxConcurrentRequests: undefined }, 4);
    const counted = Array.from({ length: 8 }, (_, i) => rate.admit('10.0.0.2', 5000 + i));
    assert.equal(counted.filter((r) => r === undefined).length, 5, 'ceil(20 / 4) per interval');
    assert.equal(rate.admit('10.0.0.2', 6001), undefined, 'a new interval');
    two.close();
    rate.close();
  });

  test('a trusted client that is not an address or range is a config problem naming it', async () => {
    const config = { sites: [{ name: 'a', bindings: [{ protocol: 'http', port: 8080 }], farm: 'f' }], farms: [{ name: 'f', servers: [{ address: '127.0.0.1:9' }] }], dynamicIpSecurity: { trustedClients: ['10.0.0.0/8', '10.0.0.0/33', 'intranet'] } };
    const error = await loadConfigText(JSON.stringify(config), '/tmp/dip.yaml', '/tmp').then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof ConfigError);
    const text = error.lines.join('\n');
    assert.match(text, /dynamicIpSecurity\.trustedClients\[1\]: '10\.0\.0\.0\/33' is not an IP address or CIDR range/);
    assert.match(text, /dynamicIpSecurity\.trustedClients\[2\]: 'intranet'/);
  });
});
