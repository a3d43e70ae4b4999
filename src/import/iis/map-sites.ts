/**
 * `system.applicationHost/sites/site` → `sites`: bindings (`bindingInformation="IP:port:host"`, `*` = every
 * address, the SNI bit of `sslFlags`), each https binding's certificate (HTTP.sys's, through iis-certs'
 * module), the site's SSL settings (`<location path="Site">` `system.webServer/security/access/@sslFlags`),
 * the routing rules that can reach it, tracing and limits.
 */
import { bindingCertificate, clientCaFile, revocationOf, type CertificateOptions, type Where } from './certificates.js';
import type { MappedRule } from './map-rules.js';
import { siteLimits } from './map-limits.js';
import { siteTracing } from './map-tracing.js';
import { parseSslFlags, reportAt, type Names, type Source } from './model.js';
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
  } else {
    reportAt(source, binding, undefined, 'certificate: IIS keeps it in HTTP.sys, not in applicationHost.config; run `netsh http show sslcert > sslcert.txt` on the IIS server and import again with --sslcert sslcert.txt');
  }
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
  const https = bindings.filter((b) => b.value['protocol'] === 'https');
  const withEntry = https.find((b) => b.entry);
  if (withEntry?.entry) {
    const revocation = revocationOf(withEntry.entry, { file: source.file, line: withEntry.element.line, element: elementPath(withEntry.element) }, source.report);
    if (revocation) ssl['revocation'] = revocation;
    for (const other of https) {
      if (other === withEntry || !other.entry) continue;
      const a = revocationOf(other.entry, { file: source.file, line: other.element.line, element: elementPath(other.element) }, { add: () => undefined } as unknown as typeof source.report);
      if (JSON.stringify(a) !== JSON.stringify(revocation)) {
        reportAt(source, other.element, undefined, `its HTTP.sys revocation settings differ from the site's first https binding's (line ${withEntry.element.line}); Gatehouse's revocation settings are per site: the first binding's are used`);
      }
    }
  }
  return Object.keys(ssl).length ? ssl : undefined;
}

/** Every site, with the routing rules that can reach it. */
export async function mapSites(root: XmlElement, source: Source, names: Names, rules: readonly MappedRule[], globalLimits: Record<string, unknown>, options: SiteOptions): Promise<MappedSite[]> {
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
    for (const rule of rules.filter((r) => ruleReaches(r, hosts))) {
      if (last !== undefined) {
        reportAt(source, rule.element, undefined, `never reached on site ${name}: the rule before it sends every request to farm ${last.farm}`);
        continue;
      }
      if (rule.catchAll && rule.stopProcessing) {
        last = rule;
        // The site's farm serves what no rule answers; a rule before it that does not stop keeps it a rule.
        if (siteRules.every((r) => r.stopProcessing)) farm = rule.farm;
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
    for (const logFile of [site.child('logFile')]) {
      if (!logFile) continue;
      logFile.consume();
      reportAt(source, logFile, undefined, 'Gatehouse writes the access log in W3C format to stdout by default; set accessLog to a folder for IIS-style files');
    }
    out.push({
      iisName,
      name,
      value,
      comment: `${elementPath(site, true)} (${source.file}:${site.line})${ssl ? `; ssl from ${sslComment(root, source, iisName)}` : ''}${farm !== undefined && last ? `; farm from ${last.comment}` : ''}`,
      ruleComments: siteRules.map((r) => r.comment),
      bindings: mapped.length,
    });
  }
  if (defaults) {
    const logFile = defaults.child('logFile');
    if (logFile) {
      logFile.consume();
      reportAt(source, logFile, undefined, 'Gatehouse writes the access log in W3C format to stdout by default; set accessLog to a folder for IIS-style files');
    }
  }
  reportOtherLocations(root, source, siteNames);
  return out;
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
