/** Routing rules: wildcards, the match path, templates and captures, rule order, and the config checks. */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { describe, test } from 'node:test';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/problem.js';
import type { Rule } from '../../src/config/model.js';
import { compilePattern, encodeUrlText, parseTemplate, Wildcard, type Template } from '../../src/proxy/rules/compile.js';
import { evaluateRules, matchPath, type RuleRequest } from '../../src/proxy/rules/match.js';
import { rewrittenUrl, withQueryOf } from '../../src/proxy/rules/action.js';
import type { ClientCertificate } from '../../src/tls/client-certificate.js';

describe('Wildcard', () => {
  test('* is any run (a capture), ? one character, the rest literal; the whole input must match', () => {
    const api = new Wildcard('/api/*');
    assert.deepEqual(api.exec('/api/users/7'), ['/api/users/7', 'users/7']);
    assert.deepEqual(api.exec('/api/'), ['/api/', '']);
    assert.equal(api.exec('/api'), null);
    assert.equal(api.exec('/apix/users'), null);
    assert.equal(api.exec('/v1/api/users'), null, 'anchored at the start');
    const two = new Wildcard('/shop/*/item/*.json');
    assert.deepEqual(two.exec('/shop/books/item/42.json'), ['/shop/books/item/42.json', 'books', '42']);
    assert.equal(two.exec('/shop/books/item/42.xml'), null);
    assert.equal(new Wildcard('/v?/x').test('/v2/x'), true);
    assert.equal(new Wildcard('/v?/x').test('/v10/x'), false);
    assert.equal(new Wildcard('*.').test('a.b.'), true);
    assert.equal(new Wildcard('a.c').test('abc'), false, 'a dot is literal');
    assert.equal(new Wildcard('(x)+[y]').test('(x)+[y]'), true, 'regex characters are literal');
  });

  test('letter case is ignored (ASCII) unless told otherwise', () => {
    assert.equal(new Wildcard('/API/*').test('/api/X'), true);
    assert.equal(new Wildcard('/api/*').test('/API/X'), true);
    assert.equal(new Wildcard('/API/*', false).test('/api/X'), false);
    assert.deepEqual(new Wildcard('/API/*').exec('/Api/MiXed'), ['/Api/MiXed', 'MiXed'], 'captures keep the input\'s case');
  });

  test('earlier stars take the shortest run that lets the rest match', () => {
    assert.deepEqual(new Wildcard('/*/*').exec('/a/b/c'), ['/a/b/c', 'a', 'b/c']);
    assert.deepEqual(new Wildcard('*-*-*').exec('x-y-z-w'), ['x-y-z-w', 'x', 'y', 'z-w']);
    assert.deepEqual(new Wildcard('**').exec('ab'), ['ab', '', 'ab']);
    assert.deepEqual(new Wildcard('a*').exec('a'), ['a', '']);
  });

  test('a range of the input: test(input, start, end)', () => {
    const host = new Wildcard('*.example.test');
    assert.equal(host.test('api.example.test:8443', 0, 16), true);
    assert.equal(host.test('api.example.test:8443'), false);
  });

  test('a path that almost matches many stars is answered in linear time (no backtracking blow-up)', () => {
    const pattern = new Wildcard('/*/*/*/*/*/*/x');
    const path = '/'.repeat(20_000) + 'y';
    assert.equal(pattern.exec(path), null);
    assert.equal(pattern.test(`${'/a'.repeat(5_000)}/x`), true);
  });
});

