/** The IIS importer's mapping, on small inline applicationHost.config texts: what maps to what, and each kind of report line. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { loadConfigText } from '../../src/config/load.js';
import { importIis, mapIisConfig, type Mapped } from '../../src/import/iis/import.js';
import { patternToWildcard } from '../../src/import/iis/map-rules.js';
import { formatReportLine, Report } from '../../src/import/iis/report.js';
import { parseSslCert } from '../../src/import/iis/sslcert.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-iis-map-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Out {
  sites: Record<string, any>[];
  farms: Record<string, any>[];
  limits?: Record<string, any>;
}

/** Each part on its own line: the first on line 3. */
async function map(...parts: string[]): Promise<{ mapped: Mapped; out: Out; lines: string[] }> {
  const mapped = await mapIisConfig(`<?xml version="1.0" encoding="UTF-8"?>\n<configuration>\n${parts.join('\n')}\n</configuration>\n`, 'ah.config', { certificates: { outputDir: dir } });
  return { mapped, out: parse(mapped.yaml) as Out, lines: mapped.report.map(formatReportLine) };
}

const site = (name: string, bindings: string, extra = '') => `<site name="${name}" id="1"><application path="/"><virtualDirectory path="/" physicalPath="C:\\inetpub\\wwwroot"/></application><bindings>${bindings}</bindings>${extra}</site>`;
const sites = (...s: string[]) => `<system.applicationHost><sites>${s.join('')}</sites></system.applicationHost>`;
const farm = (name: string, servers = '<server address="10.0.0.1"/>', arr = '') => `<webFarm name="${name}">${servers}${arr ? `<applicationRequestRouting>${arr}</applicationRequestRouting>` : ''}</webFarm>`;
const farms = (...f: string[]) => `<webFarms>${f.join('')}</webFarms>`;
const rules = (...r: string[]) => `<system.webServer><rewrite><globalRules>${r.join('')}</globalRules></rewrite></system.webServer>`;
const catchAll = (farmName: string, name = `ARR_${farmName}_loadbalance`) => `<rule name="${name}" patternSyntax="Wildcard" stopProcessing="true"><match url="*"/><action type="Rewrite" url="http://${farmName}/{R:0}"/></rule>`;
const http80 = '<binding protocol="http" bindingInformation="*:80:"/>';

async function validates(yaml: string): Promise<void> {
  await loadConfigText(yaml, 'gatehouse.yaml', dir, join(dir, 'gatehouse.yaml'));
}

