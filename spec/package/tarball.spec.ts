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
import { cpSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { installPacked, ROOT, run } from './packed.js';

const fixture = join(ROOT, 'spec/package/fixture');
const require = createRequire(import.meta.url);

/** The exports every entry point must have (the public API names of SPEC and README). */
const EXPECTED: Record<string, string[]> = {
  'object-sync': ['ObjectSync', 'MemoryStore', 'SyncError', 'ERROR_CODES', 'guardStore'],
  'object-sync/client': ['ObjectSync', 'ClientCollection', 'SyncError'],
  'object-sync/backbone': ['backboneSync', 'SyncedCollection'],
  'object-sync/stores/sqlite': ['SqliteStore'],
  'object-sync/stores/postgres': ['PostgresStore'],
};

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

describe('the packed package', function () {
  this.timeout(180_000);
  let core: ReturnType<typeof installPacked>;

  before(() => {
    core = installPacked();
  });

  it('installs for the core alone with socket.io and nothing else: no store, no Backbone, no build', () => {
    const installed = readdirSync(join(core.dir, 'node_modules'));
    for (const optional of ['pg', 'better-sqlite3', 'backbone', 'redis', 'jquery', 'underscore']) {
      expect(installed, optional).not.to.include(optional);
    }
    const count = run('npm', ['ls', '--all', '--parseable'], core.dir).trim().split('\n').length - 1;
    expect(count, 'packages installed').to.be.at.most(26); // object-sync + socket.io's own 25
    expect(core.output).not.to.match(/gyp|prebuild|install script/i);
  });

  describe('with the optional peers an application installs', () => {
    let project: string;
    before(() => {
      project = installPacked(true).dir;
      cpSync(fixture, project, { recursive: true });
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
    const shipped = join(core.dir, 'node_modules/object-sync');
    const readme = readFileSync(join(shipped, 'README.md'), 'utf8');
    const files = new Set(filesUnder(shipped));
    const links = [...readme.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)].map((m) => m[1]);
    expect(links.length).to.be.greaterThan(0);
    for (const link of links.filter((l) => !/^[a-z]+:/.test(l))) expect(files, link).to.include(link);
  });

  it('ships no source map that points at a file it does not ship', () => {
    const shipped = join(core.dir, 'node_modules/object-sync');
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
