/**
 * `gatehouse demo` (= `npm start`): the whole story with no setup. Certificates are made once in the
 * state folder; two demo backends start; Gatehouse requires client certificates in front of them.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { access, readFile, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { Gatehouse, ListenError } from '../../app.js';
import { loadConfig } from '../../config/load.js';
import { startDemoBackend } from '../../demo/demo-backend.js';
import { ensureDemoPki } from '../../demo/demo-pki.js';
import { writeAtomic } from '../../pki/write.js';
import { probeBeforeStart, runUntilSignal } from './start.js';

export interface DemoOptions {
  state: string;
  port: string;
  httpPort: string;
  adminPort: string;
}

/** The demo's admin token (made once, 0600, reused): for the console's token sign-in and the CLI. */
async function ensureAdminToken(file: string): Promise<void> {
  try {
    await access(file);
  } catch {
    await writeAtomic(file, `${randomBytes(32).toString('base64url')}\n`, 0o600, false);
  }
}

export async function demoCommand(options: DemoOptions): Promise<number> {
  const dir = resolve(options.state);
  const pki = await ensureDemoPki(dir);
  const backends = await Promise.all([startDemoBackend('backend-1'), startDemoBackend('backend-2')]);
  const configFile = join(dir, 'gatehouse.yaml');
  const tokenFile = join(dir, 'admin.token');
  await ensureAdminToken(tokenFile);
  const client = new X509Certificate(await readFile(pki.clientCertFile));
  const clientThumbprint = client.fingerprint.replace(/:/g, '');
  const yaml = `# Written by \`gatehouse demo\` on each run (the backends' ports change); a real config to copy from.
sites:
  - name: demo
    bindings:
      - protocol: https
        address: 127.0.0.1
        port: ${Number(options.port)}
        certificate:
          certFile: server.pem
          keyFile: server.key
      - protocol: http
        address: 127.0.0.1
        port: ${Number(options.httpPort)}
    ssl:
      requireSsl: true
      clientCertificates: require
      trustedCaFile: demo-ca.pem
    farm: demo-backends
farms:
  - name: demo-backends
    servers:
${backends.map((b) => `      - address: ${b.address}`).join('\n')}
drainTimeout: 5s
accessLog: stdout
# The console and the admin API (https, loopback only). The demo client certificate is an administrator:
# a browser that presents it opens the console signed in; admin.token is for the CLI or a token sign-in.
admin:
  address: 127.0.0.1
  port: ${Number(options.adminPort)}
  certificate:
    certFile: server.pem
    keyFile: server.key
  trustedCaFile: demo-ca.pem
  users:
    - { thumbprint: ${clientThumbprint}, role: administrator } # the demo client certificate (Demo User)
    - { name: demo-admin, tokenFile: admin.token, role: administrator }
`;
  await writeFile(configFile, yaml);
  let gatehouse: Gatehouse;
  try {
    const { config } = await loadConfig(configFile);
    if (!(await probeBeforeStart(config, (line) => process.stderr.write(`${line}\n`)))) {
      for (const b of backends) b.server.close();
      return 1;
    }
    gatehouse = await Gatehouse.start(config);
  } catch (error) {
    for (const b of backends) b.server.close();
    if (error instanceof ListenError) {
      process.stderr.write(`gatehouse demo: ${error.message}\nChoose other ports: npm start -- --port 9443 --http-port 9080 --admin-port 9444\n`);
      return 1;
    }
    throw error;
  }
  const https = gatehouse.bound.find((b) => b.protocol === 'https');
  const http = gatehouse.bound.find((b) => b.protocol === 'http');
  const rel = (file: string) => relative(process.cwd(), file) || file;
  const port = https?.port ?? Number(options.port);
  const consoleUrl = `https://localhost:${gatehouse.admin?.port ?? Number(options.adminPort)}/`;
  const out = [
    '',
    `Gatehouse demo: state folder ${dir} (${pki.created ? 'certificates created' : 'certificates reused'})`,
    `  config            ${rel(configFile)}`,
    `  server cert for   ${pki.serverNames.join(', ')}, 127.0.0.1, ::1`,
    `  backends          ${backends.map((b) => b.address).join(', ')}`,
    ...gatehouse.bound.map((b) => `  listening         ${b.url} (site ${b.sites.join(', ')})`),
    '',
    'With the client certificate: 200, and the backend shows the certificate it received in X-ARR-ClientCert:',
    `  curl --cacert ${rel(pki.caFile)} --cert ${rel(pki.clientCertFile)} --key ${rel(pki.clientKeyFile)} https://localhost:${port}/`,
    'Without it: 403.7 (client certificate required):',
    `  curl --cacert ${rel(pki.caFile)} https://localhost:${port}/`,
    ...(http ? ['Over plain http: 403.4 (SSL required):', `  curl http://127.0.0.1:${http.port}/`] : []),
    '',
    'In a browser: import the client certificate and trust the demo CA, then open the https URL.',
    `  client certificate ${rel(pki.clientPfxFile)}   PFX password: ${pki.clientPfxPassword}`,
    `  demo CA            ${rel(pki.caFile)}`,
    '  Chrome/Edge: Settings > Privacy and security > Security > Manage certificates > Import (Personal: the PFX; Trusted Root: the CA)',
    '  Firefox: Settings > Privacy & Security > Certificates > View Certificates > Your Certificates > Import; Authorities > Import',
    '',
    'The console (IIS Manager for this farm): open it in the browser that has the client certificate above;',
    'the certificate signs you in as an administrator of the demo. Or sign in with the token in the file below.',
    `  console           ${consoleUrl}`,
    `  token file        ${rel(tokenFile)}`,
    'The same from the command line:',
    `  GATEHOUSE_ADMIN_URL=${consoleUrl} GATEHOUSE_ADMIN_CA=${rel(pki.caFile)} GATEHOUSE_ADMIN_TOKEN_FILE=${rel(tokenFile)} npx gatehouse farm list`,
    '',
    'Ctrl-C stops everything.',
    '',
  ];
  process.stdout.write(out.join('\n'));
  return runUntilSignal(gatehouse, async () => {
    await Promise.all(backends.map((b) => new Promise<void>((done) => b.server.close(() => done()))));
  });
}