describe('matchPath: the path rules see', () => {
  test('the path without the query string', () => {
    assert.equal(matchPath('/api/users?id=7'), '/api/users');
    assert.equal(matchPath('/'), '/');
    assert.equal(matchPath('/?x'), '/');
  });

  test('an absolute-form request target loses its scheme and authority', () => {
    assert.equal(matchPath('http://app.example.test/a/b?q'), '/a/b');
    assert.equal(matchPath('http://app.example.test'), '/');
    assert.equal(matchPath('http://app.example.test?x=/y'), '/');
  });

  test('percent-decoded (UTF-8), except the escapes whose decoding would change the path', () => {
    assert.equal(matchPath('/%61dmin/x'), '/admin/x');
    assert.equal(matchPath('/caf%C3%A9'), '/café');
    assert.equal(matchPath('/a%2Fb'), '/a%2Fb', '%2F stays: it is not a segment separator');
    assert.equal(matchPath('/100%25'), '/100%25', '%25 stays: decoding it twice would change the path');
    assert.equal(matchPath('/a%3Fb%23c'), '/a%3Fb%23c');
    assert.equal(matchPath('/a%00b'), '/a%00b', 'controls stay escaped');
    assert.equal(matchPath('/bad%C3'), '/bad%C3', 'not UTF-8: left as escapes');
    assert.equal(matchPath('/100%'), '/100%', 'a lone % is kept');
    assert.equal(matchPath('/caf\xc3\xa9'), '/café', 'raw UTF-8 bytes (node reads the request line as latin1)');
  });

  test('dot segments resolved, as the server will read the path', () => {
    assert.equal(matchPath('/public/../admin/x'), '/admin/x');
    assert.equal(matchPath('/a/./b/.'), '/a/b/');
    assert.equal(matchPath('/../../etc'), '/etc');
    assert.equal(matchPath('/a/%2e%2e/b'), '/b', 'encoded dots too');
    assert.equal(matchPath('/a/..b/c'), '/a/..b/c', 'only whole segments');
  });
});

describe('templates', () => {
  const template = (source: string, captures: number): Template => {
    const parsed = parseTemplate(source, captures);
    if ('error' in parsed) throw new Error(parsed.error);
    return parsed;
  };
  const request = (url: string, host = 'app.example.test', isHttps = false): RuleRequest => ({ req: { url, headers: { host } } as unknown as IncomingMessage, certificate: undefined, isHttps });

  test('{R:n} beyond the captures of the path condition is an error naming them', () => {
    assert.deepEqual(parseTemplate('/v1/{R:2}', 1), { error: '{R:2} refers to capture 2, but the path condition makes 1 (up to {R:1})' });
    assert.match((parseTemplate('/x/{R:1}', 0) as { error: string }).error, /makes none beyond \{R:0\}/);
    assert.equal('error' in parseTemplate('/x/{R:0}', 0), false);
  });

  test('unknown variables and stray braces are errors', () => {
    assert.match((parseTemplate('/{QUERY_STRING}', 1) as { error: string }).error, /unknown variable \{QUERY_STRING\} \(expected \{R:n\}, \{HTTP_HOST\}, \{REQUEST_URI\}, \{HTTPS\}\)/);
    assert.match((parseTemplate('/a{R:1', 1) as { error: string }).error, /'\{' or '\}' outside/);
    assert.match((parseTemplate('/a}', 1) as { error: string }).error, /'\{' or '\}' outside/);
  });

  test('captures and variables are substituted; names are case-insensitive', () => {
    const t = template('https://{http_host}/new/{r:1}?from={R:0}&secure={HTTPS}', 1);
    assert.equal(rewrittenUrl(t, ['/old/x', 'x'], request('/old/x', 'app.example.test:8443', true), '/old/x', false), '/https://app.example.test:8443/new/x?from=/old/x&secure=on');
    assert.equal(rewrittenUrl(template('{REQUEST_URI}', 0), ['/a'], request('/a?b=1'), '/a?b=1', false), '/a?b=1');
  });

  test('captures are percent-encoded where a URL needs it, escapes kept as they were', () => {
    const t = template('/v1/{R:1}', 1);
    assert.equal(rewrittenUrl(t, ['', 'café au lait'], request('/'), '/', false), '/v1/caf%C3%A9%20au%20lait');
    assert.equal(rewrittenUrl(t, ['', 'a%2Fb'], request('/'), '/', false), '/v1/a%2Fb');
    assert.equal(encodeUrlText('a"<b>'), 'a%22%3Cb%3E');
    assert.equal(template('/a b/{R:0}', 0).parts[0]?.kind === 'text' && (template('/a b/{R:0}', 0).parts[0] as { text: string }).text, '/a%20b/', 'literal text is encoded at load');
  });

  test('the query string is appended with ? or & (appendQueryString)', () => {
    assert.equal(withQueryOf('/v1/x', '/api/x?a=1', true), '/v1/x?a=1');
    assert.equal(withQueryOf('/v1/x?k=v', '/api/x?a=1', true), '/v1/x?k=v&a=1');
    assert.equal(withQueryOf('/v1/x', '/api/x?a=1', false), '/v1/x');
    assert.equal(withQueryOf('/v1/x', '/api/x?', true), '/v1/x');
    assert.equal(withQueryOf('/v1/x', '/api/x', true), '/v1/x');
  });

  test('a pathPattern counts its groups; a bad one reports the engine\'s message', () => {
    assert.deepEqual(Object.keys(compilePattern('^/api/(v\\d)/(?<rest>.*)$', true)), ['regex', 'groups']);
    assert.equal((compilePattern('^/api/(v\\d)/(?<rest>.*)$', true) as { groups: number }).groups, 2);
    assert.match((compilePattern('^/api/(', true) as { error: string }).error, /Invalid regular expression.*Unterminated group/);
  });
});

