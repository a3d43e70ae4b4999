/**
 * TLS policy per binding (issue 12, the IIS Crypto part): the default is Mozilla's intermediate profile
 * (ECDHE + AES-GCM / ChaCha20, TLS 1.2 and 1.3), a binding may narrow it, and validate refuses what
 * OpenSSL refuses and warns on weak choices. Real client: openssl s_client, per version and suite.
 */
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import type { SecureVersion, TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/problem.js';
import { opensslSClient } from '../support/clients.js';
import { startBackend, type Backend } from '../support/backends.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';

let pki: TestPki;
let backend: Backend;

before(async () => {
  pki = await createTestPki();
  backend = await startBackend('tls-policy');
});

after(async () => {
  await backend?.close();
  await pki?.cleanup();
});

function configWith(tls: Record<string, unknown> | undefined): string {
  const binding = { protocol: 'https', address: '127.0.0.1', port: 0, certificate: { certFile: pki.server.certFile, keyFile: pki.server.keyFile }, ...(tls ? { tls } : {}) };
  return JSON.stringify({ accessLog: 'off', sites: [{ name: 'tls', bindings: [binding], farm: 'f' }], farms: [{ name: 'f', servers: [{ address: backend.address }] }] });
}

async function withGatehouse(tls: Record<string, unknown> | undefined, body: (port: number) => Promise<void>): Promise<void> {
  const running: RunningGatehouse = await startGatehouse(configWith(tls), pki.dir);
  try {
    await body(running.port('tls'));
  } finally {
    await running.stop();
  }
}

async function handshake(port: number, extra: string[]): Promise<boolean> {
  return (await opensslSClient('127.0.0.1', port, { servername: 'localhost', extra })).handshakeDone;
}

describe('the default policy (Mozilla intermediate, without DHE)', () => {
  test('TLS 1.2 ECDHE with AES-GCM or ChaCha20 and TLS 1.3: accepted; CBC, SHA-1 MACs, RSA key exchange, TLS 1.1: refused', async () => {
    await withGatehouse(undefined, async (port) => {
      assert.equal(await handshake(port, ['-tls1_3']), true, 'TLS 1.3');
      assert.equal(await handshake(port, ['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256']), true, 'ECDHE-RSA-AES128-GCM-SHA256');
      assert.equal(await handshake(port, ['-tls1_2', '-cipher', 'ECDHE-RSA-CHACHA20-POLY1305']), true, 'ECDHE-RSA-CHACHA20-POLY1305');
      assert.equal(await handshake(port, ['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-SHA']), false, 'CBC with a SHA-1 MAC (the issue\'s example)');
      assert.equal(await handshake(port, ['-tls1_2', '-cipher', 'ECDHE-RSA-AES256-SHA384']), false, 'CBC with SHA-384');
      assert.equal(await handshake(port, ['-tls1_2', '-cipher', 'AES128-GCM-SHA256']), false, 'RSA key exchange');
      assert.equal(await handshake(port, ['-tls1_1', '-cipher', 'DEFAULT:@SECLEVEL=0']), false, 'TLS 1.1');
    });
  });
});

describe('a binding\'s own policy', () => {
  test('minVersion TLSv1.3: TLS 1.2 is refused, TLS 1.3 accepted', async () => {
    await withGatehouse({ minVersion: 'TLSv1.3' }, async (port) => {
      assert.equal(await handshake(port, ['-tls1_2']), false);
      assert.equal(await handshake(port, ['-tls1_3']), true);
    });
  });

  test('maxVersion TLSv1.2 with one cipher: only that cipher, and no TLS 1.3', async () => {
    await withGatehouse({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' }, async (port) => {
      assert.equal(await handshake(port, ['-tls1_3']), false, 'TLS 1.3');
      assert.equal(await handshake(port, ['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256']), false, 'another cipher');
      const result = await opensslSClient('127.0.0.1', port, { servername: 'localhost', extra: ['-tls1_2'] });
      assert.match(`${result.stdout}${result.stderr}`, /Cipher is ECDHE-RSA-AES256-GCM-SHA384/);
    });
  });

  test('cipherSuites: only the TLS 1.3 suite listed', async () => {
    await withGatehouse({ cipherSuites: 'TLS_CHACHA20_POLY1305_SHA256' }, async (port) => {
      assert.equal(await handshake(port, ['-tls1_3', '-ciphersuites', 'TLS_AES_128_GCM_SHA256']), false);
      assert.equal(await handshake(port, ['-tls1_3', '-ciphersuites', 'TLS_CHACHA20_POLY1305_SHA256']), true);
    });
  });

  test('curves: a client offering only another group is refused', async () => {
    await withGatehouse({ curves: 'P-384' }, async (port) => {
      assert.equal(await handshake(port, ['-tls1_3', '-groups', 'X25519']), false);
      assert.equal(await handshake(port, ['-tls1_3', '-groups', 'P-384']), true);
    });
  });

  test('sessionResumption false: a client cannot resume (TLS 1.2 and 1.3); the default resumes', async () => {
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      await withGatehouse({ sessionResumption: false }, async (port) => assert.equal(await resumes(port, version), false, `${version}: not resumed`));
      await withGatehouse(undefined, async (port) => assert.equal(await resumes(port, version), true, `${version}: resumed by default`));
    }
  });
});

