/**
 * The walk-and-talk demo on two nodes: two server processes on the local Redis (the socket.io streams
 * adapter) sharing the players in PostgreSQL. A page on one node sees and talks to a page on the other.
 *
 *   npm run demo:cluster   # http://localhost:8087/ and http://localhost:8089/ (PORT, PORT2 to change)
 *
 * OBJECT_SYNC_REDIS_URL (default redis://127.0.0.1:6379) and OBJECT_SYNC_PG_URL (default
 * postgres://postgres@127.0.0.1:5432/test) say where the services are. The players of an earlier run are
 * cleared before the nodes start. SIGINT/SIGTERM stop both nodes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PostgresStore } from '../../adapters/stores/postgres.js';

export const REDIS_URL = process.env.OBJECT_SYNC_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const PG_URL = process.env.OBJECT_SYNC_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const serverScript = fileURLToPath(new URL('./server.js', import.meta.url));

/** Removes every player left in PostgreSQL by an earlier run. */
export async function clearPlayers(pgUrl = PG_URL): Promise<void> {
  const store = new PostgresStore({ connectionString: pgUrl, collection: 'players' });
  try {
    await store.init();
    await store.pool.query("DELETE FROM os_objects WHERE collection = 'players'");
  } catch (err) {
    throw new Error(`the cluster demo needs PostgreSQL at ${pgUrl}: ${(err as Error).message}`);
  } finally {
    await store.close();
  }
}

/** Starts one node (server.js in cluster mode) on `port`; resolves with the child once it listens. */
export function startNode(
  port: number,
  env: Record<string, string> = {},
  stdout: 'inherit' | 'pipe' = 'inherit',
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [serverScript], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      PORT: String(port),
      OBJECT_SYNC_REDIS_URL: REDIS_URL,
      OBJECT_SYNC_PG_URL: PG_URL,
      ...env,
    },
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (stdout === 'inherit') process.stdout.write(chunk);
      if (chunk.toString().includes('walk and talk:')) resolve(child);
    });
    child.once('exit', (code, signal) => reject(new Error(`demo node on ${port} exited: ${code ?? signal}`)));
  });
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const ports = [Number(process.env.PORT ?? 8087), Number(process.env.PORT2 ?? 8089)];
  await clearPlayers();
  const children: ChildProcess[] = [];
  const stop = (): void => {
    console.log('stopping both nodes...');
    for (const child of children) child.kill('SIGTERM');
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    for (const port of ports) children.push(await startNode(port));
  } catch (err) {
    console.error(String(err));
    stop();
    process.exitCode = 1;
  }
  if (children.length === ports.length)
    console.log(`walk and talk on two nodes: ${ports.map((p) => `http://localhost:${p}/`).join(' and ')}`);
}
