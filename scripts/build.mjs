// Builds what `npm start`, `npm test` and the package need:
//   1. tsc: lib/, adapters/, demo/, spec/, bench/ -> dist/ (ES modules + .d.ts), incrementally: a
//      second build with nothing changed takes a second or two, not a full compile.
//   2. esbuild: the browser bundle dist/browser/object-sync.js (socket.io-client inside, global
//      `ObjectSync`, `ObjectSync.Backbone` built on the page's own global Backbone).
//
//   node scripts/build.mjs           everything (what `npm test` runs)
//   node scripts/build.mjs --app     lib/, adapters/ and demo/ only (what `npm start` runs: no specs, no bench)
//   node scripts/build.mjs --clean   everything, from an empty dist/ (what `npm pack` runs: no stale files ship)
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');
const args = new Set(process.argv.slice(2));

/** The newest modification time of `path`, or of the files under it (0 when it does not exist). */
function newest(path) {
  let max = 0;
  try {
    if (statSync(path).isFile()) return statSync(path).mtimeMs;
    for (const entry of readdirSync(path, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) max = Math.max(max, statSync(`${entry.parentPath}/${entry.name}`).mtimeMs);
    }
  } catch {
    return max;
  }
  return max;
}

if (args.has('--clean')) rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
const app = args.has('--app');
const project = app ? 'tsconfig.app.json' : 'tsconfig.json';
const sources = app ? ['lib', 'adapters', 'demo'] : ['lib', 'adapters', 'demo', 'spec', 'bench'];
const stamp = `${root}dist/.built-${app ? 'app' : 'all'}`;
const built = newest(stamp);
const changed = Math.max(
  ...sources.map((d) => newest(`${root}${d}`)),
  ...['tsconfig.json', project, 'package.json', 'scripts/build.mjs'].map((f) => newest(`${root}${f}`)),
);
// Nothing changed since the last build of this kind: say so and stop (a start takes no compile).
if (built > changed && newest(`${root}dist/browser`) > 0) {
  console.log(`build: dist/ is up to date (${app ? 'lib, adapters, demo' : 'everything'})`);
  process.exit(0);
}
execFileSync(process.execPath, [tsc, '-p', project], { cwd: root, stdio: 'inherit' });

// The page's globals stand in for these packages inside the browser bundle.
const pageGlobals = {
  name: 'page-globals',
  setup(build) {
    const globals = { backbone: 'Backbone', underscore: '_', jquery: 'jQuery' };
    build.onResolve({ filter: /^(backbone|underscore|jquery)$/ }, (args) => ({
      path: args.path,
      namespace: 'page-global',
    }));
    build.onLoad({ filter: /.*/, namespace: 'page-global' }, (args) => ({
      contents: `module.exports = globalThis[${JSON.stringify(globals[args.path])}];`,
      loader: 'js',
    }));
  },
};

// The bundle's source map carries its sources (sourcesContent), so it points at nothing unshipped.
await esbuild.build({
  absWorkingDir: root,
  entryPoints: ['adapters/browser-bundle.ts'],
  outfile: 'dist/browser/object-sync.js',
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['es2019'],
  minify: true,
  sourcemap: true,
  sourcesContent: true,
  plugins: [pageGlobals],
  logLevel: 'warning',
});
writeFileSync(stamp, new Date().toISOString());
