/**
 * The proxies under test, each started as its own process(es) pinned to CPU 0 with one worker/thread,
 * in the bench's temp dir, on 127.0.0.1 ephemeral ports, each doing what Gatehouse does: TLS termination
 * with the same server certificate, client certificate required and verified against the test CA,
 * the certificate forwarded as base64 DER in X-ARR-ClientCert, X-Forwarded-For and X-Forwarded-Proto
 * set, round robin over the two keep-alive backends.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { issueServer } from '../src/pki/index.js';
import type { TestPki } from '../test/support/test-pki.js';
import { freePort, isRoot, processTree, startProcess, waitForLine, waitForPorts } from './proc.js';

/** Listener names: every peer has http, mtls and mtls-ecdsa; nginx also has the ceiling servers. */
export type ListenerName = 'http' | 'traced' | 'mtls' | 'mtls-ecdsa' | 'mtls-ecdsa-online' | 'ceiling' | 'ceiling-ecdsa';

export interface Peer {
  /** Display name. */
  readonly name: string;
  readonly child: ChildProcess;
  readonly urls: Partial<Record<ListenerName, string>>;
  /** The peer's processes (nginx: master and worker). */
  pids(): number[];
  /** Gatehouse with an `admin` key: its admin listener (http://127.0.0.1:PORT). */
  readonly admin?: string;
}

export interface PeerFiles {
  readonly dir: string;
  readonly caFile: string;
  readonly rsa: { certFile: string; keyFile: string };
  readonly ecdsa: { certFile: string; keyFile: string };
  readonly backendPorts: number[];
  /** Gatehouse also serves site mtls-ecdsa-online: revocation.online on, answers cached in this folder. */
  readonly onlineRevocation?: { readonly cacheFolder: string };
  /**
   * Runs each peer's one process under this command prefix (bench/instructions.ts: callgrind), given the
   * peer's name; nginx then runs without a master process, and startup waits are longer.
   */
  readonly under?: (name: string) => string[];
}

/** Starts `count` bench backends (bench/backend.js: keep-alive, 1 KB answers) on CPU 1; resolves with their ports. */
export async function startBackends(dist: string, count = 2): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) {
    const child = startProcess(1, process.execPath, [join(dist, 'bench/backend.js'), '0']);
    const lines = await waitForLine(child, /^ready (\d+)/);
    child.stdout?.resume();
    ports.push(Number(/^ready (\d+)/.exec(lines[lines.length - 1] as string)?.[1]));
  }
  return ports;
}

/** The peers' server certificates: the test PKI's RSA-2048 one, and an ECDSA P-256 one issued into `dir`. */
export async function serverCertificates(pki: TestPki, dir: string): Promise<Pick<PeerFiles, 'rsa' | 'ecdsa'>> {
  const ecdsa = await issueServer({ ca: pki.root, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], keyType: 'ecdsa-p256' });
  const ecdsaFiles = { certFile: join(dir, 'server-ecdsa.pem'), keyFile: join(dir, 'server-ecdsa.key') };
  await writeFile(ecdsaFiles.certFile, ecdsa.certPem);
  await writeFile(ecdsaFiles.keyFile, ecdsa.keyPem, { mode: 0o600 });
  return { rsa: { certFile: pki.server.certFile, keyFile: pki.server.keyFile }, ecdsa: ecdsaFiles };
}

/** The command of a peer's process, under files.under when set. */
function launch(files: PeerFiles, name: string, command: string, args: string[]): [string, string[]] {
  if (!files.under) return [command, args];
  const [prefix, ...rest] = files.under(name);
  return [prefix as string, [...rest, command, ...args]];
}

/** Startup waits: a process under valgrind starts many times slower. */
function startupMs(files: PeerFiles): number {
  return files.under ? 240_000 : 20_000;
}

