/**
 * What a cluster guarantees about order (PROTOCOL.md, "Order"), checked on two nodes with the Redis
 * streams adapter on a real (private) redis-server and one shared store:
 *
 * - on the wire, frames about one object may arrive out of version order: a write's answer goes
 *   straight back to its requester while changes go through Redis, so it can overtake an earlier
 *   change made on the other node (the spec counts how often; it does not need it to happen);
 * - the client applies records by version: the version it holds for an object, and with it every
 *   event it raises, only grows — a record older than what it holds is dropped, never applied over a
 *   newer one — and once the writes are answered it holds the store's state and version.
 *
 * 100 trials; in each, a client on node 1 and one on node 2 write one object concurrently.
 */
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { expect } from 'chai';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from 'redis';
import { ObjectSync as Client } from '../../lib/client/index.js';
import { MemoryStore, ObjectSync, type Id, type StoredObject } from '../../lib/index.js';
import { BACKEND } from '../../lib/server/backend.js';
import { eventually, freePort, PrivateRedis, stopAll } from './cluster-support.js';

const TRIALS = 100;
/** Updates each of the two clients sends per trial, without waiting for their answers. */
const WRITES = 4;
const EVENTS = ['create', 'update', 'destroy'];

interface Node {
  http: HttpServer;
  sync: ObjectSync;
  redis: ReturnType<typeof createClient>;
  url: string;
}

/** A node in this process: its own Redis client and adapter, the shared store. */
async function startNode(redisUrl: string, store: MemoryStore): Promise<Node> {
  const redis = createClient({ url: redisUrl });
  redis.on('error', () => undefined);
  await redis.connect();
  const http = createServer();
  const sync = ObjectSync.listen(http, null, { adapter: createAdapter(redis), epoch: 'order-spec' });
  sync.collection('things', store);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return { http, sync, redis, url: `http://127.0.0.1:${(http.address() as AddressInfo).port}` };
}

/** Versions of one object in the frames a client received: answers to its writes, and `ch` records. */
interface Wire {
  frames: Array<{ kind: 'answer' | 'ch'; v: number }>;
}

/** Reads the versions of `id` out of a socket.io packet's data (an event or an ack). */
function versionsIn(data: string, id: Id): Array<{ kind: 'answer' | 'ch'; v: number }> {
  const ack = data.startsWith('3');
  const json = data.slice(data.indexOf('['));
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return [];
  }
  const args = parsed as unknown[];
  if (ack) {
    const answer = args[0] as { r?: { i?: Id; v?: number } | null; v?: number } | undefined;
    const v = answer?.r?.i === id ? (answer.r.v ?? answer.v) : undefined;
    return typeof v === 'number' ? [{ kind: 'answer', v }] : [];
  }
  if (args[0] !== 'ch') return [];
  const out: Array<{ kind: 'answer' | 'ch'; v: number }> = [];
  for (const r of args[1] as unknown[]) {
    if (Array.isArray(r) && r[0] === id) out.push({ kind: 'ch', v: r[1] as number });
    else if (r && typeof r === 'object' && (r as { i?: Id }).i === id) {
      const v = (r as { v?: number }).v;
      if (typeof v === 'number') out.push({ kind: 'ch', v });
    }
  }
  return out;
}

/** A client subscribed to `things`, with the frames it receives about `watch.id` recorded. */
async function client(url: string, watch: { id: Id | undefined; wire: Wire }): Promise<Client> {
  const c = new Client({ url, transports: ['websocket'], autoReconnect: false });
  c.on('error', () => undefined);
  await new Promise<void>((resolve) => c.once('connect', () => resolve()));
  const socket = (c as unknown as { socket: { io: { engine: NodeJS.EventEmitter } } }).socket;
  socket.io.engine.on('packet', (p: { type: string; data?: unknown }) => {
    if (p.type === 'message' && watch.id !== undefined && typeof p.data === 'string')
      watch.wire.frames.push(...versionsIn(p.data, watch.id));
  });
  await c.collection('things').subscribe();
  return c;
}

/** The version a client holds for an object (0: none). */
function held(c: Client, id: Id): number {
  const map = (c.collection('things') as unknown as { map: { entry(id: Id): { v: number } | undefined } })
    .map;
  return map.entry(id)?.v ?? 0;
}

