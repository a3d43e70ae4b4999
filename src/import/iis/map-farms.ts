/**
 * `webFarms/webFarm` → `farms`: servers (address, httpPort, weight, enabled), and the farm's
 * `applicationRequestRouting` protocol, loadBalancing, healthCheck and affinity. `system.webServer/proxy`
 * attributes written at the server level are the defaults of every farm (a farm's own attribute wins); the
 * global proxy's own defaults (2 min timeout, …) are not a farm's and are not applied.
 */
import { ARR_FARM_DEFAULTS, boolAttr, reportAt, timeSpanAttr, toDuration, uintAttr, type Names, type Source } from './model.js';
import { collection, elementPath, sectionChain, type XmlElement } from './xml.js';

export interface MappedFarm {
  /** The IIS name (rules name farms by it, case-insensitively). */
  readonly iisName: string;
  readonly name: string;
  readonly value: Record<string, unknown>;
  readonly comment: string;
  readonly servers: number;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]*$/;

/** Protocol attributes Gatehouse has, with how to read them. */
const PROTOCOL_MAPPED: Record<string, 'duration' | 'bool' | 'header' | 'uint'> = {
  timeout: 'duration',
  preserveHostHeader: 'bool',
  reverseRewriteHostInResponseHeaders: 'bool',
  xForwardedForHeaderName: 'header',
  includePortInXForwardedFor: 'bool',
  clientCertHeaderName: 'header',
  sslHeaderName: 'header',
  logGuidName: 'header',
  maxForwards: 'uint',
  maxResponseHeaderSize: 'uint',
};

/** What Gatehouse does about protocol attributes it has no key for. */
const PROTOCOL_UNMAPPED: Record<string, string> = {
  httpversion: 'Gatehouse forwards HTTP/1.1 to servers',
  keepalive: 'Gatehouse keeps server connections alive',
  alternatehostname: 'no equivalent: Host is the client\'s (preserveHostHeader) or the server\'s address',
  xforwardedbyheadername: 'no equivalent: no X-Forwarded-By header is sent',
  xforwardedbyheader: 'no equivalent: no X-Forwarded-By header is sent',
  arrresponseheader: 'Gatehouse sends no X-Powered-By: ARR header',
  logcachehitname: 'Gatehouse has no response cache: no cache-hit header',
  minresponsebuffer: 'Gatehouse streams responses: no buffer threshold',
  responsebufferlimit: 'Gatehouse streams responses: no buffer',
  bufferchunkedresponses: 'Gatehouse streams chunked responses unbuffered',
  passconnectioncloseheader: 'Gatehouse manages client and server connections separately',
  passserverheader: 'Gatehouse passes the server\'s Server header through',
  proxy: 'no equivalent: Gatehouse connects to servers directly (no upstream proxy)',
  proxybypass: 'no equivalent: Gatehouse connects to servers directly (no upstream proxy)',
  stealthmode: 'no equivalent',
  clientcertfilename: 'no equivalent: Gatehouse presents no client certificate to servers',
  clientcertpassword: 'no equivalent: Gatehouse presents no client certificate to servers',
  clientcerthash: 'no equivalent: Gatehouse presents no client certificate to servers',
  enabled: 'no equivalent: Gatehouse always proxies',
};

