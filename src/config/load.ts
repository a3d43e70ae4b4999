/**
 * loadConfig: file → normalized, frozen Config, or every problem at once with its line.
 * Passes: YAML syntax, schema (shape and defaults), references and conflicts, TLS files.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isPair, isScalar, isSeq, type Document, type Node } from 'yaml';
import { parseDuration } from './duration.js';
import { normalizeFarmPolicies } from './farm-model.js';
import { normalizeTracing } from './tracing-schema.js';
import { adminFiles, checkAdmin, loadAdmin } from './admin-schema.js';
import { accessLogConflicts, normalizeAccessLogSettings } from './access-log-schema.js';
import type { AccessLogSettings, Binding, Config, Farm, OnlineRevocationSettings, RevocationCacheSettings, RevocationList, ServerCertificate, Site, TrustedCa } from './model.js';
import { ConfigError, formatProblem, type Problem } from './problem.js';
import { bindingSchema, configSchema, farmSchema, siteSchema, sslSchema, type DeclaredConfig, type DeclaredFarm, type DeclaredSite } from './schema.js';
import { schemaProblems } from './schema-problems.js';
import { checkReferences, parseServerAddress, type PartialConfig } from './references.js';
import { loadRevocationList, loadSecret, loadServerCertificate, loadTicketKey, loadTrustedCa } from './tls-files.js';
import { availableParallelism } from 'node:os';
import { checkTlsPolicy, DEFAULT_TLS_POLICY } from './tls-policy.js';
import { compileRules } from '../proxy/rules/compile-rules.js';
import { normalizeDynamicIpSecurity, normalizeLimits, type DeclaredLimits } from './limits-schema.js';

export interface LoadResult {
  readonly config: Config;
  /** Printable warning lines (`FILE:LINE key: warning: …`). */
  readonly warnings: readonly string[];
}

const EMPTY_REVOCATION: RevocationList = Object.freeze({ check: 'chain', pending: [], byIssuerFingerprint: new Map(), byIssuerSubject: new Map(), filesByIssuer: new Map(), crls: [], isEmpty: true });

/** Loads and checks a config file. Throws ConfigError with one line per problem. */
export async function loadConfig(file: string): Promise<LoadResult> {
  const full = resolve(file);
  let text: string;
  try {
    text = await readFile(full, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'the config file does not exist' : `the config file cannot be read (${code ?? (error as Error).message})`;
    throw new ConfigError(file, [`${file}:1 (file): ${why} (expected a YAML or JSON config file; see docs/config-reference.md)`]);
  }
  return loadConfigText(text, file, dirname(full), full);
}

/**
 * Loads a config from its text; `file` names it in messages (as the user wrote it), `dir` resolves relative
 * paths, `fullPath` is the file's absolute path (default: `file` taken as a name in `dir`).
 */
export async function loadConfigText(text: string, file: string, dir: string, fullPath?: string): Promise<LoadResult> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  // Problems in file order, so a user can fix them top to bottom.
  const lines = (problems: readonly Problem[]) =>
    problems
      .map((p) => ({ line: lineOf(doc, lineCounter, p), p }))
      .sort((x, y) => x.line - y.line)
      .map(({ line, p }) => formatProblem(file, line, p));
  if (doc.errors.length) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => `${file}:${lineCounter.linePos(e.pos[0]).line} (syntax): ${e.message.split('\n')[0] ?? e.message} (expected valid YAML)`),
    );
  }
  const raw: unknown = doc.toJS() ?? undefined;
  const parsed = configSchema.safeParse(raw, { reportInput: true });
  const warnings: Problem[] = [];
  if (!parsed.success) {
    // Report the reference problems of the parts that are valid too: all problems at once.
    const problems = [...schemaProblems(parsed.error.issues), ...checkReferences(validParts(raw), [], knownFarmNames(raw))];
    throw new ConfigError(file, lines(dedupe(problems)));
  }
  const declared = parsed.data;
  const problems = checkReferences(declared, warnings);
  const config = await normalize(declared, fullPath ?? resolve(dir, file), dir, problems, warnings);
  if (problems.length || !config) throw new ConfigError(file, lines(problems));
  return { config, warnings: lines(warnings).map((l) => l.replace(/^(\S+ [^:]+: )/, '$1warning: ')) };
}

/** The config file and every file it names, absolute. */
function filesOf(declared: DeclaredConfig, file: string, dir: string): string[] {
  const names: (string | undefined)[] = [declared.sessionTicketKeyFile];
  for (const site of declared.sites) {
    for (const binding of site.bindings) {
      const c = binding.certificate;
      if (c) names.push(c.certFile, c.keyFile, c.pfxFile, c.passphraseFile);
    }
    names.push(site.ssl.trustedCaFile, ...(typeof site.ssl.crlFile === 'string' ? [site.ssl.crlFile] : (site.ssl.crlFile ?? [])));
  }
  for (const farm of declared.farms) names.push(farm.protocol.signatureSecretFile);
  names.push(...adminFiles(declared.admin));
  return [...new Set([file, ...names.filter((n): n is string => n !== undefined).map((n) => resolve(dir, n))])];
}

