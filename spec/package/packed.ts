/**
 * The package as a user gets it, for the specs: `npm pack` of this repository (once per run), installed
 * into a new empty project in a temporary folder. Projects are removed when the process exits.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const require = createRequire(import.meta.url);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** The optional peers an application installs next to object-sync to use every entry point. */
export const PEERS = ['backbone', 'underscore', 'pg', 'better-sqlite3', '@types/backbone', '@types/jquery'];

const folders: string[] = [];
process.once('exit', () => folders.forEach((f) => rmSync(f, { recursive: true, force: true })));

/** Runs a command in `cwd`; its standard output (an error carrying stdout and stderr if it fails). */
export function run(cmd: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv): string {
  return execFileSync(cmd, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

let tarball: string | undefined;

/** The packed tarball's path. dist/ is built by `npm test` first; prepack's clean build would delete it. */
function pack(): string {
  if (!tarball) {
    const dir = mkdtempSync(join(tmpdir(), 'object-sync-pack-'));
    folders.push(dir);
    tarball = join(
      dir,
      run(npm, ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], ROOT).trim(),
    );
  }
  return tarball;
}

/** A project made by `installPacked`. */
export interface PackedProject {
  /** The project's folder. */
  dir: string;
  /** What `npm install` printed. */
  output: string;
}

/**
 * A new project with the packed object-sync installed from the registry's packages (the npm cache
 * first), like `npm install object-sync`; with `peers`, the optional peers are linked in from this
 * repository's own node_modules, as an application would install them.
 */
export function installPacked(peers = false): PackedProject {
  const dir = mkdtempSync(join(tmpdir(), 'object-sync-app-'));
  folders.push(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', private: true }));
  const args = ['install', '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts', pack()];
  const output = run(npm, args, dir);
  if (peers) {
    for (const peer of [...PEERS, '@types/underscore']) {
      symlinkSync(dirname(require.resolve(`${peer}/package.json`)), join(dir, 'node_modules', peer), 'dir');
    }
  }
  return { dir, output };
}