export const NGINX_NAME = 'nginx';
export const HAPROXY_NAME = 'HAProxy';
export const NODE_NAME = 'http-proxy 1.18';
export const NODE_FLOOR_NAME = 'floor: node:https with requestCert, answers itself';
export const GATEHOUSE_NAME = 'Gatehouse';
export const NJS_MODULE = '/usr/lib/nginx/modules/ngx_http_js_module.so';

function peer(name: string, child: ChildProcess, urls: Partial<Record<ListenerName, string>>): Peer {
  let cached: number[] = [];
  return {
    name,
    child,
    urls,
    pids() {
      // nginx forks its worker after start: refresh while the list may still grow.
      if (cached.length < 2 && child.pid !== undefined) cached = processTree(child.pid);
      return cached;
    },
  };
}

/**
 * Gatehouse as a peer. `nodePath`: the node that runs it (another LTS side by side in the same run); its
 * peer is then named `name`.
 */
/**
 * Gatehouse with the bench config. `admin`: the same config plus an `admin` key (loopback, plain http as
 * its default, a viewer token user reading `tokenFile`): the admin API open (and so the metrics collected).
 */
export async function startGatehouse(root: string, files: PeerFiles, nodePath = process.execPath, name = GATEHOUSE_NAME, admin?: { readonly tokenFile: string }): Promise<Peer> {
  const config = join(files.dir, name === GATEHOUSE_NAME ? 'gatehouse.yaml' : `gatehouse-${name.replace(/[^\w.-]+/g, '_')}.yaml`);
  const rsa = `certificate: { certFile: ${files.rsa.certFile}, keyFile: ${files.rsa.keyFile} }`;
  const ecdsa = `certificate: { certFile: ${files.ecdsa.certFile}, keyFile: ${files.ecdsa.keyFile} }`;
  await writeFile(
    config,
    `accessLog: off
workers: 1
${admin ? `admin:\n  address: 127.0.0.1\n  port: 0\n  users: [{ name: bench, tokenFile: ${admin.tokenFile}, role: viewer }]\n` : ''}sites:
  - name: plain
    bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }]
    farm: bench
  - name: traced
    bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }]
    farm: bench
    tracing:
      directory: ${files.dir}/traces
      rules: [{ path: /never-requested/*, statusCodes: '500-599' }]
  - name: mtls
    bindings: [{ protocol: https, address: 127.0.0.1, port: 0, ${rsa} }]
    ssl: { clientCertificates: require, trustedCaFile: ${files.caFile} }
    farm: bench
  - name: mtls-ecdsa
    bindings: [{ protocol: https, address: 127.0.0.1, port: 0, ${ecdsa} }]
    ssl: { clientCertificates: require, trustedCaFile: ${files.caFile} }
    farm: bench
${
  files.onlineRevocation
    ? `  - name: mtls-ecdsa-online
    bindings: [{ protocol: https, address: 127.0.0.1, port: 0, ${ecdsa} }]
    ssl: { clientCertificates: require, trustedCaFile: ${files.caFile}, revocation: { online: true, cacheFolder: ${files.onlineRevocation.cacheFolder} } }
    farm: bench
`
    : ''
}farms:
  - name: bench
    servers:
${files.backendPorts.map((port) => `      - address: 127.0.0.1:${port}`).join('\n')}
`,
  );
  const child = startProcess(0, ...launch(files, name, nodePath, [join(root, 'bin/gatehouse.js'), 'start', '-c', config]));
  const urls: Partial<Record<ListenerName, string>> = {};
  const names: Record<string, ListenerName> = { plain: 'http', traced: 'traced', mtls: 'mtls', 'mtls-ecdsa': 'mtls-ecdsa', 'mtls-ecdsa-online': 'mtls-ecdsa-online' };
  // The admin listener's line comes after the sites'.
  const lines = await waitForLine(child, admin ? /\(admin\)$/ : files.onlineRevocation ? /\(site mtls-ecdsa-online\)/ : /\(site mtls-ecdsa\)/, startupMs(files));
  for (const line of lines) {
    const match = /^listening (\S+) \(site ([\w-]+)\)/.exec(line);
    const name = match ? names[match[2] as string] : undefined;
    if (match && name) urls[name] = match[1] as string;
  }
  const adminUrl = lines.map((line) => /^listening (\S+)\/metrics \(admin\)$/.exec(line)?.[1]).find((url) => url !== undefined);
  // Drain stdout so that the pipe never fills.
  child.stdout?.resume();
  return { ...peer(name, child, urls), ...(adminUrl ? { admin: adminUrl } : {}) };
}

