/**
 * The console's only way to Gatehouse: the admin API under /api/v1. Credentials: the browser's client
 * certificate (TLS, nothing to do here) or a bearer token kept in sessionStorage (gone when the tab
 * closes) and sent as `Authorization: Bearer`. Never a cookie, so another site cannot act in the user's name.
 */
const TOKEN_KEY = 'gatehouse.token';
export const API = '/api/v1';

export type Role = 'viewer' | 'operator' | 'administrator';
export interface Whoami {
  readonly user: string;
  readonly role: Role;
  readonly kind: 'token' | 'certificate';
}

/** An answer that is not 2xx, with its problem+json. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    /** The problem's `errors`: which field is wrong (a 422 names config key paths, `sites.0.tracing.rules.1.statusCodes`). */
    readonly errors: readonly { readonly field: string; readonly message: string }[] = [],
  ) {
    super(detail);
  }
}

export function savedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}
export function saveToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

export function authHeaders(token: string | null = savedToken()): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

export interface Answer<T> {
  readonly body: T;
  readonly etag: string | null;
}

export async function call<T>(method: string, path: string, options: { body?: unknown; ifMatch?: string; token?: string | null } = {}): Promise<Answer<T>> {
  const headers: Record<string, string> = { accept: 'application/json', ...authHeaders(options.token === undefined ? savedToken() : options.token) };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.ifMatch !== undefined) headers['if-match'] = options.ifMatch;
  const res = await fetch(`${API}${path}`, { method, headers, credentials: 'same-origin', cache: 'no-store', ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}) });
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const problem = (json ?? {}) as { code?: string; detail?: string; title?: string; errors?: { field: string; message: string }[] };
    throw new ApiError(res.status, problem.code ?? 'unknown', problem.detail ?? problem.title ?? `${res.status} ${res.statusText}`, Array.isArray(problem.errors) ? problem.errors : []);
  }
  return { body: json as T, etag: res.headers.get('etag') };
}

export const get = <T>(path: string) => call<T>('GET', path);
