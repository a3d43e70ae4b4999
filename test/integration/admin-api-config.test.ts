/**
 * The config file through the admin API over real https: GET /config with its ETag; PUT /config refused
 * with the same FILE:LINE problems as `gatehouse validate` (the file byte-identical, no temporary file
 * left), 428/412, concurrent writers, roles; a good PUT written, kept in the history, reloaded; the history
 * keeps 20 versions and restores one; comments survive an edit; the audit records each write.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseDocument, type YAMLSeq } from 'yaml';
import { z } from 'zod';
import { run } from '../support/clients.js';
import { BIN } from '../support/gatehouse.js';
import { startAdminRig, type AdminRig } from './admin-config-support.js';

let rig: AdminRig;

before(async () => {
  rig = await startAdminRig(2, (backends) => `sites:
  - name: web
    bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }]
    farm: web
farms:
  - name: web # the application servers
    servers: [{ address: ${backends[0]!.address} }, { address: ${backends[1]!.address} }]
    loadBalancing: { algorithm: weightedRoundRobin }
`);
});

after(async () => {
  await rig?.close();
});

const configEtag = async () => (await rig.api('GET', '/api/v1/config', { token: rig.tokens.viewer })).headers.etag as string;
const fileText = () => readFileSync(rig.configFile(), 'utf8');
const leftovers = () => readdirSync(dirname(rig.configFile())).filter((name) => name.endsWith('.tmp'));

describe('GET /config', () => {
  test('the file as on disk and its ETag (header and body agree); 401 without credentials', async () => {
    const answer = await rig.api('GET', '/api/v1/config', { token: rig.tokens.viewer });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.json.yaml, fileText());
    assert.equal(answer.json.file, rig.configFile());
    assert.match(answer.json.etag, /^"[0-9a-f]{32}"$/);
    assert.equal(answer.headers.etag, answer.json.etag);
    const stranger = await rig.api('GET', '/api/v1/config');
    assert.equal(stranger.status, 401);
    assert.equal(stranger.json.code, 'unauthenticated');
  });

  test('an inline passphrase is shown as (hidden) to a viewer and an operator, as written to an administrator', async () => {
    const original = fileText();
    const withPfx = original.replace(
      "bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }]",
      `bindings:\n      - { protocol: http, address: 127.0.0.1, port: 0 }\n      - protocol: https\n        address: 127.0.0.1\n        port: 0\n        certificate: { pfxFile: ${rig.pki.server.pfxFile}, passphrase: ${JSON.stringify(rig.pki.server.pfxPassword)} }`,
    );
    assert.notEqual(withPfx, original);
    const put = await rig.api('PUT', '/api/v1/config', { token: rig.tokens.admin, body: { yaml: withPfx }, ifMatch: await configEtag() });
    assert.equal(put.status, 200, put.text);
    try {
      for (const token of [rig.tokens.viewer, rig.tokens.operator]) {
        const read = await rig.api('GET', '/api/v1/config', { token });
        assert.equal(read.json.redacted, true);
        assert.ok(!read.text.includes(rig.pki.server.pfxPassword), 'the passphrase is not shown');
        assert.match(read.json.yaml, /passphrase: "?\(hidden\)"?/);
        assert.equal(read.headers.etag, put.headers.etag, 'the ETag is the file\'s');
      }
      const admin = await rig.api('GET', '/api/v1/config', { token: rig.tokens.admin });
      assert.equal(admin.json.redacted, false);
      assert.equal(admin.json.yaml, withPfx);
    } finally {
      const back = await rig.api('PUT', '/api/v1/config', { token: rig.tokens.admin, body: { yaml: original }, ifMatch: await configEtag() });
      assert.equal(back.status, 200, back.text);
    }
  });
});

describe('PUT /config', () => {
  test('a viewer and an operator get 403; without If-Match 428; a stale ETag 412; nothing written', async () => {
    const before = fileText();
    const etag = await configEtag();
    for (const token of [rig.tokens.viewer, rig.tokens.operator]) {
      const answer = await rig.api('PUT', '/api/v1/config', { token, body: { yaml: before }, ifMatch: etag });
      assert.equal(answer.status, 403);
      assert.equal(answer.json.code, 'forbidden');
    }
    const missing = await rig.api('PUT', '/api/v1/config', { token: rig.tokens.admin, body: { yaml: before } });
    assert.equal(missing.status, 428);
    const stale = await rig.api('PUT', '/api/v1/config', { token: rig.tokens.admin, body: { yaml: before }, ifMatch: '"0123"' });
    assert.equal(stale.status, 412);
    assert.equal(stale.json.code, 'precondition_failed');
    assert.equal(fileText(), before);
  });

  test('an invalid config: 422 with the FILE:LINE problems gatehouse validate prints; the file byte-identical, no temporary file left', async () => {
    const before = readFileSync(rig.configFile());
    const etag = await configEtag();
    const bad = fileText().replace('algorithm: weightedRoundRobin', 'algorithm: fastest').replace('farm: web', 'farm: web\n    colour: blue');
    // What the command line says about the same text at the same path.
    const copy = join(dirname(rig.configFile()), 'validate-copy.yaml');
    await writeFile(copy, bad);
    const cli = await run(process.execPath, [BIN, 'validate', '-c', copy]);
    await rm(copy);
    assert.equal(cli.code, 1, cli.stdout + cli.stderr);
    const expected = cli.stdout.trim().split('\n').map((line) => line.split(copy).join(rig.configFile()));
    assert.ok(expected.length >= 2, cli.stdout);

    const answer = await rig.api('PUT', '/api/v1/config', { badge: rig.badge, body: { yaml: bad }, ifMatch: etag });
    assert.equal(answer.status, 422, answer.text);
    assert.equal(answer.headers['content-type'], 'application/problem+json');
    assert.equal(answer.json.code, 'invalid_config');
    assert.deepEqual(answer.json.detail.split('\n'), expected, 'the same lines as gatehouse validate');
    const fields = answer.json.errors.map((e: { field: string }) => e.field);
    assert.ok(fields.includes('sites[0].colour'), JSON.stringify(answer.json.errors));
    assert.ok(fields.includes('farms[0].loadBalancing.algorithm'), JSON.stringify(answer.json.errors));
    for (const [i, error] of answer.json.errors.entries()) {
      assert.equal(error.file, rig.configFile());
      assert.equal(`${error.file}:${error.line} ${error.field}: ${error.message}`, expected[i]);
    }
    const colour = answer.json.errors.find((e: { field: string }) => e.field === 'sites[0].colour');
    assert.equal(bad.split('\n')[colour.line - 1]?.trim(), 'colour: blue', 'the line is the key\'s line');
    assert.deepEqual(readFileSync(rig.configFile()), before, 'the file is byte-identical');
    assert.deepEqual(leftovers(), []);
    assert.equal(await configEtag(), etag);
  });

  test('not YAML: 422 with the syntax problem and its line', async () => {
    const answer = await rig.api('PUT', '/api/v1/config', { token: rig.tokens.admin, body: { yaml: 'sites: [\n' }, ifMatch: await configEtag() });
    assert.equal(answer.status, 422);
    assert.equal(answer.json.code, 'invalid_config');
    assert.equal(answer.json.errors[0].field, '(syntax)');
    assert.match(answer.json.detail, new RegExp(`^${rig.configFile().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+ \\(syntax\\): `));
  });

  test('a valid config is written (the old one kept in the history), reloaded, and answered with the reload and the new ETag', async () => {
    const old = fileText();
    const etag = await configEtag();
    const next = old.replace('algorithm: weightedRoundRobin', 'algorithm: leastRequests');
    const answer = await rig.api('PUT', '/api/v1/config', { badge: rig.badge, body: { yaml: next }, ifMatch: etag });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.json.changed, true);
    assert.equal(answer.json.previousEtag, etag);
    assert.equal(answer.headers.etag, answer.json.etag);
    assert.equal(answer.json.reload.ok, true, JSON.stringify(answer.json.reload));
    assert.deepEqual(answer.json.reload.problems, []);
    assert.ok(Date.parse(answer.json.reload.at) > 0);
    assert.equal(fileText(), next);
    assert.equal(await configEtag(), answer.json.etag);
    assert.deepEqual(leftovers(), []);
    const farm = await rig.api('GET', '/api/v1/farms/web', { token: rig.tokens.viewer });
    assert.equal(farm.json.algorithm, 'leastRequests', 'in force');
    const history = await rig.api('GET', '/api/v1/config/history', { token: rig.tokens.viewer });
    assert.equal(history.status, 200);
    const newest = history.json.versions[0];
    assert.equal(newest.id, answer.json.historyId);
    assert.equal(newest.etag, etag, 'the replaced text is kept');
    assert.equal(newest.replacedBy, 'CN=Ada Admin, O=Example (SHA-1 ' + newest.replacedBy.split('SHA-1 ')[1]);
    assert.equal(readFileSync(join(history.json.folder, `${newest.id}.yaml`), 'utf8'), old);
    assert.equal(statSync(join(history.json.folder, `${newest.id}.yaml`)).mode & 0o777, statSync(rig.configFile()).mode & 0o777, 'the history version has the config\'s mode');
    const audit = await rig.api('GET', '/api/v1/audit?limit=5', { token: rig.tokens.viewer });
    const entries = audit.json.entries.filter((e: { action: string }) => e.action === 'putConfig');
    assert.deepEqual(entries.map((e: { phase: string }) => e.phase).slice(-2), ['attempt', 'result']);
    assert.equal(entries.at(-1).result, 'applied');
    assert.deepEqual(entries.at(-1).before, { etag });
  });

  test('a config larger than 64 KiB (a big farm, long comments) is taken', async () => {
    const original = fileText();
    const big = `${original}${Array.from({ length: 2000 }, (_, i) => `# note ${i}: ${'-'.repeat(60)}`).join('\n')}\n`;
    assert.ok(Buffer.byteLength(big) > 100 * 1024);
    const put = await rig.api('PUT', '/api/v1/config', { token: rig.tokens.admin, body: { yaml: big }, ifMatch: await configEtag() });
    assert.equal(put.status, 200, put.text);
    assert.equal(fileText(), big);
    const back = await rig.api('PUT', '/api/v1/config', { token: rig.tokens.admin, body: { yaml: original }, ifMatch: await configEtag() });
    assert.equal(back.status, 200, back.text);
  });

  test('two writers with the same ETag: one is written, the other gets 412', async () => {
    const etag = await configEtag();
    const text = fileText();
    const answers = await Promise.all(
      ['leastResponseTime', 'powerOfTwoChoices'].map((algorithm) => rig.api('PUT', '/api/v1/config', { token: rig.tokens.admin, body: { yaml: text.replace(/algorithm: \w+/, `algorithm: ${algorithm}`) }, ifMatch: etag })),
    );
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 412], answers.map((a) => a.text).join('\n'));
    const winner = answers.find((a) => a.status === 200)!;
    assert.equal(await configEtag(), winner.json.etag);
  });
});

describe('history and restore', () => {
  test('the history keeps the last 20 versions, newest first; restore writes one back (validated, reloaded, the current kept)', async () => {
    const base = fileText();
    for (let i = 0; i < 22; i++) {
      const answer = await rig.api('PUT', '/api/v1/config', { token: rig.tokens.admin, body: { yaml: `${base}# edit ${i}\n` }, ifMatch: await configEtag() });
      assert.equal(answer.status, 200, answer.text);
    }
    const history = (await rig.api('GET', '/api/v1/config/history', { token: rig.tokens.viewer })).json;
    assert.equal(history.keep, 20);
    assert.equal(history.versions.length, 20);
    assert.deepEqual([...history.versions].map((v: { id: string }) => v.id), [...history.versions].map((v: { id: string }) => v.id).sort().reverse(), 'newest first');
    assert.equal(readdirSync(history.folder).filter((n) => n.endsWith('.yaml')).length, 20, 'older versions are removed from disk');
    assert.equal(readFileSync(join(history.folder, `${history.versions[0].id}.yaml`), 'utf8'), `${base}# edit 20\n`);
    assert.equal(history.versions[0].writtenBy, 'token user ci');

    const target = history.versions[5];
    const text = await readFile(join(history.folder, `${target.id}.yaml`), 'utf8');
    const viewer = await rig.api('POST', `/api/v1/config/history/${target.id}/restore`, { token: rig.tokens.viewer, body: {}, ifMatch: await configEtag() });
    assert.equal(viewer.status, 403);
    const stale = await rig.api('POST', `/api/v1/config/history/${target.id}/restore`, { token: rig.tokens.admin, body: {}, ifMatch: target.etag });
    assert.equal(stale.status, 412, 'guarded by the config ETag');
    const missing = await rig.api('POST', '/api/v1/config/history/20200101T000000000Z-000000000000/restore', { token: rig.tokens.admin, body: {}, ifMatch: await configEtag() });
    assert.equal(missing.status, 404);
    assert.equal(missing.json.code, 'version_not_found');
    const current = fileText();
    const restored = await rig.api('POST', `/api/v1/config/history/${target.id}/restore`, { token: rig.tokens.admin, body: {}, ifMatch: await configEtag() });
    assert.equal(restored.status, 200, restored.text);
    assert.equal(restored.json.reload.ok, true);
    assert.equal(restored.json.etag, target.etag);
    assert.equal(fileText(), text);
    const after = (await rig.api('GET', '/api/v1/config/history', { token: rig.tokens.viewer })).json;
    assert.equal(after.versions.length, 20);
    assert.equal(readFileSync(join(after.folder, `${after.versions[0].id}.yaml`), 'utf8'), current, 'the replaced file is kept in turn');
  });

  test('comments and key order survive an edit made through the API', async () => {
    const site = await rig.api('GET', '/api/v1/sites/web', { token: rig.tokens.viewer });
    const answer = await rig.api('PUT', '/api/v1/sites/web/ssl', { token: rig.tokens.admin, body: { requireSsl: false }, ifMatch: site.headers.etag as string });
    assert.equal(answer.status, 200, answer.text);
    const text = fileText();
    assert.match(text, /^# Gatehouse under test: the admin API edits this file\.$/m);
    assert.match(text, /- name: web # the application servers/);
    assert.ok(text.indexOf('accessLog:') < text.indexOf('admin:') && text.indexOf('admin:') < text.indexOf('sites:') && text.indexOf('sites:') < text.indexOf('farms:'), text);
    assert.match(text, /ssl:\s*\n?\s*\{?\s*requireSsl: false/);
  });
});

describe('GET /config/history/{id}', () => {
  test('a kept version with its text (byte for byte) and its metadata as GET /config/history lists it', async () => {
    const original = fileText();
    const edited = original.replace('# the application servers', '# the application servers (kept in the history)');
    assert.notEqual(edited, original);
    const first = await rig.api('PUT', '/api/v1/config', { token: rig.tokens.admin, body: { yaml: edited }, ifMatch: await configEtag() });
    assert.equal(first.status, 200, first.text);
    const back = await rig.api('PUT', '/api/v1/config', { token: rig.tokens.admin, body: { yaml: original }, ifMatch: await configEtag() });
    assert.equal(back.status, 200, back.text);
    const list = (await rig.api('GET', '/api/v1/config/history', { token: rig.tokens.viewer })).json;
    const [newest, older] = list.versions;
    assert.equal(newest.id, back.json.historyId);
    for (const [version, text] of [[newest, edited], [older, original]] as const) {
      const admin = await rig.api('GET', `/api/v1/config/history/${version.id}`, { token: rig.tokens.admin });
      assert.equal(admin.status, 200, admin.text);
      assert.equal(admin.json.yaml, readFileSync(join(list.folder, `${version.id}.yaml`), 'utf8'));
      assert.equal(admin.json.yaml, text);
      assert.equal(admin.json.redacted, false);
      const { yaml: _yaml, redacted: _redacted, ...meta } = admin.json;
      assert.deepEqual(meta, version);
    }
    const viewer = await rig.api('GET', `/api/v1/config/history/${newest.id}`, { token: rig.tokens.viewer });
    assert.equal(viewer.status, 200);
    assert.equal(viewer.json.redacted, true);
    assert.equal(viewer.json.yaml, edited, 'no inline passphrase in it: as written');
  });

  test('an inline passphrase in a kept version is (hidden) to a viewer and an operator, as written to an administrator', async () => {
    const original = fileText();
    const doc = parseDocument(original);
    (doc.getIn(['sites', 0, 'bindings']) as YAMLSeq).add(doc.createNode({ protocol: 'https', address: '127.0.0.1', port: 0, certificate: { pfxFile: rig.pki.server.pfxFile, passphrase: rig.pki.server.pfxPassword } }));
    const withPfx = doc.toString({ lineWidth: 0 });
    assert.ok(withPfx.includes(rig.pki.server.pfxPassword));
    assert.equal((await rig.api('PUT', '/api/v1/config', { token: rig.tokens.admin, body: { yaml: withPfx }, ifMatch: await configEtag() })).status, 200);
    const back = await rig.api('PUT', '/api/v1/config', { token: rig.tokens.admin, body: { yaml: original }, ifMatch: await configEtag() });
    assert.equal(back.status, 200, back.text);
    const id = back.json.historyId as string;
    for (const token of [rig.tokens.viewer, rig.tokens.operator]) {
      const read = await rig.api('GET', `/api/v1/config/history/${id}`, { token });
      assert.equal(read.status, 200);
      assert.equal(read.json.redacted, true);
      assert.ok(!read.text.includes(rig.pki.server.pfxPassword), 'the passphrase is not shown');
      assert.match(read.json.yaml, /passphrase: "?\(hidden\)"?/);
    }
    const admin = await rig.api('GET', `/api/v1/config/history/${id}`, { badge: rig.badge });
    assert.equal(admin.json.yaml, withPfx);
  });

  test('an unknown id is 404 version_not_found; an id that climbs out of the history folder is refused, not read', async () => {
    const missing = await rig.api('GET', '/api/v1/config/history/20200101T000000000Z-000000000000', { token: rig.tokens.viewer });
    assert.equal(missing.status, 404);
    assert.equal(missing.json.code, 'version_not_found');
    assert.equal(missing.headers['content-type'], 'application/problem+json');
    for (const id of ['..%2F..%2Fetc%2Fpasswd', '..%2F..%2Fetc', '%2E%2E%2Fconfig', '..', 'author', `..%2F${encodeURIComponent(dirname(rig.configFile()).split('/').pop()!)}`]) {
      const answer = await rig.api('GET', `/api/v1/config/history/${id}`, { token: rig.tokens.admin });
      assert.ok(answer.status === 404 || answer.status === 400, `${id}: ${answer.status} ${answer.text}`);
      assert.ok(!answer.text.includes('root:'), 'nothing read outside the history');
      assert.ok(!answer.text.includes('admin:'), 'not the config');
    }
    const unauthenticated = await rig.api('GET', '/api/v1/config/history/20200101T000000000Z-000000000000');
    assert.equal(unauthenticated.status, 401);
  });
});

describe('GET /audit: filters and pages', () => {
  test('by user (a token user\'s name or part of a certificate subject), by result, and paged with before / next; bad values 422 naming the field', async () => {
    // One failed write by the viewer (403), one refused by a stale ETag (412), one applied by the badge.
    assert.equal((await rig.api('PUT', '/api/v1/config', { token: rig.tokens.viewer, body: { yaml: fileText() }, ifMatch: await configEtag() })).status, 403);
    assert.equal((await rig.api('PUT', '/api/v1/config', { token: rig.tokens.admin, body: { yaml: fileText() }, ifMatch: '"stale"' })).status, 412);
    const applied = await rig.api('PUT', '/api/v1/config', { badge: rig.badge, body: { yaml: `${fileText()}# audited\n` }, ifMatch: await configEtag() });
    assert.equal(applied.status, 200, applied.text);
    const all = readFileSync(join(rig.pki.dir, 'admin-audit.log'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, any>);

    const viewer = await rig.api('GET', '/api/v1/audit?user=viewer-bot&limit=10000', { token: rig.tokens.viewer });
    assert.equal(viewer.status, 200, viewer.text);
    assert.ok(viewer.json.entries.length >= 1);
    assert.deepEqual(viewer.json.entries, all.filter((l) => l.who.user === 'viewer-bot'));
    assert.equal(viewer.json.next, null);
    const ada = await rig.api('GET', '/api/v1/audit?user=ada%20ADMIN&limit=10000', { token: rig.tokens.viewer });
    assert.deepEqual(ada.json.entries, all.filter((l) => /Ada Admin/.test(l.who.subject ?? '')));
    assert.deepEqual(ada.json.entries.slice(-2).map((e: { phase: string }) => e.phase), ['attempt', 'result']);

    const failed = await rig.api('GET', '/api/v1/audit?result=failed&limit=10000', { token: rig.tokens.viewer });
    const failedIds = new Set(all.filter((l) => l.phase === 'result' && l.result === 'failed').map((l) => l.id));
    assert.deepEqual(failed.json.entries, all.filter((l) => failedIds.has(l.id)), 'the failed writes, their attempt lines too');
    assert.ok(failed.json.entries.some((e: { reason?: string }) => /^412 precondition_failed/.test(e.reason ?? '')));
    const both = await rig.api('GET', '/api/v1/audit?result=failed&user=viewer&limit=10000', { token: rig.tokens.viewer });
    assert.ok(both.json.entries.length >= 1);
    for (const entry of both.json.entries) assert.equal(entry.who.user, 'viewer-bot');

    // Pages of 3, newest first, until next is null: together they are the whole log, nothing twice.
    const pages: unknown[][] = [];
    let before: number | null | undefined;
    for (let i = 0; i < 1000 && before !== null; i++) {
      const page = await rig.api('GET', `/api/v1/audit?limit=3${before === undefined ? '' : `&before=${before}`}`, { token: rig.tokens.viewer });
      assert.equal(page.status, 200, page.text);
      pages.push(page.json.entries);
      before = page.json.next;
    }
    assert.equal(before, null, 'the paging ends');
    assert.deepEqual(pages.reverse().flat(), all);
    assert.equal(pages.at(-1)!.length, 3);

    for (const [query, field] of [['result=maybe', 'result'], ['before=0', 'before'], ['before=x', 'before'], ['user=', 'user'], ['colour=red', '']] as const) {
      const bad = await rig.api('GET', `/api/v1/audit?${query}`, { token: rig.tokens.viewer });
      assert.equal(bad.status, 422, `${query}: ${bad.text}`);
      if (field) assert.equal(bad.json.errors[0].field, field, query);
    }
  });
});

describe('the OpenAPI document', () => {
  test("the config, site and farm edit schemas reject exactly what the handlers reject", async () => {
    const doc = (await rig.api('GET', '/api/v1/openapi.json', { token: rig.tokens.viewer })).json;
    const samples: Record<string, [string, string, unknown[]]> = {
      putConfig: ['PUT', '/config', [{ yaml: 'x: 1' }, { yaml: '' }, {}, { yaml: 1 }, { yaml: 'a', more: 1 }]],
      setSiteSsl: ['PUT', '/sites/web/ssl', [{}, { requireSsl: true }, { clientCertificates: 'require', trustedCaFile: 'ca.pem' }, { crlFile: ['a.pem'] }, { crlFile: null }, { crlFile: [] }, { requireSsl: 'yes' }, { clientCertificates: 'maybe' }, { colour: 1 }]],
      addSiteBinding: ['POST', '/sites/web/bindings', [{ protocol: 'http', port: 80 }, { protocol: 'https', port: 443, certificate: { id: 'A'.repeat(40) } }, { protocol: 'https', port: 443, certificate: { certFile: 'a', keyFile: 'b' } }, { protocol: 'ftp', port: 21 }, { protocol: 'http' }, { protocol: 'http', port: 70000 }, { protocol: 'https', port: 1, certificate: { id: 'abc' } }, { protocol: 'https', port: 1, certificate: { certFile: 'a' } }]],
      addSite: ['POST', '/sites', [{ name: 'x', bindings: [{ protocol: 'http', port: 80 }] }, { name: 'x', bindings: [] }, { name: '-x', bindings: [{ protocol: 'http', port: 80 }] }, { bindings: [{ protocol: 'http', port: 80 }] }]],
      setSiteTracing: ['PUT', '/sites/web/tracing', [{ tracing: null }, { tracing: { rules: [] } }, {}, { tracing: 'on' }]],
      addFarmServer: ['POST', '/farms/web/servers', [{ address: '127.0.0.1:1' }, { address: '127.0.0.1:1', weight: 0 }, { address: '' }, { weight: 5 }, { address: 'a:1', state: 'drain' }, { address: 'a:1', state: 'asleep' }]],
      patchFarm: ['PATCH', '/farms/web', [{}, { enabled: false }, { algorithm: 'leastRequests' }, { algorithm: 'fastest' }, { healthTest: { url: '/h' } }, { healthTest: 3 }, { other: 1 }]],
    };
    for (const [operationId, [method, path, bodies]] of Object.entries(samples)) {
      const template = Object.entries(doc.paths as Record<string, Record<string, { operationId: string; requestBody: { content: Record<string, { schema: unknown }> } }>>).flatMap(([, ops]) => Object.values(ops)).find((op) => op.operationId === operationId);
      assert.ok(template, operationId);
      const schema = z.fromJSONSchema(template.requestBody.content['application/json']!.schema as Parameters<typeof z.fromJSONSchema>[0]);
      for (const body of bodies) {
        const accepted = schema.safeParse(body).success;
        const answer = await rig.api(method, `/api/v1${path}`, { token: rig.tokens.admin, raw: JSON.stringify(body), ifMatch: '"stale"' });
        assert.ok(answer.status === 412 || answer.status === 422, `${operationId} ${JSON.stringify(body)}: ${answer.status} ${answer.text}`);
        assert.equal(answer.status === 412, accepted, `${operationId} ${JSON.stringify(body)}: the document says ${accepted ? 'valid' : 'invalid'}, the handler answered ${answer.status}`);
      }
    }
  });
});
