/**
 * Sites (IIS Sites): read each site's bindings and SSL settings as the config file declares them; change
 * the SSL settings (IIS's SSL Settings + Apply), add, edit and remove bindings, add and remove sites, read and
 * set the site's Failed Request Tracing rules. Every change edits the config file through the config
 * store (validated as `gatehouse validate` does, kept in the history, written atomically, reloaded) and is
 * guarded by the site's ETag (a hash of the site as declared; a new site: the config's ETag).
 *
 * A binding's id is `<protocol>-<address>-<port>-<hostName or *>` (`https-127.0.0.1-8443-app.example.test`,
 * `http-0.0.0.0-80-*`): readable, and independent of the binding's position in the list; a second binding
 * with the same id (two port-0 bindings) gets `~2`.
 */
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { z } from 'zod';
import { bindingSchema, siteSchema, sslSchema } from '../../config/schema.js';
import { CERTIFICATE_ID, certificateFiles, certificateStoreDir } from '../certificate-paths.js';
import { editWrite, findSite, partEtag, readDeclared, setOrDelete, type Declared, type DeclaredFile } from '../config-edit.js';
import { configStoreOf } from '../config-store.js';
import type { AdminContext } from '../context.js';
import { ApiProblem } from '../problem.js';
import type { Call, PreparedWrite, Route } from '../route.js';
import { CONFIG_GUARD, configWriteSchema } from './config.js';

const SITE_GUARD = "the site's ETag (GET /sites/{site})";

// Answers.
const certificateViewSchema = z
  .object({
    id: z.string().optional().describe('the certificate store id, when the files are the store\'s'),
    certFile: z.string().optional(),
    keyFile: z.string().optional(),
    pfxFile: z.string().optional(),
    ocspStapling: z.boolean(),
  })
  .nullable();
const bindingViewSchema = z.object({
  id: z.string().describe('`<protocol>-<address>-<port>-<hostName or *>`: names the binding in DELETE /sites/{site}/bindings/{id}'),
  protocol: z.enum(['http', 'https']),
  address: z.string(),
  port: z.number().int(),
  hostName: z.string().nullable(),
  http2: z.boolean().nullable().describe('https: whether HTTP/2 is offered (default true); null on http'),
  certificate: certificateViewSchema,
});
const sslViewSchema = z.object({
  requireSsl: z.boolean(),
  clientCertificates: z.enum(['ignore', 'accept', 'require']),
  trustedCaFile: z.string().nullable(),
  crlFile: z.array(z.string()),
  revocation: z.object({ check: z.string(), online: z.boolean(), whenUnknown: z.string() }).describe('a summary of ssl.revocation'),
});
const siteViewSchema = z.object({
  name: z.string(),
  etag: z.string().describe('the value If-Match must carry for a write under this site'),
  farm: z.string().nullable(),
  rules: z.number().int().describe('how many routing rules the site has'),
  bindings: z.array(bindingViewSchema),
  ssl: sslViewSchema,
  tracing: z.boolean().describe('whether Failed Request Tracing is on (GET /sites/{site}/tracing)'),
});
const siteWriteSchema = z.object({
  operation: z.record(z.string(), z.unknown()),
  changed: z.boolean(),
  before: z.unknown(),
  after: z.unknown(),
  site: siteViewSchema.nullable().describe('the site after the change (null once deleted)'),
  config: configWriteSchema,
});
const tracingViewSchema = z.object({ site: z.string(), etag: z.string(), tracing: z.record(z.string(), z.unknown()).nullable().describe('the site\'s `tracing` key as the config file holds it (null: off)') });

// Requests.
const sslBody = z.strictObject({
  requireSsl: sslSchema.shape.requireSsl.unwrap().optional(),
  clientCertificates: sslSchema.shape.clientCertificates.unwrap().optional(),
  trustedCaFile: z.string().min(1).nullable().optional().describe('PEM bundle of the CAs that issue client certificates; null removes it'),
  crlFile: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).nullable().optional().describe('CRL file(s); null removes them'),
}).describe('IIS SSL Settings: the fields given are set (null removes a file), the others stay');
const certificateRef = z
  .union([
    z.strictObject({ id: z.string().regex(CERTIFICATE_ID, 'a certificate store id: the SHA-1 thumbprint, 40 upper-case hex digits (GET /certificates)') }),
    z.strictObject({ certFile: z.string().min(1), keyFile: z.string().min(1) }),
  ])
  .describe('`{ id }` of a certificate in the certificate store, or `{ certFile, keyFile }` (relative to the config file)');