export async function startNodePeer(dist: string, files: PeerFiles, floor = false): Promise<Peer> {
  const config = {
    floor,
    backends: files.backendPorts,
    ca: files.caFile,
    listeners: [{ name: 'http' }, { name: 'mtls', cert: files.rsa.certFile, key: files.rsa.keyFile }, { name: 'mtls-ecdsa', cert: files.ecdsa.certFile, key: files.ecdsa.keyFile }],
  };
  const child = startProcess(0, ...launch(files, floor ? NODE_FLOOR_NAME : NODE_NAME, process.execPath, [join(dist, 'bench/node-peer.js'), JSON.stringify(config)]));
  const lines = await waitForLine(child, /^ready$/, startupMs(files));
  child.stdout?.resume();
  const urls: Partial<Record<ListenerName, string>> = {};
  for (const line of lines) {
    const match = /^listening (\S+) (\S+)/.exec(line);
    if (match) urls[match[1] as ListenerName] = match[2] as string;
  }
  return peer(floor ? NODE_FLOOR_NAME : NODE_NAME, child, urls);
}

/** The 1 KB body the backends answer, for nginx's `return 200` ceiling servers. */
const KB = 'g'.repeat(1024);

export async function startNginx(files: PeerFiles, withNjs: boolean): Promise<Peer> {
  const dir = join(files.dir, 'nginx');
  await mkdir(join(dir, 'temp'), { recursive: true });
  const [http, mtls, mtlsEcdsa, ceiling, ceilingEcdsa] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  if (withNjs) {
    // $ssl_client_raw_cert is PEM: strip the armour and the line breaks to get base64 DER.
    await writeFile(join(dir, 'cert.js'), `function der(r) {\n  var pem = r.variables.ssl_client_raw_cert;\n  return pem ? pem.replace(/-----[^-]*-----|\\s+/g, '') : '';\n}\nexport default { der };\n`);
  }
  const certHeader = withNjs ? '$arr_client_cert' : '$ssl_client_escaped_cert';
  const forward = (tls: boolean) => `
      proxy_pass http://farm;
      proxy_set_header Host $host;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-ARR-ClientCert ${tls ? certHeader : '""'};`;
  const tls = (cert: { certFile: string; keyFile: string }) => `
    ssl_certificate ${cert.certFile};
    ssl_certificate_key ${cert.keyFile};
    ssl_client_certificate ${files.caFile};
    ssl_verify_client on;`;
  const conf = `${isRoot ? 'user root;' : ''}
worker_processes 1;
daemon off;
${files.under ? 'master_process off;' : ''}
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
${withNjs ? `load_module ${NJS_MODULE};` : ''}
worker_rlimit_nofile 16384;
events { worker_connections 16000; }
http {
  access_log off;
  default_type text/plain;
  client_body_temp_path ${dir}/temp/body;
  proxy_temp_path ${dir}/temp/proxy;
  fastcgi_temp_path ${dir}/temp/fastcgi;
  uwsgi_temp_path ${dir}/temp/uwsgi;
  scgi_temp_path ${dir}/temp/scgi;
  keepalive_timeout 120s;
  keepalive_requests 1000000;
  client_header_timeout 120s;
  client_max_body_size 16m;
  proxy_http_version 1.1;
  ${withNjs ? `js_import cert from ${dir}/cert.js;\n  js_set $arr_client_cert cert.der;` : ''}
  upstream farm {
${files.backendPorts.map((port) => `    server 127.0.0.1:${port};`).join('\n')}
    keepalive 64;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
  }
  server {
    listen 127.0.0.1:${http};
    location / {${forward(false)}
    }
  }
  server {
    listen 127.0.0.1:${mtls} ssl;${tls(files.rsa)}
    location / {${forward(true)}
    }
  }
  server {
    listen 127.0.0.1:${mtlsEcdsa} ssl;${tls(files.ecdsa)}
    location / {${forward(true)}
    }
  }
  server {
    listen 127.0.0.1:${ceiling} ssl;${tls(files.rsa)}
    location / { return 200 "${KB}"; }
  }
  server {
    listen 127.0.0.1:${ceilingEcdsa} ssl;${tls(files.ecdsa)}
    location / { return 200 "${KB}"; }
  }
}
`;
  await writeFile(join(dir, 'nginx.conf'), conf);
  const child = startProcess(0, ...launch(files, NGINX_NAME, 'nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')]));
  child.stdout?.resume();
  await waitForPorts([http, mtls, mtlsEcdsa, ceiling, ceilingEcdsa], child, startupMs(files));
  return peer(withNjs ? NGINX_NAME : `${NGINX_NAME} (escaped PEM)`, child, {
    http: `http://127.0.0.1:${http}`,
    mtls: `https://127.0.0.1:${mtls}`,
    'mtls-ecdsa': `https://127.0.0.1:${mtlsEcdsa}`,
    ceiling: `https://127.0.0.1:${ceiling}`,
    'ceiling-ecdsa': `https://127.0.0.1:${ceilingEcdsa}`,
  });
}

