/**
 * Support for the end-to-end tests of `gatehouse import iis`: the fixtures, the report lines the command
 * prints, the comments of the generated YAML, the certificates an IIS server would export (made at test
 * time), farm servers that answer health tests, and the generated config made runnable on this machine
 * (ports on loopback, farm servers pointed at local backends) with the `yaml` Document API.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { isMap, isSeq, parseDocument, type YAMLMap } from 'yaml';
import { createCa, createCrl, issueClient, issueServer, toPfx, type Issued } from '../../src/pki/index.js';
import { echoHandler, startBackend, type Backend } from '../support/backends.js';
import { REPO } from '../support/gatehouse.js';
import { within } from '../support/within.js';
import type { ClientFiles } from '../support/test-pki.js';
import { freePort, linesOf, type CliResult } from './cli-helpers.js';
import { gatehouse } from './e2e-helpers.js';

export const FIXTURES = join(REPO, 'test', 'fixtures', 'iis');

export function fixturePath(name: string): string {
  return join(FIXTURES, name);
}

export async function fixtureText(name: string): Promise<string> {
  return readFile(fixturePath(name), 'utf8');
}

/** Copies a fixture into `dir` as `as` (applicationHost.config by default); returns its text. */
export async function placeFixture(dir: string, name: string, as = 'applicationHost.config'): Promise<string> {
  await copyFile(fixturePath(name), join(dir, as));
  return readFile(join(dir, as), 'utf8');
}

/** `gatehouse import iis ARGS…` in `cwd`. */
export function importIis(cwd: string, ...args: string[]): Promise<CliResult> {
  return gatehouse(cwd, 'import', 'iis', ...args);
}

export function describeRun(result: CliResult): string {
  return `exit ${result.code}\n--- stdout ---\n${result.stdout}--- stderr ---\n${result.stderr}`;
}

/**
 * The contract's report line, `FILE:LINE element/@attribute: what Gatehouse does instead`. The element is
 * one token, except that IIS's own quoted names in it may hold spaces (`site[@name='Default Web Site']`).
 */
export const REPORT_LINE = /^(\S+):(\d+) ((?:[^\s']|'[^']*')+): (.+)$/;

export interface ReportEntry {
  readonly raw: string;
  readonly file: string;
  readonly line: number;
  readonly element: string;
  readonly text: string;
}

/** The lines of a run's output that begin with `FILE:` for one of the input files (as named on the command line). */
function reportCandidates(result: CliResult, files: readonly string[]): string[] {
  return linesOf(`${result.stdout}\n${result.stderr}`).filter((raw) => files.some((file) => raw.startsWith(`${file}:`)));
}

/** The report lines of a run that have the contract's form (see assertReportForm for the others). */
export function reportOf(result: CliResult, files: readonly string[]): ReportEntry[] {
  const entries: ReportEntry[] = [];
  for (const raw of reportCandidates(result, files)) {
    const match = REPORT_LINE.exec(raw);
    if (match) entries.push({ raw, file: match[1] as string, line: Number(match[2]), element: match[3] as string, text: match[4] as string });
  }
  return entries;
}

/** Every output line that starts with `FILE:` for an input file has the form `FILE:LINE element/@attribute: text`. */
export function assertReportForm(result: CliResult, files: readonly string[]): void {
  const malformed = reportCandidates(result, files).filter((raw) => !REPORT_LINE.test(raw));
  assert.deepEqual(malformed, [], `report lines not of the form FILE:LINE element/@attribute: text (the element one token; spaces only inside IIS's quoted names)\n${describeRun(result)}`);
}

/** The output lines that are not report lines (the summary and anything else). */
export function nonReportLines(result: CliResult, files: readonly string[]): string[] {
  return linesOf(`${result.stdout}\n${result.stderr}`).filter((raw) => !files.some((file) => raw.startsWith(`${file}:`)));
}

/** Every 1-based line of `text` holding `needle`. */
export function linesHolding(text: string, needle: string): number[] {
  const out: number[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.includes(needle)) out.push(index + 1);
  });
  assert.ok(out.length > 0, `no line holds ${JSON.stringify(needle)}`);
  return out;
}

