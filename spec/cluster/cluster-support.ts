/**
 * A cluster for the specs: a private `redis-server` on a free port (so a spec can kill and restart it),
 * a fresh PostgreSQL schema, and server nodes as child processes (spec/fixtures/cluster-node.ts).
 * Everything started here is stopped by `stopAll()`, which every spec calls in `afterEach`, even after
 * a failure. Without `redis-server` or PostgreSQL the specs fail, saying which is missing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { dropSchema, newSchema, PG_URL } from '../adapters/stores/postgres-fixture.js';

const nodeScript = fileURLToPath(new URL('../fixtures/cluster-node.js', import.meta.url));
const children = new Set<ChildProcess>();

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Resolves once `port` accepts connections (there is no event for it: poll briefly). */
async function accepting(port: number, what: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${what} exited at start (${child.exitCode ?? child.signalCode})`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} does not accept connections on ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A private Redis: `start()` and `kill()` as often as needed, always on the same port. */
export class PrivateRedis {
  private child: ChildProcess | undefined;
  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'],
      { stdio: 'ignore' },
    );
    const failed = new Promise<never>((_, reject) =>
      child.once('error', (err) =>
        reject(new Error(`The cluster specs need redis-server on the PATH to start Redis: ${err.message}`)),
      ),
    );
    this.child = child;
    children.add(child);
    await Promise.race([accepting(this.port, 'redis-server', child), failed]);
  }

  /** SIGKILLs the server; resolves once it is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child) await killChild(child);
  }
}

/** A server node process. */
export interface NodeProcess {
  child: ChildProcess;
  port: number;
  /** Lines the node printed. */
  lines: string[];
  /** Resolves with the next line matching `pattern`. */
  line(pattern: RegExp): Promise<string>;
}

/** Starts a node; resolves once it listens. */
export function startNode(
  port: number,
  redisUrl: string,
  pgUrl: string,
  collection: string,
  env: Record<string, string> = {},
): Promise<NodeProcess> {
  const child = spawn(process.execPath, [nodeScript, String(port), redisUrl, pgUrl, collection], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  });
  children.add(child);
  const lines: string[] = [];
  const waiting: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  let rest = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    rest += chunk.toString();
    const parts = rest.split('\n');
    rest = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      for (const w of waiting.splice(0)) {
        if (w.pattern.test(line)) w.resolve(line);
        else waiting.push(w);
      }
    }
  });
  const node: NodeProcess = {
    child,
    port,
    lines,
    line: (pattern) => new Promise((resolve) => waiting.push({ pattern, resolve })),
  };
  return new Promise((resolve, reject) => {
    node.line(/^PORT \d+/).then((line) => {
      node.port = Number(line.slice(5));
      resolve(node);
    }, reject);
    child.once('exit', (code, signal) =>
      reject(new Error(`cluster node exited at start: ${code ?? signal}`)),
    );
  });
}

/** Asks a node for a server-initiated save of `things`; resolves with the saved object. */
export function serverSave(
  node: NodeProcess,
  obj: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    node.child.once('message', (answer: { saved?: Record<string, unknown>; error?: string }) =>
      answer.saved ? resolve(answer.saved) : reject(new Error(answer.error)),
    );
    node.child.send({ save: obj });
  });
}

/** SIGKILLs a child; resolves once it exited. */
export function killChild(child: ChildProcess): Promise<void> {
  children.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** Kills every child started here. */
export async function stopAll(): Promise<void> {
  await Promise.all([...children].map(killChild));
}

/** A fresh schema and the URL whose connections use it. */
export async function pgSchema(): Promise<{ schema: string; url: string; drop: () => Promise<void> }> {
  const schema = await newSchema();
  const url = new URL(PG_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return { schema, url: url.toString(), drop: () => dropSchema(schema) };
}

/** Resolves once `predicate` holds, checked after each of `events`; rejects after `ms` saying `what`. */
export function eventually(
  emitters: Array<{ on(event: any, fn: any): unknown; off(event: any, fn: any): unknown }>,
  events: string[],
  predicate: () => boolean,
  ms: number,
  what: () => string,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      for (const e of emitters) for (const name of events) e.off(name, check);
    };
    const check = (): void => {
      if (!predicate()) return;
      done();
      resolve();
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`timed out after ${ms} ms: ${what()}`));
    }, ms);
    for (const e of emitters) for (const name of events) e.on(name, check);
    check();
  });
}