/** Rules of a site from config text (the real load path), with farms web, api and admin. */
async function rulesOf(rules: unknown[], site: Record<string, unknown> = { farm: 'web' }): Promise<readonly Rule[]> {
  const { config } = await loadConfigText(configText(rules, site), 'gatehouse.yaml', tmpdir());
  return (config.sites[0] as { rules: readonly Rule[] }).rules;
}

function configText(rules: unknown[] | undefined, site: Record<string, unknown> = { farm: 'web' }): string {
  return JSON.stringify({
    accessLog: 'off',
    sites: [{ name: 'app', bindings: [{ protocol: 'http', address: '127.0.0.1', port: 0 }], ...site, ...(rules ? { rules } : {}) }],
    farms: ['web', 'api', 'admin'].map((name, i) => ({ name, servers: [{ address: `127.0.0.1:${9001 + i}` }] })),
  });
}

async function problemsOf(rules: unknown[] | undefined, site: Record<string, unknown> = { farm: 'web' }): Promise<string[]> {
  try {
    const { warnings } = await loadConfigText(configText(rules, site), 'gatehouse.yaml', tmpdir());
    return warnings.map((w) => w);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.lines];
    throw error;
  }
}

interface FakeRequest {
  url?: string;
  host?: string;
  headers?: Record<string, string | string[]>;
  certificate?: Partial<ClientCertificate>;
  isHttps?: boolean;
}

function requestOf(r: FakeRequest): RuleRequest {
  const headers = { ...(r.host === undefined ? {} : { host: r.host }), ...(r.headers ?? {}) };
  return { req: { url: r.url ?? '/', headers } as unknown as IncomingMessage, certificate: r.certificate as ClientCertificate | undefined, isHttps: r.isHttps ?? r.certificate !== undefined };
}

/** The name of the deciding rule, its action type and URL; 'none' when no rule matched. */
function decide(rules: readonly Rule[], r: FakeRequest): string {
  const decision = evaluateRules(rules, requestOf(r));
  if (!decision) return 'none';
  const last = decision.matched[decision.matched.length - 1];
  const farm = decision.farm ? ` ${decision.farm.name}` : '';
  return `${last?.rule.name ?? '?'}: ${decision.action.type}${farm} ${decision.url}`.trim();
}

