/** The IIS importer's XML layer and IIS value parsing: lines, case, collections, locations, timeSpans, flags, names. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseDuration } from '../../src/config/duration.js';
import { farmSchema } from '../../src/config/schema.js';
import { ARR_FARM_DEFAULTS, IIS_DEFAULTS, Names, parseSslFlags, parseTimeSpan, toDuration } from '../../src/import/iis/model.js';
import { collection, elementPath, ImportInputError, mergedAttr, parseXml, sectionChain, unread } from '../../src/import/iis/xml.js';

describe('parseXml', () => {
  test('keeps each element\'s line and reads attribute names in any case', () => {
    const root = parseXml('<?xml version="1.0"?>\n<configuration>\n  <webFarms>\n    <webFarm NAME="a" Enabled="False"/>\n  </webFarms>\n</configuration>\n', 'ah.config');
    const farm = root.at('webFarms', 'webFarm');
    assert.equal(farm?.line, 4);
    assert.equal(farm?.attr('name'), 'a');
    assert.equal(farm?.attr('enabled'), 'False');
    assert.equal(farm?.attr('ENABLED'), 'False');
    assert.equal(elementPath(farm as NonNullable<typeof farm>), "webFarm[@name='a']");
    assert.equal(elementPath(farm as NonNullable<typeof farm>, true), "webFarms/webFarm[@name='a']");
  });

  test('malformed XML: FILE:LINE of the error', () => {
    assert.throws(
      () => parseXml('<configuration>\n  <webFarms>\n  </webFarm>\n</configuration>', 'bad.config'),
      (e: unknown) => e instanceof ImportInputError && /^bad\.config:3 \(XML\): /.test(e.message),
    );
  });

  test('hostile XML: entities (an external file, a billion laughs) are refused, never expanded; 100,000 levels of nesting are read', () => {
    const external = '<?xml version="1.0"?>\n<!DOCTYPE configuration [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<configuration><system.applicationHost><sites><site name="&xxe;" id="1"/></sites></system.applicationHost></configuration>';
    const laughs = `<!DOCTYPE configuration [<!ENTITY a "aaaaaaaaaa">${Array.from({ length: 8 }, (_, i) => `<!ENTITY ${String.fromCharCode(98 + i)} "${`&${String.fromCharCode(97 + i)};`.repeat(10)}">`).join('')}]>\n<configuration a="&i;"/>`;
    for (const [name, text] of [['xxe.config', external], ['laughs.config', laughs]] as const) {
      assert.throws(
        () => parseXml(text, name),
        (e: unknown) => e instanceof ImportInputError && e.message.startsWith(`${name}:`) && e.message.includes('the DOCTYPE declares entities, which Gatehouse does not expand or fetch'),
        name,
      );
    }
    const depth = 100_000;
    const deep = parseXml(`<configuration>${'<a>'.repeat(depth)}${'</a>'.repeat(depth)}</configuration>`, 'deep.config');
    assert.equal(deep.children.length, 1);
  });

  test('not XML at all (a JSON file): FILE:LINE of its first character', () => {
    assert.throws(
      () => parseXml('\n{\n  "AllowedHosts": "*"\n}\n', 'appsettings.json'),
      (e: unknown) => e instanceof ImportInputError && e.message.startsWith("appsettings.json:2 (XML): not XML: it starts with '{'"),
    );
  });

  test('a root other than <configuration>: FILE:LINE names the element', () => {
    assert.throws(
      () => parseXml('<?xml version="1.0"?>\n\n<project><a/></project>', 'pom.xml'),
      (e: unknown) => e instanceof ImportInputError && e.message.startsWith('pom.xml:3 <project>: not an IIS configuration'),
    );
  });

  test('unread lists the topmost unread element (not empty ones: they state the defaults) and the unread attributes of read ones', () => {
    const root = parseXml('<configuration><a x="1" y="2"><b><c/></b></a><d><e/></d><empty/></configuration>', 'f');
    root.child('a')?.attr('x');
    const left = unread(root).map((u) => `${u.element.name}${u.attribute ? `/@${u.attribute}` : ''}`);
    assert.deepEqual(left, ['a/@y', 'b', 'd']);
  });
});

describe('collections and locations', () => {
  test('<clear/> empties what came before, <remove/> drops by key in any case, a later <add> with the same key replaces', () => {
    const root = parseXml(
      `<configuration><list>
        <add path="one"/><add path="two"/>
        <clear/>
        <add path="three"/><add path="Four" v="1"/><add path="five"/>
        <remove path="FIVE"/>
        <add path="four" v="2"/>
      </list></configuration>`,
      'f',
    );
    const items = collection([root.child('list')], 'add', ['path']);
    assert.deepEqual(items.map((i) => `${i.attr('path')}${i.attr('v') ?? ''}`), ['three', 'four2']);
    assert.deepEqual(unread(root), [], 'removed and cleared items count as read (they were decided)');
  });

  test('<location path="Site"> merges over the server level: attributes override, collections continue', () => {
    const root = parseXml(
      `<configuration>
        <system.webServer><security><access sslFlags="None"/></security>
          <tracing><traceFailedRequests><add path="*"/><add path="*.aspx"/></traceFailedRequests></tracing></system.webServer>
        <location path="Default Web Site"><system.webServer><security><access sslFlags="Ssl"/></security>
          <tracing><traceFailedRequests><remove path="*.ASPX"/><add path="/api/*"/></traceFailedRequests></tracing></system.webServer></location>
        <location path="other"><system.webServer><security><access sslFlags="SslRequireCert"/></security></system.webServer></location>
        <location path=""><system.webServer><security><access sslFlags="Ssl128"/></security></system.webServer></location>
      </configuration>`,
      'f',
    );
    const access = (site?: string) => mergedAttr(sectionChain(root, ['system.webServer', 'security', 'access'], site), 'sslFlags')?.value;
    assert.equal(access('default web site'), 'Ssl', 'site names match in any case');
    assert.equal(access('another'), 'Ssl128', 'path="" is the server level');
    assert.equal(access(), 'Ssl128');
    const rules = collection(sectionChain(root, ['system.webServer', 'tracing', 'traceFailedRequests'], 'Default Web Site'), 'add', ['path']);
    assert.deepEqual(rules.map((r) => r.attr('path')), ['*', '/api/*']);
  });
});

describe('IIS values', () => {
  test('timeSpans: hh:mm:ss, d.hh:mm:ss, fractions; anything else refused', () => {
    assert.equal(parseTimeSpan('00:00:30'), 30_000);
    assert.equal(parseTimeSpan('00:02:00'), 120_000);
    assert.equal(parseTimeSpan('1.02:00:00'), 26 * 3_600_000);
    assert.equal(parseTimeSpan('00:00:00.1'), 100);
    assert.equal(parseTimeSpan('00:00:01.5000000'), 1500);
    assert.equal(parseTimeSpan('5'), undefined, 'a bare number is .NET days: not guessed');
    assert.equal(parseTimeSpan('00:61:00'), undefined);
    assert.equal(parseTimeSpan('-00:00:01'), undefined);
  });

  test('durations in the largest whole unit, each read back by Gatehouse to the same milliseconds', () => {
    for (const ms of [0, 100, 1500, 30_000, 120_000, 3_600_000, 26 * 3_600_000, 2 * 86_400_000]) {
      assert.equal(parseDuration(toDuration(ms)), ms, String(toDuration(ms)));
    }
    assert.equal(toDuration(120_000), '2m');
    assert.equal(toDuration(1500), '1500ms');
  });

  test('sslFlags: names in any case and spacing, or the number', () => {
    assert.deepEqual([...parseSslFlags('Ssl, SslNegotiateCert,SSLREQUIRECERT').flags].sort(), ['ssl', 'sslnegotiatecert', 'sslrequirecert']);
    assert.deepEqual([...parseSslFlags('104').flags].sort(), ['ssl', 'sslnegotiatecert', 'sslrequirecert']);
    assert.deepEqual(parseSslFlags('Ssl, Bogus').unknown, ['Bogus']);
  });

  test('names Gatehouse refuses become unique slugs, each rename listed', () => {
    const names = new Names();
    assert.equal(names.name('site', 'Default Web Site'), 'Default-Web-Site');
    assert.equal(names.name('site', 'Default  Web/Site'), 'Default-Web-Site-2');
    assert.equal(names.name('site', 'api'), 'api');
    assert.equal(names.name('site', '  '), 'site');
    assert.equal(names.name('farm', 'api'), 'api', 'a farm may share a site\'s name');
    assert.deepEqual(names.renames.map((r) => r.to), ['Default-Web-Site', 'Default-Web-Site-2', 'site']);
  });

  test("ARR's per-farm defaults are Gatehouse's farm defaults (so absent attributes are left out)", () => {
    const farm = farmSchema.parse({ name: 'f', servers: [{ address: 'a:80' }], protocol: {}, loadBalancing: {}, healthCheck: {}, affinity: {} });
    const d = ARR_FARM_DEFAULTS;
    assert.equal(parseDuration(farm.protocol.timeout), parseTimeSpan(d.protocol.timeout));
    for (const key of ['preserveHostHeader', 'reverseRewriteHostInResponseHeaders', 'xForwardedForHeaderName', 'includePortInXForwardedFor', 'clientCertHeaderName', 'sslHeaderName', 'logGuidName', 'maxForwards', 'maxResponseHeaderSize'] as const) {
      assert.equal(farm.protocol[key], d.protocol[key], key);
    }
    const hc = farm.healthCheck;
    assert.ok(hc);
    assert.equal(parseDuration(hc.interval), parseTimeSpan(d.healthCheck.interval));
    assert.equal(parseDuration(hc.timeout), parseTimeSpan(d.healthCheck.timeout));
    assert.equal(parseDuration(hc.liveTrafficFailurePeriod), parseTimeSpan(d.healthCheck.liveTrafficFailurePeriod));
    assert.equal(hc.statusCodeMatch, d.healthCheck.statusCodeMatch);
    assert.equal(hc.liveTrafficFailureCodes, d.healthCheck.liveTrafficFailureCodes);
    assert.equal(hc.maxLiveTrafficFailures, d.healthCheck.maxLiveTrafficFailures);
    assert.equal(hc.minServers, d.healthCheck.minServers);
    assert.equal(farm.affinity?.useCookie, d.affinity.useCookie);
    assert.equal(farm.affinity?.cookieName, d.affinity.cookieName);
    assert.equal(farm.loadBalancing?.algorithm, 'weightedRoundRobin');
    assert.equal(parseDuration(farm.loadBalancing?.leastResponseTimePeriod as string | number), parseTimeSpan(d.loadBalancing.leastResponseTimePeriod));
    assert.equal(farm.servers[0]?.weight, d.server.weight);
    assert.equal(farm.servers[0]?.enabled, d.server.enabled);
    assert.equal(IIS_DEFAULTS.traceFailedRequestsLogging.maxLogFiles, 50);
  });
});