const bindingBody = z.strictObject({
  protocol: bindingSchema.shape.protocol,
  address: bindingSchema.shape.address,
  port: bindingSchema.shape.port,
  hostName: bindingSchema.shape.hostName,
  http2: bindingSchema.shape.http2,
  certificate: certificateRef.optional(),
});
const siteBody = z.strictObject({
  name: siteSchema.shape.name,
  farm: siteSchema.shape.farm,
  bindings: z.array(bindingBody).min(1),
  ssl: sslBody.optional(),
});
const tracingBody = z.strictObject({ tracing: z.record(z.string(), z.unknown()).nullable().describe('the site\'s `tracing` key (directory, maxFiles, maxFileSizeKB, redactHeaders, rules: see the config reference); null turns tracing off') });

const siteParam = { site: 'the site\'s name' };

// Views of the declared config.
const files = (value: unknown): string[] => (typeof value === 'string' ? [value] : Array.isArray(value) ? value.map(String) : []);
const record = (value: unknown): Declared => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Declared) : {});

export function bindingIds(bindings: readonly Declared[]): string[] {
  const seen = new Map<string, number>();
  return bindings.map((b) => {
    const address = String(b.address ?? '0.0.0.0').replace(/^\[(.*)\]$/, '$1');
    const id = `${String(b.protocol)}-${address}-${String(b.port)}-${typeof b.hostName === 'string' ? b.hostName.toLowerCase() : '*'}`;
    const count = (seen.get(id) ?? 0) + 1;
    seen.set(id, count);
    return count === 1 ? id : `${id}~${count}`;
  });
}

function certificateView(value: unknown, configDir: string, storeDir: string): z.output<typeof certificateViewSchema> {
  if (value === undefined || value === null) return null;
  const c = record(value);
  const certFile = typeof c.certFile === 'string' ? c.certFile : undefined;
  const inStore = certFile ? /^([0-9A-F]{40})\.pem$/.exec(relative(storeDir, resolve(configDir, certFile))) : null;
  // Never the passphrase.
  return { ...(inStore ? { id: inStore[1] as string } : {}), ...(certFile ? { certFile } : {}), ...(typeof c.keyFile === 'string' ? { keyFile: c.keyFile } : {}), ...(typeof c.pfxFile === 'string' ? { pfxFile: c.pfxFile } : {}), ocspStapling: c.ocspStapling === true };
}

function bindingViews(site: Declared, ctx: AdminContext): z.output<typeof bindingViewSchema>[] {
  const config = ctx.config();
  const configDir = dirname(config.file);
  const storeDir = certificateStoreDir(config);
  const bindings = Array.isArray(site.bindings) ? site.bindings.map(record) : [];
  const ids = bindingIds(bindings);
  return bindings.map((b, i) => ({
    id: ids[i] as string,
    protocol: b.protocol === 'https' ? 'https' : 'http',
    address: String(b.address ?? '0.0.0.0'),
    port: Number(b.port),
    hostName: typeof b.hostName === 'string' ? b.hostName : null,
    http2: b.protocol === 'https' ? b.http2 !== false : null,
    certificate: certificateView(b.certificate, configDir, storeDir),
  }));
}

function sslView(site: Declared): z.output<typeof sslViewSchema> {
  const ssl = record(site.ssl);
  const revocation = record(ssl.revocation);
  const mode = ssl.clientCertificates;
  return {
    requireSsl: ssl.requireSsl === true,
    clientCertificates: mode === 'accept' || mode === 'require' ? mode : 'ignore',
    trustedCaFile: typeof ssl.trustedCaFile === 'string' ? ssl.trustedCaFile : null,
    crlFile: files(ssl.crlFile),
    revocation: { check: typeof revocation.check === 'string' ? revocation.check : 'chain', online: revocation.online === true, whenUnknown: typeof revocation.whenUnknown === 'string' ? revocation.whenUnknown : 'deny' },
  };
}

function siteView(site: Declared, ctx: AdminContext): z.output<typeof siteViewSchema> {
  return { name: String(site.name), etag: partEtag(site), farm: typeof site.farm === 'string' ? site.farm : null, rules: Array.isArray(site.rules) ? site.rules.length : 0, bindings: bindingViews(site, ctx), ssl: sslView(site), tracing: site.tracing !== undefined && site.tracing !== null };
}

