/**
 * Benchmark server child: an object-sync engine on 127.0.0.1, port 0, holding `--objects` objects of
 * `--fields` fields. Forked by child.ts; see ipc.ts for the channel.
 *
 * Alone it is the one-node target, on its default MemoryStore. With `--redis URL --stream NAME` it is
 * one node of several (the Redis streams adapter, node-adapter.ts); with `--pg URL` its store is a
 * shared PostgreSQL schema (node-store.ts), which only the node started with `--seed 1` fills, and
 * `--epoch` names the epoch the nodes of one shared store share.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ObjectSync } from '../lib/index.js';
import { argValue, serveParent } from './ipc.js';
import { makeObject } from './objects.js';

async function main(): Promise<void> {
  const fields = Number(argValue('fields', '10'));
  const objects = Number(argValue('objects', '100'));
  const redisUrl = argValue('redis', '');
  const epoch = argValue('epoch', '');
  // Loaded only when used, so the one-node child (and its memory per client) carries neither pg nor redis.
  const pgUrl = argValue('pg', '');
  const store =
    pgUrl === ''
      ? { handlers: null, close: () => Promise.resolve() }
      : await (await import('./node-store.js')).nodeStore(pgUrl);
  const cluster =
    redisUrl === ''
      ? undefined
      : await (await import('./node-adapter.js')).nodeAdapter(redisUrl, argValue('stream', 'os-bench'));
  const http = createServer();
  // Two writers send every update here; a per-connection request rate limit (where the engine has
  // one) must not throttle them, raw socket.io has none. Options the engine may not have yet are
  // spread in, so this compiles either way.
  const coalesce = argValue('coalesce', '');
  const extra = {
    maxRequestsPerSecond: Number.MAX_SAFE_INTEGER,
    ...(coalesce === '' ? {} : { coalesce: coalesce === 'off' ? false : Number(coalesce) }),
    ...(cluster ? { adapter: cluster.adapter } : {}),
    ...(epoch === '' ? {} : { epoch }),
  };
  const sync = ObjectSync.listen(http, store.handlers, { serveClient: false, ...extra });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  if (argValue('seed', '1') === '1') {
    for (let i = 1; i <= objects; i++) await sync.save(makeObject(i, fields));
  }
  serveParent((http.address() as AddressInfo).port, async () => {
    await sync.close();
    await store.close();
    await cluster?.close();
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
