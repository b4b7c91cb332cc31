/**
 * The orchestrator's handle on one server child: forks it (an object-sync node or raw, with its flags),
 * waits for its port, asks it for CPU and memory figures, and stops it — politely first (so a
 * CPU profile gets written), then by SIGKILL. Every child ever started is killed when the
 * orchestrator exits, whatever the reason.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, ParentMessage, ServerStats } from './ipc.js';
import type { TargetName } from './options.js';

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface ChildOptions {
  fields: number;
  objects: number;
  /** object-sync's `coalesce` option, when given ('off': false). */
  coalesce?: number | 'off';
  /** Extra node flags (`--cpu-prof`...). */
  execArgv?: string[];
  /** object-sync only: join the nodes on this Redis, through this stream (and channel prefix). */
  redis?: { url: string; stream: string };
  /** object-sync only: a PostgresStore on this URL instead of the MemoryStore. */
  pgUrl?: string;
  /** object-sync only: whether this node saves the objects at start (default: yes). */
  seed?: boolean;
  /** object-sync only: the engine's `epoch` option. */
  epoch?: string;
}

/** The command-line arguments of a server child (see server-objectsync.ts and server-raw.ts). */
function childArgs(target: TargetName, options: ChildOptions): string[] {
  const args = ['--fields', String(options.fields), '--objects', String(options.objects)];
  if (target === 'raw-full' || target === 'raw-diff') {
    args.push('--mode', target === 'raw-full' ? 'full' : 'diff');
    return args;
  }
  if (options.coalesce !== undefined) args.push('--coalesce', String(options.coalesce));
  if (options.redis) args.push('--redis', options.redis.url, '--stream', options.redis.stream);
  if (options.pgUrl) args.push('--pg', options.pgUrl);
  if (options.seed === false) args.push('--seed', '0');
  if (options.epoch) args.push('--epoch', options.epoch);
  return args;
}

export class ServerChild {
  private nextId = 0;
  private readonly waiting = new Map<number, (stats: ServerStats) => void>();

  private constructor(
    private readonly proc: ChildProcess,
    readonly port: number,
  ) {
    proc.on('message', (message: ChildMessage) => {
      if (message.type !== 'stats') return;
      this.waiting.get(message.id)?.(message.stats);
      this.waiting.delete(message.id);
    });
  }

  /** Forks the server of `target` and resolves once it listens (rejects after 20 s or on exit). */
  static start(target: TargetName, options: ChildOptions): Promise<ServerChild> {
    const raw = target === 'raw-full' || target === 'raw-diff';
    const script = raw ? 'server-raw.js' : 'server-objectsync.js';
    const proc = fork(fileURLToPath(new URL(script, import.meta.url)), childArgs(target, options), {
      execArgv: ['--expose-gc', ...(options.execArgv ?? [])],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    live.add(proc);
    proc.on('exit', () => live.delete(proc));
    return new Promise<ServerChild>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`${target} server did not start`)), 20_000);
      const fail = (err: Error): void => {
        clearTimeout(timer);
        proc.kill('SIGKILL');
        reject(err);
      };
      proc.once('exit', (code) => fail(new Error(`${target} server exited with ${code}`)));
      proc.on('message', (message: ChildMessage) => {
        if (message.type !== 'ready') return;
        clearTimeout(timer);
        proc.removeAllListeners('exit');
        proc.on('exit', () => live.delete(proc));
        resolve(new ServerChild(proc, message.port));
      });
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The child's CPU and memory now; `gc` collects garbage first. */
  stats(gc = false): Promise<ServerStats> {
    const id = ++this.nextId;
    return new Promise<ServerStats>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('server did not answer stats')), 10_000);
      this.waiting.set(id, (stats) => {
        clearTimeout(timer);
        resolve(stats);
      });
      this.send({ type: 'stats', id, gc });
    });
  }

  /** Asks the child to close and exit; kills it if it has not within 5 s. */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.send({ type: 'stop' });
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  private send(message: ParentMessage): void {
    if (this.proc.connected) this.proc.send(message);
  }
}