describe('cluster: order on two nodes (Redis streams adapter)', function () {
  this.timeout(120_000);
  let redis: PrivateRedis | undefined;
  let nodes: Node[] = [];
  const clients: Client[] = [];

  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    for (const node of nodes.splice(0)) {
      await node.sync.close();
      await node.redis.quit().catch(() => undefined);
    }
    await stopAll();
    redis = undefined;
  });

  it(`applies one object's records in version order on every client, whatever order they arrive in (${TRIALS} trials)`, async () => {
    redis = new PrivateRedis(await freePort());
    await redis.start();
    const store = new MemoryStore();
    nodes = [await startNode(redis.url, store), await startNode(redis.url, store)];
    const things = nodes.map((node) => node.sync.collection('things'));
    const watches = [0, 1].map(() => ({ id: undefined as Id | undefined, wire: { frames: [] } as Wire }));
    const [a, b] = [await client(nodes[0]!.url, watches[0]!), await client(nodes[1]!.url, watches[1]!)];
    clients.push(a!, b!);
    const colls = [a!.collection('things'), b!.collection('things')];
    // The adapter of a node that just started reads the stream from "now": write until both see it.
    const warm = await things[0]!.save({ warm: 0 });
    for (let n = 1; ; n++) {
      await things[n % 2]!.save({ id: warm.id, warm: n });
      try {
        await eventually(
          colls,
          EVENTS,
          () => colls.every((c) => c.get(warm.id)?.warm === n),
          500,
          () => '',
        );
        break;
      } catch {
        if (n > 40) throw new Error('changes do not reach both nodes');
      }
    }
    const backend = store[BACKEND]();
    let overtaken = 0;
    let swapped = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      const obj = await things[trial % 2]!.save({ a: 0, b: 0 });
      await eventually(
        colls,
        EVENTS,
        () => colls.every((c) => c.get(obj.id) !== undefined),
        5000,
        () => `trial ${trial}: the create reaches both clients`,
      );
      for (const w of watches) {
        w.id = obj.id;
        w.wire.frames = [];
      }
      // Each client's versions of the object after each event it raised for it.
      const applied: number[][] = [[], []];
      const listeners = [a!, b!].map((c, k) => {
        const listener = (o: StoredObject): void => {
          if (o.id === obj.id) applied[k]!.push(held(c, obj.id));
        };
        c.collection('things').on('update', listener);
        return listener;
      });
      await Promise.all(
        [colls[0]!, colls[1]!].flatMap((coll, k) =>
          Array.from({ length: WRITES }, (_, n) => coll.save({ id: obj.id, [k === 0 ? 'a' : 'b']: n + 1 })),
        ),
      );
      const [stored] = await backend.fetch([obj.id], null);
      await eventually(
        colls,
        EVENTS,
        () => [a!, b!].every((c) => held(c, obj.id) === stored!.v),
        5000,
        () =>
          `trial ${trial}: both clients reach v${stored!.v} (hold ${held(a!, obj.id)}, ${held(b!, obj.id)})`,
      );
      [a!, b!].forEach((c, k) => c.collection('things').off('update', listeners[k]!));
      for (const [k, c] of [a!, b!].entries()) {
        const versions = applied[k]!;
        const why = `trial ${trial}, client ${k + 1}: versions applied ${versions.join(' ')}`;
        for (let i = 1; i < versions.length; i++) expect(versions[i], why).to.be.above(versions[i - 1]!);
        expect(c.collection('things').get(obj.id), why).to.deep.equal(stored!.obj);
        // On the wire: did a change arrive after a frame with a newer version (an answer, or a change)?
        let max = { v: 0, kind: 'ch' as 'answer' | 'ch' };
        let afterAnswer = false;
        let afterChange = false;
        for (const f of watches[k]!.wire.frames) {
          if (f.v < max.v && f.kind === 'ch') {
            if (max.kind === 'answer') afterAnswer = true;
            else afterChange = true;
          }
          if (f.v > max.v) max = f;
        }
        if (afterAnswer) overtaken++;
        if (afterChange) swapped++;
      }
      for (const w of watches) w.id = undefined;
    }
    console.log(
      `      ${TRIALS} trials × 2 clients: an answer overtook an earlier change for ${overtaken} of ` +
        `${2 * TRIALS}, changes arrived out of version order for ${swapped}; versions applied out of order: 0`,
    );
  });
});
