/**
 * The CLI's client of the admin API (`<url>/api/v1`): where it is (`--admin`, GATEHOUSE_ADMIN_URL, or the
 * config file's `admin` key), who signs in (a bearer token from `--token-file`, GATEHOUSE_ADMIN_TOKEN_FILE
 * or GATEHOUSE_ADMIN_TOKEN; or an admin badge, `--cert` and `--key`), which CA vouches for an https admin
 * listener (`--ca`, GATEHOUSE_ADMIN_CA; otherwise the system's CAs only), and one request function whose
 * failures are AdminCliErrors carrying the exit code scripts rely on. The token is sent in the
 * Authorization header and nowhere else: no message names it.
 */
import { readFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { CliError } from './cli-error.js';

/** Exit codes of the admin commands: 1 other errors (and commander's usage errors), 3 auth, 4 not found, 5 conflict. */
export const EXIT = { error: 1, auth: 3, notFound: 4, conflict: 5 } as const;

/** A failure with its exit code: printed as `gatehouse: <message>`. */
export class AdminCliError extends CliError {
  constructor(
    message: string,
    readonly exitCode: number,
    /** The API's HTTP status, when the API answered. */
    readonly status?: number,
    /** The API's problem+json answer, when it gave one (printed on stdout with --json). */
    readonly problem?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** The connection flags every admin command takes. */
export interface ConnectionOptions {
  readonly config: string;
  readonly admin?: string;
  readonly tokenFile?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly ca?: string;
}

export const ENV = {
  url: 'GATEHOUSE_ADMIN_URL',
  token: 'GATEHOUSE_ADMIN_TOKEN',
  tokenFile: 'GATEHOUSE_ADMIN_TOKEN_FILE',
  ca: 'GATEHOUSE_ADMIN_CA',
} as const;

export interface Connection {
  /** The admin listener's URL, without /api/v1 (`https://127.0.0.1:9443`). */
  readonly url: string;
  /** Where the URL came from, for messages (`--admin`, `GATEHOUSE_ADMIN_URL`, `gatehouse.yaml's admin key`). */
  readonly urlSource: string;
  readonly token?: string;
  readonly badge?: { readonly cert: Buffer; readonly key: Buffer };
  readonly ca?: Buffer;
}

/** The answer of a request that succeeded (2xx). */
export interface ApiReply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: any;
}

const nonEmpty = (value: string | undefined): string | undefined => (value === undefined || value === '' ? undefined : value);

async function readOrFail(file: string, what: string, exitCode: number): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new AdminCliError(`${what} ${file} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}`, exitCode);
  }
}

