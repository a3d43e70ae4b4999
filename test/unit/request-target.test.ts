/**
 * The request target's one normal form (src/proxy/request-target.ts): what is refused, what is
 * normalised, and that what the rules see is what the server receives.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { authorityOf, judgeTarget } from '../../src/proxy/request-target.js';
import { matchPath } from '../../src/proxy/rules/match.js';

function judged(target: string, method = 'GET'): string {
  const result = judgeTarget(target, method);
  if (typeof result !== 'string') assert.fail(`${target} was refused: ${result.refused}`);
  return result;
}

function refusal(target: string, method = 'GET'): string {
  const result = judgeTarget(target, method);
  if (typeof result === 'string') assert.fail(`${target} was accepted as ${result}`);
  return result.refused;
}

describe('request target: refused', () => {
  const cases: [string, RegExp][] = [
    ['/a#/../admin', /fragment/],
    ['/admin\\x', /backslash/],
    ['/admin%5Cx', /encoded backslash/],
    ['/admin%5cx', /encoded backslash/],
    ['/admin%2Fx', /encoded slash/],
    ['/admin%2fx', /encoded slash/],
    ['/a%00b', /control/],
    ['/a%0d%0aX-Injected:%201', /control/],
    ['/a%7F', /control/],
    ['/a%zz', /escape/],
    ['/a%4', /escape/],
    ['/a%', /escape/],
    ['/admin%252Fx', /escaped twice/],
    ['/%C0%AF', /UTF-8/],
    ['/%FF', /UTF-8/],
    ['/caf%C3', /UTF-8/],
    ['/a b', /whitespace/],
    ['/a\u00e9', /non-ASCII/],
    ['admin', /neither/],
    ['ftp://host/x', /neither/],
    ['http://user@host/x', /user information/],
    ['http:///x', /no host/],
    ['', /no target/],
  ];
  for (const [target, reason] of cases) {
    test(JSON.stringify(target), () => assert.match(refusal(target), reason));
  }
  test('* outside OPTIONS', () => assert.match(refusal('*', 'GET'), /OPTIONS/));
});

describe('request target: normalised (what the server receives)', () => {
  const cases: [string, string][] = [
    ['/', '/'],
    ['/plain/path?q=1&r=%2F', '/plain/path?q=1&r=%2F'],
    ['/%61dmin/x', '/admin/x'],
    ['//admin/x', '/admin/x'],
    ['/a//b///c', '/a/b/c'],
    ['/public/../admin/x', '/admin/x'],
    ['/./admin', '/admin'],
    ['/../../admin', '/admin'],
    ['/a/%2e%2e/admin', '/admin'],
    ['/a/.%2E/admin', '/admin'],
    ['/public/..;/admin/x', '/admin/x'],
    ['/a/b/..', '/a/'],
    ['/a/.', '/a/'],
    ['/admin;x/y', '/admin;x/y'],
    ['/;x/admin', '/admin'],
    ['/a/;x/;y/b', '/a/b'],
    ['/a/;x', '/a/;x'],
    ['/caf%c3%a9', '/caf%C3%A9'],
    ['/a%3Fb', '/a%3Fb'],
    ['/100%25', '/100%25'],
    ['/a%20b', '/a%20b'],
    ['/{x}|^', '/%7Bx%7D%7C%5E'],
    ['/.well-known/x', '/.well-known/x'],
    ['http://app.example/x?y', '/x?y'],
    ['HTTP://app.example', '/'],
    ['http://app.example?q', '/?q'],
  ];
  for (const [target, url] of cases) {
    test(`${target} → ${url}`, () => assert.equal(judged(target), url));
  }
  test('* with OPTIONS stays *', () => assert.equal(judged('*', 'OPTIONS'), '*'));
  test('absolute-form: its authority, and origin-form to send', () => {
    assert.equal(authorityOf('http://App.Example:8080/x'), 'App.Example:8080');
    assert.equal(authorityOf('https://h?q'), 'h');
    assert.equal(authorityOf('/x'), undefined);
    assert.equal(judged('http://h/x'), '/x', 'a host name that also starts the scheme');
  });
  test('a plain target is returned as it came (no copy)', () => {
    const target = '/api/users/7?x=1';
    assert.equal(judged(target), target);
  });
});

describe('request target: rules judge what is forwarded', () => {
  const admin: [string, string][] = [
    ['/%61dmin/x', '/admin/x'],
    ['//admin/x', '/admin/x'],
    ['/public/../admin/x', '/admin/x'],
    ['/public/..;/admin/x', '/admin/x'],
    ['/admin;jsessionid=1/x', '/admin/x'],
    ['/admin;x', '/admin'],
    ['/;x/admin/y', '/admin/y'],
    ['/;x/ADMIN/%2e%2e/admin/x', '/admin/x'],
    ['/admin./x', '/admin/x'],
    ['/admin%20/x', '/admin/x'],
    ['/admin%2e/x', '/admin/x'],
    ['/admin.%20./x', '/admin/x'],
    ['/.well-known/x', '/.well-known/x'],
    ['/file.txt', '/file.txt'],
  ];
  for (const [target, path] of admin) {
    test(`${target}: the rules see ${path}`, () => assert.equal(matchPath(judged(target)), path));
  }
  test('normalising twice changes nothing', () => {
    for (const target of ['/a/../b//c/%61?x', '/caf%c3%a9/;p/..', '/{x}']) assert.equal(judged(judged(target)), judged(target));
  });
});