/** The sites and farms that pass the schema, at their original indexes (holes for the others). */
function validParts(raw: unknown): PartialConfig {
  const record = (raw && typeof raw === 'object' ? raw : {}) as { sites?: unknown; farms?: unknown };
  const each = <T>(list: unknown, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }): (T | undefined)[] =>
    Array.isArray(list) ? list.map((item) => { const r = schema.safeParse(item); return r.success ? r.data : undefined; }) : [];
  const sites = Array.isArray(record.sites) ? record.sites.map(looseSite) : [];
  return { sites, farms: each(record.farms, farmSchema) };
}

/** A site that fails the schema, rebuilt from its valid parts when it has a name and a farm. */
function looseSite(raw: unknown): DeclaredSite | undefined {
  const whole = siteSchema.safeParse(raw);
  if (whole.success) return whole.data;
  const site = (raw ?? {}) as { name?: unknown; farm?: unknown; bindings?: unknown; ssl?: unknown };
  if (typeof site.name !== 'string' || typeof site.farm !== 'string') return undefined;
  const ssl = sslSchema.safeParse(site.ssl ?? {});
  const bindings = Array.isArray(site.bindings) ? site.bindings.map((b) => bindingSchema.safeParse(b)) : [];
  return {
    name: site.name,
    farm: site.farm,
    // Binding checks refer to bindings by index: run them only when every binding is valid.
    bindings: bindings.every((b) => b.success) ? bindings.flatMap((b) => (b.success ? [b.data] : [])) : [],
    ssl: ssl.success ? ssl.data : sslSchema.parse({}),
  };
}

