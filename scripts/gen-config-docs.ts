/** Regenerates docs/config-reference.md and the reference section of README.md from the schema, and docs/outcomes.md from the outcome catalogue. */
import { readFile, writeFile } from 'node:fs/promises';
import { configReferenceDocument, readmeWithReference } from './config-docs.js';
import { outcomesDocument } from './outcome-docs.js';

const root = new URL('../../', import.meta.url);
await writeFile(new URL('docs/config-reference.md', root), configReferenceDocument());
await writeFile(new URL('docs/outcomes.md', root), outcomesDocument());
const readme = new URL('README.md', root);
await writeFile(readme, readmeWithReference(await readFile(readme, 'utf8')));
process.stdout.write('docs/config-reference.md, docs/outcomes.md and README.md updated\n');
