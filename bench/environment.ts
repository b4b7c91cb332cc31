/**
 * The machine and software versions a result was measured on (printed and stored with it).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, platform, release, totalmem } from 'node:os';

export interface Environment {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  versions: Record<string, string>;
  /** The commit measured, and the files of lib/ changed since (uncommitted work is measured too). */
  commit: string;
  libChanges: string[];
}

/** Runs a read-only git command at the repository root; '' when git is not there. */
function git(args: string[]): string {
  try {
    return execFileSync('git', args, {
      cwd: new URL('../..', import.meta.url),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trimEnd();
  } catch {
    return '';
  }
}

/** The version of a package of this repository (its own, or one in node_modules). */
function versionOf(pkg: string | null): string {
  const path = pkg === null ? '../../package.json' : `../../node_modules/${pkg}/package.json`;
  try {
    return (JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function environment(): Environment {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()}`,
    node: process.version,
    versions: {
      'object-sync': versionOf(null),
      'socket.io': versionOf('socket.io'),
      'socket.io-client': versionOf('socket.io-client'),
      'engine.io': versionOf('engine.io'),
      ws: versionOf('ws'),
    },
    commit: git(['rev-parse', '--short', 'HEAD']) || 'unknown',
    libChanges: git(['status', '--porcelain', '--', 'lib'])
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => line.slice(3)),
  };
}

/** One line for the console. */
export function describe(env: Environment): string {
  const v = Object.entries(env.versions)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  const lib = env.libChanges.length > 0 ? ` + uncommitted ${env.libChanges.join(' ')}` : '';
  return `${env.cpu}, ${env.cores} cores, ${env.memoryGiB} GiB, ${env.os}; node ${env.node}; ${v}; commit ${env.commit}${lib}`;
}