/** One GET; its status, the last TLS session the server gave, and whether this connection resumed one. */
function get(port: number, version: SecureVersion, session?: Buffer): Promise<{ status: number; session: Buffer | undefined; isReused: boolean }> {
  return new Promise((resolve, reject) => {
    let latest: Buffer | undefined;
    const req = httpsRequest({ host: '127.0.0.1', port, servername: 'localhost', path: '/', ca: pki.root.certPem, agent: false, minVersion: version, maxVersion: version, timeout: 10_000, ...(session ? { session } : {}) }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, session: latest, isReused: (res.socket as TLSSocket).isSessionReused() }));
    });
    req.on('socket', (socket) => socket.on('session', (value: Buffer) => (latest = value)));
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end();
  });
}

async function resumes(port: number, version: SecureVersion): Promise<boolean> {
  const first = await get(port, version);
  assert.equal(first.status, 200);
  if (!first.session) return false;
  const second = await get(port, version, first.session);
  assert.equal(second.status, 200);
  return second.isReused;
}

describe('validation', () => {
  async function problemsOf(tls: Record<string, unknown>, bindings = 1): Promise<string> {
    const binding = (port: number, hostName?: string) => ({ protocol: 'https', address: '127.0.0.1', port, ...(hostName ? { hostName } : {}), certificate: { certFile: pki.server.certFile, keyFile: pki.server.keyFile } });
    const list = bindings === 1 ? [{ ...binding(0), tls }] : [{ ...binding(8443, 'a.example.test'), tls }, binding(8443, 'b.example.test')];
    const yaml = JSON.stringify({ sites: [{ name: 's', bindings: list, farm: 'f' }], farms: [{ name: 'f', servers: [{ address: '127.0.0.1:9' }] }] });
    try {
      const { warnings } = await loadConfigText(yaml, join(pki.dir, 'tls.yaml'), pki.dir);
      return `ok\n${warnings.join('\n')}`;
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      return error.lines.join('\n');
    }
  }

  test('strings OpenSSL refuses are config errors naming the key', async () => {
    assert.match(await problemsOf({ ciphers: 'NOT-A-CIPHER' }), /bindings\[0\]\.tls\.ciphers: OpenSSL refuses "NOT-A-CIPHER"/);
    assert.match(await problemsOf({ curves: 'P-999' }), /bindings\[0\]\.tls\.curves: OpenSSL refuses "P-999"/);
    assert.match(await problemsOf({ cipherSuites: 'ECDHE-RSA-AES128-GCM-SHA256' }), /bindings\[0\]\.tls\.cipherSuites: .*not TLS 1\.3 suites/);
    assert.match(await problemsOf({ minVersion: 'TLSv1.3', maxVersion: 'TLSv1.2' }), /bindings\[0\]\.tls\.maxVersion: maxVersion TLSv1\.2 is below minVersion TLSv1\.3/);
    assert.match(await problemsOf({ minVersion: 'TLSv1.1' }), /bindings\[0\]\.tls\.minVersion/);
  });

  test('weak choices load with a warning naming them', async () => {
    const out = await problemsOf({ ciphers: 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA:AES128-GCM-SHA256' });
    assert.match(out, /^ok\n/);
    assert.match(out, /tls\.ciphers: warning: the TLS 1\.2 ciphers include ECDHE-RSA-AES128-SHA \(CBC mode.*\), AES128-GCM-SHA256 \(RSA key exchange/);
    assert.doesNotMatch(await problemsOf({ ciphers: 'ECDHE-RSA-AES128-GCM-SHA256:!aNULL' }), /warning/);
  });

  test('bindings sharing a port must agree', async () => {
    assert.match(await problemsOf({ minVersion: 'TLSv1.3' }, 2), /bindings\[1\]\.tls: the TLS policy differs from the one of sites\[0\]\.bindings\[0\]/);
  });
});
