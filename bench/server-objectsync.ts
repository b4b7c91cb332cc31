/**
 * Benchmark server child: an object-sync engine with its default MemoryStore on 127.0.0.1, port 0,
 * holding `--objects` objects of `--fields` fields. Forked by fanout.ts; see ipc.ts for the channel.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ObjectSync } from '../lib/index.js';
import { argValue, serveParent } from './ipc.js';
import { makeObject } from './objects.js';

async function main(): Promise<void> {
  const fields = Number(argValue('fields', '10'));
  const objects = Number(argValue('objects', '100'));
  const http = createServer();
  // Two writers send every update here; a per-connection request rate limit (where the engine has
  // one) must not throttle them, raw socket.io has none. Options the engine may not have yet are
  // spread in, so this compiles either way.
  const coalesce = argValue('coalesce', '');
  const extra = {
    maxRequestsPerSecond: Number.MAX_SAFE_INTEGER,
    ...(coalesce === '' ? {} : { coalesce: Number(coalesce) }),
  };
  const sync = ObjectSync.listen(http, null, { serveClient: false, ...extra });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  for (let i = 1; i <= objects; i++) await sync.save(makeObject(i, fields));
  serveParent((http.address() as AddressInfo).port, () => sync.close());
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
