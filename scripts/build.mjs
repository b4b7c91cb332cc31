// Builds everything `npm start`, `npm test` and the package need:
//   1. tsc: lib/, adapters/, demo/, spec/, bench/ -> dist/ (ES modules + .d.ts)
//   2. esbuild: the browser bundle dist/browser/object-sync.js (socket.io-client inside, global
//      `ObjectSync`, `ObjectSync.Backbone` built on the page's own global Backbone).
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');

execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });

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
  plugins: [pageGlobals],
  logLevel: 'warning',
});
