/**
 * The package as a user gets it: `npm pack`, then the tarball installed into an empty project.
 *
 * - Installing it for the core alone adds only socket.io's own packages (no store, no Backbone, no
 *   native build, no install script).
 * - Every export loads as an ES module and from CommonJS (require of ES modules, Node >= 20.19, which
 *   is what `engines` says).
 * - A strict TypeScript consumer (spec/package/fixture/) compiles with and without `skipLibCheck`:
 *   generics, the stores without `@types/pg` or `@types/better-sqlite3`, a CommonJS `.cts` file.
 * - The README links only to files in the tarball; no source map points at a file that is not shipped.
 *
 * The optional peer dependencies (backbone, pg, better-sqlite3, @types/backbone) are linked from this
 * repository's own node_modules, as a user would install them next to object-sync.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const fixture = join(root, 'spec/package/fixture');
const require = createRequire(import.meta.url);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** The exports every entry point must have (the public API names of SPEC and README). */
const EXPECTED: Record<string, string[]> = {
  'object-sync': ['ObjectSync', 'MemoryStore', 'SyncError', 'ERROR_CODES', 'guardStore'],
  'object-sync/client': ['ObjectSync', 'ClientCollection', 'SyncError'],
  'object-sync/backbone': ['backboneSync', 'SyncedCollection'],
  'object-sync/stores/sqlite': ['SqliteStore'],
  'object-sync/stores/postgres': ['PostgresStore'],
};

/** Runs a command in `cwd`; its output, or an error carrying its output. */
function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

describe('the packed package', function () {
  this.timeout(180_000);
  let work: string;
  let project: string;
  let shipped: string;
  let installOutput: string;

  before(function () {
    work = mkdtempSync(join(tmpdir(), 'object-sync-pack-'));
    // dist/ is built by `npm test` before the specs run; prepack's clean build would delete it under us.
    const tgz = run(npm, ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], root).trim();
    project = join(work, 'app');
    cpSync(fixture, project, { recursive: true });
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', private: true }));
    installOutput = run(
      npm,
      ['install', '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts', join(work, tgz)],
      project,
    );
    shipped = join(project, 'node_modules/object-sync');
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('installs for the core alone with socket.io and nothing else: no store, no Backbone, no build', () => {
    const installed = readdirSync(join(project, 'node_modules'));
    for (const optional of ['pg', 'better-sqlite3', 'backbone', 'redis', 'jquery', 'underscore']) {
      expect(installed, optional).not.to.include(optional);
    }
    const count = run(npm, ['ls', '--all', '--parseable'], project).trim().split('\n').length - 1;
    expect(count, 'packages installed').to.be.at.most(26); // object-sync + socket.io's own 25
    expect(installOutput).not.to.match(/gyp|prebuild|install script/i);
  });

  describe('with the optional peers an application installs', () => {
    before(() => {
      const peers = ['backbone', 'underscore', 'pg', 'better-sqlite3'];
      for (const peer of [...peers, '@types/backbone', '@types/jquery', '@types/underscore']) {
        symlinkSync(
          dirname(require.resolve(`${peer}/package.json`)),
          join(project, 'node_modules', peer),
          'dir',
        );
      }
    });

    for (const [kind, file] of [
      ['ES modules (import)', 'imports.mjs'],
      ['CommonJS (require)', 'imports.cjs'],
    ]) {
      it(`loads every export as ${kind}`, () => {
        const found = JSON.parse(run(process.execPath, [file], project)) as Record<string, unknown>;
        for (const [entry, names] of Object.entries(EXPECTED)) {
          expect(found[entry], entry).to.include.members(names);
        }
        expect(found['object-sync/browser'], 'the browser bundle').to.match(/object-sync\.js$/);
      });
    }

    for (const skipLibCheck of [false, true]) {
      it(`type-checks a strict consumer (tsc --noEmit, skipLibCheck ${skipLibCheck})`, () => {
        const tsc = require.resolve('typescript/bin/tsc');
        const args = [tsc, '-p', 'tsconfig.json', '--skipLibCheck', String(skipLibCheck)];
        try {
          run(process.execPath, args, project);
        } catch (err) {
          expect.fail(String((err as { stdout?: string }).stdout ?? err));
        }
      });
    }
  });

  it('links from the README only to files in the package', () => {
    const readme = readFileSync(join(shipped, 'README.md'), 'utf8');
    const files = new Set(filesUnder(shipped));
    const links = [...readme.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)].map((m) => m[1]);
    expect(links.length).to.be.greaterThan(0);
    for (const link of links.filter((l) => !/^[a-z]+:/.test(l))) expect(files, link).to.include(link);
  });

  it('ships no source map that points at a file it does not ship', () => {
    const maps = filesUnder(shipped).filter((f) => f.endsWith('.map'));
    for (const map of maps) {
      const parsed = JSON.parse(readFileSync(join(shipped, map), 'utf8')) as {
        sources: string[];
        sourcesContent?: string[];
      };
      expect(parsed.sourcesContent?.length, `${map} carries its sources`).to.equal(parsed.sources.length);
    }
  });
});