/** The one 1-based line of `text` holding `needle` (fails when none or several do). */
export function onlyLineOf(text: string, needle: string): number {
  const lines = linesHolding(text, needle);
  assert.equal(lines.length, 1, `${JSON.stringify(needle)} is on lines ${lines.join(', ')}`);
  return lines[0] as number;
}

// ---------------------------------------------------------------------------------------------
// The generated YAML

export type Plain = Record<string, unknown>;

export function asList(value: unknown): Plain[] {
  return Array.isArray(value) ? (value as Plain[]) : [];
}

export function bindingsOf(site: Plain): Plain[] {
  return asList(site['bindings']);
}

/** The generated site that has a binding for which `pick` holds (sites are found by what they listen on, not by name). */
export function siteWith(config: Plain, what: string, pick: (binding: Plain) => boolean): Plain {
  const sites = asList(config['sites']).filter((site) => bindingsOf(site).some(pick));
  assert.equal(sites.length, 1, `one site with ${what}; sites: ${JSON.stringify(config['sites'])}`);
  return sites[0] as Plain;
}

export function farmNamed(config: Plain, name: string): Plain {
  const farm = asList(config['farms']).find((f) => f['name'] === name);
  assert.ok(farm, `a farm named ${name}; farms: ${asList(config['farms']).map((f) => String(f['name'])).join(', ')}`);
  return farm;
}

/** The farm servers of a farm, by the host of their address (the IIS server/@address). */
export function serverByHost(farm: Plain, host: string): Plain {
  const server = asList(farm['servers']).find((s) => String(s['address']).replace(/:\d+$/, '') === host);
  assert.ok(server, `server ${host} in farm ${String(farm['name'])}: ${JSON.stringify(farm['servers'])}`);
  return server;
}

/**
 * The comment block written above the generated item whose `name:` is `name` (the contiguous comment
 * lines above its `- ` line, blank lines skipped, plus a comment on that line itself).
 */
