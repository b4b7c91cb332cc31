/**
 * Clients converge: concurrent writers of different fields of one object both survive, and a seeded
 * random run of several clients with random drops ends with every identity map equal to the server.
 */
import { expect } from 'chai';
import { MemoryStore } from '../../lib/index.js';
import type { ObjectSync as Client } from '../../lib/client/index.js';
import { cleanup, connectClient, startServer, waitFor, waitUntil } from '../support/harness.js';
import { FaultProxy } from '../support/proxy.js';

/** A small seeded PRNG (mulberry32), so a failing run can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Waits until a client is connected with nothing in flight. */
async function settled(client: Client): Promise<void> {
  if (!client.isConnected()) await waitFor(client, 'connect');
  while (client.pendingRequests > 0) await new Promise<void>((resolve) => setImmediate(resolve));
}

describe('convergence', () => {
  const proxies: FaultProxy[] = [];
  afterEach(async () => {
    await cleanup();
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  });

  it('keeps both changes when two clients write different fields of one object at once', async () => {
    const server = await startServer();
    const a = await connectClient(server);
    const b = await connectClient(server);
    const obj = await a.save({ x: 0, y: 0 });
    await waitUntil(b, ['create'], () => b.get(obj.id) !== undefined);
    for (let round = 1; round <= 20; round++) {
      await Promise.all([a.save({ id: obj.id, x: round }), b.save({ id: obj.id, y: round })]);
    }
    const [stored] = await server.sync.fetch(obj.id);
    expect(stored).to.deep.equal({ id: obj.id, x: 20, y: 20 });
    await waitUntil(a, ['update'], () => a.get(obj.id)!.y === 20);
    await waitUntil(b, ['update'], () => b.get(obj.id)!.x === 20);
    expect(a.get(obj.id)).to.deep.equal(stored);
    expect(b.get(obj.id)).to.deep.equal(stored);
  });

  for (const seed of [1, 2, 3]) {
    it(`ends with every identity map equal to the server after random operations and drops (seed ${seed})`, async () => {
      const random = prng(seed);
      const store = new MemoryStore();
      const server = await startServer(store);
      const clients: Client[] = [];
      for (let i = 0; i < 4; i++) {
        const proxy = await new FaultProxy(server.port).start();
        proxies.push(proxy);
        clients.push(await connectClient(proxy));
      }
      const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)];
      const work: Array<Promise<unknown>> = [];
      let drops = 0;
      for (let step = 0; step < 400; step++) {
        const client = pick(clients);
        const ids = Object.keys(client.allObjects());
        const roll = random();
        if (roll < 0.03) {
          pick(proxies).cut();
          drops++;
        } else if (roll < 0.25 || ids.length === 0) {
          work.push(client.save({ n: step, owner: clients.indexOf(client) }).catch(() => undefined));
        } else if (roll < 0.8) {
          const id = Number(pick(ids));
          const change: Record<string, unknown> = { [`f${Math.floor(random() * 4)}`]: step };
          if (random() < 0.2) change.n = undefined;
          work.push(client.save({ id, ...change }).catch(() => undefined)); // not_found after a destroy is fine
        } else if (roll < 0.9) {
          work.push(client.destroy(Number(pick(ids))).catch(() => undefined));
        } else {
          work.push(client.fetch(Number(pick(ids))).catch(() => undefined));
        }
        if (step % 25 === 0) await Promise.all(work.splice(0));
      }
      await Promise.all(work);
      // A barrier: a server-side create reaches each client after everything published before it.
      const barrier = clients.map((c) =>
        waitUntil(c, ['create'], () => Object.values(c.allObjects()).some((o) => o.barrier)),
      );
      await server.sync.save({ barrier: true });
      await Promise.all(barrier);
      await Promise.all(clients.map(settled));
      const truth = Object.fromEntries((await store.list()).map((o) => [String(o.id), o]));
      expect(drops).to.be.greaterThan(3);
      clients.forEach((client, i) => expect({ ...client.allObjects() }, `client ${i}`).to.deep.equal(truth));
    });
  }
});
