/**
 * The one conformance suite every store runs (memory, SQLite, PostgreSQL): the handler API, the
 * versioned backend the engine uses, dedupe records, durability where claimed, and end-to-end use by
 * clients over real sockets.
 */
import { expect } from 'chai';
import type { Handlers } from '../../../lib/index.js';
import { BACKEND, type Backend, type Store } from '../../../lib/server/backend.js';
import { cleanup, connectClient, startServer, waitFor } from '../../support/harness.js';

export interface StoreFixture {
  /** A fresh, empty store. */
  create(): Promise<Store & Handlers>;
  /** Reopens the same data (a restart); only for durable stores. */
  reopen?: (store: Store & Handlers) => Promise<Store & Handlers>;
  /** Closes what `create`/`reopen` opened. */
  close(store: Store & Handlers): Promise<void>;
}

export function describeStoreConformance(name: string, fixture: StoreFixture): void {
  describe(`store conformance: ${name}`, function () {
    this.timeout(20000);
    const opened: Array<Store & Handlers> = [];
    const open = async (): Promise<Store & Handlers> => {
      const store = await fixture.create();
      opened.push(store);
      return store;
    };
    afterEach(async () => {
      await cleanup();
      for (const store of opened.splice(0)) await fixture.close(store);
    });
    const backend = (store: Store): Backend => store[BACKEND]();

    it('creates objects with fresh ids at version 1, answering copies', async () => {
      const store = await open();
      const a = (await store.create({ n: 1 }, null, () => undefined)) as any;
      const b = (await store.create({ n: 2 }, null, () => undefined)) as any;
      expect(a.id).to.not.equal(b.id);
      a.n = 99;
      expect(await store.fetch([a.id, b.id], null, () => undefined)).to.deep.equal([
        { id: a.id, n: 1 },
        { id: b.id, n: 2 },
      ]);
      const [va] = await backend(store).fetch([a.id], null);
      expect(va!.v).to.equal(1);
    });

    it('updates: sets and removes properties, one version per real change, none for an empty one', async () => {
      const store = await open();
      const be = backend(store);
      const created = await be.create({ a: 1, b: 2, nested: { x: [1] } }, null, {});
      const id = created.id;
      const changed = await be.update(id, { a: 10, nested: { x: [1, 2] } }, ['b'], null, {});
      expect(changed.v).to.equal(2);
      expect(changed.record).to.deep.equal({
        k: 'u',
        i: id,
        v: 2,
        s: { a: 10, nested: { x: [1, 2] } },
        u: ['b'],
      });
      expect(changed.next).to.deep.equal({ id, a: 10, nested: { x: [1, 2] } });
      const same = await be.update(id, { a: 10 }, ['missing'], null, {});
      expect(same.record).to.equal(null);
      expect(same.v).to.equal(2);
      expect(await store.update({ id, c: 3, a: undefined }, null, () => undefined)).to.deep.equal({
        id,
        nested: { x: [1, 2] },
        c: 3,
      });
    });

    it('answers not_found for updates and destroys of unknown ids, and changes nothing', async () => {
      const store = await open();
      const be = backend(store);
      for (const attempt of [
        () => be.update(424242, { a: 1 }, [], null, {}),
        () => be.destroy('nope', null, {}),
      ]) {
        const err: any = await attempt().catch((e) => e);
        expect(err.code).to.equal('not_found');
      }
      expect(await be.list!(undefined, null)).to.deep.equal([]);
    });

    it('destroys: a removal at the next version; fetch answers null and list leaves it out', async () => {
      const store = await open();
      const be = backend(store);
      const keep = await be.create({ k: 1 }, null, {});
      const gone = await be.create({ k: 2 }, null, {});
      await be.update(gone.id, { k: 3 }, [], null, {});
      const removal = await be.destroy(gone.id, null, {});
      expect(removal.record).to.deep.equal({ k: 'd', i: gone.id, v: 3 });
      expect(await be.fetch([gone.id, keep.id], null)).to.deep.equal([
        null,
        { obj: { id: keep.id, k: 1 }, v: 1 },
      ]);
      expect((await be.list!(undefined, null)).map((e) => e.obj)).to.deep.equal([{ id: keep.id, k: 1 }]);
    });

    it('serves clients over real sockets as a collection', async () => {
      const store = await open();
      const server = await startServer();
      server.sync.collection('things', store);
      const a = await connectClient(server);
      const b = await connectClient(server);
      await b.collection('things').subscribe();
      const seen = waitFor(b.collection('things'), 'update');
      const obj = await a.collection('things').save({ name: 'x', n: 1 });
      await a.collection('things').save({ id: obj.id, n: 2 });
      const [live, changes] = await seen;
      expect(changes).to.deep.equal({ n: 2 });
      expect(live).to.deep.equal({ id: obj.id, name: 'x', n: 2 });
      expect(await store.fetch([obj.id], null, () => undefined)).to.deep.equal([
        { id: obj.id, name: 'x', n: 2 },
      ]);
    });

    // Durable stores keep dedupe records and survive restarts; the memory store has neither.
    if (!fixture.reopen) return;
    const reopen = fixture.reopen;

    it('keeps the outcome of a request (id and version, not the object) in the same transaction as its write', async () => {
      const store = await open();
      const be = backend(store);
      expect(be.recall).to.be.a('function');
      const created = await be.create({ n: 1, big: 'x'.repeat(10_000) }, 'sid-1', {
        request: { sid: 'sid-1', seq: 7, kind: 'create' },
      });
      expect(await be.recall!('sid-1', 7)).to.deep.equal({ ok: true, kind: 'create', id: created.id, v: 1 });
      expect(await be.recall!('sid-1', 8)).to.equal(undefined);
      expect(await be.recall!('sid-2', 7)).to.equal(undefined);
      // A failed write records nothing.
      await be
        .update('missing', {}, [], 'sid-1', { request: { sid: 'sid-1', seq: 9, kind: 'update' } })
        .catch(() => undefined);
      expect(await be.recall!('sid-1', 9)).to.equal(undefined);
    });

    it("applies a client's pipelined writes of one object in the order sent, whatever order recalls answer in", async () => {
      // The first update's recall is held until the second update was applied (or 300 ms passed, for
      // an engine that rightly recalls the second only after the first): applying the second first
      // would leave n = 1 behind an acknowledged n = 2.
      const inner = backend(await open());
      let secondApplied!: () => void;
      const released = new Promise<void>((resolve) => (secondApplied = resolve));
      let recalls = 0;
      const held: Backend = {
        create: (obj, sid, ctx) => inner.create(obj, sid, ctx),
        update: async (id, set, unset, sid, ctx) => {
          const applied = await inner.update(id, set, unset, sid, ctx);
          if (set.n === 2) secondApplied();
          return applied;
        },
        destroy: (id, sid, ctx) => inner.destroy(id, sid, ctx),
        fetch: (ids, sid) => inner.fetch(ids, sid),
        list: (query, sid) => inner.list!(query, sid),
        recall: async (sid, seq) => {
          if (++recalls === 2) await Promise.race([released, new Promise((r) => setTimeout(r, 300))]);
          return inner.recall!(sid, seq);
        },
      };
      const server = await startServer();
      server.sync.collection('things', { [BACKEND]: () => held } as unknown as Handlers);
      const a = await connectClient(server);
      const things = a.collection('things');
      const obj = await things.save({ n: 0 });
      await Promise.all([things.save({ id: obj.id, n: 1 }), things.save({ id: obj.id, n: 2 })]);
      expect(await inner.fetch([obj.id], null)).to.deep.equal([{ obj: { id: obj.id, n: 2 }, v: 3 }]);
      expect(things.get(obj.id)).to.deep.equal({ id: obj.id, n: 2 });
    });

    it('survives a restart with objects, versions, ids and dedupe records', async () => {
      const store = await open();
      const be = backend(store);
      const a = await be.create({ n: 1 }, null, {});
      await be.update(a.id, { n: 2 }, [], null, { request: { sid: 's', seq: 1, kind: 'update' } });
      const again = await reopen(store);
      opened.push(again);
      const be2 = backend(again);
      expect(await be2.fetch([a.id], null)).to.deep.equal([{ obj: { id: a.id, n: 2 }, v: 2 }]);
      expect(await be2.recall!('s', 1)).to.deep.equal({ ok: true, kind: 'update', id: a.id, v: 2 });
      const b = await be2.create({ n: 3 }, null, {});
      expect(b.id).to.not.equal(a.id);
    });
  });
}