function readProtocol(source: Source, element: XmlElement, out: Record<string, unknown>, global: boolean): void {
  for (const [name, kind] of Object.entries(PROTOCOL_MAPPED)) {
    if (!element.has(name)) continue;
    const attribute = element.attributes.get(name.toLowerCase())?.name ?? name;
    if (kind === 'duration') {
      const ms = timeSpanAttr(source, element, name);
      if (ms !== undefined) {
        if (ms === 0) reportAt(source, element, attribute, 'a zero timeout: Gatehouse\'s default (30s) applies');
        else out[name] = toDuration(ms);
      }
    } else if (kind === 'bool') {
      const b = boolAttr(source, element, name);
      if (b !== undefined) out[name] = b;
    } else if (kind === 'header') {
      const v = element.attr(name) ?? '';
      if (HEADER_NAME.test(v)) out[name] = v;
      else reportAt(source, element, attribute, `'${v}' is not an HTTP header name: Gatehouse's default applies`);
    } else {
      const n = uintAttr(source, element, name);
      if (n === undefined) continue;
      if (name === 'maxForwards' && n > 255) {
        reportAt(source, element, attribute, `${n} is above 255: Gatehouse sends Max-Forwards: 255`);
        out[name] = 255;
      } else if (name === 'maxResponseHeaderSize' && (n < 1024 || n > 1_048_576)) {
        const clamped = Math.min(Math.max(n, 1024), 1_048_576);
        reportAt(source, element, attribute, `${n} is outside 1024-1048576: Gatehouse uses ${clamped}`);
        out[name] = clamped;
      } else out[name] = n;
    }
  }
  for (const [key, a] of element.attributes) {
    if (element.usedAttributes.has(key)) continue;
    const why = PROTOCOL_UNMAPPED[key];
    if (key === 'enabled' && global) {
      element.attr(key);
      if (a.value.trim().toLowerCase() === 'false') reportAt(source, element, a.name, 'the ARR proxy is off in IIS (its farm rules do not route); Gatehouse routes them');
      continue;
    }
    if (why === undefined) continue; // left for the generic unread report
    element.attr(key);
    reportAt(source, element, a.name, `${why}${global ? ' (server-level proxy setting)' : ''}`);
  }
  for (const c of element.children) {
    c.consume();
    reportAt(source, c, undefined, c.name.toLowerCase() === 'cache' ? 'Gatehouse has no response cache: nothing is cached' : 'no Gatehouse equivalent: not imported');
  }
}

function mapLoadBalancing(source: Source, lb: XmlElement): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const algorithm = lb.attr('algorithm');
  const variable = lb.attr('hashServerVariable')?.trim();
  const names = lb.attr('queryStringNames')?.trim();
  const known: Record<string, string> = { weightedroundrobin: 'weightedRoundRobin', leastrequests: 'leastRequests', leastresponsetime: 'leastResponseTime', weightedtotaltraffic: 'weightedTotalTraffic' };
  const a = algorithm?.trim().toLowerCase();
  if (a === undefined || a === 'weightedroundrobin') {
    // The default; hash attributes without RequestHash do nothing in ARR either.
  } else if (known[a]) out['algorithm'] = known[a];
  else if (a === 'requesthash') {
    if (names && (!variable || variable.toUpperCase() === 'QUERY_STRING')) {
      out['algorithm'] = 'queryStringHash';
      out['queryStringNames'] = names;
    } else if (variable) {
      if (/^(REMOTE_ADDR|QUERY_STRING|URL|HTTP_HOST|HTTP_[A-Za-z0-9_]+)$/i.test(variable)) {
        out['algorithm'] = 'serverVariableHash';
        out['hashServerVariable'] = variable.toUpperCase();
      } else {
        reportAt(source, lb, 'hashServerVariable', `'${variable}' is not a server variable Gatehouse reads (REMOTE_ADDR, QUERY_STRING, URL, HTTP_HOST, HTTP_<HEADER>): Gatehouse hashes the URL (requestHash)`);
        out['algorithm'] = 'requestHash';
      }
      if (names) reportAt(source, lb, 'queryStringNames', `ignored: the farm hashes the server variable ${variable}`);
    } else out['algorithm'] = 'requestHash';
  } else {
    reportAt(source, lb, 'algorithm', `'${algorithm}' is not an ARR algorithm: Gatehouse uses weighted round robin, as ARR does`);
  }
  const period = timeSpanAttr(source, lb, 'leastResponseTimePeriod');
  if (period !== undefined && period > 0) out['leastResponseTimePeriod'] = toDuration(period);
  if (lb.has('randomizeLBTies')) {
    lb.attr('randomizeLBTies');
    reportAt(source, lb, 'randomizeLBTies', 'Gatehouse breaks ties by weighted round robin');
  }
  return out;
}

