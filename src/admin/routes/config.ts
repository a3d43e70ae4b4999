/**
 * The config file: read it, replace it (validated as `gatehouse validate` does, kept in the history,
 * written atomically, reloaded), list the kept versions and restore one. Every write is guarded by the
 * config's ETag (a hash of the file's bytes).
 */
import { isScalar, parseDocument, visit } from 'yaml';
import { z } from 'zod';
import { configStoreOf, HISTORY_KEEP } from '../config-store.js';
import { configApplied } from '../config-edit.js';
import type { Route } from '../route.js';

/** The YAML with every inline `passphrase:` value replaced by `(hidden)`, the rest byte for byte as written. */
export function withoutInlineSecrets(yaml: string): string {
  const doc = parseDocument(yaml);
  if (doc.errors.length) return yaml.replace(/^(\s*-?\s*passphrase\s*:\s*).*$/gm, '$1(hidden)');
  const ranges: [number, number][] = [];
  visit(doc, {
    Pair(_key, pair) {
      if (isScalar(pair.key) && pair.key.value === 'passphrase' && isScalar(pair.value) && pair.value.range) ranges.push([pair.value.range[0], pair.value.range[1]]);
    },
  });
  let text = yaml;
  for (const [start, end] of ranges.sort((x, y) => y[0] - x[0])) text = `${text.slice(0, start)}(hidden)${text.slice(end)}`;
  return text;
}

export const CONFIG_GUARD = "the config's ETag (GET /config)";

export const reloadSchema = z.object({
  ok: z.boolean().describe('whether the new config is in force'),
  problems: z.array(z.string()).describe('why the reload was refused (the file stays written: fix it and write again)'),
  at: z.string().describe('when the reload ran (ISO 8601)'),
});
export const configWriteSchema = z.object({
  changed: z.boolean().describe('false when the file already held this text (nothing written; reloaded all the same)'),
  etag: z.string().describe("the config's new ETag"),
  previousEtag: z.string(),
  historyId: z.string().optional().describe('the history version that keeps the replaced text'),
  warnings: z.array(z.string()).describe('`FILE:LINE key.path: warning: …` lines, as gatehouse validate prints them'),
  reload: reloadSchema,
});
const versionSchema = z.object({ id: z.string(), time: z.string(), size: z.number().int(), etag: z.string(), writtenBy: z.string().optional(), replacedBy: z.string().optional() });
const emptyBody = z.strictObject({});
const configBody = z.strictObject({ yaml: z.string().min(1).describe('the whole config file (YAML; JSON is YAML too)') });

export const CONFIG_ROUTES: readonly Route[] = [
  {
    method: 'GET',
    path: '/config',
    operationId: 'getConfig',
    summary: 'The config file as it is on disk, and its ETag (which guards every write to it)',
    role: 'viewer',
    tag: 'config',
    response: { description: 'the text (ETag header: the config\'s ETag); inline `passphrase` values are shown as `(hidden)` to users below administrator (`redacted: true`)', schema: z.object({ file: z.string(), yaml: z.string(), etag: z.string(), redacted: z.boolean() }) },
    handle: async ({ ctx, principal }) => {
      const store = configStoreOf(ctx);
      const { yaml, etag } = await store.read();
      // A viewer reads the config, not its secrets: only an administrator (who may replace the file) gets it as written.
      const redacted = principal.role !== 'administrator';
      return { body: { file: store.file, yaml: redacted ? withoutInlineSecrets(yaml) : yaml, etag, redacted }, etag };
    },
  },
  {
    method: 'PUT',
    path: '/config',
    operationId: 'putConfig',
    maxBodyBytes: 4 * 1024 * 1024,
    summary: 'Replace the config file: validated as `gatehouse validate` does (422 with its FILE:LINE problems), the current file kept in the history, written atomically, reloaded',
    role: 'administrator',
    tag: 'config',
    body: configBody,
    guard: CONFIG_GUARD,
    errors: [409, 412, 422, 428],
    response: { description: 'written and reloaded (ETag header: the new config ETag); a refused reload answers 409 reload_refused and leaves the file as it was', schema: configWriteSchema },
    write: async ({ ctx, body, actor }) => {
      const store = configStoreOf(ctx);
      const { etag } = await store.read();
      const { yaml } = body as z.output<typeof configBody>;
      return {
        etag,
        operation: { type: 'config.replace', bytes: Buffer.byteLength(yaml) },
        before: { etag },
        apply: async () => {
          const outcome = await store.write(yaml, { who: actor, ifEtag: etag });
          const answer = configApplied(outcome, outcome.changed, { etag: outcome.etag, historyId: outcome.historyId ?? null }, {}, outcome.etag);
          return { ...answer, body: (answer.body as { config: unknown }).config };
        },
      };
    },
  },
  {
    method: 'GET',
    path: '/config/history',
    operationId: 'listConfigHistory',
    summary: `The kept versions of the config file, newest first (the last ${HISTORY_KEEP} replaced ones)`,
    role: 'viewer',
    tag: 'config',
    response: { description: 'the versions', schema: z.object({ folder: z.string(), keep: z.number().int(), versions: z.array(versionSchema) }) },
    handle: async ({ ctx }) => {
      const store = configStoreOf(ctx);
      return { body: { folder: store.historyDir, keep: HISTORY_KEEP, versions: await store.history() } };
    },
  },
  {
    method: 'GET',
    path: '/config/history/{id}',
    operationId: 'getConfigVersion',
    summary: 'One kept version of the config file with its text (for a diff against the current config or another version)',
    role: 'viewer',
    tag: 'config',
    params: { id: "the version's id (GET /config/history)" },
    errors: [404],
    response: { description: 'the version and its text; inline `passphrase` values are shown as `(hidden)` to users below administrator (`redacted: true`), as GET /config does', schema: versionSchema.extend({ yaml: z.string(), redacted: z.boolean() }) },
    handle: async ({ ctx, params, principal }) => {
      const version = await configStoreOf(ctx).versionText(params.id as string); // 404 version_not_found
      const redacted = principal.role !== 'administrator';
      return { body: { ...version, yaml: redacted ? withoutInlineSecrets(version.yaml) : version.yaml, redacted } };
    },
  },
  {
    method: 'POST',
    path: '/config/history/{id}/restore',
    operationId: 'restoreConfigVersion',
    summary: 'Write a kept version back as the config file (validated, the current file kept in turn, reloaded)',
    role: 'administrator',
    tag: 'config',
    params: { id: 'the version\'s id (GET /config/history)' },
    body: emptyBody,
    guard: CONFIG_GUARD,
    errors: [404, 409, 412, 422, 428],
    response: { description: 'restored and reloaded (ETag header: the new config ETag)', schema: configWriteSchema },
    write: async ({ ctx, params, actor }) => {
      const store = configStoreOf(ctx);
      const { etag } = await store.read();
      const id = params.id as string;
      await store.version(id); // 404 version_not_found
      return {
        etag,
        operation: { type: 'config.restore', id },
        before: { etag },
        apply: async () => {
          const outcome = await store.restore(id, { who: actor, ifEtag: etag });
          const answer = configApplied(outcome, outcome.changed, { etag: outcome.etag, historyId: outcome.historyId ?? null }, {}, outcome.etag);
          return { ...answer, body: (answer.body as { config: unknown }).config };
        },
      };
    },
  },
];