export async function startHaproxy(files: PeerFiles): Promise<Peer> {
  const dir = join(files.dir, 'haproxy');
  await mkdir(dir, { recursive: true });
  const bundle = async (name: string, cert: { certFile: string; keyFile: string }) => {
    const file = join(dir, name);
    await writeFile(file, `${await readFile(cert.certFile, 'utf8')}\n${await readFile(cert.keyFile, 'utf8')}`, { mode: 0o600 });
    return file;
  };
  const [rsaPem, ecdsaPem] = await Promise.all([bundle('rsa.pem', files.rsa), bundle('ecdsa.pem', files.ecdsa)]);
  const [http, mtls, mtlsEcdsa] = await Promise.all([freePort(), freePort(), freePort()]);
  const tlsFrontend = (name: string, port: number, pem: string) => `
frontend ${name}
  bind 127.0.0.1:${port} ssl crt ${pem} ca-file ${files.caFile} verify required
  http-request set-header X-ARR-ClientCert %[ssl_c_der,base64]
  http-request set-header X-Forwarded-Proto https
  default_backend farm
`;
  const conf = `global
  nbthread 1
  # Two file descriptors per connection: 9900 fits the 20000 FD limit of the bench machines.
  maxconn 9900
  ulimit-n 20000
  no strict-limits
  ssl-server-verify none

defaults
  mode http
  maxconn 9900
  option http-keep-alive
  option forwardfor
  http-reuse always
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  timeout http-request 120s
  timeout http-keep-alive 120s

frontend http
  bind 127.0.0.1:${http}
  http-request del-header X-ARR-ClientCert
  http-request set-header X-Forwarded-Proto http
  default_backend farm
${tlsFrontend('mtls', mtls, rsaPem)}${tlsFrontend('mtls_ecdsa', mtlsEcdsa, ecdsaPem)}
backend farm
  balance roundrobin
${files.backendPorts.map((port, i) => `  server b${i + 1} 127.0.0.1:${port}`).join('\n')}
`;
  await writeFile(join(dir, 'haproxy.cfg'), conf);
  const child = startProcess(0, 'haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')]);
  child.stdout?.resume();
  await waitForPorts([http, mtls, mtlsEcdsa], child);
  return peer(HAPROXY_NAME, child, { http: `http://127.0.0.1:${http}`, mtls: `https://127.0.0.1:${mtls}`, 'mtls-ecdsa': `https://127.0.0.1:${mtlsEcdsa}` });
}

export const njsAvailable = (): boolean => existsSync(NJS_MODULE);