function mapHealthCheck(source: Source, hc: XmlElement): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const url = hc.attr('url')?.trim();
  if (url) {
    if (/^https:\/\//i.test(url)) {
      const path = url.replace(/^https:\/\/[^/]*/i, '') || '/';
      reportAt(source, hc, 'url', `Gatehouse tests servers over http: the URL test requests ${path} over http`);
      out['url'] = path;
    } else out['url'] = url;
  }
  for (const name of ['interval', 'timeout', 'liveTrafficFailurePeriod'] as const) {
    const ms = timeSpanAttr(source, hc, name);
    if (ms === undefined) continue;
    if (ms === 0 && name !== 'liveTrafficFailurePeriod') reportAt(source, hc, name, `zero: Gatehouse's default (30s) applies`);
    else out[name] = toDuration(ms);
  }
  for (const name of ['statusCodeMatch', 'liveTrafficFailureCodes'] as const) {
    const v = hc.attr(name)?.trim();
    if (v) out[name] = v;
  }
  const match = hc.attr('responseMatch');
  if (match) out['responseMatch'] = match;
  for (const name of ['maxLiveTrafficFailures', 'minServers'] as const) {
    const n = uintAttr(source, hc, name);
    if (n !== undefined) out[name] = Math.min(n, 10_000);
  }
  if (hc.has('retries')) {
    const r = hc.attr('retries');
    reportAt(source, hc, 'retries', `Gatehouse marks a server unhealthy at its first failed URL test (ARR retried ${r} times)`);
  }
  return out;
}

function mapAffinity(source: Source, affinity: XmlElement): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const useCookie = boolAttr(source, affinity, 'useCookie');
  if (useCookie !== undefined) out['useCookie'] = useCookie;
  const cookie = affinity.attr('cookieName')?.trim();
  if (cookie) {
    if (/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(cookie)) out['cookieName'] = cookie;
    else reportAt(source, affinity, 'cookieName', `'${cookie}' is not a cookie name: Gatehouse uses ARRAffinity`);
  }
  for (const [key, a] of affinity.attributes) {
    if (affinity.usedAttributes.has(key)) continue;
    affinity.attr(key);
    const why =
      key === 'timeout' ? 'Gatehouse\'s affinity cookie lasts for the browser session; no server-side timeout'
        : key.startsWith('ignoresubdomain') ? 'Gatehouse sets the cookie for the host the client used'
          : 'no equivalent (host name affinity / server providers): not imported';
    reportAt(source, affinity, a.name, why);
  }
  for (const c of affinity.children) {
    c.consume();
    reportAt(source, c, undefined, 'host name affinity: no Gatehouse equivalent, not imported');
  }
  return out;
}

function mapServer(source: Source, server: XmlElement): Record<string, unknown> | undefined {
  const address = server.attr('address')?.trim();
  if (!address) {
    reportAt(source, server, 'address', 'a server without an address: not imported');
    return undefined;
  }
  const arr = server.child('applicationRequestRouting');
  let port: number = ARR_FARM_DEFAULTS.server.httpPort;
  const out: Record<string, unknown> = {};
  if (arr) {
    const httpPort = uintAttr(source, arr, 'httpPort');
    if (httpPort !== undefined && httpPort >= 1 && httpPort <= 65535) port = httpPort;
    else if (httpPort !== undefined) reportAt(source, arr, 'httpPort', `${httpPort} is not a TCP port (1-65535): Gatehouse uses ${port}, ARR's default`);
    const weight = uintAttr(source, arr, 'weight');
    if (weight !== undefined) {
      const w = Math.min(Math.max(weight, 1), 100_000);
      if (w !== weight) reportAt(source, arr, 'weight', `${weight} is outside 1-100000: Gatehouse uses ${w}`);
      out['weight'] = w;
    }
    for (const [key, a] of arr.attributes) {
      if (arr.usedAttributes.has(key)) continue;
      arr.attr(key);
      const why =
        key === 'httpsport' ? `Gatehouse forwards to servers over http (port ${port}); rules that rewrite to https:// are reported`
          : key === 'hostname' ? 'no equivalent: the server is reached at its address'
            : key.startsWith('healthcheckalternate') ? 'Gatehouse runs the URL test against the server\'s own address and port'
              : 'no Gatehouse equivalent: ignored';
      reportAt(source, arr, a.name, why);
    }
  }
  const host = address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
  const enabled = boolAttr(source, server, 'enabled');
  return { address: `${host}:${port}`, ...out, ...(enabled === false ? { enabled: false } : {}) };
}

