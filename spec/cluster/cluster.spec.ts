/**
 * Three server nodes (child processes) on one private Redis and one PostgreSQL schema:
 * - broadcasts, subscriptions, `visible` and server-initiated saves reach clients on every node;
 * - a seeded randomized run of concurrent writers, each behind its own fault proxy, while a node is
 *   SIGKILLed and restarted and Redis restarts: no acknowledged write lost, none applied twice, and every
 *   client's identity map equal to the store at the end.
 */
import { expect } from 'chai';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { ObjectSync as Client, type ClientCollection } from '../../lib/client/index.js';
import type { Id, StoredObject } from '../../lib/index.js';
import { endAdmin } from '../adapters/stores/postgres-fixture.js';
import { FaultProxy } from '../support/proxy.js';
import {
  eventually,
  freePort,
  killChild,
  pgSchema,
  PrivateRedis,
  serverSave,
  startNode,
  stopAll,
  type NodeProcess,
} from './cluster-support.js';
import { Random } from '../../bench/torture/random.js';
import { unexplained, type FaultWindow } from '../../bench/torture/explain.js';
import { verify, type History, type Row } from '../../bench/torture/verify.js';
import { Writer } from './workload.js';

const EVENTS = ['create', 'update', 'destroy'];

/**
 * Keeps every state the store commits: a trigger copies each row written to `os_objects` into
 * `os_history` (in the same transaction, so only committed states are kept).
 */
async function keepHistory(url: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    await pool.query(`
      CREATE TABLE os_history (collection TEXT NOT NULL, id TEXT NOT NULL, v BIGINT NOT NULL, data TEXT NOT NULL);
      CREATE FUNCTION os_history_keep() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO os_history (collection, id, v, data) VALUES (NEW.collection, NEW.id, NEW.v, NEW.data);
        RETURN NEW;
      END $$;
      CREATE TRIGGER os_history_keep AFTER INSERT OR UPDATE ON os_objects
        FOR EACH ROW EXECUTE FUNCTION os_history_keep();`);
  } finally {
    await pool.end();
  }
}

/** Every state each object of `things` was ever stored in, by id. */
async function readHistory(url: string): Promise<History> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    const found = await pool.query<{ id: string; data: string }>(
      "SELECT id, data FROM os_history WHERE collection = 'things' ORDER BY ctid",
    );
    const history: History = new Map();
    for (const r of found.rows)
      history.set(r.id, [...(history.get(r.id) ?? []), JSON.parse(r.data) as StoredObject]);
    return history;
  } finally {
    await pool.end();
  }
}
const clients = new Set<Client>();
const proxies = new Set<FaultProxy>();

/** A client of `url`, subscribed to `things`, once ready. */
async function subscribedClient(url: string): Promise<Client> {
  const client = new Client({
    url,
    transports: ['websocket'],
    reconnectionDelay: 50,
    reconnectionDelayMax: 200,
  });
  clients.add(client);
  client.on('error', () => undefined);
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  await client.collection('things').subscribe();
  return client;
}

interface Cluster {
  redis: PrivateRedis;
  pg: { schema: string; url: string; drop: () => Promise<void> };
  nodes: NodeProcess[];
}
let cluster: Cluster | undefined;

/** Starts Redis, a schema and three nodes. */
async function startCluster(env: Record<string, string> = {}): Promise<Cluster> {
  const redis = new PrivateRedis(await freePort());
  await redis.start();
  const schema = await pgSchema();
  cluster = { redis, pg: schema, nodes: [] };
  for (let i = 0; i < 3; i++) cluster.nodes.push(await startNode(0, redis.url, schema.url, 'things', env));
  return cluster;
}

async function stopCluster(): Promise<void> {
  for (const client of clients) client.disconnect();
  clients.clear();
  await Promise.all([...proxies].map((p) => p.close()));
  proxies.clear();
  await stopAll();
  await cluster?.pg.drop();
  cluster = undefined;
}

/**
 * Waits until a change made on one node reaches every client: the Redis adapter of a node that just
 * started reads the stream from "now" (its first read may still be on the way), so this repeats a write
 * until every client has it.
 */
