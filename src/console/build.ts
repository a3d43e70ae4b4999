/**
 * Builds the console (`npm run build` runs it after tsc): esbuild compiles the Preact JSX of src/console/ui
 * and bundles it with Preact into dist/console/app.js (minified; the licence comments kept at its end), and copies index.html, console.css and favicon.svg beside it.
 * Nothing is fetched at run time: the console is these four files.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = new URL('../../../', import.meta.url);
const ui = new URL('src/console/ui/', root);
const out = new URL('dist/console/', root);

export async function buildConsole(): Promise<void> {
  await mkdir(out, { recursive: true });
  await build({
    entryPoints: [fileURLToPath(new URL('main.tsx', ui))],
    outfile: fileURLToPath(new URL('app.js', out)),
    bundle: true,
    format: 'esm',
    target: ['chrome111', 'firefox111', 'safari16.4'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    sourcemap: false,
    legalComments: 'eof',
    logLevel: 'warning',
  });
  await Promise.all(['index.html', 'console.css', 'favicon.svg'].map((file) => copyFile(new URL(file, ui), new URL(file, out))));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await buildConsole();