describe('evaluateRules', () => {
  test('path wildcard with a rewrite, host wildcard (port ignored), regex with captures', async () => {
    const rules = await rulesOf([
      { name: 'api', match: { path: '/api/*' }, action: { type: 'route', farm: 'api', rewrite: '/v1/{R:1}' } },
      { name: 'admin host', match: { host: 'admin.*' }, action: { type: 'route', farm: 'admin' } },
      { name: 'legacy', match: { pathPattern: '^/old/(\\d+)/(.*)$' }, action: { type: 'route', rewrite: '/items/{R:2}?id={R:1}' } },
    ]);
    assert.equal(decide(rules, { url: '/api/users/7?x=1', host: 'app.example.test' }), 'api: route api /v1/users/7?x=1');
    assert.equal(decide(rules, { url: '/API/Users' }), 'api: route api /v1/Users', 'case-insensitive; the capture keeps its case');
    assert.equal(decide(rules, { url: '/home', host: 'admin.example.test:8080' }), 'admin host: route admin /home');
    assert.equal(decide(rules, { url: '/home', host: 'ADMIN.example.test' }), 'admin host: route admin /home');
    assert.equal(decide(rules, { url: '/home', host: 'app.example.test' }), 'none');
    assert.equal(decide(rules, { url: '/home' }), 'none', 'no Host header: a host condition does not match');
    assert.equal(decide(rules, { url: '/old/42/a/b?z=1' }), 'legacy: route web /items/a/b?id=42&z=1', 'no farm in the action: the site\'s');
    const decision = evaluateRules(rules, requestOf({ url: '/api/x' }));
    assert.equal(decision?.isRewritten, true);
    assert.equal(evaluateRules(rules, requestOf({ url: '/x', host: 'admin.a' }))?.isRewritten, false);
  });

  test('the path is matched as the server will read it: encoded letters and dot segments cannot slip past a rule', async () => {
    const rules = await rulesOf([{ name: 'block admin', match: { path: '/admin/*' }, action: { type: 'respond', status: 403 } }]);
    for (const url of ['/admin/x', '/ADMIN/x', '/%61dmin/x', '/public/../admin/x', '/public/%2e%2e/admin/x']) assert.equal(decide(rules, { url }), 'block admin: respond', url);
    assert.equal(decide(rules, { url: '/admin%2Fx' }), 'none', 'an encoded slash is not a separator');
  });

  test('headers: present with a value matching the wildcard; every one listed', async () => {
    const rules = await rulesOf([{ name: 'blue', match: { headers: { 'X-Tenant': 'blue', Accept: '*json*' } }, action: { type: 'route', farm: 'api' } }]);
    assert.equal(decide(rules, { headers: { 'x-tenant': 'Blue', accept: 'application/json' } }), 'blue: route api /');
    assert.equal(decide(rules, { headers: { 'x-tenant': 'blue' } }), 'none');
    assert.equal(decide(rules, { headers: { 'x-tenant': 'bluegreen', accept: 'application/json' } }), 'none');
    assert.equal(decide(rules, { headers: { 'x-tenant': 'blue', accept: ['text/html', 'application/json'] } }), 'blue: route api /');
  });

  test('client certificate: present, subject and issuer wildcards, SHA-1 or SHA-256 thumbprint', async () => {
    const thumbprint = 'AB'.repeat(20);
    const sha256 = 'cd'.repeat(32);
    // (The site ignores client certificates: the config loads, with warnings; the rules are what is tested.)
    const loaded = await rulesOf([
      { name: 'alice', match: { clientCertificate: { subject: 'CN=alice, *' } }, action: { type: 'route', farm: 'admin' } },
      { name: 'by sha1', match: { clientCertificate: { thumbprint: thumbprint.toLowerCase().replace(/(..)(?!$)/g, '$1:') } }, action: { type: 'route', farm: 'admin', rewrite: '/sha1' } },
      { name: 'by sha256', match: { clientCertificate: { thumbprint: sha256.toUpperCase() } }, action: { type: 'route', farm: 'admin', rewrite: '/sha256' } },
      { name: 'our CA', match: { clientCertificate: { issuer: '*O=Gatehouse Tests' } }, action: { type: 'route', farm: 'api' } },
      { name: 'any certificate', match: { clientCertificate: { present: true } }, action: { type: 'respond', status: 403, subStatus: 502 } },
      { name: 'no certificate', match: { clientCertificate: { present: false } }, action: { type: 'redirect', url: '/login' } },
    ]);
    const cert = (subject: string, issuer = 'CN=Other CA', sha1 = '00'.repeat(20), sha256Value = 'ff'.repeat(32)): Partial<ClientCertificate> => ({ subject, issuer, thumbprint: sha1, thumbprintSha256: sha256Value });
    assert.equal(decide(loaded, { certificate: cert('CN=alice, O=Example') }), 'alice: route admin /');
    assert.equal(decide(loaded, { certificate: cert('CN=alice-evil, O=Example') }), 'any certificate: respond', 'a wildcard on the whole subject, not a substring');
    assert.equal(decide(loaded, { certificate: cert('CN=bob', 'CN=x', thumbprint) }), 'by sha1: route admin /sha1');
    assert.equal(decide(loaded, { certificate: cert('CN=bob', 'CN=x', undefined, sha256) }), 'by sha256: route admin /sha256');
    assert.equal(decide(loaded, { certificate: cert('CN=bob', 'CN=Gatehouse Test Root, O=Gatehouse Tests') }), 'our CA: route api /');
    assert.equal(decide(loaded, {}), 'no certificate: redirect /login');
  });

  test('order: the first rule that matches decides; stopProcessing false lets later rules see the rewrite and override', async () => {
    const rules = await rulesOf([
      { name: 'api v1', match: { path: '/api/*' }, action: { type: 'route', farm: 'api', rewrite: '/v1/{R:1}' }, stopProcessing: false },
      { name: 'v1 admin', match: { path: '/v1/admin/*' }, action: { type: 'respond', status: 403, body: 'no' } },
      { name: 'v1 reports', match: { path: '/v1/reports/*' }, action: { type: 'route', farm: 'admin', rewrite: '/r/{R:1}' } },
      { name: 'api again', match: { path: '/api/*' }, action: { type: 'route', farm: 'web' } },
    ]);
    assert.equal(decide(rules, { url: '/api/users' }), 'api v1: route api /v1/users', 'nothing later matches /v1/users: the pending route');
    assert.equal(decide(rules, { url: '/api/admin/x' }), 'v1 admin: respond');
    assert.equal(decide(rules, { url: '/api/reports/q1?y=2024' }), 'v1 reports: route admin /r/q1?y=2024');
    const chain = evaluateRules(rules, requestOf({ url: '/api/reports/q1' }));
    assert.deepEqual(chain?.matched.map((m) => `${m.rule.name} ${m.url}`), ['api v1 /v1/reports/q1', 'v1 reports /r/q1']);
    assert.equal(decide(rules, { url: '/other' }), 'none');
  });

  test('redirects: captures and {HTTP_HOST} in the Location, 302 by default, the query string appended', async () => {
    const rules = await rulesOf([
      { name: 'old', match: { path: '/old/*' }, action: { type: 'redirect', url: 'https://{HTTP_HOST}/new/{R:1}' } },
      { name: 'moved', match: { path: '/moved' }, action: { type: 'redirect', url: '/elsewhere', status: 308, appendQueryString: false } },
    ]);
    assert.equal(decide(rules, { url: '/old/a/b?q=1', host: 'app.example.test:8080' }), 'old: redirect https://app.example.test:8080/new/a/b?q=1');
    const old = evaluateRules(rules, requestOf({ url: '/old/x' }));
    assert.equal(old?.action.type === 'redirect' && old.action.status, 302);
    const moved = evaluateRules(rules, requestOf({ url: '/moved?q=1' }));
    assert.equal(moved?.url, '/elsewhere');
    assert.equal(moved?.action.type === 'redirect' && moved.action.status, 308);
  });

  test('a rule without conditions matches every request ({R:0} the whole path)', async () => {
    const rules = await rulesOf([{ name: 'all', action: { type: 'route', farm: 'api', rewrite: '/prefix{R:0}' } }]);
    assert.equal(decide(rules, { url: '/a/b?c' }), 'all: route api /prefix/a/b?c');
  });
});

