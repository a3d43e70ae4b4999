/** Real clients for tests: curl and openssl as child processes, with bounded run time. */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CurlResult {
  status: number;
  body: string;
  headers: Record<string, string>;
  exitCode: number;
  stderr: string;
}

/** Runs a program; resolves with its exit code and output (never rejects on a non-zero exit). */
export function run(file: string, args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: options.timeoutMs ?? 20_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: error ? (error.code as unknown as number) : 0, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/**
 * curl a URL. `resolve` maps host names to 127.0.0.1 for SNI tests; `cert`/`key` present a client
 * certificate; `cacert` trusts the test root.
 *
 * The response headers go to a temporary file (`-D file`): `-D /dev/stderr` makes curl 7.88 crash with
 * SIGSEGV when stderr is the socket pair node gives a child process (it cannot open /proc/self/fd/2).
 * `stderr` in the result is the header block(s) followed by curl's own messages, as before.
 */
export async function curl(url: string, options: { cacert?: string; cert?: string; key?: string; resolve?: string[]; headers?: string[]; extra?: string[] } = {}): Promise<CurlResult> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-curl-'));
  const headerFile = join(dir, 'headers');
  try {
    const args = ['-sS', '--max-time', '15', '-D', headerFile, '-o', '-'];
    if (options.cacert) args.push('--cacert', options.cacert);
    if (options.cert) args.push('--cert', options.cert);
    if (options.key) args.push('--key', options.key);
    for (const r of options.resolve ?? []) args.push('--resolve', r);
    for (const h of options.headers ?? []) args.push('-H', h);
    args.push(...(options.extra ?? []), url);
    const result = await run('curl', args);
    const headerText = await readFile(headerFile, 'latin1').catch(() => '');
    const blocks = headerText.split(/\r?\n\r?\n/);
    const statusBlocks = blocks.filter((b) => /^HTTP\/[\d.]+ \d{3}/.test(b));
    const last = statusBlocks[statusBlocks.length - 1] ?? '';
    const lines = last.split(/\r?\n/);
    const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    return { status, body: result.stdout, headers, exitCode: result.code, stderr: headerText + result.stderr };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface SClientResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Whether the server sent a CertificateRequest during the handshake (from `-msg`). */
  certificateRequested: boolean;
  /** Whether the handshake completed (a cipher other than (NONE) was negotiated). */
  handshakeDone: boolean;
}

/**
 * `openssl s_client -msg` against host:port, stdin closed right away (handshake, then quit). `servername`
 * sends SNI (omitted: -noservername); `extra` adds options such as `-tls1_2`, `-cert`, `-key`, `-CAfile`.
 */
export async function opensslSClient(host: string, port: number, options: { servername?: string; extra?: string[]; input?: string } = {}): Promise<SClientResult> {
  const args = ['s_client', '-connect', `${host}:${port}`, '-msg', '-state'];
  if (options.servername) args.push('-servername', options.servername);
  else args.push('-noservername');
  args.push(...(options.extra ?? []));
  const result = await run('openssl', args, { input: options.input ?? '', timeoutMs: 15_000 });
  const all = `${result.stdout}\n${result.stderr}`;
  return {
    ...result,
    certificateRequested: /<<< [^\n]*Handshake[^\n]*CertificateRequest/.test(all) || /read server certificate request/.test(all),
    handshakeDone: /Cipher is (?!\(NONE\))\S+/.test(all),
  };
}
