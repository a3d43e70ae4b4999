/**
 * The semantic pass over a schema-valid config: names unique, references resolved (a site's farm, its
 * rules' farms), rules that cannot work (regular expressions, `{R:n}` captures), bindings that would
 * collide on one port, settings that cannot work together.
 */
import { isIP } from 'node:net';
import type { Problem } from './problem.js';
import type { DeclaredConfig } from './schema.js';
import { checkRules } from './rules-schema.js';
import { parseDuration } from './duration.js';
import { mergeLimits, parseCidr } from './limits-schema.js';

/** `host:port` or `[v6]:port` → parts; undefined when malformed. */
export function parseServerAddress(address: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(address);
  if (!match) return undefined;
  const host = (match[1] ?? match[2]) as string;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return undefined;
  if (match[1] !== undefined && isIP(host) !== 6) return undefined;
  return { host, port };
}

function duplicates<T>(items: readonly (T | undefined)[], key: (item: T) => string): Map<string, number[]> {
  const seen = new Map<string, number[]>();
  items.forEach((item, index) => {
    if (item !== undefined) seen.set(key(item), [...(seen.get(key(item)) ?? []), index]);
  });
  return new Map([...seen].filter(([, indexes]) => indexes.length > 1));
}

/** A config whose sites and farms may have holes (entries that failed the schema), at their own indexes. */
export interface PartialConfig {
  readonly sites: readonly (DeclaredConfig['sites'][number] | undefined)[];
  readonly farms: readonly (DeclaredConfig['farms'][number] | undefined)[];
  /** The top-level limits (the defaults of each site's), when they passed the schema. */
  readonly limits?: DeclaredConfig['limits'] | undefined;
  readonly dynamicIpSecurity?: DeclaredConfig['dynamicIpSecurity'] | undefined;
}

/** A site's connection-level limits (they belong to the socket), comparable between sites. */
function connectionLimitsOf(site: DeclaredConfig['sites'][number], top: DeclaredConfig['limits'] | undefined): string {
  const merged = mergeLimits<Partial<NonNullable<DeclaredConfig['limits']>>>(top, site.limits);
  return JSON.stringify([parseDuration(merged.headersTimeout), parseDuration(merged.keepAliveTimeout), merged.maxConnections]);
}

