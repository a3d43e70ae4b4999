/**
 * The layers of src/ stay straight: dependency-cruiser checks the TypeScript sources against
 * .dependency-cruiser.cjs (no import cycle, value or type-only; each layer imports only those below it).
 * The same check by hand: `npx depcruise src --config .dependency-cruiser.cjs`. The check itself is
 * checked too: a type-only cycle between two files of a scratch project is reported.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const config = join(root, '.dependency-cruiser.cjs');
/** dependency-cruiser's command line (the package exports its API only). */
const depcruise = fileURLToPath(new URL('../../bin/dependency-cruise.mjs', import.meta.resolve('dependency-cruiser')));

interface Violation {
  readonly from: string;
  readonly to: string;
  readonly rule: { readonly name: string };
  readonly cycle?: readonly { readonly name: string }[];
}

interface CruiseResult {
  readonly modules: readonly { readonly source: string }[];
  readonly summary: { readonly violations: readonly Violation[]; readonly ruleSetUsed: { readonly forbidden: readonly { readonly name: string }[] } };
}

/** Cruises `src` of the project in `cwd` with the project's rules. */
function cruise(cwd: string): CruiseResult {
  const run = spawnSync(process.execPath, [depcruise, '--config', config, '--output-type', 'json', 'src'], { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  assert.equal(run.error, undefined, String(run.error));
  assert.ok(run.stdout.startsWith('{'), `dependency-cruiser exited ${run.status}: ${run.stderr}${run.stdout}`);
  return JSON.parse(run.stdout) as CruiseResult;
}

/** One line a violation: the rule, the import, and the whole cycle for a cycle. */
function describe(violation: Violation): string {
  const cycle = violation.cycle?.length ? ` (cycle: ${[violation.from, ...violation.cycle.map((step) => step.name)].join(' → ')})` : '';
  return `${violation.rule.name}: ${violation.from} → ${violation.to}${cycle}`;
}

test('src/ has no import cycle and each layer imports only the layers below it', () => {
  const result = cruise(root);
  assert.ok(result.modules.filter((m) => m.source.startsWith('src/')).length > 100, 'the sources were cruised');
  assert.ok(result.summary.ruleSetUsed.forbidden.some((rule) => rule.name === 'no-circular'), 'the rules were read');
  const violations = result.summary.violations.map(describe);
  assert.deepEqual(violations, [], `dependency violations (see .dependency-cruiser.cjs and docs/architecture.md):\n${violations.join('\n')}`);
});

test('the check reports a cycle of type-only imports', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'gatehouse-dependencies-'));
  try {
    mkdirSync(join(scratch, 'src', 'shared'), { recursive: true });
    writeFileSync(join(scratch, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true } }));
    writeFileSync(join(scratch, 'src', 'shared', 'a.ts'), "import type { B } from './b.js';\nexport interface A { readonly b: B }\n");
    writeFileSync(join(scratch, 'src', 'shared', 'b.ts'), "import type { A } from './a.js';\nexport interface B { readonly a?: A }\n");
    const violations = cruise(scratch).summary.violations.map(describe);
    assert.ok(violations.length > 0, 'the cycle is reported');
    for (const violation of violations) assert.match(violation, /^no-circular: src\/shared\/(a|b)\.ts → src\/shared\/(a|b)\.ts \(cycle: src\/shared\/(a|b)\.ts → src\/shared\/(a|b)\.ts → src\/shared\/(a|b)\.ts\)$/);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});
