/**
 * `system.applicationHost/sites/site` → `sites`: bindings (`bindingInformation="IP:port:host"`, `*` = every
 * address, the SNI bit of `sslFlags`), each https binding's certificate (HTTP.sys's, through iis-certs'
 * module), the site's SSL settings (`<location path="Site">` `system.webServer/security/access/@sslFlags`),
 * the routing rules that can reach it, tracing and limits.
 */
import { bindingCertificate, clientCaFile, revocationOf, type CertificateOptions, type Where } from './certificates.js';
import type { MappedFarm } from './map-farms.js';
import { mapSiteRules, type MappedRule } from './map-rules.js';
import { siteLimits } from './map-limits.js';
import { siteTracing } from './map-tracing.js';
import { parseSslFlags, reportAt, toDuration, type Names, type Source } from './model.js';
import { parseDuration } from '../../config/duration.js';
import { LIMIT_DEFAULTS } from '../../config/limits-schema.js';
import { findSslCert, type SslCertEntry } from './sslcert.js';
import { allAt, collection, elementPath, locationPath, mergedAttr, sectionChain, type XmlElement } from './xml.js';

export interface MappedSite {
  readonly iisName: string;
  readonly name: string;
  readonly value: Record<string, unknown>;
  readonly comment: string;
  /** Comments above each rule, by index in `value.rules`. */
  readonly ruleComments: readonly string[];
  readonly bindings: number;
  /** Distributed rules (`rewrite/rules`) mapped for this site. */
  readonly localRules: number;
}

export interface SiteOptions {
  readonly certificates: CertificateOptions;
  /** Entries of `--sslcert`, or undefined without it. */
  readonly sslcert: readonly SslCertEntry[] | undefined;
  readonly sslcertFile: string | undefined;
}

const HOST_NAME = /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** `*`/`?` wildcard test, case-insensitive. */
function wildcardTest(pattern: string, text: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(text);
}

/** Whether a rule's host can reach a site: the site answers every host, or one of its host names fits. */
function ruleReaches(rule: MappedRule, hosts: readonly (string | undefined)[]): boolean {
  if (rule.host === undefined) return true;
  return hosts.some((h) => h === undefined || wildcardTest(rule.host as string, h) || wildcardTest(h, rule.host as string));
}

interface MappedBinding {
  readonly value: Record<string, unknown>;
  readonly entry?: SslCertEntry;
  readonly element: XmlElement;
  readonly hostName?: string;
}

async function mapBinding(binding: XmlElement, source: Source, options: SiteOptions): Promise<MappedBinding | undefined> {
  const protocol = (binding.attr('protocol') ?? '').trim().toLowerCase();
  const info = binding.attr('bindingInformation') ?? '';
  if (protocol !== 'http' && protocol !== 'https') {
    binding.consume();
    reportAt(source, binding, undefined, `a ${protocol || 'binding without a'} protocol binding (${info}): Gatehouse serves http and https only, not imported`);
    return undefined;
  }
  const m = /^(\*|\[[^\]]*\]|[^:]*):(\d+):(.*)$/.exec(info.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 1 && port <= 65535)) {
    binding.consume();
    reportAt(source, binding, 'bindingInformation', `'${info}' is not IP:port:host: binding not imported`);
    return undefined;
  }
  const iisAddress = m[1] === '' ? '*' : (m[1] as string);
  const address = iisAddress === '*' ? '::' : iisAddress.replace(/^\[(.*)\]$/, '$1');
  let host: string | undefined = (m[3] as string).trim() || undefined;
  if (host !== undefined && !HOST_NAME.test(host)) {
    reportAt(source, binding, 'bindingInformation', `the host name '${host}' is not a DNS name Gatehouse accepts: the binding answers for every host name on its port`);
    host = undefined;
  }
  const value: Record<string, unknown> = { protocol, address, port };
  if (host !== undefined) value['hostName'] = host;
  const flags = Number((binding.attr('sslFlags') ?? '0').trim()) || 0;
  if (protocol === 'http') {
    return { value, element: binding, ...(host === undefined ? {} : { hostName: host }) };
  }
  const where: Where = { file: source.file, line: binding.line, element: elementPath(binding) };
  let entry: SslCertEntry | undefined;
  if ((flags & 2) === 2) {
    reportAt(source, binding, 'sslFlags', `the Central Certificate Store serves this binding's certificate: export the certificate for ${host ?? 'its host name'} from the store as a PFX`);
  }
  if (options.sslcert) {
    entry = findSslCert(options.sslcert, { address: iisAddress === '*' ? '0.0.0.0' : iisAddress, port, hostName: host ?? null, sni: (flags & 1) === 1 });
    if (!entry) reportAt(source, binding, undefined, `certificate: ${options.sslcertFile ?? 'the sslcert file'} has no entry for ${(flags & 1) === 1 && host ? `${host}:${port}` : `${iisAddress === '*' ? '0.0.0.0' : iisAddress}:${port}`}: a placeholder certificate is named`);
  }
  // Without --sslcert, bindingCertificate's report line says where the certificate comes from (HTTP.sys, netsh).
  value['certificate'] = { ...(await bindingCertificate(entry?.certificateHash, options.certificates, where, source.report)) };
  return { value, element: binding, ...(entry ? { entry } : {}), ...(host === undefined ? {} : { hostName: host }) };
}

