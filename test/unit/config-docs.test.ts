import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { configReferenceDocument, readmeWithReference } from '../../scripts/config-docs.js';
import { outcomesDocument } from '../../scripts/outcome-docs.js';
import { OUTCOME_CODES } from '../../src/shared/outcome.js';

const root = new URL('../../../', import.meta.url);

test('docs/config-reference.md is what the schema generates (run npm run docs:config)', async () => {
  assert.equal(await readFile(new URL('docs/config-reference.md', root), 'utf8'), configReferenceDocument());
});

test('the README reference section is what the schema generates (run npm run docs:config)', async () => {
  const readme = await readFile(new URL('README.md', root), 'utf8');
  assert.equal(readme, readmeWithReference(readme));
});

test('the reference names every key of a binding and of the farm protocol', () => {
  const doc = configReferenceDocument();
  for (const key of ['`hostName`', '`certFile`', '`pfxFile`', '`passphraseFile`', '`clientCertificates`', '`crlFile`', '`clientCertHeaderName`', '`includePortInXForwardedFor`', '`maxForwards`', '`weight`', '`drainTimeout`']) {
    assert.ok(doc.includes(key), `${key} missing from the reference`);
  }
});

test('docs/outcomes.md is what the outcome catalogue generates (run npm run docs:config), and lists every code', async () => {
  const doc = await readFile(new URL('docs/outcomes.md', root), 'utf8');
  assert.equal(doc, outcomesDocument());
  for (const code of OUTCOME_CODES) assert.ok(doc.includes(`| \`${code}\` |`), code);
});