export function commentAbove(yamlText: string, name: string): string {
  const lines = yamlText.split('\n');
  const quoted = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const nameLine = lines.findIndex((line) => new RegExp(`^\\s*(- )?name: ['"]?${quoted}['"]?\\s*(#.*)?$`).test(line));
  assert.notEqual(nameLine, -1, `a "name: ${name}" line in the YAML:\n${yamlText}`);
  let item = nameLine;
  for (let i = 0; i < 40 && !/^\s*- /.test(lines[item] as string) && item > 0; i += 1) item -= 1;
  const comments: string[] = [];
  const own = /#(.*)$/.exec(lines[item] as string);
  if (own) comments.push(own[1] as string);
  for (let i = item - 1; i >= 0; i -= 1) {
    const line = (lines[i] as string).trim();
    if (line === '') continue;
    if (!line.startsWith('#')) break;
    comments.unshift(line);
  }
  return comments.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Certificates, as the IIS server's administrator would export them

export interface IisCertificates {
  readonly dir: string;
  readonly serverCa: Issued;
  readonly serverCaFile: string;
  /** By the hash the sslcert fixture prints for it. */
  readonly byFixtureHash: ReadonlyMap<string, Issued>;
  readonly clientCaFile: string;
  readonly client: ClientFiles;
  /** Issued by the same CA, then revoked: on its CRL. */
  readonly revokedClient: ClientFiles;
  /** The partner CA's CRL distribution point (named in both client certificates), served over http here. */
  readonly crlServer: Server;
  /** Stops the CRL server. */
  close(): Promise<void>;
  readonly passphraseFile: string;
  readonly passphrase: string;
}

/** SHA-1 thumbprint, upper-case hex without separators (as IIS and Export-PfxCertificate loops name it). */
export function thumbprintOf(issued: Issued): string {
  return issued.cert.fingerprint.replace(/:/g, '').toUpperCase();
}

/** Base64 of the DER leaf: the X-ARR-ClientCert value. */
export function base64Der(issued: Issued): string {
  return new X509Certificate(issued.certPem).raw.toString('base64');
}

/** Certificate Hash values of an sslcert text, as printed (lower-case hex). */
export function hashesIn(sslcertText: string): string[] {
  return [...sslcertText.matchAll(/Certificate Hash\s*: ([0-9a-fA-F]{40})/g)].map((m) => m[1] as string);
}

/**
 * Server certificates for each entry of the sslcert fixture (named for the entry's host), a client CA and
 * a client certificate it issued, in `dir`.
 */
export async function makeIisCertificates(dir: string, sslcertText: string): Promise<IisCertificates> {
  await mkdir(dir, { recursive: true });
  const serverCa = await createCa({ commonName: 'Contoso Issuing CA 01', organization: 'Contoso' });
  const byFixtureHash = new Map<string, Issued>();
  const entries = [...sslcertText.matchAll(/(IP:port|Hostname:port)\s*: (\S+)\s+Certificate Hash\s*: ([0-9a-fA-F]{40})/g)];
  assert.ok(entries.length > 0, 'the sslcert fixture has entries');
  for (const entry of entries) {
    const key = entry[2] as string;
    const host = entry[1] === 'Hostname:port' ? key.replace(/:\d+$/, '') : 'www.contoso.com';
    byFixtureHash.set(entry[3] as string, await issueServer({ ca: serverCa, dnsNames: [host, 'localhost'] }));
  }
  const clientCa = await createCa({ commonName: 'Contoso Partner Badges CA', organization: 'Contoso' });
  // As a real CA's certificates do, the client certificates name where the CA publishes its CRL: HTTP.sys
  // (Verify Client Certificate Revocation) and Gatehouse fetch it; a certificate without one cannot be checked.
  let crlDer: Buffer = Buffer.alloc(0);
  const crlServer = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/pkix-crl', 'content-length': crlDer.length });
    res.end(crlDer);
  });
  await new Promise<void>((resolvePromise) => crlServer.listen(0, '127.0.0.1', resolvePromise));
  const crlUrls = [`http://127.0.0.1:${(crlServer.address() as AddressInfo).port}/pki/partner-badges.crl`];
  const clientIssued = await issueClient({ ca: clientCa, commonName: 'partner-user', organization: 'Fabrikam', crlUrls });
  const revokedIssued = await issueClient({ ca: clientCa, commonName: 'former-partner', organization: 'Fabrikam', crlUrls });
  crlDer = (await createCrl({ ca: clientCa, revoked: [{ serialNumber: revokedIssued.serialNumber }] })).der;
  const serverCaFile = join(dir, 'server-ca.pem');
  const clientCaFile = join(dir, 'partner-ca.pem');
  const client: ClientFiles = { issued: clientIssued, certFile: join(dir, 'client.pem'), keyFile: join(dir, 'client.key') };
  const revokedClient: ClientFiles = { issued: revokedIssued, certFile: join(dir, 'revoked.pem'), keyFile: join(dir, 'revoked.key') };
  await writeFile(serverCaFile, serverCa.certPem);
  await writeFile(clientCaFile, clientCa.certPem);
  for (const files of [client, revokedClient]) {
    await writeFile(files.certFile, files.issued.certPem);
    await writeFile(files.keyFile, files.issued.keyPem, { mode: 0o600 });
  }
  const close = () =>
    new Promise<void>((resolvePromise) => {
      crlServer.closeAllConnections();
      crlServer.close(() => resolvePromise());
    });
  const passphrase = 'P@ss-from-the-IIS-box';
  const passphraseFile = join(dir, 'pfx-passphrase.txt');
  await writeFile(passphraseFile, `${passphrase}\n`, { mode: 0o600 });
  return { dir, serverCa, serverCaFile, byFixtureHash, clientCaFile, client, revokedClient, crlServer, close, passphraseFile, passphrase };
}

/** The sslcert text with the fixture's hashes replaced by those of the certificates made for them (lower-case, as netsh prints). */
export function sslcertFor(sslcertText: string, certs: IisCertificates): string {
  let text = sslcertText;
  for (const [hash, issued] of certs.byFixtureHash) text = text.split(hash).join(thumbprintOf(issued).toLowerCase());
  return text;
}

/** Exports every certificate as `DIR/<THUMBPRINT>.pfx`; `swap` puts another certificate in the file named for one thumbprint. */
export async function exportPfxFiles(dir: string, certs: IisCertificates, swap?: { thumbprint: string; instead: Issued }): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const issued of certs.byFixtureHash.values()) {
    const thumbprint = thumbprintOf(issued);
    const content = swap && swap.thumbprint === thumbprint ? swap.instead : issued;
    await writeFile(join(dir, `${thumbprint}.pfx`), toPfx({ issued: content, password: certs.passphrase, friendlyName: thumbprint }), { mode: 0o600 });
  }
}