/** The site's `ssl` from the merged `access/@sslFlags` and its https bindings' HTTP.sys entries. */
function siteSsl(root: XmlElement, source: Source, site: string, bindings: readonly MappedBinding[], options: SiteOptions): Record<string, unknown> | undefined {
  const ssl: Record<string, unknown> = {};
  const found = mergedAttr(sectionChain(root, ['system.webServer', 'security', 'access'], site), 'sslFlags');
  if (found) {
    const { flags, unknown } = parseSslFlags(found.value);
    if (flags.has('ssl')) ssl['requireSsl'] = true;
    const mode = flags.has('sslrequirecert') ? 'require' : flags.has('sslnegotiatecert') ? 'accept' : undefined;
    if (mode) {
      ssl['clientCertificates'] = mode;
      ssl['trustedCaFile'] = clientCaFile(options.certificates, { file: source.file, line: found.element.line, element: elementPath(found.element) }, source.report);
    }
    if (flags.has('sslmapcert')) reportAt(source, found.element, 'sslFlags', 'SslMapCert (client certificate mapping to Windows accounts): no Gatehouse equivalent; rules can match the certificate subject, issuer or thumbprint');
    for (const u of unknown) reportAt(source, found.element, 'sslFlags', `'${u}' is not an IIS SSL flag: ignored`);
  }
  // Each https binding's HTTP.sys entry is read (its report lines: what Gatehouse does not take as it is);
  // the first one's revocation settings become the site's, used only when the site asks for client certificates.
  const https = bindings.filter((b): b is MappedBinding & { entry: SslCertEntry } => b.value['protocol'] === 'https' && b.entry !== undefined);
  const first = https[0];
  if (first) {
    const revocations = https.map((b) => revocationOf(b.entry, { file: source.file, line: b.element.line, element: elementPath(b.element) }, source.report));
    const revocation = revocations[0];
    if (revocation && ssl['clientCertificates']) ssl['revocation'] = revocation;
    for (const [index, other] of https.entries()) {
      if (index > 0 && JSON.stringify(revocations[index]) !== JSON.stringify(revocation)) {
        reportAt(source, other.element, undefined, `its HTTP.sys revocation settings differ from the site's first https binding's (line ${first.element.line}); Gatehouse's revocation settings are per site: the first binding's are used`);
      }
    }
  }
  return Object.keys(ssl).length ? ssl : undefined;
}

