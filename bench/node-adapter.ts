/**
 * The Redis side of one benchmark node (server-objectsync.ts with `--redis`): a Redis client that
 * never crashes the node (error listeners, quick reconnects, as spec/fixtures/cluster-node.ts does),
 * the socket.io Redis streams adapter on the run's own stream and channels (so no other run's
 * messages reach it), and how to let go of both.
 */
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { createClient } from 'redis';
import type { ServerOptions } from '../lib/index.js';

export interface NodeAdapter {
  adapter: NonNullable<ServerOptions['adapter']>;
  /** Deletes the run's stream (every node does; the first one wins) and disconnects. */
  close(): Promise<void>;
}

/** Connects to Redis at `url`; the adapter uses stream `stream` and channels prefixed with it. */
export async function nodeAdapter(url: string, stream: string): Promise<NodeAdapter> {
  const redis = createClient({
    url,
    socket: { reconnectStrategy: (retries: number) => Math.min(50 * (retries + 1), 500) },
  });
  redis.on('error', (err: Error) => console.warn(`bench node ${process.pid}: redis: ${err.message}`));
  await redis.connect();
  return {
    adapter: createAdapter(redis, { streamName: stream, channelPrefix: stream }),
    close: async () => {
      await redis.del(stream).catch(() => 0);
      await redis.quit().catch(() => undefined);
    },
  };
}