describe('sites, bindings and farms', () => {
  test('a minimal ARR setup maps exactly: no report line, and the output validates', async () => {
    const { out, lines, mapped } = await map(sites(site('web', http80)), farms(farm('app')), rules(catchAll('app')));
    assert.deepEqual(lines, []);
    assert.deepEqual(out.sites, [{ name: 'web', bindings: [{ protocol: 'http', address: '::', port: 80 }], farm: 'app' }]);
    assert.deepEqual(out.farms, [{ name: 'app', servers: [{ address: '10.0.0.1:80' }] }], 'ARR defaults are Gatehouse\'s: nothing else is written');
    assert.equal(mapped.summary.rules, 1);
    await validates(mapped.yaml);
    assert.match(mapped.yaml, /# from system\.applicationHost\/sites\/site\[@name='web'\] \(ah\.config:3\); farm from system\.webServer\/rewrite\/globalRules\/rule\[@name='ARR_app_loadbalance'\] \(ah\.config:5\)/);
    assert.match(mapped.yaml, /# from webFarms\/webFarm\[@name='app'\] \(ah\.config:4\)/);
  });

  test('binding addresses, host names, IPv6; names Gatehouse refuses become slugs', async () => {
    const { out, mapped } = await map(
      sites(site('Default Web Site', `${http80}<binding protocol="HTTP" bindingInformation="10.1.2.3:8080:www.example.com"/><binding protocol="http" bindingInformation="[::1]:81:"/>`)),
        farms(farm('My Farm', '<server address="fe80::1"><applicationRequestRouting httpPort="8080"/></server>')),
        rules(catchAll('my farm')),
    );
    assert.deepEqual(out.sites[0]?.bindings, [
      { protocol: 'http', address: '::', port: 80 },
      { protocol: 'http', address: '10.1.2.3', port: 8080, hostName: 'www.example.com' },
      { protocol: 'http', address: '::1', port: 81 },
    ]);
    assert.equal(out.sites[0]?.name, 'Default-Web-Site');
    assert.equal(out.farms[0]?.name, 'My-Farm');
    assert.equal(out.sites[0]?.farm, 'My-Farm', 'the rule names the farm in any case');
    assert.deepEqual(out.farms[0]?.servers, [{ address: '[fe80::1]:8080' }]);
    assert.deepEqual(mapped.summary.renames.map((r) => `${r.kind}:${r.from}->${r.to}`), ['farm:My Farm->My-Farm', 'site:Default Web Site->Default-Web-Site']);
    await validates(mapped.yaml);
  });

  test('farm settings: weights, disabled servers, protocol, health test, affinity, algorithms; the server-level proxy is every farm\'s default', async () => {
    const { out, lines, mapped } = await map(
      sites(site('web', http80)),
        farms(
          farm(
            'a',
            '<server address="s1" enabled="true"><applicationRequestRouting weight="200" httpPort="8001"/></server><server address="s2" Enabled="FALSE"><applicationRequestRouting httpPort="8002"/></server>',
            '<protocol timeout="00:01:00" includePortInXForwardedFor="False" reverseRewriteHostInResponseHeaders="true"/><healthCheck url="http://a/health" interval="00:00:05" timeout="00:00:02" statusCodeMatch="200" responseMatch="up" minServers="1"/><affinity useCookie="True" cookieName="Sticky"/><loadBalancing algorithm="leastResponseTime" leastResponseTimePeriod="00:00:10"/>',
          ),
          farm('b', undefined, '<loadBalancing algorithm="RequestHash" hashServerVariable="HTTP_X_USER"/>'),
          farm('c', undefined, '<loadBalancing algorithm="RequestHash" hashServerVariable="QUERY_STRING" queryStringNames="q1,q2"/>'),
          farm('d', undefined, '<loadBalancing algorithm="RequestHash"/>'),
        ),
        '<system.webServer><proxy enabled="true" timeout="00:05:00" preserveHostHeader="false"/></system.webServer>',
        rules(catchAll('a')),
    );
    assert.deepEqual(lines, []);
    const [a, b, c, d] = out.farms;
    assert.deepEqual(a?.servers, [{ address: 's1:8001', weight: 200 }, { address: 's2:8002', enabled: false }]);
    assert.deepEqual(a?.protocol, { timeout: '1m', preserveHostHeader: false, reverseRewriteHostInResponseHeaders: true, includePortInXForwardedFor: false });
    assert.deepEqual(a?.healthCheck, { url: 'http://a/health', interval: '5s', timeout: '2s', statusCodeMatch: '200', responseMatch: 'up', minServers: 1 });
    assert.deepEqual(a?.affinity, { useCookie: true, cookieName: 'Sticky' });
    assert.deepEqual(a?.loadBalancing, { algorithm: 'leastResponseTime', leastResponseTimePeriod: '10s' });
    assert.deepEqual(b?.protocol, { timeout: '5m', preserveHostHeader: false }, 'the global proxy\'s written attributes, not its defaults');
    assert.deepEqual(b?.loadBalancing, { algorithm: 'serverVariableHash', hashServerVariable: 'HTTP_X_USER' });
    assert.deepEqual(c?.loadBalancing, { algorithm: 'queryStringHash', queryStringNames: 'q1,q2' });
    assert.deepEqual(d?.loadBalancing, { algorithm: 'requestHash' });
    await validates(mapped.yaml);
  });

  test('a server httpPort that is not a TCP port is reported, and ARR\'s 80 is used', async () => {
    const { out, lines } = await map(sites(site('web', http80)), farms(farm('a', '<server address="10.0.0.1"><applicationRequestRouting httpPort="70000"/></server>')), rules(catchAll('a')));
    assert.equal(out.farms[0]?.servers[0].address, '10.0.0.1:80');
    assert.deepEqual(lines, ["ah.config:4 server[@address='10.0.0.1']/applicationRequestRouting/@httpPort: 70000 is not a TCP port (1-65535): Gatehouse uses 80, ARR's default"]);
  });

  test('an unknown algorithm is weighted round robin with a report line; unmapped ARR attributes are reported', async () => {
    const { out, lines } = await map(
      sites(site('web', http80)),
        farms(farm('a', undefined, '<loadBalancing algorithm="RoundRobin"/><healthCheck interval="5" retries="5"/><protocol httpVersion="Http11"><cache enabled="false"/></protocol>')),
        rules(catchAll('a')),
    );
    assert.equal(out.farms[0]?.loadBalancing, undefined);
    assert.deepEqual([...lines].sort(), [
      "ah.config:4 webFarm[@name='a']/applicationRequestRouting/healthCheck/@interval: '5' is not an IIS timeSpan (hh:mm:ss or d.hh:mm:ss): ignored, Gatehouse's default applies",
      "ah.config:4 webFarm[@name='a']/applicationRequestRouting/healthCheck/@retries: Gatehouse marks a server unhealthy at its first failed URL test (ARR retried 5 times)",
      "ah.config:4 webFarm[@name='a']/applicationRequestRouting/loadBalancing/@algorithm: 'RoundRobin' is not an ARR algorithm: Gatehouse uses weighted round robin, as ARR does",
      "ah.config:4 webFarm[@name='a']/applicationRequestRouting/protocol/@httpVersion: Gatehouse forwards HTTP/1.1 to servers",
      "ah.config:4 webFarm[@name='a']/applicationRequestRouting/protocol/cache: Gatehouse has no response cache: nothing is cached",
    ]);
  });

  test('<clear/> and <remove/> in webFarms, sites and bindings', async () => {
    const { out, lines } = await map(
      sites(site('old', http80), '<clear/>', site('web', `${http80}<binding protocol="http" bindingInformation="*:81:"/><remove protocol="HTTP" bindingInformation="*:81:"/>`)),
        farms(farm('gone'), farm('app', '<server address="x"/><server address="y"/><remove address="X"/>'), '<remove name="GONE"/>'),
        rules(catchAll('app')),
    );
    assert.deepEqual(lines, []);
    assert.deepEqual(out.sites.map((s) => s.name), ['web']);
    assert.deepEqual(out.sites[0]?.bindings, [{ protocol: 'http', address: '::', port: 80 }]);
    assert.deepEqual(out.farms.map((f) => [f.name, f.servers]), [['app', [{ address: 'y:80' }]]]);
  });
});

describe('SSL settings and certificates', () => {
  test('<location path="Site"> access/@sslFlags → requireSsl and client certificates; https bindings get a certificate and report lines', async () => {
    const { out, lines } = await map(
      sites(site('Default Web Site', `${http80}<binding protocol="https" bindingInformation="*:443:" sslFlags="0"/>`), site('accepting', '<binding protocol="https" bindingInformation="*:8443:a.example.test" sslFlags="1"/>')),
        farms(farm('app')),
        rules(catchAll('app')),
        '<location path="Default Web Site"><system.webServer><security><access sslFlags="Ssl, SslNegotiateCert, SslRequireCert"/></security></system.webServer></location>',
        '<location path="ACCEPTING"><system.webServer><security><access sslFlags="SslNegotiateCert"/></security></system.webServer></location>',
    );
    const [web, accepting] = out.sites;
    assert.equal(web?.ssl.requireSsl, true);
    assert.equal(web?.ssl.clientCertificates, 'require');
    assert.equal(typeof web?.ssl.trustedCaFile, 'string');
    assert.equal(accepting?.ssl.requireSsl, undefined);
    assert.equal(accepting?.ssl.clientCertificates, 'accept');
    assert.equal(accepting?.bindings[0].hostName, 'a.example.test');
    assert.equal(typeof web?.bindings[1].certificate.pfxFile, 'string');
    // Without --sslcert, each https binding's line says where its certificate comes from (HTTP.sys: netsh http show sslcert).
    for (const prefix of ["ah.config:3 site[@name='Default Web Site']/bindings/binding[@bindingInformation='*:443:']: ", "ah.config:3 site[@name='accepting']/bindings/binding[@bindingInformation='*:8443:a.example.test']: "]) {
      assert.ok(lines.some((l) => l.startsWith(prefix) && l.includes('netsh http show sslcert')), `${prefix}\n${lines.join('\n')}`);
    }
  });

  test("--sslcert: every https binding's entry is read (the second's lines too); revocation only for a site that asks for client certificates", async () => {
    const hash = 'AB'.repeat(20);
    const text = [
      'IP:port : 0.0.0.0:443', `Certificate Hash : ${hash}`, 'Certificate Store Name : MY', 'Verify Client Certificate Revocation : Enabled', '',
      'IP:port : 0.0.0.0:8443', `Certificate Hash : ${hash}`, 'Certificate Store Name : MY', 'Verify Client Certificate Revocation : Enabled', 'Disable HTTP2 : Set', '',
      'IP:port : 0.0.0.0:9443', `Certificate Hash : ${hash}`, 'Certificate Store Name : MY', 'Verify Client Certificate Revocation : Enabled', '',
    ].join('\r\n');
    const entries = parseSslCert(text, 'sslcert.txt', new Report());
    const https = (port: number) => `<binding protocol="https" bindingInformation="*:${port}:"/>`;
    const mapped = await mapIisConfig(
      `<?xml version="1.0"?>\n<configuration>\n${sites(site('badges', `${https(443)}${https(8443)}`), site('plain', https(9443)))}\n${farms(farm('app'))}\n${rules(catchAll('app'))}\n<location path="badges"><system.webServer><security><access sslFlags="Ssl, SslNegotiateCert, SslRequireCert"/></security></system.webServer></location>\n</configuration>\n`,
      'ah.config',
      { certificates: { outputDir: dir }, sslcert: { file: 'sslcert.txt', entries } },
    );
    const out = parse(mapped.yaml) as Out;
    const lines = mapped.report.map(formatReportLine);
    const [badges, plain] = out.sites;
    assert.equal(badges?.ssl.clientCertificates, 'require');
    assert.equal(badges?.ssl.revocation.online, true, 'the site that asks for client certificates takes the revocation settings');
    assert.equal(plain?.ssl?.revocation, undefined, 'a site that does not ask for client certificates gets none (online: true would only warn)');
    assert.ok(lines.some((l) => l.includes('sslcert[ipport=0.0.0.0:8443]') && l.includes('HTTP/2 was off on this binding')), lines.join('\n'));
  });

  test('a location for a path inside a site, or for no site, is reported', async () => {
    const { lines } = await map(
      sites(site('web', http80)),
        farms(farm('app')),
        rules(catchAll('app')),
        '<location path="web/admin"><system.webServer><security><access sslFlags="SslRequireCert"/></security></system.webServer></location>\n',
        '<location path="nosuch"><system.webServer/></location>',
    );
    assert.deepEqual(lines, [
      "ah.config:6 location[@path='web/admin']: settings for a path inside a site: Gatehouse's SSL settings, limits and tracing are per site; not imported (a routing rule with a path can send it to its own farm)",
      "ah.config:8 location[@path='nosuch']: no imported site is named 'nosuch': not imported",
    ]);
  });
});

describe('global rules', () => {
  test('host conditions become host matches, given to the sites that can receive the host; the catch-all is every site\'s farm', async () => {
    const { out, lines, mapped } = await map(
      sites(site('api', '<binding protocol="http" bindingInformation="*:80:api.example.com"/>'), site('www', '<binding protocol="http" bindingInformation="*:80:www.example.com"/>'), site('any', '<binding protocol="http" bindingInformation="*:8080:"/>')),
        farms(farm('apiFarm'), farm('webFarm')),
        rules(
          '<rule name="api" stopProcessing="true"><match url=".*"/><conditions><add input="{HTTP_HOST}" pattern="^api\\.example\\.com$"/></conditions><action type="Rewrite" url="http://apiFarm/{R:0}"/></rule>',
          catchAll('webFarm', 'all'),
        ),
    );
    assert.deepEqual(lines, []);
    const api = { name: 'api', match: { host: 'api.example.com' }, action: { type: 'route', farm: 'apiFarm' }, stopProcessing: true };
    assert.deepEqual(out.sites.map((s) => [s.name, s.farm, s.rules]), [
      ['api', 'webFarm', [api]],
      ['www', 'webFarm', undefined],
      ['any', 'webFarm', [api]],
    ]);
    assert.ok(!mapped.yaml.includes('*a1') && !mapped.yaml.includes('&a'), 'no YAML aliases');
    await validates(mapped.yaml);
  });

  test('paths, captures, rewrites, MatchAny, headers and stopProcessing="false" are kept', async () => {
    const { out, lines } = await map(
      sites(site('web', http80)),
        farms(farm('a'), farm('b')),
        rules(
          '<rule name="v1" patternSyntax="Wildcard"><match url="api/v1/*"/><action type="Rewrite" url="http://a/v1/{R:1}" appendQueryString="false"/></rule>',
          '<rule name="re" stopProcessing="true"><match url="^shop/(.*)$" ignoreCase="false"/><action type="Rewrite" url="http://b/{R:0}"/></rule>',
          '<rule name="hosts" stopProcessing="true"><match url=".*" /><conditions logicalGrouping="MatchAny"><add input="{HTTP_HOST}" pattern="^a\\.test$"/><add input="{HTTP_X_TENANT}" pattern="blue"/></conditions><action type="Rewrite" url="http://b/{R:0}"/></rule>',
        ),
    );
    assert.deepEqual(out.sites[0]?.rules, [
      { name: 'v1', match: { path: '/api/v1/*' }, action: { type: 'route', farm: 'a', rewrite: '/v1/{R:1}', appendQueryString: false }, stopProcessing: false },
      { name: 're', match: { ignoreCase: false, pathPattern: '^/shop/(.*)$' }, action: { type: 'route', farm: 'b' }, stopProcessing: true },
      { name: 'hosts (1)', match: { host: 'a.test' }, action: { type: 'route', farm: 'b' }, stopProcessing: true },
      { name: 'hosts (2)', match: { headers: { 'X-Tenant': '*blue*' } }, action: { type: 'route', farm: 'b' }, stopProcessing: true },
    ]);
    assert.equal(out.sites[0]?.farm, undefined);
    assert.ok(lines.some((l) => l.includes("site[@name='web']: requests no imported rule routes to a farm get 404 in Gatehouse (IIS serves the site's own content from C:\\inetpub\\wwwroot)")), lines.join('\n'));
  });

  test('each rule Gatehouse cannot express is left out with a report line', async () => {
    const { out, lines } = await map(
      sites(site('web', http80)),
        farms(farm('app'), '<webFarm name="empty"/>'),
        rules(
          '<rule name="https" stopProcessing="true"><match url=".*"/><conditions><add input="{HTTPS}" pattern="on"/></conditions><action type="Rewrite" url="https://app/{R:0}"/></rule>',
          '<rule name="redirect"><match url="old/(.*)"/><action type="Redirect" url="/new/{R:1}"/></rule>',
          '<rule name="local"><match url=".*"/><action type="Rewrite" url="/index.html"/></rule>',
          '<rule name="off" enabled="false"><match url=".*"/><action type="Rewrite" url="http://app/{R:0}"/></rule>',
          '<rule name="neg"><match url="^x" negate="true"/><action type="Rewrite" url="http://app/{R:0}"/></rule>',
          '<rule name="regex-host"><match url=".*"/><conditions><add input="{HTTP_HOST}" pattern="^(a|b)\\.test$"/></conditions><action type="Rewrite" url="http://app/{R:0}"/></rule>',
          '<rule name="empty"><match url=".*"/><action type="Rewrite" url="http://empty/{R:0}"/></rule>',
          '<rule name="vars" stopProcessing="true"><match url=".*"/><serverVariables><set name="HTTP_X_FORWARDED_PROTO" value="https"/></serverVariables><action type="Rewrite" url="http://app/{R:0}"/></rule>',
          '<rule name="bad-regex"><match url="(unclosed"/><action type="Rewrite" url="http://app/{R:0}"/></rule>',
          '<rule name="after"><match url=".*"/><action type="Rewrite" url="http://app/{R:0}"/></rule>',
        ),
    );
    assert.equal(out.sites[0]?.farm, 'app');
    assert.equal(out.sites[0]?.rules, undefined);
    const text = (n: number) => lines.filter((l) => l.startsWith(`ah.config:${n} `)).map((l) => l.replace(/^ah\.config:\d+ /, '')).sort();
    assert.deepEqual(text(4), ["webFarm[@name='empty']: a farm without servers: not imported (Gatehouse farms need one); rules routing to it are reported"]);
    assert.deepEqual(
      text(5),
      [
        "rule[@name='https']: condition {HTTPS}: Gatehouse's rules cannot test the scheme or port (a site's http and https bindings share its rules): rule not imported",
        "rule[@name='redirect']: the redirect URL '/new/{R:1}' uses captures of an unanchored pattern (Gatehouse matches the path with its leading '/', so they could differ; anchor it with ^): rule not imported",
        "rule[@name='local']: a rewrite to '/index.html' is not a route to a server farm: rule not imported",
        "rule[@name='off']/@enabled: disabled in IIS: rule not imported",
        "rule[@name='neg']: a negated URL pattern: Gatehouse's rules match, they do not exclude: rule not imported",
        "rule[@name='regex-host']: condition the pattern '^(a|b)\\.test$' on {HTTP_HOST} needs a regular expression; Gatehouse matches host names and headers by wildcard: rule not imported",
        "rule[@name='empty']: a rewrite to 'http://empty/{R:0}' is not a route to a server farm (no imported farm is named 'empty'): rule not imported",
        "rule[@name='vars']/serverVariables: Gatehouse sets no server variables (HTTP_X_FORWARDED_PROTO); it sends X-Forwarded-For, X-Forwarded-Proto and X-ARR-ClientCert itself (farm protocol settings)",
        "rule[@name='bad-regex']: '(unclosed' is not a valid ECMAScript pattern: rule not imported",
        "rule[@name='after']: never reached on site web: the rule before it sends every request to farm app",
      ].sort(),
    );
  });

  test('a site\'s distributed rules (<location path="Site"> rewrite/rules) run after the global ones, for that site only', async () => {
    const { out, lines, mapped } = await map(
      sites(site('shop', http80), site('blog', '<binding protocol="http" bindingInformation="*:81:"/>')),
      farms(farm('cart'), farm('web')),
      rules('<rule name="cart" stopProcessing="true"><match url="^cart/(.*)"/><action type="Rewrite" url="http://cart/{R:1}"/></rule>'),
      '<location path="shop"><system.webServer><rewrite><rules><rule name="rest" patternSyntax="Wildcard" stopProcessing="true"><match url="*" /><action type="Rewrite" url="http://web/{R:0}"/></rule></rules></rewrite></system.webServer></location>',
    );
    const cart = { name: 'cart', match: { pathPattern: '^/cart/(.*)' }, action: { type: 'route', farm: 'cart', rewrite: '/{R:1}' }, stopProcessing: true };
    assert.deepEqual(out.sites.map((s) => [s.name, s.farm, s.rules]), [
      ['shop', 'web', [cart]],
      ['blog', undefined, [cart]],
    ]);
    assert.deepEqual(lines, ["ah.config:3 site[@name='blog']: requests no imported rule routes to a farm get 404 in Gatehouse (IIS serves the site's own content from C:\\inetpub\\wwwroot)"]);
    assert.equal(mapped.summary.rules, 2);
    await validates(mapped.yaml);
  });

  test('ECMAScript * is not a valid pattern: the rule is reported', async () => {
    const { lines } = await map(sites(site('web', http80)), farms(farm('app')), rules('<rule name="star"><match url="*"/><action type="Rewrite" url="http://app/{R:0}"/></rule>'), rules(catchAll('app')));
    assert.deepEqual(lines, ["ah.config:5 rule[@name='star']: '*' is not a valid ECMAScript pattern: rule not imported"]);
  });

  test('ECMAScript patterns as wildcards where they can be', () => {
    assert.equal(patternToWildcard('^api\\.example\\.com$', 'ecmascript'), 'api.example.com');
    assert.equal(patternToWildcard('example.com', 'ecmascript'), '*example?com*');
    assert.equal(patternToWildcard('^.*\\.example\\.com$', 'ecmascript'), '*.example.com');
    assert.equal(patternToWildcard('^(www\\.)?example\\.com$', 'ecmascript'), undefined);
    assert.equal(patternToWildcard('*.example.com', 'wildcard'), '*.example.com');
  });
});

describe('Redirect and CustomResponse global rules', () => {
  const redirect = (name: string, match: string, action: string, conditions = '', extra = '') => `<rule name="${name}"${extra}>${match}${conditions ? `<conditions>${conditions}</conditions>` : ''}<action type="Redirect" ${action}/></rule>`;

  test('a canonical-host redirect keeps its host match and capture; redirect types, appendQueryString, Gatehouse\'s variables and {C:0} of a whole host name; in order with the routes', async () => {
    const { out, lines, mapped } = await map(
      sites(site('www', '<binding protocol="http" bindingInformation="*:80:www.contoso.com"/>'), site('any', '<binding protocol="http" bindingInformation="*:8080:"/>')),
      farms(farm('web')),
      rules(
        redirect('canonical', '<match url="(.*)"/>', 'url="https://www.contoso.com/{R:1}" redirectType="Permanent"', '<add input="{HTTP_HOST}" pattern="^contoso\\.com$"/>', ' stopProcessing="true"'),
        '<rule name="api" stopProcessing="true"><match url="^api/(.*)"/><action type="Rewrite" url="http://web/v2/{R:1}"/></rule>',
        redirect('old', '<match url="old/*"/>', 'url="/new/{R:1}" redirectType="Found" appendQueryString="false"', '', ' patternSyntax="Wildcard"'),
        redirect('docs', '<match url="^docs/(\\w+)/(.*)$"/>', 'url="https://{HTTP_HOST}/help/{R:2}?lang={R:1}&amp;from={HTTPS}" redirectType="Temporary"'),
        redirect('whole', '<match url=".*"/>', 'url="https://{C:0}/moved{REQUEST_URI}" appendQueryString="false"', '<add input="{HTTP_HOST}" pattern="^shop\\.contoso\\.com$"/>'),
        redirect('default-type', '<match url="^home$"/>', 'url="/{R:0}/index"'),
        catchAll('web'),
      ),
    );
    assert.deepEqual(lines, []);
    const canonical = { name: 'canonical', match: { host: 'contoso.com' }, action: { type: 'redirect', url: 'https://www.contoso.com{R:0}', status: 301 }, stopProcessing: true };
    const rest = [
      { name: 'api', match: { pathPattern: '^/api/(.*)' }, action: { type: 'route', farm: 'web', rewrite: '/v2/{R:1}' }, stopProcessing: true },
      { name: 'old', match: { path: '/old/*' }, action: { type: 'redirect', url: '/new/{R:1}', status: 302, appendQueryString: false }, stopProcessing: true },
      { name: 'docs', match: { pathPattern: '^/docs/(\\w+)/(.*)$' }, action: { type: 'redirect', url: 'https://{HTTP_HOST}/help/{R:2}?lang={R:1}&from={HTTPS}', status: 307 }, stopProcessing: true },
    ];
    const whole = { name: 'whole', match: { host: 'shop.contoso.com' }, action: { type: 'redirect', url: 'https://shop.contoso.com/moved{REQUEST_URI}', status: 301, appendQueryString: false }, stopProcessing: true };
    const defaultType = { name: 'default-type', match: { pathPattern: '^/home$' }, action: { type: 'redirect', url: '{R:0}/index', status: 301 }, stopProcessing: true };
    assert.deepEqual(out.sites.map((s) => [s.name, s.farm, s.rules]), [
      ['www', 'web', [...rest, defaultType]],
      ['any', 'web', [canonical, ...rest, whole, defaultType]],
    ], 'each site gets the rules that can reach its host names, in IIS order; a redirect always stops');
    assert.equal(mapped.summary.rules, 7);
    await validates(mapped.yaml);
  });

  test('a CustomResponse rule: status, sub-status, statusDescription as the body; a standard statusReason is nothing to report, another is', async () => {
    const { out, lines, mapped } = await map(
      sites(site('web', http80)),
      farms(farm('web')),
      rules(
        '<rule name="maintenance" stopProcessing="true"><match url="^legacy/"/><action type="CustomResponse" statusCode="503" subStatusCode="0" statusReason="Service Unavailable" statusDescription="Down for maintenance"/></rule>',
        '<rule name="blocked" patternSyntax="Wildcard"><match url="*.php"/><conditions><add input="{HTTP_USER_AGENT}" pattern="*scanner*"/></conditions><action type="CustomResponse" statusCode="403" subStatusCode="502" statusReason="Go away"/></rule>',
        '<rule name="empty" patternSyntax="ExactMatch"><match url="ping"/><action type="CustomResponse" statusCode="204" statusDescription="pong"/></rule>',
        catchAll('web'),
      ),
    );
    assert.deepEqual(out.sites[0]?.rules, [
      { name: 'maintenance', match: { pathPattern: '^/legacy/' }, action: { type: 'respond', status: 503, body: 'Down for maintenance' }, stopProcessing: true },
      { name: 'blocked', match: { path: '/*.php', headers: { 'User-Agent': '*scanner*' } }, action: { type: 'respond', status: 403, subStatus: 502 }, stopProcessing: true },
      { name: 'empty', match: { path: '/ping' }, action: { type: 'respond', status: 204 }, stopProcessing: true },
    ]);
    assert.equal(out.sites[0]?.farm, 'web');
    assert.deepEqual(lines, [
      "ah.config:5 rule[@name='blocked']/action/@statusReason: 'Go away': Gatehouse sends the standard reason phrase (403 Forbidden; HTTP/2 has none)",
      "ah.config:5 rule[@name='empty']/action/@statusDescription: a 204 response has no body: not sent",
    ]);
    await validates(mapped.yaml);
  });

  test('a catch-all custom response stays a rule (not the site\'s farm): the rules after it are never reached', async () => {
    const { out, lines, mapped } = await map(
      sites(site('web', http80)),
      farms(farm('web')),
      rules('<rule name="offline"><match url=".*"/><action type="CustomResponse" statusCode="503" statusDescription="Closed"/></rule>', catchAll('web')),
    );
    assert.deepEqual(out.sites[0]?.rules, [{ name: 'offline', action: { type: 'respond', status: 503, body: 'Closed' }, stopProcessing: true }]);
    assert.equal(out.sites[0]?.farm, undefined);
    assert.deepEqual(lines, ["ah.config:5 rule[@name='ARR_web_loadbalance']: never reached on site web: the rule before it answers every request (respond)"]);
    await validates(mapped.yaml);
  });

  test('SeeOther is sent as 302 with a report line; what Gatehouse cannot say exactly leaves the rule out with a report line naming it', async () => {
    const { out, lines, mapped } = await map(
      sites(site('web', http80)),
      farms(farm('web')),
      rules(
        redirect('see-other', '<match url="^form$"/>', 'url="/done" redirectType="SeeOther"'),
        redirect('query', '<match url="^a$"/>', 'url="/b?{QUERY_STRING}"'),
        redirect('server-name', '<match url="^a$"/>', 'url="https://{SERVER_NAME}/a"'),
        redirect('function', '<match url="^(.*)$"/>', 'url="/{ToLower:{R:1}}"'),
        redirect('https-cond', '<match url="(.*)"/>', 'url="https://{HTTP_HOST}/{R:1}"', '<add input="{HTTPS}" pattern="off"/>'),
        redirect('remote-addr', '<match url=".*"/>', 'url="/blocked"', '<add input="{REMOTE_ADDR}" pattern="^10\\."/>'),
        redirect('negated', '<match url="^keep/" negate="true"/>', 'url="/keep/"'),
        redirect('unanchored', '<match url="old/(.*)"/>', 'url="/new/{R:1}"'),
        redirect('too-many', '<match url="^x/(.*)$"/>', 'url="/y/{R:2}"'),
        redirect('c1', '<match url=".*"/>', 'url="https://www.{C:1}/"', '<add input="{HTTP_HOST}" pattern="^contoso\\.com$"/>'),
        redirect('c0-wildcard', '<match url=".*"/>', 'url="https://{C:0}/"', '<add input="{HTTP_HOST}" pattern="contoso"/>'),
        redirect('r0-inside', '<match url="^a$"/>', 'url="/x{R:0}"'),
        '<rule name="abort"><match url="^bots/"/><action type="AbortRequest"/></rule>',
        '<rule name="teapot"><match url="^tea$"/><action type="CustomResponse" statusCode="100"/></rule>',
        catchAll('web'),
      ),
    );
    assert.deepEqual(out.sites[0]?.rules, [{ name: 'see-other', match: { pathPattern: '^/form$' }, action: { type: 'redirect', url: '/done', status: 302 }, stopProcessing: true }]);
    const text = (n: number) => lines.filter((l) => l.startsWith(`ah.config:${n} `)).map((l) => l.replace(/^ah\.config:\d+ /, ''));
    assert.deepEqual(text(5), [
      "rule[@name='see-other']/action/@redirectType: SeeOther (303): Gatehouse redirects with 301, 302, 307 or 308; 302 is sent (browsers follow it with a GET, as they do a 303)",
      "rule[@name='query']: the redirect URL '/b?{QUERY_STRING}' uses {QUERY_STRING}: a Gatehouse redirect knows {R:n}, {HTTP_HOST}, {REQUEST_URI} and {HTTPS}: rule not imported",
      "rule[@name='server-name']: the redirect URL 'https://{SERVER_NAME}/a' uses {SERVER_NAME}: a Gatehouse redirect knows {R:n}, {HTTP_HOST}, {REQUEST_URI} and {HTTPS}: rule not imported",
      "rule[@name='function']: the redirect URL '/{ToLower:{R:1}}' uses the {ToLower:…} function or rewrite map: a Gatehouse redirect has none: rule not imported",
      "rule[@name='https-cond']: condition {HTTPS}: Gatehouse's rules cannot test the scheme or port (a site's http and https bindings share its rules): rule not imported",
      "rule[@name='remote-addr']: condition {REMOTE_ADDR}: Gatehouse's rules match the host, path, headers and client certificate only: rule not imported",
      "rule[@name='negated']: a negated URL pattern: Gatehouse's rules match, they do not exclude: rule not imported",
      "rule[@name='unanchored']: the redirect URL '/new/{R:1}' uses captures of an unanchored pattern (Gatehouse matches the path with its leading '/', so they could differ; anchor it with ^): rule not imported",
      "rule[@name='too-many']: the redirect URL '/y/{R:2}' uses {R:2}, but the pattern has 1 capture: rule not imported",
      "rule[@name='c1']: the redirect URL 'https://www.{C:1}/' uses {C:n}: Gatehouse's rules make no condition captures ({C:0} is kept only where the last condition is a host name matched whole): rule not imported",
      "rule[@name='c0-wildcard']: the redirect URL 'https://{C:0}/' uses {C:n}: Gatehouse's rules make no condition captures ({C:0} is kept only where the last condition is a host name matched whole): rule not imported",
      "rule[@name='r0-inside']: the redirect URL '/x{R:0}' uses {R:0} after something other than '/': Gatehouse's {R:0} starts with the path's '/': rule not imported",
      "rule[@name='abort']: a AbortRequest rule: Gatehouse's rules route to a farm, redirect or answer with a status: rule not imported",
      "rule[@name='teapot']: statusCode '100': Gatehouse answers with a status from 200 to 599: rule not imported",
    ]);
    await validates(mapped.yaml);
  });
});

describe('tracing, limits and what has no equivalent', () => {
  test('traceFailedRequests + the site\'s logging → tracing; request limits → limits (server level, and a site\'s location where it differs); site limits', async () => {
    const { out, lines, mapped } = await map(
      sites(
        site('web', http80, '<traceFailedRequestsLogging enabled="true" maxLogFiles="20" maxLogFileSizeKB="512"/><limits connectionTimeout="00:01:00" maxBandwidth="1000"/>'),
        site('quiet', '<binding protocol="http" bindingInformation="*:81:"/>'),
      ),
        farms(farm('app')),
        rules(catchAll('app')),
        '<system.webServer><security><requestFiltering><requestLimits maxAllowedContentLength="1000000" maxUrl="2048"/><verbs allowUnlisted="true"/></requestFiltering></security>',
        '<tracing><traceFailedRequests><add path="*"><traceAreas><add provider="WWW Server" areas="Rewrite,RequestRouting" verbosity="Verbose"/></traceAreas><failureDefinitions statusCodes="500-599,403.16" timeTaken="00:00:30" verbosity="Warning"/></add><add path="*.aspx"><failureDefinitions statusCodes="404"/></add></traceFailedRequests></tracing></system.webServer>\n',
        '<location path="web"><system.webServer><security><requestFiltering><requestLimits maxAllowedContentLength="1000000" maxQueryString="100"/></requestFiltering></security></system.webServer></location>',
    );
    assert.deepEqual(out.limits, { maxAllowedContentLength: 1000000, maxUrl: 2048 });
    assert.deepEqual(out.sites[0]?.limits, { maxQueryString: 100, keepAliveTimeout: '1m' });
    assert.deepEqual(out.sites[0]?.tracing, { maxFiles: 20, maxFileSizeKB: 512, rules: [{ path: '*', statusCodes: '500-599,403.16', timeTaken: '30s' }, { path: '*.aspx', statusCodes: '404' }] });
    assert.equal(out.sites[1]?.tracing, undefined, 'logging off: no tracing, as in IIS');
    assert.deepEqual(lines.map((l) => l.replace(/: .*/, '')), [
      "ah.config:3 site[@name='web']/limits/@maxBandwidth",
      'ah.config:6 system.webServer/security/requestFiltering/verbs',
      "ah.config:7 system.webServer/tracing/traceFailedRequests/add[@path='*']/traceAreas",
      "ah.config:7 system.webServer/tracing/traceFailedRequests/add[@path='*']/failureDefinitions/@verbosity",
    ]);
    await validates(mapped.yaml);
  });

  test('sites sharing a socket agree on its idle timeout: the largest, with a report line', async () => {
    const { out, lines, mapped } = await map(
      sites(site('a', http80, '<limits connectionTimeout="00:05:00"/>'), site('b', '<binding protocol="http" bindingInformation="*:80:b.test"/>')),
      farms(farm('app')),
      rules(catchAll('app')),
    );
    assert.deepEqual(out.sites.map((s) => s.limits), [{ keepAliveTimeout: '5m' }, { keepAliveTimeout: '5m' }]);
    assert.deepEqual(lines, ['ah.config:3 system.applicationHost/sites: sites a, b share :: port 80: Gatehouse needs one keepAliveTimeout per socket; the largest, 5m, is used for all']);
    await validates(mapped.yaml);
  });

  test('elements the importer does not know get a line each; configSections, tracing definitions, the sections that serve content and empty elements none', async () => {
    const { lines } = await map(
      '<configSections><sectionGroup name="x"/></configSections>',
      sites(site('web', http80, '<logFile logFormat="W3C" directory="%SystemDrive%\\inetpub\\logs\\LogFiles" period="Daily"/>')),
      farms(farm('app')),
      '<system.webServer><modules><add name="m"/></modules><handlers><add name="StaticFile"/></handlers><httpProtocol><customHeaders><add name="X-Powered-By" value="ASP.NET"/></customHeaders></httpProtocol><tracing><traceProviderDefinitions><add name="WWW Server"/></traceProviderDefinitions></tracing></system.webServer>',
      rules(catchAll('app')),
      '<system.applicationHost><applicationPools><add name="DefaultAppPool"/></applicationPools><webLimits/><listenerAdapters><add name="http"/></listenerAdapters><frobnicator level="3"/></system.applicationHost>',
    );
    assert.deepEqual(lines, [
      'ah.config:6 system.webServer/httpProtocol: custom response headers: no Gatehouse equivalent, not imported',
      'ah.config:8 system.applicationHost/frobnicator: no Gatehouse equivalent, not imported',
    ], 'an empty element (<webLimits/>) states the defaults: no line');
  });

  test('a log file in another format, or with custom fields, is reported', async () => {
    const { lines } = await map(sites(site('web', http80, '<logFile logFormat="IIS"><customFields><add logFieldName="x" sourceName="X" sourceType="RequestHeader"/></customFields></logFile>')), farms(farm('app')), rules(catchAll('app')));
    assert.deepEqual(lines.map((l) => l.replace(/: .*/, '')), ["ah.config:3 site[@name='web']/logFile/@logFormat", "ah.config:3 site[@name='web']/logFile/customFields"]);
  });
});

describe('importIis (the command\'s work)', () => {
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
  };

  test('writes the output, never overwrites without --force; exit 0 when all maps and validates', async () => {
    const input = join(dir, 'ok.config');
    await writeFile(input, `<configuration>${sites(site('web', http80))}${farms(farm('app'))}${rules(catchAll('app'))}</configuration>`);
    const output = join(dir, 'ok.yaml');
    const first = io();
    assert.equal(await importIis({ input, output, force: false }, first.io), 0, first.out.join('\n'));
    assert.ok(first.out.some((l) => l.includes(`gatehouse validate -c ${output}`)));
    const written = await readFile(output, 'utf8');
    const second = io();
    assert.equal(await importIis({ input, output, force: false }, second.io), 1);
    assert.match(second.err.join('\n'), /exists; not overwritten \(pass --force/);
    assert.equal(await importIis({ input, output, force: true }, io().io), 0);
    assert.equal(await readFile(output, 'utf8'), written);
  });

  test('exit 1 for an unreadable input or one that is not IIS configuration; exit 2 with report lines', async () => {
    const missing = io();
    assert.equal(await importIis({ input: join(dir, 'nope.config'), output: join(dir, 'x.yaml'), force: false }, missing.io), 1);
    assert.match(missing.err.join('\n'), /nope\.config:0 \(file\): applicationHost\.config does not exist/);
    const notIis = join(dir, 'web.config');
    await writeFile(notIis, '<configuration><appSettings/></configuration>');
    const wrong = io();
    assert.equal(await importIis({ input: notIis, output: join(dir, 'y.yaml'), force: false }, wrong.io), 1);
    assert.match(wrong.err.join('\n'), /web\.config:1 <configuration>: neither system\.applicationHost\/sites nor webFarms/);
    const reported = join(dir, 'rep.config');
    await writeFile(reported, `<configuration>${sites(site('web', http80))}${farms(farm('app', undefined, '<loadBalancing algorithm="Nope"/>'))}${rules(catchAll('app'))}</configuration>`);
    const two = io();
    assert.equal(await importIis({ input: reported, output: join(dir, 'rep.yaml'), force: false }, two.io), 2);
    assert.match(two.out[0] ?? '', /rep\.config:1 webFarm\[@name='app'\]\/applicationRequestRouting\/loadBalancing\/@algorithm: /);
  });
});