/** The admin listener's URL built from a config file's `admin` key (address, port, https with `certificate`). */
async function urlFromConfig(file: string): Promise<string> {
  const howToSet = `set the admin API's URL with --admin URL or ${ENV.url}, or name a config file with an admin key with -c FILE`;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new AdminCliError(`${file} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (error as Error).message})`}: ${howToSet}`, EXIT.error);
  }
  let admin: unknown;
  try {
    admin = (parseYaml(text) as { admin?: unknown } | null)?.admin;
  } catch (error) {
    throw new AdminCliError(`${file} is not YAML or JSON (${(error as Error).message.split('\n')[0]}): ${howToSet}`, EXIT.error);
  }
  if (admin === undefined || admin === null || typeof admin !== 'object') throw new AdminCliError(`${file} has no admin key (the admin listener is off): ${howToSet}`, EXIT.error);
  const { address = '127.0.0.1', port, certificate } = admin as { address?: unknown; port?: unknown; certificate?: unknown };
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw new AdminCliError(`${file}: admin.port is ${JSON.stringify(port)}, not a port the CLI can connect to (expected 1-65535; with port 0 use the URL Gatehouse printed at start): ${howToSet}`, EXIT.error);
  let host = String(address).replace(/^\[(.*)\]$/, '$1');
  // A wildcard listener answers on loopback too.
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '::' || host === '0:0:0:0:0:0:0:0') host = '::1';
  return `${certificate ? 'https' : 'http'}://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

/** Where to connect and how to sign in, from flags, then the environment, then the config file. */
export async function resolveConnection(options: ConnectionOptions, env: NodeJS.ProcessEnv = process.env): Promise<Connection> {
  const flagUrl = nonEmpty(options.admin);
  const envUrl = nonEmpty(env[ENV.url]);
  let url: string;
  let urlSource: string;
  if (flagUrl !== undefined || envUrl !== undefined) {
    urlSource = flagUrl !== undefined ? '--admin' : ENV.url;
    const raw = (flagUrl ?? envUrl) as string;
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      throw new AdminCliError(`${urlSource} ${raw}: not a URL (expected http(s)://HOST:PORT of the admin listener)`, EXIT.error);
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new AdminCliError(`${urlSource} ${raw}: not an http or https URL (expected http(s)://HOST:PORT of the admin listener)`, EXIT.error);
    url = `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/+$/, '').replace(/\/api\/v1$/, '')}`;
  } else {
    url = await urlFromConfig(options.config);
    urlSource = `${options.config}'s admin key`;
  }

  const caFile = nonEmpty(options.ca) ?? nonEmpty(env[ENV.ca]);
  const ca = caFile === undefined ? undefined : await readOrFail(caFile, 'the CA file', EXIT.error);

  if ((options.cert === undefined) !== (options.key === undefined)) throw new AdminCliError(`an admin badge needs both --cert FILE and --key FILE (${options.cert === undefined ? '--cert' : '--key'} is missing)`, EXIT.error);
  if (options.cert !== undefined && options.key !== undefined) {
    // A badge given on the command line signs in alone: a token from the environment is not sent with it.
    const badge = { cert: await readOrFail(options.cert, 'the badge certificate', EXIT.auth), key: await readOrFail(options.key, 'the badge key', EXIT.auth) };
    const token = options.tokenFile === undefined ? undefined : await readToken(options.tokenFile, '--token-file');
    return { url, urlSource, badge, ...(ca ? { ca } : {}), ...(token ? { token } : {}) };
  }
  const tokenFile = nonEmpty(options.tokenFile) ?? nonEmpty(env[ENV.tokenFile]);
  let token: string | undefined;
  if (tokenFile !== undefined) token = await readToken(tokenFile, options.tokenFile !== undefined ? '--token-file' : ENV.tokenFile);
  else if (nonEmpty(env[ENV.token]) !== undefined) token = checkToken((env[ENV.token] as string).trim(), ENV.token);
  if (token === undefined) {
    throw new AdminCliError(
      `no credentials for the admin API: set --token-file FILE or ${ENV.tokenFile} (a token file from \`gatehouse admin token\`), or ${ENV.token} (the token itself), or --cert FILE --key FILE (an admin badge)`,
      EXIT.auth,
    );
  }
  return { url, urlSource, token, ...(ca ? { ca } : {}) };
}

async function readToken(file: string, source: string): Promise<string> {
  const text = (await readOrFail(file, `${source}: the token file`, EXIT.auth)).toString('utf8');
  return checkToken(text.split(/\r?\n/)[0]?.trim() ?? '', `${source} ${file}`);
}

/** The token as it is, or an error that says what is wrong with it without showing it. */
function checkToken(token: string, source: string): string {
  if (token === '' || !/^[\x21-\x7e]+$/.test(token)) throw new AdminCliError(`${source}: ${token === '' ? 'the token is empty' : 'the token has characters a token cannot have'} (expected one line as \`gatehouse admin token\` writes it)`, EXIT.auth);
  return token;
}

/** Percent-encodes a path segment (a farm name, a server address such as `[::1]:8080`). */
export const segment = (value: string): string => encodeURIComponent(value);

/** The exit code of an API error status. */
export function exitCodeOf(status: number): number {
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 404) return EXIT.notFound;
  if (status === 409 || status === 412 || status === 428) return EXIT.conflict;
  return EXIT.error;
}

