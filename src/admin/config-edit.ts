/**
 * A write that edits one part of the config file (a site, its bindings or SSL settings, a farm): the part
 * as declared in the file, its ETag (a hash of it: edits elsewhere in the file do not change it), and the
 * PreparedWrite that edits it through the config store (validation, history, atomic write, reload),
 * auditing the touched part before → after.
 */
import { parse, type Document } from 'yaml';
import { configStoreOf, type ConfigStore, type WriteOutcome } from './config-store.js';
import { etagOf } from './etag.js';
import type { AdminContext } from './context.js';
import { ApiProblem } from './problem.js';
import type { AppliedWrite, PreparedWrite } from './route.js';

export type Declared = Record<string, unknown>;

/** The config file as declared (no defaults), with its ETag. */
export interface DeclaredFile {
  readonly yaml: string;
  readonly etag: string;
  readonly sites: readonly Declared[];
  readonly farms: readonly Declared[];
}

const list = (value: unknown): Declared[] => (Array.isArray(value) ? value.filter((v): v is Declared => typeof v === 'object' && v !== null) : []);

export async function readDeclared(store: ConfigStore): Promise<DeclaredFile> {
  const { yaml, etag } = await store.read();
  let raw: { sites?: unknown; farms?: unknown } = {};
  try {
    raw = (parse(yaml) ?? {}) as typeof raw;
  } catch {
    // A file that is not YAML has no parts: every part answers 404 until PUT /config fixes it.
  }
  return { yaml, etag, sites: list(raw.sites), farms: list(raw.farms) };
}

/** The ETag of a declared part (site, farm): a hash of its JSON. */
export function partEtag(part: unknown): string {
  return etagOf(JSON.stringify(part ?? null));
}

export function findSite(declared: DeclaredFile, name: string): { index: number; site: Declared } {
  const index = declared.sites.findIndex((s) => s.name === name);
  if (index < 0) throw new ApiProblem(404, 'site_not_found', 'Not Found', `no site named '${name}' in the config file (sites: ${declared.sites.map((s) => String(s.name)).join(', ') || 'none'})`);
  return { index, site: declared.sites[index] as Declared };
}

export function findDeclaredFarm(declared: DeclaredFile, name: string): { index: number; farm: Declared } {
  const index = declared.farms.findIndex((f) => f.name === name);
  if (index < 0) throw new ApiProblem(404, 'farm_not_found', 'Not Found', `no farm named '${name}' in the config file (farms: ${declared.farms.map((f) => String(f.name)).join(', ') || 'none'})`);
  return { index, farm: declared.farms[index] as Declared };
}

/** `value` set at `path`, or the key removed for null. */
export function setOrDelete(doc: Document, path: readonly (string | number)[], value: unknown): void {
  if (value === null) {
    if (doc.hasIn(path)) doc.deleteIn(path);
  }
  else doc.setIn(path, doc.createNode(value));
}

/** A write's answer once the config was written and reloaded (a refused reload threw 409 reload_refused and put the file back). */
export function configApplied(outcome: WriteOutcome, changed: boolean, after: unknown, body: Record<string, unknown>, etag: string): AppliedWrite {
  const config = { changed: outcome.changed, etag: outcome.etag, previousEtag: outcome.previousEtag, ...(outcome.historyId ? { historyId: outcome.historyId } : {}), warnings: [...outcome.warnings], reload: outcome.reload };
  return { changed, after, body: { ...body, config }, etag };
}

export interface EditSpec {
  readonly ctx: AdminContext;
  readonly actor: string;
  /** The file as read when the write was prepared (the edit is refused if it changed since). */
  readonly declared: DeclaredFile;
  /** What If-Match must carry: the part's ETag (or the config's, for a new part). */
  readonly etag: string;
  readonly operation: Record<string, unknown>;
  readonly before: unknown;
  readonly mutate: (doc: Document) => void;
  /** Once written and reloaded: the touched part now, the answer's fields, the ETag header. */
  readonly result: (now: DeclaredFile) => Promise<{ after: unknown; body: Record<string, unknown>; etag: string }>;
  readonly status?: number;
}

/** A copy without inline passphrases (a declared site may hold one): answers and the audit never show them. */
export function withoutSecrets<T>(value: T): T {
  return JSON.parse(JSON.stringify(value ?? null, (key, v: unknown) => (key === 'passphrase' ? '(hidden)' : v))) as T;
}

export function editWrite(spec: EditSpec): PreparedWrite {
  const store = configStoreOf(spec.ctx);
  const before = withoutSecrets(spec.before);
  return {
    etag: spec.etag,
    operation: withoutSecrets(spec.operation),
    before,
    apply: async () => {
      const outcome = await store.edit(spec.mutate, { who: spec.actor, ifEtag: spec.declared.etag });
      const result = await spec.result(await readDeclared(store));
      const after = withoutSecrets(result.after);
      const changed = JSON.stringify(after) !== JSON.stringify(before);
      const applied = configApplied(outcome, changed, after, { operation: withoutSecrets(spec.operation), changed, before, after, ...result.body }, result.etag);
      return spec.status ? { ...applied, status: spec.status } : applied;
    },
  };
}