/** Farm names as written, even in farms that fail the schema, so no site is told its farm is missing. */
function knownFarmNames(raw: unknown): string[] {
  const farms = (raw as { farms?: unknown } | undefined)?.farms;
  return Array.isArray(farms) ? farms.map((f) => (f as { name?: unknown } | null)?.name).filter((n): n is string => typeof n === 'string') : [];
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path.join('.')}|${p.key ?? ''}|${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

async function normalize(declared: DeclaredConfig, file: string, dir: string, problems: Problem[], warnings: Problem[]): Promise<Config | undefined> {
  const farms = new Map<string, Farm>();
  for (const [index, farm] of declared.farms.entries()) {
    let secret: Buffer | undefined;
    if (farm.protocol.signatureSecretFile !== undefined) {
      const loaded = await loadSecret(dir, farm.protocol.signatureSecretFile, ['farms', index, 'protocol', 'signatureSecretFile'], warnings);
      if (loaded.ok) secret = loaded.value;
      else problems.push(...loaded.problems);
    }
    farms.set(farm.name, normalizeFarm(farm, secret));
  }
  const accessLog = normalizeAccessLogSettings(declared.accessLog, dir);
  const sites: Site[] = [];
  for (const [siteIndex, site] of declared.sites.entries()) {
    const normalized = await normalizeSite(site, siteIndex, dir, farms, accessLog, declared.limits, problems, warnings);
    if (normalized) sites.push(normalized);
  }
  problems.push(
    ...accessLogConflicts([
      { path: ['accessLog'], settings: accessLog },
      ...declared.sites.flatMap((site, i) => (site.accessLog === undefined ? [] : [{ path: ['sites', i, 'accessLog'], settings: normalizeAccessLogSettings(site.accessLog, dir, accessLog) }])),
    ]),
  );
  if (problems.length) return undefined;
  checkSharedPortKeyTypes(sites, problems);
  checkAdmin(declared.admin, sites.flatMap((site) => site.bindings), problems, warnings);
  const admin = await loadAdmin(declared.admin, file, problems);
  if (problems.length) return undefined;
  let sessionTicketKey: Buffer | undefined;
  if (declared.sessionTicketKeyFile !== undefined) {
    const loaded = await loadTicketKey(dir, declared.sessionTicketKeyFile, ['sessionTicketKeyFile'], warnings);
    if (loaded.ok) sessionTicketKey = loaded.value;
    else {
      problems.push(...loaded.problems);
      return undefined;
    }
  }
  const workers = declared.workers === 'auto' ? Math.max(1, availableParallelism()) : declared.workers;
  return deepFreeze({ file, files: filesOf(declared, file, dir), sites, farms: [...farms.values()], drainTimeoutMs: parseDuration(declared.drainTimeout) as number, accessLog, admin, workers, sessionTicketKey, dynamicIpSecurity: normalizeDynamicIpSecurity(declared.dynamicIpSecurity) });
}

function normalizeFarm(farm: DeclaredFarm, signatureSecret: Buffer | undefined): Farm {
  const { protocol } = farm;
  return {
    name: farm.name,
    enabled: farm.enabled,
    maxConnectionsPerServer: farm.maxConnectionsPerServer,
    policies: normalizeFarmPolicies(farm),
    servers: farm.servers.map((server) => ({ ...(parseServerAddress(server.address) as { host: string; port: number }), address: server.address, weight: server.weight, enabled: server.enabled, state: server.state })),
    protocol: {
      timeoutMs: parseDuration(protocol.timeout) as number,
      clientCertHeaderName: protocol.clientCertHeaderName,
      clientCertFormat: protocol.clientCertFormat,
      sslHeaderName: protocol.sslHeaderName,
      logGuidName: protocol.logGuidName,
      xForwardedForHeaderName: protocol.xForwardedForHeaderName,
      includePortInXForwardedFor: protocol.includePortInXForwardedFor,
      forwardedProtoHeaderName: protocol.forwardedProtoHeaderName,
      preserveHostHeader: protocol.preserveHostHeader,
      reverseRewriteHostInResponseHeaders: protocol.reverseRewriteHostInResponseHeaders,
      maxForwards: protocol.maxForwards,
      maxResponseHeaderSize: protocol.maxResponseHeaderSize,
      signatureSecret,
      signatureHeaderName: protocol.signatureHeaderName,
    },
  };
}

async function normalizeSite(site: DeclaredSite, index: number, dir: string, farms: Map<string, Farm>, defaultAccessLog: AccessLogSettings, limits: DeclaredLimits, problems: Problem[], warnings: Problem[]): Promise<Site | undefined> {
  const at = ['sites', index] as const;
  const bindings: Binding[] = [];
  for (const [bindingIndex, binding] of site.bindings.entries()) {
    let certificate: ServerCertificate | undefined;
    if (binding.protocol === 'https' && binding.certificate) {
      const loaded = await loadServerCertificate(dir, binding.certificate, [...at, 'bindings', bindingIndex, 'certificate']);
      if (loaded.ok) certificate = loaded.value;
      else problems.push(...loaded.problems);
    }
    bindings.push({
      siteName: site.name,
      protocol: binding.protocol,
      address: binding.address.replace(/^\[(.*)\]$/, '$1'),
      port: binding.port,
      hostName: binding.hostName?.toLowerCase(),
      certificate,
      http2: binding.protocol === 'https' && binding.http2 !== false,
      tls: binding.tls ?? DEFAULT_TLS_POLICY,
    });
    if (binding.protocol === 'https' && binding.tls) checkTlsPolicy(binding.tls, [...at, 'bindings', bindingIndex, 'tls'], problems, warnings);
  }
  let trustedCa: TrustedCa | undefined;
  if (site.ssl.trustedCaFile !== undefined) {
    const loaded = await loadTrustedCa(dir, site.ssl.trustedCaFile, [...at, 'ssl', 'trustedCaFile']);
    if (loaded.ok) trustedCa = loaded.value;
    else problems.push(...loaded.problems);
  }
  let revocation: RevocationList = site.ssl.revocation.check === EMPTY_REVOCATION.check ? EMPTY_REVOCATION : { ...EMPTY_REVOCATION, check: site.ssl.revocation.check };
  if (site.ssl.crlFile !== undefined && trustedCa) {
    const files = typeof site.ssl.crlFile === 'string' ? [site.ssl.crlFile] : site.ssl.crlFile;
    const loaded = await loadRevocationList(dir, files, trustedCa, [...at, 'ssl', 'crlFile'], warnings, site.ssl.revocation.check);
    if (loaded.ok) revocation = loaded.value;
    else problems.push(...loaded.problems);
  }
  const defaultFarm = site.farm === undefined ? undefined : farms.get(site.farm);
  if (site.farm !== undefined && !defaultFarm) return undefined; // reported by checkReferences
  const rules = compileRules(site.rules ?? [], farms, defaultFarm);
  if (!rules) return undefined; // reported by checkReferences
  const firstRoute = rules.find((rule) => rule.action.type === 'route')?.action;
  const farm = defaultFarm ?? (firstRoute?.type === 'route' ? firstRoute.farm : undefined) ?? farms.values().next().value;
  if (!farm) return undefined; // reported by checkReferences (a site needs a farm or rules)
  const tracing = site.tracing === undefined ? undefined : normalizeTracing(site.tracing, dir, site.name);
  return { name: site.name, bindings, ssl: { requireSsl: site.ssl.requireSsl, clientCertificates: site.ssl.clientCertificates, trustedCa, revocation, onlineRevocation: onlineRevocationOf(site, dir, at, problems, warnings), revocationCache: revocationCacheOf(site, dir) }, farm, defaultFarm, rules, tracing, limits: normalizeLimits(limits, site.limits), accessLog: normalizeAccessLogSettings(site.accessLog, dir, defaultAccessLog) };
}

function revocationCacheOf(site: DeclaredSite, dir: string): RevocationCacheSettings {
  const declared = site.ssl.revocation;
  return { freshnessMs: parseDuration(declared.freshness) as number, fetchTimeoutMs: parseDuration(declared.fetchTimeout) as number, cacheFolder: resolve(dir, declared.cacheFolder) };
}

/** `ssl.revocation` with `online: true`, in milliseconds and an absolute cache folder; undefined when off. */
function onlineRevocationOf(site: DeclaredSite, dir: string, at: readonly (string | number)[], problems: Problem[], warnings: Problem[]): OnlineRevocationSettings | undefined {
  const declared = site.ssl.revocation;
  const { fetchTimeoutMs, freshnessMs, cacheFolder } = revocationCacheOf(site, dir);
  const path = [...at, 'ssl', 'revocation'];
  const stapled = site.bindings.some((binding) => binding.protocol === 'https' && binding.certificate?.ocspStapling);
  if ((declared.online && declared.check !== 'off') || stapled) {
    if (fetchTimeoutMs < 100 || fetchTimeoutMs > 60_000) problems.push({ path: [...path, 'fetchTimeout'], message: `is ${fetchTimeoutMs} ms`, expected: 'between 100ms and 60s' });
    if (freshnessMs < 1000) problems.push({ path: [...path, 'freshness'], message: `is ${freshnessMs} ms`, expected: 'at least 1s' });
  }
  if (!declared.online || declared.check === 'off') return undefined;
  if (site.ssl.clientCertificates === 'ignore') warnings.push({ path: [...path, 'online'], message: 'is true, but the site never asks for a client certificate (clientCertificates: ignore)', expected: 'clientCertificates: accept or require' });
  return { cachedOnly: declared.cachedOnly, freshnessMs, fetchTimeoutMs, whenUnknown: declared.whenUnknown, cacheFolder };
}

/**
 * https bindings sharing a port must hold certificates of one key type. Node adds the certificate of the
 * binding chosen by SNI next to the port's default one; with two key types (RSA and ECDSA) a TLS 1.2
 * client can be served the default binding's certificate instead of the one for the name it asked for.
 */
function checkSharedPortKeyTypes(sites: readonly Site[], problems: Problem[]): void {
  const first = new Map<string, { keyType: string; at: string }>();
  sites.forEach((site, s) =>
    site.bindings.forEach((binding, b) => {
      if (!binding.certificate || binding.port === 0) return;
      const key = `${binding.address}|${binding.port}`;
      const rawType = binding.certificate.leaf.publicKey.asymmetricKeyType ?? 'unknown';
      const keyType = rawType === 'ec' ? 'ECDSA' : rawType === 'rsa' || rawType === 'rsa-pss' ? 'RSA' : rawType;
      const seen = first.get(key);
      if (!seen) first.set(key, { keyType, at: `sites[${s}].bindings[${b}]` });
      else if (seen.keyType !== keyType) {
        problems.push({ path: ['sites', s, 'bindings', b, 'certificate'], message: `an ${keyType} certificate on a port where ${seen.at} has an ${seen.keyType} certificate`, expected: `certificates of one key type on a shared port (all ${seen.keyType}), or a port of its own` });
      }
    }),
  );
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value) && !Buffer.isBuffer(value) && !(value instanceof Map) && !(value instanceof Set) && !(value instanceof RegExp)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** The line of a problem: the key's own line, else the nearest existing node on its path. */
function lineOf(doc: Document, counter: LineCounter, problem: Problem): number {
  let node: unknown = doc.contents;
  let offset = (doc.contents as Node | null)?.range?.[0] ?? 0;
  const path = problem.key === undefined ? problem.path : [...problem.path, problem.key];
  for (const [i, part] of path.entries()) {
    let next: unknown;
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && item.key.value === part);
      if (pair && isPair(pair)) {
        // The last step of an unknown-key problem points at the key itself.
        if (i === path.length - 1 && problem.key !== undefined) next = pair.key;
        else next = pair.value ?? pair.key;
        const keyStart = (pair.key as Node | null)?.range?.[0];
        if (keyStart !== undefined) offset = keyStart;
      }
    } else if (isSeq(node) && typeof part === 'number') {
      next = node.items[part];
    }
    if (next === undefined || next === null) break;
    node = next;
    const start = (node as Node).range?.[0];
    if (start !== undefined) offset = start;
  }
  return counter.linePos(offset).line;
}