// ---------------------------------------------------------------------------------------------
// Farm servers on this machine

export interface FarmServer {
  readonly backend: Backend;
  /** Health-test requests received (path and Host). */
  readonly probes: { url: string; host: string | undefined }[];
  healthy: boolean;
}

/** Every request any farm server receives is announced here, to wait on without polling. */
export const arrivals = new EventEmitter();
arrivals.setMaxListeners(100);

/**
 * A farm server: answers `probePath` (the health test's path) with 200 `READY` while healthy, 503
 * otherwise; echoes every other request (recorded in backend.received).
 */
export async function startFarmServer(name: string, probePath?: string): Promise<FarmServer> {
  const state: { healthy: boolean; probes: FarmServer['probes'] } = { healthy: true, probes: [] };
  const backend = await startBackend(name, (req: IncomingMessage, res: ServerResponse, self: Backend) => {
    const path = (req.url ?? '').split('?')[0];
    if (probePath !== undefined && path === probePath) {
      state.probes.push({ url: req.url ?? '', host: req.headers.host });
      req.resume();
      const body = state.healthy ? 'READY' : 'NOT READY';
      res.writeHead(state.healthy ? 200 : 503, { 'content-type': 'text/plain', 'content-length': body.length });
      res.end(body);
      arrivals.emit('request');
      return;
    }
    res.on('finish', () => arrivals.emit('request'));
    echoHandler(req, res, self);
  });
  return {
    backend,
    probes: state.probes,
    get healthy() {
      return state.healthy;
    },
    set healthy(value: boolean) {
      state.healthy = value;
    },
  };
}

/** Resolves once `predicate` holds (checked on every request a farm server receives); bounded. */
export function until(predicate: () => boolean, ms: number, what: string): Promise<void> {
  let check: () => void = () => undefined;
  return within(
    new Promise<void>((resolve) => {
      check = () => {
        if (predicate()) resolve();
      };
      arrivals.on('request', check);
      check();
    }),
    ms,
    what,
  ).finally(() => arrivals.off('request', check));
}

/**
 * The generated config made runnable here: every binding on 127.0.0.1 with each IIS port replaced by a free
 * one (bindings that then coincide are kept once), every farm server's address replaced by the local
 * backend named for its IIS host, one worker. Returns the new text and the port map.
 */
export async function runnable(yamlText: string, backendsByHost: ReadonlyMap<string, Backend>): Promise<{ text: string; ports: Map<number, number> }> {
  const doc = parseDocument(yamlText);
  const ports = new Map<number, number>();
  const sites = doc.get('sites');
  assert.ok(isSeq(sites), 'sites is a list');
  for (const site of sites.items) {
    assert.ok(isMap(site));
    const bindings = site.get('bindings');
    assert.ok(isSeq(bindings));
    const seen = new Set<string>();
    const keep: unknown[] = [];
    for (const binding of bindings.items) {
      assert.ok(isMap(binding));
      const old = Number(binding.get('port'));
      if (!ports.has(old)) ports.set(old, await freePort());
      binding.set('port', ports.get(old));
      binding.set('address', '127.0.0.1');
      const key = `${String(binding.get('protocol'))}|${String(binding.get('port'))}|${String(binding.get('hostName') ?? '')}`;
      if (!seen.has(key)) keep.push(binding);
      seen.add(key);
    }
    bindings.items = keep as typeof bindings.items;
  }
  const farms = doc.get('farms');
  assert.ok(isSeq(farms), 'farms is a list');
  for (const farm of farms.items) {
    assert.ok(isMap(farm));
    const servers = farm.get('servers');
    assert.ok(isSeq(servers));
    for (const server of servers.items) {
      const map = server as YAMLMap;
      const host = String(map.get('address')).replace(/:\d+$/, '');
      const backend = backendsByHost.get(host);
      // Servers of farms no test sends to (LegacyFarm) point at a port that refuses connections.
      map.set('address', backend ? backend.address : `127.0.0.1:${await freePort()}`);
    }
  }
  doc.set('workers', 1);
  return { text: doc.toString(), ports };
}