/** A problem+json answer as the CLI prints it: `<title> (<code>): <detail>` and one line per field error. */
export function problemMessage(status: number, body: unknown, text: string): string {
  const problem = (body && typeof body === 'object' ? body : {}) as { title?: unknown; code?: unknown; detail?: unknown; errors?: unknown };
  if (typeof problem.code !== 'string') return `the admin API answered ${status}${text.trim() ? `: ${text.trim().slice(0, 300)}` : ''}`;
  const lines = [`${String(problem.title ?? status)} (${problem.code}): ${String(problem.detail ?? '')}`];
  if (Array.isArray(problem.errors)) for (const error of problem.errors as { field?: unknown; message?: unknown }[]) lines.push(`  ${String(error.field)}: ${String(error.message)}`);
  return lines.join('\n');
}

/** What a failed connection means, and how to fix it. */
function connectionMessage(connection: Connection, error: NodeJS.ErrnoException): string {
  const code = error.code ?? '';
  const where = `the admin API at ${connection.url} (from ${connection.urlSource})`;
  const howToSet = `set its URL with --admin URL or ${ENV.url}`;
  if (['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ETIMEDOUT'].includes(code)) return `cannot connect to ${where} (${code}): is Gatehouse running, with its admin listener there? To connect elsewhere, ${howToSet}`;
  if (['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_UNTRUSTED'].includes(code)) {
    return `the certificate of ${where} is not trusted (${code}): name the CA that issued it with --ca FILE or ${ENV.ca} (only the system's CAs are trusted otherwise)`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `the certificate of ${where} does not name that host (${error.message}): connect by a name or address it has, with --admin URL or ${ENV.url}`;
  if (code === 'CERT_HAS_EXPIRED') return `the certificate of ${where} has expired (${code})`;
  if (code === 'ECONNRESET' || code === 'EPROTO' || /wrong version number|packet length too long/i.test(error.message)) return `${where} closed the connection (${code || error.message}): http versus https? ${howToSet}`;
  return `cannot reach ${where}: ${code ? `${code}: ` : ''}${error.message}`;
}

export interface RequestOptions {
  readonly body?: unknown;
  readonly ifMatch?: string;
  readonly timeoutMs?: number;
}

/** Sends one request to `<url>/api/v1<path>`; resolves with a 2xx answer, or rejects with an AdminCliError. */
export function apiRequest(connection: Connection, method: string, path: string, options: RequestOptions = {}): Promise<ApiReply> {
  const target = new URL(`${connection.url}/api/v1${path}`);
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  const headers: Record<string, string | number> = { accept: 'application/json, application/problem+json' };
  if (connection.token !== undefined) headers.authorization = `Bearer ${connection.token}`;
  if (options.ifMatch !== undefined) headers['if-match'] = options.ifMatch;
  if (payload) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = payload.length;
  }
  const tls = target.protocol === 'https:' ? { ...(connection.ca ? { ca: connection.ca } : {}), ...(connection.badge ? { cert: connection.badge.cert, key: connection.badge.key } : {}) } : {};
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(target, { method, headers, agent: false, ...tls }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (error) => reject(new AdminCliError(connectionMessage(connection, error), EXIT.error)));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = text === '' ? undefined : JSON.parse(text);
        } catch {
          body = undefined;
        }
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) return resolve({ status, headers: res.headers, body });
        reject(new AdminCliError(problemMessage(status, body, text), exitCodeOf(status), status, body && typeof body === 'object' ? (body as Record<string, unknown>) : undefined));
      });
    });
    req.setTimeout(options.timeoutMs ?? 30_000, () => req.destroy(Object.assign(new Error(`no answer within ${(options.timeoutMs ?? 30_000) / 1000} s`), { code: 'ETIMEDOUT' })));
    req.on('error', (error: NodeJS.ErrnoException) => reject(new AdminCliError(connectionMessage(connection, error), EXIT.error)));
    req.end(payload);
  });
}