/** Every site, with the routing rules that can reach it. */
export async function mapSites(root: XmlElement, source: Source, names: Names, farms: ReadonlyMap<string, MappedFarm>, rules: readonly MappedRule[], globalLimits: Record<string, unknown>, options: SiteOptions): Promise<MappedSite[]> {
  const sitesEls = allAt(root, ['system.applicationHost', 'sites']);
  if (sitesEls.length === 0) return [];
  const defaults = sitesEls.flatMap((e) => e.children).find((c) => c.name.toLowerCase() === 'sitedefaults');
  if (defaults) defaults.used = true;
  for (const name of ['applicationDefaults', 'virtualDirectoryDefaults']) for (const e of sitesEls) e.child(name)?.consume();
  const out: MappedSite[] = [];
  const siteNames: string[] = [];
  for (const site of collection(sitesEls, 'site', ['name'])) {
    const iisName = site.attr('name')?.trim() ?? '';
    site.ignore('id', 'serverAutoStart');
    if (!iisName) {
      site.consume();
      reportAt(source, site, 'name', 'a site without a name: not imported');
      continue;
    }
    siteNames.push(iisName.toLowerCase());
    const bindingsEl = site.child('bindings');
    const mapped: MappedBinding[] = [];
    for (const b of bindingsEl ? collection([bindingsEl], 'binding', ['protocol', 'bindingInformation']) : []) {
      const m = await mapBinding(b, source, options);
      if (m) mapped.push(m);
    }
    if (mapped.length === 0) {
      site.consume();
      reportAt(source, site, undefined, 'a site without an http or https binding: not imported');
      continue;
    }
    const name = names.name('site', iisName);
    const value: Record<string, unknown> = { name, bindings: mapped.map((b) => b.value) };
    const ssl = siteSsl(root, source, iisName, mapped, options);
    if (ssl) value['ssl'] = ssl;
    // Rules: the global rules that can reach one of its host names; the first catch-all that stops is its farm.
    const hosts = mapped.map((b) => b.hostName);
    const siteRules: MappedRule[] = [];
    let farm: string | undefined;
    let last: MappedRule | undefined;
    const local = mapSiteRules(root, source, farms, iisName);
    for (const rule of [...rules.filter((r) => ruleReaches(r, hosts)), ...local]) {
      if (last !== undefined) {
        const before = last.farm === undefined ? `answers every request (${String((last.rule['action'] as Record<string, unknown>)['type'])})` : `sends every request to farm ${last.farm}`;
        reportAt(source, rule.element, undefined, `never reached on site ${name}: the rule before it ${before}`);
        continue;
      }
      if (rule.catchAll && rule.stopProcessing) {
        last = rule;
        // The site's farm serves what no rule answers; a rule before it that does not stop keeps it a rule,
        // and a redirect or custom response for every request stays a rule.
        if (rule.farm !== undefined && siteRules.every((r) => r.stopProcessing)) farm = rule.farm;
        else siteRules.push(rule);
      } else siteRules.push(rule);
    }
    if (farm !== undefined) value['farm'] = farm;
    // Content IIS would serve itself: Gatehouse serves none.
    const apps = site.all('application');
    for (const app of apps) app.consume();
    if (farm === undefined && last === undefined) {
      const where = apps[0]?.children.find((c) => c.name.toLowerCase() === 'virtualdirectory')?.attributes.get('physicalpath')?.value;
      reportAt(source, site, undefined, `requests no imported rule routes to a farm get 404 in Gatehouse (IIS serves the site's own content${where ? ` from ${where}` : ''})`);
      if (siteRules.length === 0) {
        value['rules'] = [{ name: 'no-farm', action: { type: 'respond', status: 404 } }];
      }
    }
    if (siteRules.length) value['rules'] = siteRules.map((r) => structuredClone(r.rule));
    const logging = [defaults?.child('traceFailedRequestsLogging'), site.child('traceFailedRequestsLogging')].filter((e): e is XmlElement => e !== undefined);
    const tracing = siteTracing(root, source, iisName, logging);
    if (tracing) value['tracing'] = tracing;
    for (const l of logging) l.ignore('enabled', 'directory', 'maxLogFiles', 'maxLogFileSizeKB', 'customActionsEnabled');
    const limitsChain = [defaults?.child('limits'), site.child('limits')].filter((e): e is XmlElement => e !== undefined);
    const limits = siteLimits(root, source, iisName, globalLimits, limitsChain);
    if (Object.keys(limits).length) value['limits'] = limits;
    const logFile = site.child('logFile');
    if (logFile) reportLogFile(source, logFile);
    out.push({
      iisName,
      name,
      value,
      comment: `${elementPath(site, true)} (${source.file}:${site.line})${ssl ? `; ssl from ${sslComment(root, source, iisName)}` : ''}${farm !== undefined && last ? `; farm from ${last.comment}` : ''}`,
      ruleComments: siteRules.map((r) => r.comment),
      bindings: mapped.length,
      localRules: local.length,
    });
  }
  const defaultLog = defaults?.child('logFile');
  if (defaultLog) reportLogFile(source, defaultLog);
  reportOtherLocations(root, source, siteNames);
  agreeOnSocketLimits(out, globalLimits, source, root);
  return out;
}