/** Every farm, by its lower-case IIS name. */
export function mapFarms(root: XmlElement, source: Source, names: Names): Map<string, MappedFarm> {
  const farms = new Map<string, MappedFarm>();
  // Server-level proxy settings: defaults for every farm.
  const globalDefaults: Record<string, unknown> = {};
  for (const proxy of sectionChain(root, ['system.webServer', 'proxy'])) readProtocol(source, proxy, globalDefaults, true);

  const webFarms = root.all('webFarms');
  for (const w of webFarms) {
    w.ignore('onDemandHealthCheck');
    const arrTop = w.children.find((c) => c.name.toLowerCase() === 'applicationrequestrouting');
    // The host affinity provider list (ARR installs its default one) only offers providers to farms' affinity.
    arrTop?.consume();
  }
  for (const farm of collection(webFarms, 'webFarm', ['name'])) {
    const iisName = farm.attr('name')?.trim() ?? '';
    if (!iisName) {
      reportAt(source, farm, 'name', 'a farm without a name: not imported');
      farm.consume();
      continue;
    }
    const servers = collection([farm], 'server', ['address'])
      .map((s) => mapServer(source, s))
      .filter((s): s is Record<string, unknown> => s !== undefined);
    if (servers.length === 0) {
      reportAt(source, farm, undefined, 'a farm without servers: not imported (Gatehouse farms need one); rules routing to it are reported');
      farm.consume();
      continue;
    }
    const name = names.name('farm', iisName);
    const value: Record<string, unknown> = { name };
    const enabled = boolAttr(source, farm, 'enabled');
    if (enabled === false) value['enabled'] = false;
    for (const [key, a] of farm.attributes) {
      if (farm.usedAttributes.has(key)) continue;
      if (key === 'passconnectioncloseheader' || key === 'passserverheader') {
        farm.attr(key);
        reportAt(source, farm, a.name, PROTOCOL_UNMAPPED[key] ?? 'no equivalent');
      } else if (key === 'serverautostart') farm.attr(key);
    }
    value['servers'] = servers;
    const arr = farm.child('applicationRequestRouting');
    const protocol: Record<string, unknown> = { ...globalDefaults };
    if (arr) {
      const p = arr.child('protocol');
      if (p) readProtocol(source, p, protocol, false);
      const lb = arr.child('loadBalancing');
      if (lb) {
        const v = mapLoadBalancing(source, lb);
        if (Object.keys(v).length) value['loadBalancing'] = v;
      }
      const hc = arr.child('healthCheck');
      if (hc) {
        const v = mapHealthCheck(source, hc);
        if (Object.keys(v).length) value['healthCheck'] = v;
      }
      const affinity = arr.child('affinity');
      if (affinity) {
        const v = mapAffinity(source, affinity);
        if (Object.keys(v).length) value['affinity'] = v;
      }
    }
    if (Object.keys(protocol).length) value['protocol'] = protocol;
    farms.set(iisName.toLowerCase(), { iisName, name, value, comment: `${elementPath(farm, true)} (${source.file}:${farm.line})`, servers: servers.length });
  }
  return farms;
}
