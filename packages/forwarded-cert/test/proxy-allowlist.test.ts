import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createProxyAllowlist } from '../src/index.js';

describe('createProxyAllowlist', () => {
  test('exact IPv4 address', () => {
    const trusted = createProxyAllowlist(['10.0.0.5']);
    assert.equal(trusted('10.0.0.5'), true);
    assert.equal(trusted('10.0.0.6'), false);
  });
  test('IPv4 CIDR', () => {
    const trusted = createProxyAllowlist(['192.168.10.0/24', '172.16.0.0/12']);
    assert.equal(trusted('192.168.10.0'), true);
    assert.equal(trusted('192.168.10.255'), true);
    assert.equal(trusted('192.168.11.1'), false);
    assert.equal(trusted('172.31.255.255'), true);
    assert.equal(trusted('172.32.0.0'), false);
  });
  test('odd prefix lengths', () => {
    const trusted = createProxyAllowlist(['10.0.0.128/25', '2001:db8::/33']);
    assert.equal(trusted('10.0.0.127'), false);
    assert.equal(trusted('10.0.0.128'), true);
    assert.equal(trusted('2001:db8:7fff::1'), true);
    assert.equal(trusted('2001:db8:8000::1'), false);
  });
  test('IPv4-mapped IPv6 peers match IPv4 entries (dual-stack servers)', () => {
    const trusted = createProxyAllowlist(['127.0.0.1', '10.0.0.0/8']);
    assert.equal(trusted('::ffff:127.0.0.1'), true);
    assert.equal(trusted('::FFFF:10.20.30.40'), true);
    assert.equal(trusted('::ffff:7f00:1'), true, 'hex form of the mapped address');
    assert.equal(trusted('::ffff:127.0.0.2'), false);
    assert.equal(trusted('::ffff:11.0.0.1'), false);
  });
  test('IPv4-mapped entries match plain IPv4 peers', () => {
    const trusted = createProxyAllowlist(['::ffff:192.0.2.1']);
    assert.equal(trusted('192.0.2.1'), true);
  });
  test('IPv6 addresses and ranges', () => {
    const trusted = createProxyAllowlist(['::1', 'fd00:1234::/32']);
    assert.equal(trusted('::1'), true);
    assert.equal(trusted('0:0:0:0:0:0:0:1'), true);
    assert.equal(trusted('fd00:1234:abcd::9'), true);
    assert.equal(trusted('fd00:1235::9'), false);
    assert.equal(trusted('::2'), false);
    assert.equal(trusted('fe80::1%eth0'), false);
  });
  test('an IPv4 entry does not match unrelated IPv6 addresses (no ::a.b.c.d confusion)', () => {
    const trusted = createProxyAllowlist(['127.0.0.1']);
    assert.equal(trusted('::127.0.0.1'), false);
    assert.equal(trusted('::1'), false);
  });
  test('presets: loopback, linklocal, uniquelocal', () => {
    const trusted = createProxyAllowlist(['loopback']);
    assert.equal(trusted('127.0.0.1'), true);
    assert.equal(trusted('127.255.0.9'), true);
    assert.equal(trusted('::1'), true);
    assert.equal(trusted('::ffff:127.0.0.1'), true);
    assert.equal(trusted('10.0.0.1'), false);
    assert.equal(createProxyAllowlist(['uniquelocal'])('10.1.2.3'), true);
    assert.equal(createProxyAllowlist(['linklocal'])('fe80::1%eth0'), true, 'zone id is ignored');
  });
  test('empty list, missing and garbage addresses trust no one', () => {
    assert.equal(createProxyAllowlist([])('127.0.0.1'), false);
    const trusted = createProxyAllowlist(['0.0.0.0/0']);
    assert.equal(trusted('8.8.8.8'), true);
    assert.equal(trusted(undefined), false);
    assert.equal(trusted('localhost'), false);
    assert.equal(trusted(''), false);
  });
  test('invalid entries throw at creation', () => {
    for (const entry of ['localhost', '10.0.0.0/33', '::/129', '10.0.0/8', '10.0.0.0/', '10.0.0.0/8/8', 'fe80::1%eth0', '1.2.3.4/-1']) {
      assert.throws(() => createProxyAllowlist([entry]), TypeError, entry);
    }
  });
});
