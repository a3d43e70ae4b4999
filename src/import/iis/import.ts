/**
 * `gatehouse import iis`: applicationHost.config (+ the sslcert text and certificate options) → gatehouse.yaml
 * and a report. mapIisConfig does the mapping (no output file); importIis reads the inputs, writes the output
 * atomically, validates it exactly as `gatehouse validate` does and picks the exit code: 0 everything mapped
 * and valid; 2 valid but the report has lines, or valid once the certificate/CA files the report names exist;
 * 1 unreadable input, not an IIS configuration, an existing output without --force, or an invalid output.
 */
import { access, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { loadConfigText } from '../../config/load.js';
import { ConfigError } from '../../config/problem.js';
import { mapFarms } from './map-farms.js';
import { globalLimits } from './map-limits.js';
import { mapGlobalRules } from './map-rules.js';
import { mapSites } from './map-sites.js';
import { consumeTracing } from './map-tracing.js';
import { Names, reportAt, type Source } from './model.js';
import { formatReportLine, Report, type ReportLine } from './report.js';
import { parseSslCert, type SslCertEntry } from './sslcert.js';
import type { CertificateOptions } from './certificates.js';
import { allAt, elementPath, ImportInputError, parseXml, unread } from './xml.js';
import { writeAtomic } from '../../pki/write.js';
import { toYaml, type GeneratedConfig } from './write.js';

/** Sections that run code, serve files or describe IIS itself: nothing a proxy does depends on them. */
const INERT: readonly (readonly string[])[] = [
  ['configProtectedData'],
  ...['applicationPools', 'listenerAdapters', 'customMetadata', 'configHistory', 'serviceAutoStartProviders'].map((n) => ['system.applicationHost', n]),
  ...['globalModules', 'modules', 'handlers', 'isapiFilters', 'staticContent', 'defaultDocument', 'directoryBrowse', 'fastCgi', 'cgi', 'asp', 'serverSideInclude', 'odbcLogging', 'validation', 'webdav', 'applicationInitialization'].map((n) => ['system.webServer', n]),
  ['system.webServer', 'security', 'isapiCgiRestriction'],
  ['system.webServer', 'security', 'applicationDependencies'],
];

/** What the common IIS sections are, for their report lines (Gatehouse proxies; it runs no code and serves no files). */
const NO_EQUIVALENT: Record<string, string> = {
  applicationpools: 'application pools run code; Gatehouse runs none',
  globalmodules: 'IIS modules',
  modules: 'IIS modules',
  handlers: 'IIS handlers',
  isapifilters: 'ISAPI filters',
  staticcontent: 'static files; Gatehouse serves none',
  defaultdocument: 'default documents; Gatehouse serves no files',
  directorybrowse: 'directory listing; Gatehouse serves no files',
  httpcompression: 'compression; Gatehouse passes responses as servers send them',
  urlcompression: 'compression; Gatehouse passes responses as servers send them',
  caching: 'output cache; Gatehouse caches nothing',
  diskcache: 'ARR disk cache; Gatehouse caches nothing',
  authentication: 'IIS authentication; Gatehouse authenticates clients by certificate (ssl.clientCertificates) only',
  authorization: 'URL authorization; routing rules can match client certificates',
  ipsecurity: 'IP restrictions',
  dynamicipsecurity: 'dynamic IP restrictions (Gatehouse has dynamicIpSecurity: set it by hand)',
  httperrors: 'custom error pages; Gatehouse answers with its own IIS-like pages',
  httpprotocol: 'custom response headers',
  httpredirect: 'HTTP redirect; a redirect rule does this',
  log: 'server-wide logging; Gatehouse writes one access log (accessLog)',
  httplogging: 'logging settings; Gatehouse writes one access log (accessLog)',
  configprotecteddata: 'encryption providers of the IIS configuration',
};

export interface MapOptions {
  readonly certificates: CertificateOptions;
  readonly sslcert?: { readonly file: string; readonly entries: readonly SslCertEntry[] };
}

export interface Mapped {
  readonly config: GeneratedConfig;
  readonly yaml: string;
  /** Sorted, without duplicates. */
  readonly report: readonly ReportLine[];
  readonly summary: { sites: number; bindings: number; farms: number; servers: number; rules: number; renames: readonly { kind: string; from: string; to: string }[] };
}

/** Maps the text of applicationHost.config; throws ImportInputError when it is not one. */
export async function mapIisConfig(text: string, file: string, options: MapOptions, report = new Report()): Promise<Mapped> {
  const root = parseXml(text, file);
  const source: Source = { file, report };
  const names = new Names();
  // Schema declarations configure nothing; the sections that run code or serve files in IIS never act on a
  // request a proxy forwards (a site that keeps its own content gets a report line of its own).
  root.child('configSections')?.consume();
  for (const at of [root, ...root.all('location')]) for (const path of INERT) for (const e of allAt(at, path)) e.consume();
  const farms = mapFarms(root, source, names);
  const rules = mapGlobalRules(root, source, farms);
  const limits = globalLimits(root, source);
  const sites = await mapSites(root, source, names, farms, rules, limits.value, {
    certificates: options.certificates,
    sslcert: options.sslcert?.entries,
    sslcertFile: options.sslcert?.file,
  });
  consumeTracing(root);
  if (sites.length === 0 && allAt(root, ['system.applicationHost', 'sites']).length === 0 && root.all('webFarms').length === 0) {
    throw new ImportInputError(`${file}:${root.line} <configuration>: neither system.applicationHost/sites nor webFarms (expected applicationHost.config from %windir%\\System32\\inetsrv\\config)`);
  }
  for (const u of unread(root)) {
    const known = u.attribute === undefined ? NO_EQUIVALENT[u.element.name.toLowerCase()] : undefined;
    reportAt(source, u.element, u.attribute, u.attribute === undefined ? `${known ? `${known}: ` : ''}no Gatehouse equivalent, not imported` : 'no Gatehouse equivalent: ignored');
  }
  // Farms no site uses are kept (the admin API and later rules can use them).
  const config: GeneratedConfig = {
    input: file,
    sites: sites.map((s) => ({ value: s.value, comment: s.comment, ruleComments: s.ruleComments })),
    farms: [...farms.values()].map((f) => ({ value: f.value, comment: f.comment })),
    ...(Object.keys(limits.value).length && limits.element ? { limits: { value: limits.value, comment: `${elementPath(limits.element, true)} (${file}:${limits.element.line})` } } : {}),
  };
  const lines = report.lines;
  return {
    config,
    yaml: toYaml(config),
    report: lines,
    summary: {
      sites: sites.length,
      bindings: sites.reduce((n, s) => n + s.bindings, 0),
      farms: farms.size,
      servers: [...farms.values()].reduce((n, f) => n + f.servers, 0),
      rules: rules.length + sites.reduce((n, s) => n + s.localRules, 0),
      renames: names.renames,
    },
  };
}

export interface ImportOptions {
  readonly input: string;
  readonly sslcert?: string;
  readonly certificates?: string;
  readonly pfxPassphraseFile?: string;
  readonly clientCa?: string;
  readonly output: string;
  readonly force: boolean;
}

export interface Output {
  out(line: string): void;
  err(line: string): void;
}

async function readInput(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ImportInputError(`${file}:0 (file): ${what} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (error as Error).message})`}`);
  }
}

const exists = (file: string) => access(file).then(() => true, () => false);

/** Runs the import; returns the exit code. */
export async function importIis(options: ImportOptions, io: Output): Promise<number> {
  const outputFull = resolve(options.output);
  const outputDir = dirname(outputFull);
  let mapped: Mapped;
  try {
    const text = await readInput(options.input, 'applicationHost.config');
    if (!options.force && (await exists(outputFull))) {
      io.err(`gatehouse: ${options.output} exists; not overwritten (pass --force to replace it, or -o another file)`);
      return 1;
    }
    const report = new Report();
    let sslcert: MapOptions['sslcert'];
    if (options.sslcert !== undefined) sslcert = { file: options.sslcert, entries: parseSslCert(await readInput(options.sslcert, 'the sslcert file'), options.sslcert, report) };
    const certificates: CertificateOptions = {
      outputDir,
      ...(options.certificates === undefined ? {} : { certificatesDir: options.certificates }),
      ...(options.pfxPassphraseFile === undefined ? {} : { pfxPassphraseFile: options.pfxPassphraseFile }),
      ...(options.clientCa === undefined ? {} : { clientCaFile: options.clientCa }),
    };
    mapped = await mapIisConfig(text, options.input, { certificates, ...(sslcert ? { sslcert } : {}) }, report);
  } catch (error) {
    if (error instanceof ImportInputError) {
      io.err(error.message);
      return 1;
    }
    throw error;
  }
  try {
    await writeAtomic(outputFull, mapped.yaml, 0o644, options.force);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    io.err(code === 'EEXIST' ? `gatehouse: ${options.output} exists; not overwritten (pass --force to replace it, or -o another file)` : `gatehouse: cannot write ${options.output} (${code ?? (error as Error).message})`);
    return 1;
  }
  for (const line of mapped.report) io.out(formatReportLine(line));
  let problems: readonly string[] = [];
  let warnings: readonly string[] = [];
  try {
    warnings = (await loadConfigText(mapped.yaml, options.output, outputDir, outputFull)).warnings;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems = error.lines;
  }
  const missing = await missingFiles(mapped.config, outputDir);
  const fileProblem = (line: string) => missing.some((f) => line.includes(`${f} does not exist`));
  const other = problems.filter((l) => !fileProblem(l));
  const s = mapped.summary;
  io.out('');
  io.out(`Imported ${options.input} into ${options.output}:`);
  io.out(`  sites: ${s.sites} (bindings: ${s.bindings}), farms: ${s.farms} (servers: ${s.servers}), rules mapped: ${s.rules}`);
  for (const r of s.renames) io.out(`  renamed ${r.kind} '${r.from}' to '${r.to}' (Gatehouse names take letters, digits, '.', '_', '-')`);
  io.out(`  report: ${mapped.report.length} line${mapped.report.length === 1 ? '' : 's'}`);
  for (const w of warnings) io.out(`  ${w}`);
  if (other.length) {
    io.out(`  ${options.output} does not validate:`);
    for (const line of problems) io.out(`    ${line}`);
    io.out(`Next steps: fix the problems above, then gatehouse validate -c ${options.output}`);
    return 1;
  }
  if (problems.length) {
    io.out(`  ${options.output} validates once these files exist: ${missing.join(', ')}`);
    io.out(`Next steps: export the certificates the report names, then gatehouse validate -c ${options.output}, and gatehouse start -c ${options.output} beside IIS on other ports to compare`);
    return 2;
  }
  io.out(`  ${options.output} validates`);
  io.out(`Next steps: gatehouse validate -c ${options.output}, then gatehouse start -c ${options.output} beside IIS on other ports to compare`);
  return mapped.report.length ? 2 : 0;
}

/** Certificate, passphrase and CA files the output names that do not exist (absolute). */
async function missingFiles(config: GeneratedConfig, dir: string): Promise<string[]> {
  const files = new Set<string>();
  for (const site of config.sites) {
    for (const b of (site.value['bindings'] as Record<string, unknown>[] | undefined) ?? []) {
      const cert = b['certificate'] as Record<string, unknown> | undefined;
      for (const k of ['pfxFile', 'passphraseFile', 'certFile', 'keyFile']) if (typeof cert?.[k] === 'string') files.add(resolve(dir, cert[k] as string));
    }
    const ssl = site.value['ssl'] as Record<string, unknown> | undefined;
    if (typeof ssl?.['trustedCaFile'] === 'string') files.add(resolve(dir, ssl['trustedCaFile'] as string));
  }
  const out: string[] = [];
  for (const f of files) if (!(await exists(f))) out.push(f);
  return out;
}
