/**
 * The orchestrator's handle on one torture server child (server.ts): forks it, waits for its port,
 * sends it requests over IPC, signals it (SIGKILL, SIGSTOP, SIGCONT) and stops it. An exit the
 * orchestrator did not cause is a crash, kept with the tail of the child's output. Every child ever
 * started is killed when the orchestrator exits, whatever the reason.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromServer, ToServer } from './ipc.js';

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface ServerChildOptions {
  /** SQLite file of the default collection (default: a MemoryStore). */
  file?: string;
  /** Port to listen on (default 0: a free one). */
  port?: number;
  /** socket.io `pingInterval` and `pingTimeout`, ms (default: socket.io's). */
  ping?: number;
  /** The engine's `sessionTimeout`, ms. */
  sessionTimeout?: number;
  /** The child's script, next to this file (default `server.js`). */
  script?: string;
  /** Node flags of the child (e.g. `--expose-gc`, a heap limit). */
  execArgv?: string[];
}

type Request = ToServer extends infer T ? (T extends { id: number } ? Omit<T, 'id'> : never) : never;

export class ServerChild {
  /** Set when the child exited without being told to (a crash). */
  crash: string | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, (m: { result?: unknown; error?: string }) => void>();
  private expectedExit = false;
  private output = '';
  readonly exited: Promise<void>;

  private constructor(
    private readonly proc: ChildProcess,
    readonly port: number,
  ) {
    this.exited = new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve();
      else proc.once('exit', () => resolve());
    });
    proc.on('message', (m: FromServer) => {
      if (m.type !== 'reply') return;
      this.waiting.get(m.id)?.(m);
      this.waiting.delete(m.id);
    });
    proc.on('exit', (code, signal) => {
      for (const done of this.waiting.values()) done({ error: 'server exited' });
      this.waiting.clear();
      if (!this.expectedExit) {
        this.crash = `exited with ${signal ?? code}; last output:\n${this.output.slice(-2000)}`;
      }
    });
  }

  /** Forks a server and resolves once it listens (rejects after 20 s or if it exits first). */
  static start(options: ServerChildOptions = {}): Promise<ServerChild> {
    const args: string[] = ['--port', String(options.port ?? 0)];
    if (options.file) args.push('--file', options.file);
    if (options.ping) args.push('--ping', String(options.ping));
    if (options.sessionTimeout) args.push('--session-timeout', String(options.sessionTimeout));
    const proc = fork(fileURLToPath(new URL(options.script ?? 'server.js', import.meta.url)), args, {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      execArgv: options.execArgv ?? process.execArgv,
    });
    live.add(proc);
    // A signal or message for a child that just died must not take the orchestrator down.
    proc.on('error', () => undefined);
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-8000);
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    proc.on('exit', () => live.delete(proc));
    return new Promise<ServerChild>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error('torture server did not start in 20 s')), 20_000);
      const fail = (err: Error): void => {
        clearTimeout(timer);
        proc.kill('SIGKILL');
        reject(err);
      };
      const onExit = (code: number | null): void =>
        fail(new Error(`torture server exited with ${code} before listening:\n${output}`));
      proc.once('exit', onExit);
      proc.on('message', (m: FromServer) => {
        if (m.type !== 'ready') return;
        clearTimeout(timer);
        proc.off('exit', onExit);
        const child = new ServerChild(proc, m.port);
        // From here on the instance keeps the output.
        proc.stdout!.off('data', keep);
        proc.stderr!.off('data', keep);
        child.output = output;
        const more = (chunk: Buffer): void => {
          child.output = (child.output + chunk.toString()).slice(-8000);
        };
        proc.stdout!.on('data', more);
        proc.stderr!.on('data', more);
        resolve(child);
      });
    });
  }

  /** The child's process id. */
  get pid(): number {
    return this.proc.pid!;
  }

  /** Whether the child is still running. */
  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Everything the child printed lately. */
  get recentOutput(): string {
    return this.output;
  }

  /** Sends a request and resolves with its result (rejects on an error, an exit or after `timeoutMs`). */
  request<T>(message: Request, timeoutMs = 30_000): Promise<T> {
    if (!this.alive) return Promise.reject(new Error('server is not running'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`server did not answer ${message.type} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, (m) => {
        clearTimeout(timer);
        if (m.error !== undefined) reject(new Error(m.error));
        else resolve(m.result as T);
      });
      this.proc.send({ ...message, id } as ToServer);
    });
  }

  /** Sends a signal (SIGSTOP, SIGCONT...). */
  signal(signal: NodeJS.Signals): void {
    this.proc.kill(signal);
  }

  /** SIGKILLs the child (an expected exit, not a crash) and waits until it is gone. */
  async kill(): Promise<void> {
    this.expectedExit = true;
    this.proc.kill('SIGKILL');
    await this.exited;
  }

  /** Asks the child to close cleanly; SIGKILLs it after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.alive) return;
    this.expectedExit = true;
    this.proc.kill('SIGCONT');
    this.proc.send({ type: 'stop' } satisfies ToServer);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