async function warmUp(writer: Client, readers: Client[]): Promise<void> {
  const things = writer.collection('things');
  const obj = await things.save({ warm: 0 });
  for (let n = 1; n <= 20; n++) {
    await things.save({ id: obj.id, warm: n });
    const seen = (): boolean => readers.every((c) => c.collection('things').get(obj.id)?.warm === n);
    try {
      await eventually(
        readers.map((c) => c.collection('things')),
        EVENTS,
        seen,
        500,
        () => 'warm up',
      );
      await things.destroy(obj.id);
      await eventually(
        readers.map((c) => c.collection('things')),
        EVENTS,
        () => readers.every((c) => !c.collection('things').get(obj.id)),
        5000,
        () => 'warm up object removed everywhere',
      );
      return;
    } catch {
      // Not everywhere yet: write again.
    }
  }
  throw new Error('changes do not reach every node');
}

describe('cluster: three nodes on Redis and PostgreSQL', function () {
  this.timeout(30000);
  afterEach(stopCluster);
  after(endAdmin);

  describe('broadcasts across nodes, with visible', () => {
    let c: Client[];
    beforeEach(async () => {
      const { nodes } = await startCluster({ OS_VISIBLE: '1' });
      c = [];
      for (const node of nodes) c.push(await subscribedClient(`http://127.0.0.1:${node.port}`));
      await warmUp(c[0]!, c);
    });

    it('a client on node 1 sees a change made on node 2, and a client on node 3 too', async () => {
      const [one, two, three] = c.map((x) => x.collection('things')) as [
        ClientCollection,
        ClientCollection,
        ClientCollection,
      ];
      const obj = await two.save({ n: 1 });
      await eventually(
        [one, three],
        EVENTS,
        () => !!one.get(obj.id) && !!three.get(obj.id),
        5000,
        () => 'create',
      );
      const updated = new Promise<[StoredObject, unknown]>((resolve) =>
        one.once('update', (o: StoredObject, changes: unknown) => resolve([o, changes])),
      );
      await two.save({ id: obj.id, n: 2 });
      const [o] = await updated;
      expect(o).to.deep.equal({ id: obj.id, n: 2 });
      await eventually(
        [three],
        EVENTS,
        () => three.get(obj.id)?.n === 2,
        5000,
        () => 'update on node 3',
      );
      await three.destroy(obj.id);
      await eventually(
        [one, two],
        EVENTS,
        () => !one.get(obj.id) && !two.get(obj.id),
        5000,
        () => 'destroy',
      );
    });

    it('never sends a client on node 3 an object it may not see, and sends it once it may', async () => {
      const [one, two, three] = c.map((x) => x.collection('things')) as [
        ClientCollection,
        ClientCollection,
        ClientCollection,
      ];
      const received: unknown[] = [];
      three.on('create', (o: StoredObject) => received.push(o.id));
      three.on('update', (o: StoredObject) => received.push(o.id));
      const secret = await one.save({ secret: true, owner: c[0]!.sid!, text: 'mine' });
      await one.save({ id: secret.id, text: 'still mine' });
      // A later public change reaches node 3: the secret one, sent before it, would have arrived first.
      const pub = await two.save({ text: 'public' });
      await eventually(
        [three],
        EVENTS,
        () => !!three.get(pub.id),
        5000,
        () => 'public object on node 3',
      );
      expect(received).to.deep.equal([pub.id]);
      expect(three.get(secret.id)).to.equal(undefined);
      expect(two.get(secret.id)).to.equal(undefined);
      expect((await three.list()).map((o) => o.id)).to.deep.equal([pub.id]);
      // Made public on node 1, it arrives on node 3 whole.
      await one.save({ id: secret.id, secret: false });
      await eventually(
        [three],
        EVENTS,
        () => !!three.get(secret.id),
        5000,
        () => 'object made public',
      );
      expect(three.get(secret.id)).to.deep.equal({
        id: secret.id,
        secret: false,
        owner: c[0]!.sid,
        text: 'still mine',
      });
    });

    it('a server-initiated save on one node reaches clients on every node', async () => {
      const saved = await serverSave(cluster!.nodes[1]!, { from: 'server' });
      const colls = c.map((x) => x.collection('things'));
      await eventually(
        colls,
        EVENTS,
        () => colls.every((x) => !!x.get(saved.id as Id)),
        5000,
        () => 'server save',
      );
      for (const x of colls) expect(x.get(saved.id as Id)).to.deep.equal({ id: saved.id, from: 'server' });
    });
  });

  // Seeded: the seed is printed first; `CLUSTER_SEED=<n> npm run cluster:random` replays it alone.
  describe('a randomized run under node kills and a Redis restart', () => {
    let diagnose: (() => string) | undefined;
    /** Set when the test is over (a timeout included): the faults stop starting processes. */
    let aborted = false;
    beforeEach(() => (aborted = false));
    // Inner afterEach hooks run before the outer `stopCluster`.
    afterEach(function () {
      aborted = true;
      if (this.currentTest?.state === 'failed' && diagnose) console.log(diagnose());
      diagnose = undefined;
    });
    it('loses no acknowledged write, applies none twice, and every replica equals the store', async function () {
      this.timeout(60000);
      const started = Date.now();
      const seed = Number(process.env.CLUSTER_SEED ?? Math.floor(Math.random() * 2 ** 31));
      console.log(`      seed ${seed}`);
      const rng = new Random(seed);
      let phase = 'start';
      const { redis, nodes, pg: schema } = await startCluster();
      await keepHistory(schema.url);
      const CLIENTS = 6;
      const QUOTA = 70;
      const client: Client[] = [];
      const proxy: FaultProxy[] = [];
      for (let i = 0; i < CLIENTS; i++) {
        const p = await new FaultProxy(nodes[i % 3]!.port).start();
        proxies.add(p);
        proxy.push(p);
        client.push(await subscribedClient(p.url));
      }
      await warmUp(client[0]!, client);
      const shared: Id[] = [];
      for (let k = 0; k < 3; k++) shared.push((await client[0]!.collection('things').save({ shared: k })).id);

      let settled = 0;
      const total = CLIENTS * QUOTA;
      const progress: Array<{ at: number; go: () => void }> = [];
      // Resolves once that fraction of the writes settled (at once when it already has: the writers
      // may get there while a node is still restarting).
      const reached = (fraction: number): Promise<void> =>
        new Promise((resolve) => {
          const at = Math.floor(total * fraction);
          if (settled >= at) resolve();
          else progress.push({ at, go: resolve });
        });
      const onSettled = (): void => {
        settled++;
        for (const p of progress.filter((x) => x.at <= settled)) {
          progress.splice(progress.indexOf(p), 1);
          p.go();
        }
      };
      const writers = client.map(
        (cl, i) =>
          new Writer(i, cl, shared, new Random(Math.floor(rng.next() * 2 ** 31)), QUOTA, 3, onSettled),
      );
      const figures = { kills: 0, redisRestarts: 0 };
      // When each fault went on (both reach every client): what may explain a failed write.
      const windows: FaultWindow[] = [];
      let faultStart = 0;
      const moments: string[] = [];
      diagnose = () =>
        `      seed ${seed}, phase ${phase}, ${settled}/${total} settled; ` +
        writers
          .map(
            (w, i) =>
              `w${i}: sent ${w.sent} acked ${w.acked} pending ${client[i]!.pendingRequests} ` +
              `connected ${client[i]!.isConnected()}`,
          )
          .join('; ');

      // The faults, while the writers run: node `victim` dies and comes back, then Redis restarts.
      const step = (): void => {
        if (aborted) throw new Error(`aborted in phase ${phase}`);
      };
      const chaos = (async () => {
        phase = 'writing';
        await reached(0.2 + rng.next() * 0.1);
        phase = 'killing a node';
        const victim = 1 + Math.floor(rng.next() * 2);
        const port = nodes[victim]!.port;
        const moved = proxy.filter((_, i) => i % 3 === victim);
        for (const p of moved) p.retarget(nodes[0]!.port); // the client sits behind a proxy
        faultStart = performance.now();
        await killChild(nodes[victim]!.child);
        figures.kills++;
        moments.push(`node ${victim} killed after ${settled} writes`);
        phase = 'restarting the node';
        step();
        nodes[victim] = await startNode(port, redis.url, schema.url, 'things');
        phase = 'writing after the restart';
        for (const p of moved) {
          p.retarget(port);
          p.cut();
        }
        windows.push({ kind: 'node kill', clients: 'all', start: faultStart, end: performance.now() });
        await reached(0.55 + rng.next() * 0.1);
        phase = 'restarting Redis';
        const ready = nodes.map((n) => n.line(/^REDIS ready/));
        step();
        faultStart = performance.now();
        await redis.kill();
        step();
        await redis.start();
        figures.redisRestarts++;
        moments.push(`Redis restarted after ${settled}`);
        phase = 'waiting for every node to see Redis again';
        await Promise.all(ready);
        windows.push({ kind: 'Redis restart', clients: 'all', start: faultStart, end: performance.now() });
        phase = 'writing after Redis came back';
      })();
      // Writers go on past their quota until the faults are over, so every fault hits a running workload.
      let faultsOver = false;
      const over = (): boolean => (faultsOver = true);
      chaos.then(over, over);
      // At most 10 times the quota, whatever happens to the faults.
      const more = (w: Writer): boolean => !faultsOver && !aborted && w.sent < 10 * QUOTA;
      await Promise.all([...writers.map((w) => w.run(() => more(w))), chaos]);
      phase = 'settling';

      // The end: everyone connected and resynced, then a barrier every client must see.
      const colls = client.map((cl) => cl.collection('things'));
      await eventually(
        client,
        ['connect'],
        () => client.every((cl) => cl.isConnected()),
        10000,
        () => 'clients connected',
      );
      // Every writer's writes are answered; a fresh resync of every replica, then a barrier.
      phase = 'resyncing';
      await Promise.all(colls.map((x) => x.subscribe()));
      phase = 'barrier';
      const barrier = await colls[0]!.save({ barrier: true });
      await eventually(
        colls,
        EVENTS,
        () => colls.every((x) => !!x.get(barrier.id)),
        10000,
        () => 'barrier',
      );

      const pool = new pg.Pool({ connectionString: schema.url, max: 1 });
      let rows: Row[];
      try {
        const found = await pool.query<{ v: string; data: string }>(
          "SELECT v, data FROM os_objects WHERE collection = 'things' ORDER BY num, id",
        );
        rows = found.rows.map((r) => ({ obj: JSON.parse(r.data) as StoredObject, v: Number(r.v) }));
      } finally {
        await pool.end();
      }
      const expected = Object.fromEntries(rows.map((r) => [String(r.obj.id), r.obj]));
      const differing = (): number =>
        colls.filter((x) => JSON.stringify(sorted(x.allObjects())) !== JSON.stringify(sorted(expected)))
          .length;
      await eventually(
        colls,
        EVENTS,
        () => differing() === 0,
        10000,
        () => `${differing()} replicas differ`,
      ).catch(() => undefined);

      const history = await readHistory(schema.url);
      const verdict = verify(writers, rows, new Set(shared.map(String)), String(barrier.id), history);
      const unexplainedFailures = writers.flatMap((w, i) => unexplained(i, w.failures, windows));
      const sum = (f: (w: Writer) => number): number => writers.reduce((n, w) => n + f(w), 0);
      const failed = new Map<string, number>();
      for (const w of writers)
        for (const [code, n] of w.failed) failed.set(code, (failed.get(code) ?? 0) + n);
      console.log(
        `      seed ${seed}: ${sum((w) => w.sent)} writes, ${sum((w) => w.acked)} acknowledged, ` +
          `failed ${JSON.stringify(Object.fromEntries(failed))}, ${sum((w) => w.disconnects)} disconnects, ` +
          `${moments.join(', ')}, ${rows.length} objects; ` +
          `failed without a fault to explain it ${unexplainedFailures.length}, ` +
          `lost ${verdict.lost}, not in history ${verdict.notInHistory}, twice ${verdict.twice}, corrupt ${verdict.corrupt}, ` +
          `replicas differing ${differing()}; ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      expect(verdict.notes, `seed ${seed}`).to.deep.equal([]);
      expect(unexplainedFailures, `seed ${seed}`).to.deep.equal([]);
      expect({
        lost: verdict.lost,
        notInHistory: verdict.notInHistory,
        twice: verdict.twice,
        corrupt: verdict.corrupt,
      }).to.deep.equal({ lost: 0, notInHistory: 0, twice: 0, corrupt: 0 });
      expect(figures).to.deep.equal({ kills: 1, redisRestarts: 1 });
      for (const x of colls) expect(sorted(x.allObjects()), `seed ${seed}`).to.deep.equal(sorted(expected));
    });
  });
});

/** An id-keyed record as a plain object with sorted keys (for comparing identity maps). */
function sorted(objects: Record<string, StoredObject>): Record<string, StoredObject> {
  return Object.fromEntries(
    Object.keys(objects)
      .sort()
      .map((k) => [k, objects[k]!]),
  );
}