describe('config: rules', () => {
  test('defaults: match every request, case-insensitive, stopProcessing true, redirect 302, appendQueryString true', async () => {
    const [route, redirect, respond] = await rulesOf([
      { name: 'r', action: { type: 'route' } },
      { name: 'd', action: { type: 'redirect', url: '/x' } },
      { name: 's', action: { type: 'respond', status: 403 } },
    ]);
    assert.equal(route?.stopProcessing, true);
    assert.equal(route?.match.path, undefined);
    assert.deepEqual(route?.action.type === 'route' && [route.action.farm.name, route.action.rewrite, route.action.appendQueryString], ['web', undefined, true]);
    assert.deepEqual(redirect?.action.type === 'redirect' && [redirect.action.status, redirect.action.appendQueryString], [302, true]);
    assert.deepEqual(respond?.action.type === 'respond' && [respond.action.status, respond.action.subStatus, respond.action.body], [403, 0, undefined]);
  });

  test('the site\'s farm is optional with rules: the primary farm is the first route\'s, the default route none', async () => {
    const { config } = await loadConfigText(configText([{ name: 'api', match: { path: '/api/*' }, action: { type: 'route', farm: 'api' } }], {}), 'gatehouse.yaml', tmpdir());
    const site = config.sites[0];
    assert.equal(site?.defaultFarm, undefined);
    assert.equal(site?.farm.name, 'api');
    const { config: plain } = await loadConfigText(configText(undefined), 'gatehouse.yaml', tmpdir());
    assert.equal(plain.sites[0]?.defaultFarm?.name, 'web');
    assert.deepEqual(plain.sites[0]?.rules, []);
  });

  test('a site needs a farm or rules', async () => {
    const missing = 'gatehouse.yaml:1 sites[0].farm: missing (required when the site has no rules) (expected the name of a farm in `farms`)';
    assert.deepEqual(await problemsOf(undefined, {}), [missing]);
    assert.deepEqual(await problemsOf([], {}), [missing]);
    const withOtherProblems = await problemsOf(undefined, { ssl: { clientCertificates: 'maybe' } });
    assert.ok(withOtherProblems.includes(missing), `reported with the site's other problems:\n${withOtherProblems.join('\n')}`);
  });

  test('an unknown farm in an action is an error listing the known farms', async () => {
    assert.deepEqual(await problemsOf([{ name: 'x', action: { type: 'route', farm: 'nope' } }]), ['gatehouse.yaml:1 sites[0].rules[0].action.farm: farm \'nope\' is not defined (expected one of the farms: web, api, admin)']);
  });

  test('a route without farm in a site without one is an error', async () => {
    assert.deepEqual(await problemsOf([{ name: 'x', action: { type: 'route' } }], {}), ['gatehouse.yaml:1 sites[0].rules[0].action.farm: required key is missing: the site has no farm of its own (expected the name of a farm: web, api, admin)']);
  });

  test('a bad regular expression is an error at its key, with the engine\'s message', async () => {
    const lines = await problemsOf([{ name: 'x', match: { pathPattern: '^/api/(' }, action: { type: 'route' } }]);
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0] as string, /^gatehouse\.yaml:1 sites\[0\]\.rules\[0\]\.match\.pathPattern: not a valid regular expression: Invalid regular expression: \/\^\/api\/\(\/i: Unterminated group \(expected an ECMAScript regular expression\)$/);
  });

  test('{R:n} beyond the captures is an error at the template', async () => {
    assert.deepEqual(await problemsOf([{ name: 'x', match: { path: '/api/*' }, action: { type: 'route', rewrite: '/v1/{R:2}' } }]), [
      'gatehouse.yaml:1 sites[0].rules[0].action.rewrite: {R:2} refers to capture 2, but the path condition makes 1 (up to {R:1}) (expected captures of the path condition, {HTTP_HOST}, {REQUEST_URI} or {HTTPS})',
    ]);
    assert.deepEqual(await problemsOf([{ name: 'x', match: { pathPattern: '^/a/(\\d+)$' }, action: { type: 'redirect', url: '/b/{R:1}/{R:2}' } }]), [
      'gatehouse.yaml:1 sites[0].rules[0].action.url: {R:2} refers to capture 2, but the path condition makes 1 (up to {R:1}) (expected captures of the path condition, {HTTP_HOST}, {REQUEST_URI} or {HTTPS})',
    ]);
  });

  test('what does not fit the action type, and the other shape errors', async () => {
    const lines = await problemsOf([
      { name: 'a', match: { path: '/a', pathPattern: '^/a$' }, action: { type: 'route', url: '/x', status: 301 } },
      { name: 'b', action: { type: 'redirect', status: 303 }, stopProcessing: false },
      { name: 'c', action: { type: 'respond', farm: 'web', body: 'x', rewrite: '/y' } },
      { name: 'a', match: { clientCertificate: { thumbprint: 'abc' } }, action: { type: 'respond', status: 204, body: 'x' } },
      { name: 'e', action: { type: 'route', rewrite: 'v1/x' } },
    ]);
    const expected = [
      /rules\[0\]\.match\.pathPattern: both path and pathPattern are given/,
      /rules\[0\]\.action\.url: url does not apply to a route action \(expected only type, farm, rewrite, appendQueryString\)/,
      /rules\[0\]\.action\.status: status does not apply to a route action/,
      /rules\[1\]\.action\.url: required key is missing/,
      /rules\[1\]\.action\.status: 303 is not a redirect status \(expected 301, 302, 307 or 308\)/,
      /rules\[1\]\.stopProcessing: a redirect action always ends rule processing/,
      /rules\[2\]\.action\.farm: farm does not apply to a respond action/,
      /rules\[2\]\.action\.rewrite: rewrite does not apply to a respond action/,
      /rules\[2\]\.action\.status: required key is missing \(expected the status code, 200-599\)/,
      /rules\[3\]\.name: rule name 'a' is already used by rules\[0\]/,
      /rules\[3\]\.match\.clientCertificate\.thumbprint: 'abc' is not a thumbprint \(expected 40 \(SHA-1\) or 64 \(SHA-256\) hex digits\)/,
      /rules\[3\]\.action\.body: a 204 response has no body/,
      /rules\[4\]\.action\.rewrite: 'v1\/x' is not a path/,
    ];
    for (const pattern of expected) assert.ok(lines.some((line) => pattern.test(line)), `${pattern} in\n${lines.join('\n')}`);
    assert.equal(lines.filter((l) => !l.includes('warning:')).length, expected.length, lines.join('\n'));
  });

  test('warnings: certificate conditions on a site that never asks for one, a rule after a catch-all', async () => {
    const lines = await problemsOf([
      { name: 'cert', match: { clientCertificate: { present: true } }, action: { type: 'route' } },
      { name: 'all', action: { type: 'route' } },
      { name: 'never', match: { path: '/x' }, action: { type: 'route' } },
    ]);
    assert.deepEqual(lines, [
      "gatehouse.yaml:1 sites[0].rules[0].match.clientCertificate: warning: the site's clientCertificates is 'ignore', so no request has a certificate and this rule never matches (expected ssl.clientCertificates 'accept' or 'require' on an https binding)",
      'gatehouse.yaml:1 sites[0].rules[2]: warning: rules[1] matches every request and stops processing, so this rule is never reached (expected conditions on rules[1], or this rule before it)',
    ]);
  });

  test('schema errors inside a rule are located at their key', async () => {
    const lines = await problemsOf([{ name: 'x', match: { headers: { 'Bad Header': 'x' } }, action: { type: 'forward' } }]);
    assert.ok(lines.some((l) => /rules\[0\]\.action\.type: 'forward' is not allowed \(expected one of: route, redirect, respond\)/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /rules\[0\]\.match\.headers/.test(l)), lines.join('\n'));
  });
});
