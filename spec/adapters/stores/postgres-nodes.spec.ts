/**
 * What sharing one PostgreSQL database between server nodes adds to the store contract: two
 * `PostgresStore`s (two nodes, each with its own pool) on the same collection never lose each other's
 * changes to one object, apply a request sent to both exactly once, and answer a request the other
 * one recorded (a failover).
 */
import { expect } from 'chai';
import type pg from 'pg';
import { PostgresStore } from '../../../adapters/stores/postgres.js';
import { BACKEND, type Applied, type Backend } from '../../../lib/server/backend.js';
import { cleanup, connectClient, startServer, waitFor, waitUntil } from '../../support/harness.js';
import { FaultProxy } from '../../support/proxy.js';
import {
  dropSchema,
  endAdmin,
  lockObject,
  newSchema,
  storeIn,
  terminate,
  untilWaiting,
} from './postgres-fixture.js';

describe('PostgresStore: several nodes on one database', function () {
  this.timeout(30000);
  let schema = '';
  const stores: PostgresStore[] = [];
  let proxy: FaultProxy | undefined;

  beforeEach(async () => {
    schema = await newSchema();
  });
  afterEach(async () => {
    await cleanup();
    await proxy?.close();
    proxy = undefined;
    for (const store of stores.splice(0)) await store.close();
    if (schema) await dropSchema(schema);
    schema = '';
  });
  after(endAdmin);

  /** A node's store on the shared collection. */
  const node = (): PostgresStore => {
    const store = storeIn(schema, { collection: 'shared' });
    stores.push(store);
    return store;
  };
  const be = (store: PostgresStore): Backend => store[BACKEND]();

  it('applies concurrent updates of one object from two nodes one at a time: none is lost', async () => {
    const [a, b] = [node(), node()];
    const { id } = await be(a).create({ n: 0 }, null, {});
    const writes: Array<Promise<Applied>> = [];
    for (let i = 0; i < 50; i++) {
      writes.push(be(a).update(id, { [`a${i}`]: i }, [], null, {}));
      writes.push(be(b).update(id, { [`b${i}`]: i }, [], null, {}));
    }
    const applied = await Promise.all(writes);
    // Versions 2..101, each exactly once: one version per change.
    expect(applied.map((x) => x.v).sort((x, y) => x - y)).to.deep.equal(
      Array.from({ length: 100 }, (_, i) => i + 2),
    );
    for (const x of applied) {
      // Each write was based on the state just before it: it saw every earlier change (id, n, and v - 1 fields).
      expect(Object.keys(x.next!)).to.have.length(x.v + 1);
      expect(Object.keys(x.prev!)).to.have.length(x.v);
      const record = x.record as { k: string; s: Record<string, unknown> };
      expect(record.k).to.equal('u');
      expect(Object.keys(record.s)).to.have.length(1);
    }
    const [final] = await be(b).fetch([id], null);
    expect(final!.v).to.equal(101);
    const expected: Record<string, unknown> = { id, n: 0 };
    for (let i = 0; i < 50; i++) expected[`a${i}`] = expected[`b${i}`] = i;
    expect(final!.obj).to.deep.equal(expected);
  });

  it('cancels a write whose requester timed out, so a stuck transaction holds no pooled connection (issue 12, 6)', async () => {
    const store = node();
    await store.init();
    const server = await startServer(undefined, { handlerTimeout: 500 });
    server.sync.collection('shared', store);
    const a = await connectClient(server);
    const things = a.collection('shared');
    const obj = await things.save({ n: 0 });
    const unlock = await lockObject(schema, 'shared', obj.id);
    try {
      const err = await things.save({ id: obj.id, n: 1 }).catch((e: unknown) => e);
      expect((err as { code?: string }).code).to.equal('timeout');
      // While the row is still locked: the statement was cancelled and its connection came back.
      const pool = store.pool as unknown as pg.Pool;
      await waitUntil(pool, ['release'], () => pool.totalCount === pool.idleCount);
    } finally {
      await unlock();
    }
    expect(await store.fetch([obj.id])).to.deep.equal([{ id: obj.id, n: 0 }]);
    expect((await things.save({ id: obj.id, n: 2 })).n).to.equal(2);
  });

  it('cancels a timed-out write even when the cancel came between two of its statements', async () => {
    // A cancel reaches only the statement running at that moment: one sent while the transaction sat
    // between BEGIN and its next statement did nothing, and that statement then waited for the row's
    // lock for ever, holding its pooled connection. The cancel is repeated until the transaction ends.
    const store = node();
    await store.init();
    const { id } = await be(store).create({ n: 0 }, null, {});
    const unlock = await lockObject(schema, 'shared', id);
    const pool = store.pool as unknown as pg.Pool;
    let resume!: () => void;
    const held = new Promise<void>((resolve) => (resume = resolve));
    let begun!: () => void;
    const inTransaction = new Promise<void>((resolve) => (begun = resolve));
    let cancelled!: () => void;
    const cancelSent = new Promise<void>((resolve) => (cancelled = resolve));
    const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;
    const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
    // The store's next connection stops after BEGIN until `resume`; cancels are watched.
    (pool as unknown as { connect: () => Promise<pg.PoolClient> }).connect = async () => {
      const client = await connect();
      const run = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
      (client as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = async (...args) => {
        const result = await run(...args);
        if (args[0] === 'BEGIN') {
          begun();
          await held;
        }
        return result;
      };
      return client;
    };
    (pool as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = (...args) => {
      const done = query(...args);
      if (String(args[0]).includes('pg_cancel_backend')) void done.then(() => cancelled());
      return done;
    };
    const abort = new AbortController();
    try {
      const write = be(store)
        .update(id, { n: 1 }, [], null, { signal: abort.signal })
        .catch((e: unknown) => e);
      await inTransaction;
      (pool as unknown as { connect: typeof connect }).connect = connect;
      abort.abort();
      await cancelSent; // it found nothing running
      resume(); // the next statement now waits for the lock
      expect(await write).to.be.an('error');
      await waitUntil(pool, ['release'], () => pool.totalCount === pool.idleCount);
    } finally {
      resume();
      await unlock();
    }
    expect(await store.fetch([id])).to.deep.equal([{ id, n: 0 }]);
  });

  it('hands out unique ids to concurrent creates on two nodes', async () => {
    const [a, b] = [node(), node()];
    const created = await Promise.all(
      Array.from({ length: 40 }, (_, i) => be(i % 2 ? a : b).create({ i }, null, {})),
    );
    expect(new Set(created.map((x) => x.id)).size).to.equal(40);
    expect(await a.list()).to.have.length(40);
  });

  it('applies one request sent to two nodes at once exactly once, and answers both alike', async () => {
    const [a, b] = [node(), node()];
    for (let seq = 1; seq <= 20; seq++) {
      const ctx = { request: { sid: 'twice', seq, kind: 'create' as const } };
      const [x, y] = await Promise.all([
        be(a).create({ seq }, 'twice', ctx),
        be(b).create({ seq }, 'twice', ctx),
      ]);
      // One applied it (and broadcasts); the other found it applied, changes nothing and says so.
      expect([x.record, y.record].filter((r) => r !== null)).to.have.length(1);
      expect([x.replayed, y.replayed].filter(Boolean)).to.have.length(1);
      expect([x.id, x.v]).to.deep.equal([y.id, y.v]);
      const recorded = { ok: true, kind: 'create', id: x.id, v: 1 };
      expect(await be(a).recall!('twice', seq)).to.deep.equal(recorded);
      expect(await be(b).recall!('twice', seq)).to.deep.equal(recorded);
    }
    expect(await b.list()).to.have.length(20);

    // Updates and destroys too: one version per request, and the duplicate destroy is no `not_found`.
    const [obj] = await b.list();
    for (let seq = 21; seq <= 30; seq++) {
      const ctx = { request: { sid: 'twice', seq, kind: 'update' as const } };
      const both = await Promise.all([
        be(a).update(obj!.id, { seq }, [], 'twice', ctx),
        be(b).update(obj!.id, { seq }, [], 'twice', ctx),
      ]);
      expect(both.map((x) => x.v)).to.deep.equal([seq - 19, seq - 19]);
      expect(both.filter((x) => !x.replayed).map((x) => x.next)).to.deep.equal([{ id: obj!.id, seq }]);
      expect(both.filter((x) => x.replayed)).to.have.length(1);
    }
    const ctx = { request: { sid: 'twice', seq: 31, kind: 'destroy' as const } };
    const gone = await Promise.all([
      be(a).destroy(obj!.id, 'twice', ctx),
      be(b).destroy(obj!.id, 'twice', ctx),
    ]);
    expect(gone.map((x) => x.v)).to.deep.equal([12, 12]);
    expect(await b.list()).to.have.length(19);
  });

  it('makes a duplicate that arrives while the first attempt runs wait for its commit, then change nothing', async () => {
    const [a, b] = [node(), node()];
    const { id } = await be(a).create({ n: 0 }, null, {});
    const unlock = await lockObject(schema, 'shared', id);
    const ctx = { request: { sid: 'race', seq: 1, kind: 'destroy' as const } };
    const first = be(a).destroy(id, 'race', ctx);
    await untilWaiting(schema, 1); // a has claimed the request and waits for the object's row
    const second = be(b).destroy(id, 'race', ctx);
    await untilWaiting(schema, 2); // b waits for a's claim
    await unlock();
    const [x, y] = await Promise.all([first, second]);
    expect(x.record).to.deep.equal({ k: 'd', i: id, v: 2 });
    // Applied twice, the second destroy would be `not_found`.
    expect(y).to.deep.equal({ id, v: 2, prev: undefined, next: undefined, record: null, replayed: true });
    expect(await be(b).recall!('race', 1)).to.deep.equal({ ok: true, kind: 'destroy', id, v: 2 });
  });

  it('survives its connections being killed (a database restart): calls that met it fail, later ones work', async () => {
    const a = node();
    const { id } = await be(a).create({ n: 0 }, null, {});
    await Promise.all([a.list(), a.list(), a.list()]); // a few idle connections in the pool
    const unlock = await lockObject(schema, 'shared', id);
    const stuck = be(a)
      .update(id, { n: 1 }, [], null, {})
      .catch((err: unknown) => err);
    await untilWaiting(schema, 1);
    const pool = a.pool as pg.Pool; // the store's own pool, typed structurally in its options
    const gone = waitUntil(pool, ['remove'], () => pool.totalCount === 0);
    expect(await terminate(schema)).to.be.greaterThan(1); // the busy connection and the idle ones
    expect(await stuck).to.be.an('error');
    await gone;
    await unlock();
    expect(await be(a).update(id, { n: 2 }, [], null, {})).to.deep.include({ v: 2, next: { id, n: 2 } });
  });

  it('answers a request recorded by one node from another (failover), without applying it again', async () => {
    const [a, b] = [node(), node()];
    const { id } = await be(a).create({ n: 0 }, null, {});
    const ctx = { request: { sid: 'moved', seq: 1, kind: 'update' as const } };
    await be(a).update(id, { n: 1 }, [], 'moved', ctx);
    expect(await be(b).recall!('moved', 1)).to.deep.equal({ ok: true, kind: 'update', id, v: 2 });
    // Even past the recall (a race), the resent request changes nothing on the other node.
    await be(a).update(id, { n: 5 }, [], null, {});
    const again = await be(b).update(id, { n: 1 }, [], 'moved', ctx);
    expect(again).to.deep.include({ id, v: 2, record: null, next: undefined, replayed: true });
    expect(await be(b).fetch([id], null)).to.deep.equal([{ obj: { id, n: 5 }, v: 3 }]);
  });

  it('applies a create once when its answer was lost and the client resent it to another node', async () => {
    const [storeA, storeB] = [node(), node()];
    const nodeA = await startServer(storeA);
    const nodeB = await startServer(storeB);
    proxy = await new FaultProxy(nodeA.port).start();
    const client = await connectClient(proxy);
    const observer = await connectClient(nodeA);
    const committed = waitFor(observer, 'create');
    proxy.dropDownstream(); // node A applies the create, but its answer never arrives
    const saved = client.save({ name: 'once' });
    await committed;
    proxy.retarget(nodeB.port); // node A is gone for this client: it reconnects to node B and resends
    proxy.cut();
    const obj = await saved;
    expect(obj).to.deep.equal({ id: obj.id, name: 'once' });
    expect(await storeB.list()).to.deep.equal([{ id: obj.id, name: 'once' }]);
    expect(client.allObjects()).to.deep.equal({ [obj.id]: obj });
  });
});