/** The SSL settings as the file writes them (for the audit's before → after). */
const sslPart = (site: Declared | undefined) => (site ? { ...record(site.ssl) } : null);
const bindingsPart = (site: Declared | undefined) => (site ? bindingIds(Array.isArray(site.bindings) ? site.bindings.map(record) : []) : null);
const tracingPart = (site: Declared | undefined) => (site ? (site.tracing ?? null) : null);

/** The binding as the config file declares it: a store certificate named by its files, relative to the config when inside its folder. */
function declaredBinding(body: z.output<typeof bindingBody>, ctx: AdminContext): Declared {
  const config = ctx.config();
  const configDir = dirname(config.file);
  const near = (file: string) => {
    const rel = relative(configDir, file);
    return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
  };
  const { certificate, ...rest } = body;
  const declared: Declared = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
  if (certificate) {
    if ('id' in certificate) {
      const { certFile, keyFile } = certificateFiles(certificateStoreDir(config), certificate.id);
      declared.certificate = { certFile: near(certFile), keyFile: near(keyFile) };
    } else declared.certificate = { certFile: certificate.certFile, keyFile: certificate.keyFile };
  }
  return declared;
}

/** The position of the binding with that id; 404 binding_not_found naming the site's bindings. */
function bindingAt(site: Declared, bindings: readonly Declared[], id: string): number {
  const ids = bindingIds(bindings);
  const at = ids.indexOf(id);
  if (at < 0) throw new ApiProblem(404, 'binding_not_found', 'Not Found', `site '${String(site.name)}' has no binding '${id}' (bindings: ${ids.join(', ') || 'none'})`);
  return at;
}

/** An edit of a declared binding: the body's fields replace; on https its TLS policy stays, and its certificate and http2 unless given. */
function editedBinding(old: Declared, given: Declared): Declared {
  const edited: Declared = { ...given };
  if (given.protocol === 'https') {
    if (old.tls !== undefined) edited.tls = old.tls;
    if (given.certificate === undefined && old.certificate !== undefined) edited.certificate = old.certificate;
    if (given.http2 === undefined && old.http2 !== undefined) edited.http2 = old.http2;
  }
  return edited;
}

/** A write under one site: guarded by its ETag; answers with the site after it. */
function siteWrite(
  build: (call: Call, found: { index: number; site: Declared }, declared: DeclaredFile) => { operation: Record<string, unknown>; mutate: Parameters<typeof editWrite>[0]['mutate'] },
  touched: (site: Declared | undefined) => unknown,
  status?: number,
): (call: Call) => Promise<PreparedWrite> {
  return async (call) => {
    const name = call.params.site as string;
    const declared = await readDeclared(configStoreOf(call.ctx));
    const found = findSite(declared, name);
    let built: ReturnType<typeof build>;
    try {
      built = build(call, found, declared);
    } catch (error) {
      // A binding another user changed since the client read the site: its stale If-Match answers first (412), as for any change to the site.
      if (error instanceof ApiProblem && error.code === 'binding_not_found') return { etag: partEtag(found.site), operation: { type: 'site.binding', id: call.params.id ?? null, site: name }, before: null, apply: () => Promise.reject(error) };
      throw error;
    }
    const { operation, mutate } = built;
    return editWrite({
      ctx: call.ctx,
      actor: call.actor,
      declared,
      etag: partEtag(found.site),
      operation: { ...operation, site: name },
      before: touched(found.site),
      mutate,
      ...(status ? { status } : {}),
      result: async (now) => {
        const site = now.sites.find((s) => s.name === name);
        return { after: touched(site), body: { site: site ? siteView(site, call.ctx) : null }, etag: site ? partEtag(site) : now.etag };
      },
    });
  };
}

