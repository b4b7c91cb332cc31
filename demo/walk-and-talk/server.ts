/**
 * The walk-and-talk demo server: serves the page, its vendored libraries (jQuery, underscore,
 * Backbone from node_modules: no CDN, no outside request) and, through object-sync's `serveClient`,
 * the object-sync browser bundle; runs the `players` collection on the embedded store.
 *
 *   npm start            # http://localhost:8087/ (PORT to change it)
 *   npm run demo:cluster # two nodes on Redis and PostgreSQL (see cluster.ts)
 *
 * SIGTERM/SIGINT close it gracefully: running requests finish, sessions end, connections close.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { staticFiles } from '../static.js';
import { ObjectSync, type ServerOptions, type Store } from '../../lib/index.js';
import type { StoreHandlers } from '../../lib/server/store-handlers.js';
import { playersCollection } from './players.js';

/** The page's files live beside the sources (demo/walk-and-talk/public), not in dist/. */
const PUBLIC = fileURLToPath(new URL('../../../demo/walk-and-talk/public/', import.meta.url));

export interface Demo {
  http: Server;
  sync: ObjectSync;
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the demo on `port` (0: any free port); resolves once it listens. `players` is the players'
 * store (default: the embedded `MemoryStore`; a shared store when several nodes serve one game).
 */
export async function startDemo(
  port: number,
  options: ServerOptions = {},
  players?: Store & StoreHandlers,
): Promise<Demo> {
  const http = createServer(staticFiles(PUBLIC));
  const sync = ObjectSync.listen(http, null, options);
  playersCollection(sync, players);
  await new Promise<void>((resolve) => http.listen(port, resolve));
  const url = `http://localhost:${(http.address() as AddressInfo).port}/`;
  return { http, sync, url, close: () => sync.close() };
}

/**
 * One node of a cluster (`npm run demo:cluster`): the Redis streams adapter at `redisUrl` and the
 * players in a `PostgresStore` at `pgUrl`. When Redis comes back after an outage, the node asks its
 * clients to resync (changes published meanwhile never reached the other nodes' pages).
 */
async function startClusterNode(port: number, redisUrl: string, pgUrl: string): Promise<Demo> {
  const { createClient } = await import('redis');
  const { createAdapter } = await import('@socket.io/redis-streams-adapter');
  const { PostgresStore } = await import('../../adapters/stores/postgres.js');
  const redis = createClient({
    url: redisUrl,
    socket: { reconnectStrategy: (retries: number) => Math.min(50 * (retries + 1), 1000) },
  });
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) console.error(`redis: ${err.message}`);
    down = true;
  });
  await redis.connect();
  const players = new PostgresStore({ connectionString: pgUrl, collection: 'players' });
  await players.init();
  const demo = await startDemo(port, { adapter: createAdapter(redis) }, players);
  redis.on('ready', () => {
    if (!down) return;
    down = false;
    console.log('redis is back: resyncing the pages');
    demo.sync.resyncClients();
  });
  return {
    ...demo,
    close: async () => {
      await demo.close();
      await players.close();
      await redis.quit().catch(() => undefined);
    },
  };
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const port = Number(process.env.PORT ?? 8087);
  const redisUrl = process.env.OBJECT_SYNC_REDIS_URL;
  // With OBJECT_SYNC_REDIS_URL this is one node of a cluster (see cluster.ts); else the embedded store.
  const demo = redisUrl
    ? await startClusterNode(
        port,
        redisUrl,
        process.env.OBJECT_SYNC_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
      )
    : await startDemo(port);
  console.log(`walk and talk: ${demo.url} (open it in two windows)`);
  const stop = (): void => {
    console.log('closing...');
    demo.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