/**
 * Sites that share an address and port share a socket, whose idle timeout and connection limit Gatehouse
 * needs to be one value (IIS kept them per site): the largest wins, with a report line.
 */
function agreeOnSocketLimits(sites: readonly MappedSite[], global: Record<string, unknown>, source: Source, root: XmlElement): void {
  const defaults: Record<string, number> = { keepAliveTimeout: parseDuration(LIMIT_DEFAULTS.keepAliveTimeout) as number, maxConnections: LIMIT_DEFAULTS.maxConnections };
  const groups = new Map<string, MappedSite[]>();
  for (const site of sites) {
    for (const b of site.value['bindings'] as Record<string, unknown>[]) {
      const key = `${String(b['address'])}|${String(b['port'])}`;
      const group = groups.get(key) ?? [];
      if (!group.includes(site)) group.push(site);
      groups.set(key, group);
    }
  }
  for (const [key, group] of groups) {
    if (group.length < 2) continue;
    for (const name of ['keepAliveTimeout', 'maxConnections'] as const) {
      const valueOf = (site: MappedSite) => {
        const v = (site.value['limits'] as Record<string, unknown> | undefined)?.[name] ?? global[name];
        return v === undefined ? (defaults[name] as number) : name === 'keepAliveTimeout' ? (parseDuration(v) ?? 0) : Number(v);
      };
      const values = group.map(valueOf);
      if (new Set(values).size < 2) continue;
      const max = Math.max(...values);
      const chosen = group[values.indexOf(max)] as MappedSite;
      const written = (chosen.value['limits'] as Record<string, unknown> | undefined)?.[name] ?? global[name] ?? (name === 'keepAliveTimeout' ? toDuration(max) : max);
      for (const site of group) {
        const limits = { ...((site.value['limits'] as Record<string, unknown> | undefined) ?? {}), [name]: written };
        site.value['limits'] = limits;
      }
      const element = root.at('system.applicationHost', 'sites') ?? root;
      reportAt(source, element, undefined, `sites ${group.map((g) => g.name).join(', ')} share ${key.replace('|', ' port ')}: Gatehouse needs one ${name} per socket; the largest, ${String(written)}, is used for all`);
    }
  }
}

/**
 * A site's W3C log file is Gatehouse's access log (W3C with IIS's fields, daily files when `accessLog` names a
 * folder): only another format, custom fields or a log turned off get a report line.
 */
function reportLogFile(source: Source, logFile: XmlElement): void {
  const format = (logFile.attr('logFormat') ?? 'W3C').trim();
  const enabled = logFile.attr('enabled')?.trim().toLowerCase();
  logFile.ignore('directory', 'period', 'localTimeRollover', 'truncateSize', 'logExtFileFlags', 'logTargetW3C', 'flushByEntrycountW3CLog', 'maxLogLineLength', 'logSiteId', 'customLogPluginClsid');
  if (format.toLowerCase() !== 'w3c') reportAt(source, logFile, 'logFormat', `'${format}': Gatehouse writes W3C (or JSON) access logs`);
  if (enabled === 'false') reportAt(source, logFile, 'enabled', 'Gatehouse writes an access log to stdout unless accessLog is off: set accessLog: off');
  for (const c of logFile.children) {
    c.consume();
    reportAt(source, c, undefined, 'custom log fields: Gatehouse writes IIS\'s default W3C fields plus its own (farm, server, client certificate)');
  }
}

function sslComment(root: XmlElement, source: Source, site: string): string {
  const found = mergedAttr(sectionChain(root, ['system.webServer', 'security', 'access'], site), 'sslFlags');
  return found ? `${elementPath(found.element, true)} (${source.file}:${found.element.line})` : 'the https bindings';
}

/** `<location>` elements for paths inside a site, or for no site: their settings are not imported. */
function reportOtherLocations(root: XmlElement, source: Source, sites: readonly string[]): void {
  for (const location of root.all('location')) {
    const path = locationPath(location);
    if (path === '' || sites.includes(path.toLowerCase())) continue;
    const site = sites.find((s) => path.toLowerCase().startsWith(`${s}/`));
    location.consume();
    reportAt(
      source,
      location,
      undefined,
      site ? `settings for a path inside a site: Gatehouse's SSL settings, limits and tracing are per site; not imported (a routing rule with a path can send it to its own farm)` : `no imported site is named '${path}': not imported`,
    );
  }
}