export const SITE_ROUTES: readonly Route[] = [
  {
    method: 'GET',
    path: '/sites',
    operationId: 'listSites',
    summary: 'Every site with its bindings and SSL settings, as the config file declares them',
    role: 'viewer',
    tag: 'sites',
    response: { description: 'the sites', schema: z.object({ sites: z.array(siteViewSchema) }) },
    handle: async ({ ctx }) => {
      const declared = await readDeclared(configStoreOf(ctx));
      return { body: { sites: declared.sites.map((site) => siteView(site, ctx)) } };
    },
  },
  {
    method: 'GET',
    path: '/sites/{site}',
    operationId: 'getSite',
    summary: 'A site: bindings (with their ids), SSL settings; its ETag guards every write under it',
    role: 'viewer',
    tag: 'sites',
    params: siteParam,
    errors: [404],
    response: { description: 'the site (ETag header: the site\'s ETag)', schema: siteViewSchema },
    handle: async ({ ctx, params }) => {
      const { site } = findSite(await readDeclared(configStoreOf(ctx)), params.site as string);
      const view = siteView(site, ctx);
      return { body: view, etag: view.etag };
    },
  },
  {
    method: 'PUT',
    path: '/sites/{site}/ssl',
    operationId: 'setSiteSsl',
    summary: "Set the site's SSL settings (IIS's SSL Settings + Apply): requireSsl, clientCertificates, trustedCaFile, crlFile; validated with the whole config, reloaded",
    role: 'administrator',
    tag: 'sites',
    params: siteParam,
    body: sslBody,
    guard: SITE_GUARD,
    errors: [404, 409, 412, 422, 428],
    response: { description: 'applied and reloaded (ETag header: the site\'s new ETag)', schema: siteWriteSchema },
    write: siteWrite(({ body }, { index }) => {
      const ssl = body as z.output<typeof sslBody>;
      return {
        operation: { type: 'site.setSsl', ...ssl },
        mutate: (doc) => {
          for (const [key, value] of Object.entries(ssl)) if (value !== undefined) setOrDelete(doc, ['sites', index, 'ssl', key], value);
        },
      };
    }, sslPart),
  },
  {
    method: 'POST',
    path: '/sites/{site}/bindings',
    operationId: 'addSiteBinding',
    summary: 'Add a binding to the site (https with a certificate: a store id or certFile + keyFile); validated with the whole config, reloaded',
    role: 'administrator',
    tag: 'sites',
    params: siteParam,
    body: bindingBody,
    guard: SITE_GUARD,
    errors: [404, 409, 412, 422, 428],
    response: { description: 'added and reloaded (status 201; ETag header: the site\'s new ETag)', schema: siteWriteSchema },
    write: siteWrite(({ body, ctx }, { index }) => {
      const binding = declaredBinding(body as z.output<typeof bindingBody>, ctx);
      return { operation: { type: 'site.addBinding', binding }, mutate: (doc) => void doc.addIn(['sites', index, 'bindings'], doc.createNode(binding)) };
    }, bindingsPart, 201),
  },
  {
    method: 'PUT',
    path: '/sites/{site}/bindings/{id}',
    operationId: 'setSiteBinding',
    summary: "Edit a binding in place (IIS's Bindings → Edit): protocol, address, port, host name, http2 and certificate as given; it keeps its position and, on https, its TLS policy, and its certificate and http2 unless given; validated with the whole config, reloaded",
    role: 'administrator',
    tag: 'sites',
    params: { site: 'the site\'s name', id: 'the binding\'s id (GET /sites/{site})' },
    body: bindingBody,
    guard: SITE_GUARD,
    errors: [404, 409, 412, 422, 428],
    response: { description: 'edited and reloaded (ETag header: the site\'s new ETag; the binding\'s id follows its new protocol, address, port and host name)', schema: siteWriteSchema },
    write: siteWrite(({ body, ctx, params }, { index, site }) => {
      const bindings = Array.isArray(site.bindings) ? site.bindings.map(record) : [];
      const at = bindingAt(site, bindings, params.id as string);
      const binding = editedBinding(bindings[at] as Declared, declaredBinding(body as z.output<typeof bindingBody>, ctx));
      return { operation: { type: 'site.setBinding', id: params.id as string, binding }, mutate: (doc) => void doc.setIn(['sites', index, 'bindings', at], doc.createNode(binding)) };
    }, (site) => (site ? (site.bindings ?? null) : null)),
  },
  {
    method: 'DELETE',
    path: '/sites/{site}/bindings/{id}',
    operationId: 'deleteSiteBinding',
    summary: 'Remove a binding from the site (a site keeps at least one); validated with the whole config, reloaded',
    role: 'administrator',
    tag: 'sites',
    params: { site: 'the site\'s name', id: 'the binding\'s id (GET /sites/{site})' },
    guard: SITE_GUARD,
    errors: [404, 409, 412, 422, 428],
    response: { description: 'removed and reloaded (ETag header: the site\'s new ETag)', schema: siteWriteSchema },
    write: siteWrite(({ params }, { index, site }) => {
      const at = bindingAt(site, Array.isArray(site.bindings) ? site.bindings.map(record) : [], params.id as string);
      return { operation: { type: 'site.deleteBinding', id: params.id as string }, mutate: (doc) => void doc.deleteIn(['sites', index, 'bindings', at]) };
    }, bindingsPart),
  },
  {
    method: 'POST',
    path: '/sites',
    operationId: 'addSite',
    summary: 'Add a site (name, farm, bindings, SSL settings); validated with the whole config, reloaded',
    role: 'administrator',
    tag: 'sites',
    body: siteBody,
    guard: CONFIG_GUARD,
    errors: [409, 412, 422, 428],
    response: { description: 'added and reloaded (status 201; ETag header: the new site\'s ETag)', schema: siteWriteSchema },
    write: async ({ ctx, actor, body }) => {
      const input = body as z.output<typeof siteBody>;
      const declared = await readDeclared(configStoreOf(ctx));
      const ssl = input.ssl ? Object.fromEntries(Object.entries(input.ssl).filter(([, v]) => v !== undefined && v !== null)) : undefined;
      const site: Declared = { name: input.name, ...(input.farm !== undefined ? { farm: input.farm } : {}), bindings: input.bindings.map((b) => declaredBinding(b, ctx)), ...(ssl && Object.keys(ssl).length ? { ssl } : {}) };
      return editWrite({
        ctx,
        actor,
        declared,
        etag: declared.etag,
        operation: { type: 'site.add', site },
        before: null,
        status: 201,
        mutate: (doc) => void doc.addIn(['sites'], doc.createNode(site)),
        result: async (now) => {
          const added = now.sites.find((s) => s.name === input.name);
          return { after: added ?? null, body: { site: added ? siteView(added, ctx) : null }, etag: added ? partEtag(added) : now.etag };
        },
      });
    },
  },
  {
    method: 'DELETE',
    path: '/sites/{site}',
    operationId: 'deleteSite',
    summary: 'Remove a site (refused, with the validate problem, for the last site); validated with the whole config, reloaded',
    role: 'administrator',
    tag: 'sites',
    params: siteParam,
    guard: SITE_GUARD,
    errors: [404, 409, 412, 422, 428],
    response: { description: 'removed and reloaded (ETag header: the config\'s new ETag)', schema: siteWriteSchema },
    write: siteWrite((_call, { index }) => ({ operation: { type: 'site.delete' }, mutate: (doc) => void doc.deleteIn(['sites', index]) }), (site) => site ?? null),
  },
  {
    method: 'GET',
    path: '/sites/{site}/tracing',
    operationId: 'getSiteTracing',
    summary: "The site's Failed Request Tracing settings and rules, as the config file holds them",
    role: 'viewer',
    tag: 'sites',
    params: siteParam,
    errors: [404],
    response: { description: 'the tracing key (ETag header: the site\'s ETag)', schema: tracingViewSchema },
    handle: async ({ ctx, params }) => {
      const { site } = findSite(await readDeclared(configStoreOf(ctx)), params.site as string);
      const etag = partEtag(site);
      return { body: { site: String(site.name), etag, tracing: (site.tracing ?? null) as Record<string, unknown> | null }, etag };
    },
  },
  {
    method: 'PUT',
    path: '/sites/{site}/tracing',
    operationId: 'setSiteTracing',
    summary: "Set the site's Failed Request Tracing settings and rules (the config's `tracing` key; null turns tracing off); validated with the whole config, reloaded",
    role: 'operator',
    tag: 'sites',
    params: siteParam,
    body: tracingBody,
    guard: SITE_GUARD,
    errors: [404, 409, 412, 422, 428],
    response: { description: 'applied and reloaded (ETag header: the site\'s new ETag)', schema: siteWriteSchema },
    write: siteWrite(({ body }, { index }) => {
      const { tracing } = body as z.output<typeof tracingBody>;
      return { operation: { type: 'site.setTracing', tracing }, mutate: (doc) => setOrDelete(doc, ['sites', index, 'tracing'], tracing) };
    }, tracingPart),
  },
];
