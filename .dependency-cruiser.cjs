/**
 * Gatehouse's layers, checked by dependency-cruiser over src/ (test/unit/dependencies.test.ts runs it with
 * the suite; by hand: `npx depcruise src --config .dependency-cruiser.cjs`). Type-only imports count: a
 * cycle of types is a cycle. Bottom up (docs/architecture.md, "Which way dependencies point"):
 *
 *   shared/, pki/        leaves: names, types and pure helpers; the X.509 toolkit
 *   platform/            node internals behind probes (imports pki/ for its probe certificates)
 *   config/              validate and model the config
 *   tls/                 the door (client certificates, revocation, TLS contexts)
 *   tracing/             request records, access logs, traces, metrics, the event log
 *   farm/                farms, servers, algorithms, health tests, affinity
 *   console/             the browser console (served by admin/; talks to it only over /api/v1)
 *   proxy/, admin/       the request path; the admin listener
 *   app.ts               the composition root
 *   cluster/, cli/, demo/, main.ts
 *
 * A layer imports only layers below it. One exception: config/ loads its rules compiled, with the compilers
 * that live beside the code that runs the rules (COMPILERS); they import nothing but config/ and shared/.
 */

/** What turns rules' text into matchers, once, when the config loads: routing rules, tracing rules. */
const COMPILERS = '^src/proxy/rules/compile(-rules)?[.]ts$|^src/tracing/(status-code-match|wildcard)[.]ts$';

/** A rule: modules under `from` import nothing of src/ but `allowed` (regular expressions on paths). */
function onlyImports(name, comment, from, allowed) {
  return { name, comment, severity: 'error', from: { path: from }, to: { path: '^src/', pathNot: allowed } };
}

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Modules that import each other, through value or type-only imports: move the shared names into a leaf module (src/shared/), or inject what is needed.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'resolvable',
      comment: 'An import the check cannot resolve would hide its arrows.',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
    onlyImports('shared-is-a-leaf', 'src/shared/ imports nothing of Gatehouse: every layer may use it.', '^src/shared/', ['^src/shared/']),
    onlyImports('pki-is-a-library', 'src/pki/ is a toolkit (tests, demo, probes): it knows no feature.', '^src/pki/', ['^src/(pki|shared)/']),
    onlyImports('platform-imports-no-feature', 'src/platform/ is imported by the features and imports none of them.', '^src/platform/', ['^src/(platform|shared|pki)/']),
    onlyImports('config-validates-and-models', 'src/config/ validates and models; it runs nothing of tls/, tracing/, farm/ or proxy/ (only the rule compilers).', '^src/config/', ['^src/(config|shared|platform)/', COMPILERS]),
    onlyImports('compilers-run-nothing', 'The rule compilers config/ loads with import only config/ types and shared/.', COMPILERS, ['^src/(config|shared)/', COMPILERS]),
    onlyImports('tls-below-tracing', 'src/tls/ (the door) knows the config, not what records, balances or forwards.', '^src/tls/', ['^src/(tls|config|shared|platform)/']),
    onlyImports('tracing-below-farm', 'src/tracing/ reads what it records through its own types (trace-builder.ts TracedRequest), not proxy/ or farm/.', '^src/tracing/', ['^src/(tracing|tls|config|shared|platform)/']),
    onlyImports('farm-below-proxy', 'src/farm/ is given its servers\' connections (FarmStateOptions.connect): it imports nothing of proxy/.', '^src/farm/', ['^src/(farm|tracing|tls|config|shared|platform)/']),
    onlyImports('proxy-below-app', 'src/proxy/ is the request path: it knows nothing of the composition root, the admin API, cluster or CLI.', '^src/proxy/', ['^src/(proxy|farm|tracing|tls|config|shared|platform)/']),
    onlyImports('admin-below-app', 'src/admin/ is wired by app.ts and cluster/: it imports neither.', '^src/admin/', ['^src/(admin|console|proxy|farm|tracing|tls|config|shared|platform|pki)/']),
    onlyImports('import-converts-files', 'src/import/ (gatehouse import iis) turns another server\'s config into a gatehouse.yaml: it reads config/ (to validate what it writes) and pki/ (to open PFX files), and runs nothing.', '^src/import/', ['^src/(import|config|shared|pki)/']),
    onlyImports('console-is-a-leaf', 'src/console/ (the browser console: its files and the server part that serves them) speaks to Gatehouse only through the admin API: it imports nothing of src/ outside itself but shared/.', '^src/console/', ['^src/(console|shared)/']),
    {
      name: 'app-is-composed-by-cli-and-cluster',
      comment: 'app.ts, the composition root, is imported by cli/ and cluster/ only.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(cli|cluster)/' },
      to: { path: '^src/app[.]ts$' },
    },
    {
      name: 'cluster-is-started-by-cli-and-main',
      comment: 'cluster/ (primary and workers) is started by cli/ and main.ts only.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/(cli|cluster)/', '^src/main[.]ts$'] },
      to: { path: '^src/cluster/' },
    },
    {
      name: 'cli-is-the-entry',
      comment: 'cli/ and demo/ are the program\'s outer edge: only main.ts (and cli/ itself) imports them.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/cli/', '^src/demo/', '^src/main[.]ts$'] },
      to: { path: '^src/(cli|demo)/' },
    },
  ],
  options: {
    // Type-only imports are dependencies too (`import type`, `type` specifiers).
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    // Sources import './x.js' for './x.ts' (NodeNext); the console's browser code (src/console/ui) imports './x' for x.ts or x.tsx.
    enhancedResolveOptions: { extensions: ['.ts', '.tsx', '.js'] },
  },
};
