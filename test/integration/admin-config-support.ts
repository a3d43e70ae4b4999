/**
 * A Gatehouse with an https admin listener for the config-plane tests: echo backends, tokens for each
 * role (viewer, operator, administrator), an administrator badge (client certificate) named by subject,
 * and a restart from the config file as written on disk.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { issueClient } from '../../src/pki/index.js';
import { startBackend, type Backend } from '../support/backends.js';
import { startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { createTestPki, type TestPki } from '../support/test-pki.js';
import { apiClient, makeToken, type Badge } from './admin-api-helpers.js';

export type Role = 'viewer' | 'operator' | 'admin';

export interface AdminRig {
  readonly pki: TestPki;
  readonly backends: Backend[];
  readonly tokens: Record<Role, string>;
  /** Administrator by certificate subject. */
  readonly badge: Badge;
  readonly api: ReturnType<typeof apiClient>;
  /** The running Gatehouse (replaced by restart()). */
  running(): RunningGatehouse;
  /** The config file the running Gatehouse reads (the admin API edits it). */
  configFile(): string;
  /** Stops Gatehouse and starts it again from the config file's text as it is on disk. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** `body(backends)` gives the sites and farms; the rig adds the admin section. */
export async function startAdminRig(backendCount: number, body: (backends: readonly Backend[]) => string): Promise<AdminRig> {
  const pki = await createTestPki();
  const backends = await Promise.all(Array.from({ length: backendCount }, (_, i) => startBackend(`b${i + 1}`)));
  const issued = await issueClient({ ca: pki.root, commonName: 'Ada Admin', organization: 'Example' });
  const badge = { certFile: join(pki.dir, 'ada-badge.pem'), keyFile: join(pki.dir, 'ada-badge.key') };
  await writeFile(badge.certFile, issued.certPem);
  await writeFile(badge.keyFile, issued.keyPem, { mode: 0o600 });
  const files = { viewer: await makeToken(pki.dir, 'viewer'), operator: await makeToken(pki.dir, 'operator'), admin: await makeToken(pki.dir, 'admin') };
  const users = [`{ subject: "CN=Ada Admin, O=Example", role: administrator }`, ...(['viewer', 'operator', 'admin'] as const).map((role) => `{ name: ${role === 'admin' ? 'ci' : `${role}-bot`}, tokenFile: ${files[role].file}, role: ${role === 'admin' ? 'administrator' : role} }`)];
  const yaml = `# Gatehouse under test: the admin API edits this file.
accessLog: off
admin: { port: 0, auditLog: admin-audit.log, trustedCaFile: ${pki.caFile}, certificate: { certFile: ${pki.server.certFile}, keyFile: ${pki.server.keyFile} }, users: [${users.join(', ')}] }
${body(backends)}`;
  let running = await startGatehouse(yaml, pki.dir);
  const api = apiClient(() => (running.gatehouse.admin as { url: string }).url, pki.caFile);
  return {
    pki,
    backends,
    tokens: { viewer: files.viewer.token, operator: files.operator.token, admin: files.admin.token },
    badge,
    api,
    running: () => running,
    configFile: () => running.configFile,
    restart: async () => {
      const text = await readFile(running.configFile, 'utf8');
      await running.stop();
      running = await startGatehouse(text, pki.dir);
    },
    close: async () => {
      await running.stop();
      await Promise.all(backends.map((b) => b.close()));
      await pki.cleanup();
    },
  };
}