export function checkReferences(config: PartialConfig, warnings: Problem[], extraFarmNames: readonly string[] = []): Problem[] {
  const problems: Problem[] = [];
  for (const [i, client] of (config.dynamicIpSecurity?.trustedClients ?? []).entries()) {
    if (!parseCidr(client)) problems.push({ path: ['dynamicIpSecurity', 'trustedClients', i], message: `'${client}' is not an IP address or CIDR range`, expected: 'an address such as 10.1.2.3 or ::1, or a range such as 10.0.0.0/8 or fd00::/8' });
  }
  for (const [name, indexes] of duplicates(config.sites, (s) => s.name)) {
    for (const i of indexes.slice(1)) problems.push({ path: ['sites', i, 'name'], message: `site name '${name}' is already used by sites[${indexes[0]}]`, expected: 'a unique site name' });
  }
  for (const [name, indexes] of duplicates(config.farms, (f) => f.name)) {
    for (const i of indexes.slice(1)) problems.push({ path: ['farms', i, 'name'], message: `farm name '${name}' is already used by farms[${indexes[0]}]`, expected: 'a unique farm name' });
  }
  const farmNames = [...new Set([...config.farms.flatMap((f) => (f ? [f.name] : [])), ...extraFarmNames])];
  for (const [f, farm] of config.farms.entries()) {
    if (!farm) continue;
    for (const [s, server] of farm.servers.entries()) {
      if (!parseServerAddress(server.address)) {
        problems.push({ path: ['farms', f, 'servers', s, 'address'], message: `'${server.address}' is not a server address`, expected: 'host:port, e.g. 127.0.0.1:9001, backend.local:8080 or [::1]:9001' });
      }
    }
    for (const [address, indexes] of duplicates(farm.servers, (s) => s.address.toLowerCase())) {
      for (const i of indexes.slice(1)) problems.push({ path: ['farms', f, 'servers', i, 'address'], message: `server ${address} is listed twice in farm '${farm.name}'`, expected: 'each server once; use weight for a larger share' });
    }
  }

  /** Bindings grouped by listening socket. */
  const sockets = new Map<string, { protocol: string; hostName: string | undefined; http2: boolean; tls: string; limits: string; at: (string | number)[]; site: string }[]>();
  for (const [i, site] of config.sites.entries()) {
    if (!site) continue;
    if (site.farm !== undefined && !farmNames.includes(site.farm)) {
      problems.push({ path: ['sites', i, 'farm'], message: `farm '${site.farm}' is not defined`, expected: `one of the farms: ${farmNames.join(', ')}` });
    }
    const hasHttps = site.bindings.some((b) => b.protocol === 'https');
    if (site.rules) checkRules(site.rules, { farm: site.farm, farmNames, clientCertificates: site.ssl.clientCertificates, hasHttps }, ['sites', i], problems, warnings);
    if (site.ssl.clientCertificates !== 'ignore' && site.ssl.trustedCaFile === undefined) {
      problems.push({ path: ['sites', i, 'ssl', 'trustedCaFile'], message: `required key is missing: clientCertificates is '${site.ssl.clientCertificates}'`, expected: 'the PEM bundle of CAs that issue client certificates' });
    }
    if (site.ssl.crlFile !== undefined && site.ssl.trustedCaFile === undefined) {
      problems.push({ path: ['sites', i, 'ssl', 'crlFile'], message: 'a CRL needs the CA that signed it', expected: 'trustedCaFile listing the CA that signs the CRL' });
    }
    if (!hasHttps && site.ssl.requireSsl) {
      warnings.push({ path: ['sites', i, 'ssl', 'requireSsl'], message: 'the site has no https binding, so every request gets 403.4', expected: 'an https binding' });
    }
    if (!hasHttps && site.ssl.clientCertificates !== 'ignore') {
      warnings.push({ path: ['sites', i, 'ssl', 'clientCertificates'], message: 'the site has no https binding, so no client certificate can be presented', expected: 'an https binding' });
    }
    for (const [b, binding] of site.bindings.entries()) {
      const at = ['sites', i, 'bindings', b];
      const address = binding.address.replace(/^\[(.*)\]$/, '$1');
      if (isIP(address) === 0) {
        problems.push({ path: [...at, 'address'], message: `'${binding.address}' is not an IP address`, expected: 'an IPv4 or IPv6 address such as 0.0.0.0, 127.0.0.1, :: or ::1' });
      }
      if (binding.protocol === 'https' && !binding.certificate) {
        problems.push({ path: at, message: 'an https binding needs a certificate', expected: 'certificate: with certFile and keyFile, or pfxFile' });
      }
      if (binding.protocol === 'http' && binding.http2 === true) {
        problems.push({ path: [...at, 'http2'], message: 'HTTP/2 without TLS (h2c) is not offered', expected: 'protocol: https for HTTP/2, or no http2 key' });
      }
      if (binding.protocol === 'http' && binding.certificate) {
        problems.push({ path: [...at, 'certificate'], message: 'an http binding has no certificate', expected: "protocol: https, or no certificate" });
      }
      const cert = binding.certificate;
      if (cert) {
        const hasPair = cert.certFile !== undefined || cert.keyFile !== undefined;
        if (cert.pfxFile !== undefined && hasPair) {
          problems.push({ path: [...at, 'certificate'], message: 'both pfxFile and certFile/keyFile are given', expected: 'either pfxFile, or certFile and keyFile' });
        } else if (cert.pfxFile === undefined && (cert.certFile === undefined || cert.keyFile === undefined)) {
          problems.push({ path: [...at, 'certificate', cert.certFile === undefined ? 'certFile' : 'keyFile'], message: 'required key is missing', expected: 'certFile and keyFile, or pfxFile' });
        }
        if (cert.passphrase !== undefined && cert.passphraseFile !== undefined) {
          problems.push({ path: [...at, 'certificate', 'passphrase'], message: 'both passphrase and passphraseFile are given', expected: 'one of them' });
        }
      }
      // Port 0 asks for a free port: such a binding always gets a socket of its own.
      const key = binding.port === 0 ? `${address}|0|${i}.${b}` : `${address}|${binding.port}`;
      const group = sockets.get(key) ?? [];
      group.push({ protocol: binding.protocol, hostName: binding.hostName?.toLowerCase(), http2: binding.protocol === 'https' && binding.http2 !== false, tls: JSON.stringify(binding.tls ?? {}), limits: connectionLimitsOf(site, config.limits), at, site: site.name });
      sockets.set(key, group);
    }
  }
  for (const group of sockets.values()) {
    const first = group[0];
    if (!first) continue;
    for (const binding of group.slice(1)) {
      const where = `${formatAt(first.at)} (site ${first.site})`;
      if (binding.protocol !== first.protocol) {
        problems.push({ path: [...binding.at, 'protocol'], message: `this port is already an ${first.protocol} binding in ${where}`, expected: 'one protocol per address and port' });
        continue;
      }
      if (binding.http2 !== first.http2) {
        // ALPN is offered per socket, before the SNI name picks a binding.
        problems.push({ path: [...binding.at, 'http2'], message: `HTTP/2 is ${first.http2 ? 'on' : 'off'} for this address and port in ${where}`, expected: `http2: ${first.http2} on every binding of one address and port` });
      }
      if (binding.protocol === 'https' && binding.tls !== first.tls) {
        // OpenSSL picks the version and the cipher before the SNI name picks a binding.
        problems.push({ path: [...binding.at, 'tls'], message: `the TLS policy differs from the one of ${where} on this address and port`, expected: 'the same tls settings (or none) on every binding of one address and port' });
      }
      if (binding.limits !== first.limits && binding.site !== first.site) {
        problems.push({ path: [...binding.at.slice(0, 2), 'limits'], message: `headersTimeout, keepAliveTimeout or maxConnections differ from those of ${where}, which shares this address and port`, expected: 'the same connection limits for every site on one address and port (they belong to the socket)' });
      }
      const clash = group.find((other) => other !== binding && other.hostName === binding.hostName && group.indexOf(other) < group.indexOf(binding));
      if (clash) {
        problems.push({
          path: binding.hostName === undefined ? binding.at : [...binding.at, 'hostName'],
          message: binding.hostName === undefined ? `${formatAt(clash.at)} (site ${clash.site}) already answers for every host name on this port` : `host name '${binding.hostName}' is already bound on this port by ${formatAt(clash.at)} (site ${clash.site})`,
          expected: 'a different hostName or port',
        });
      }
    }
  }
  return problems;
}

function formatAt(path: (string | number)[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('').slice(1);
}
