/**
 * `npm run bench:first-load`: what a paged read costs as the collection grows (issue 12, review
 * finding 4: each page used to list, filter and sort the whole collection). Prints, for each size:
 * a client's first load of the whole collection (`subscribe`, every page) in wall time and CPU (server
 * and client share this process), and the server's time for one later page of a resync and of a
 * listing. Not a test: it prints figures.
 *
 *   node dist/bench/first-load.js [--sizes 10000,100000] [--visible]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { io as rawIo, type Socket } from 'socket.io-client';
import { ObjectSync as Client } from '../lib/client/index.js';
import { MemoryStore, ObjectSync, PROTOCOL_VERSION } from '../lib/index.js';
import type { Id } from '../lib/protocol.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000' },
    visible: { type: 'boolean', default: false },
  },
});
const sizes = values.sizes.split(',').map(Number);

function cpuMs(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

/** Asks `event` with a raw socket and resolves with the answer and the milliseconds it took. */
async function timed(socket: Socket, event: string, payload: unknown): Promise<[{ k?: Id }, number]> {
  const start = performance.now();
  const answer = (await socket.timeout(60_000).emitWithAck(event, payload)) as { k?: Id };
  return [answer, performance.now() - start];
}

/** The median time of the 5 pages after the first of a read (`sub` or `list`), asked one by one. */
async function laterPage(socket: Socket, event: 'sub' | 'list', first: object): Promise<number> {
  let [answer] = await timed(socket, event, first);
  const times: number[] = [];
  for (let i = 0; i < 5 && answer.k !== undefined; i++) {
    let ms: number;
    [answer, ms] = await timed(socket, event, { ...first, k: answer.k });
    times.push(ms);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1] ?? NaN;
}

async function measure(size: number): Promise<string> {
  const store = new MemoryStore();
  for (let i = 0; i < size; i++) await store.create({ n: i, name: `object ${i}` });
  const http = createServer();
  const sync = ObjectSync.listen(http, null, values.visible ? { visible: () => true } : {});
  sync.collection('big', store);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const client = new Client({ url, transports: ['websocket'] });
  const raw = rawIo(url, {
    path: '/object-sync',
    transports: ['websocket'],
    reconnection: false,
    auth: { osSession: 'first-load-bench-raw-01', osProtocol: PROTOCOL_VERSION },
  });
  try {
    await new Promise((resolve) => raw.once('connect', () => resolve(undefined)));
    const start = performance.now();
    const cpu = process.cpuUsage();
    const big = client.collection('big');
    await big.subscribe();
    const wall = performance.now() - start;
    const used = cpuMs(cpu);
    if (Object.keys(big.allObjects()).length !== size) throw new Error('the first load missed objects');
    const sub = await laterPage(raw, 'sub', { c: 'big', h: [] });
    const list = await laterPage(raw, 'list', { c: 'big' });
    return (
      `${String(size).padStart(7)} objects: first load ${wall.toFixed(0)} ms wall, ${used.toFixed(0)} ms CPU; ` +
      `a later page: sub ${sub.toFixed(1)} ms, list ${list.toFixed(1)} ms`
    );
  } finally {
    raw.close();
    client.disconnect();
    await sync.close();
    http.close();
  }
}

console.log(
  `first load and later pages (MemoryStore${values.visible ? ', a visible that lets all through' : ''})`,
);
for (const size of sizes) console.log(await measure(size));
