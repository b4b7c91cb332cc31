/**
 * Issue 13 item 5: a resync that fails is reported (client `error`, Backbone collection `error`) and
 * retried with backoff; a resync works for a collection of any size (paged, protocol 3).
 */
import { expect } from 'chai';
import { SyncedCollection } from '../../../adapters/backbone/index.js';
import { MemoryStore } from '../../../lib/index.js';
import type { SyncError } from '../../../lib/errors.js';
import { cleanup, connectClient, startServer, waitFor, waitUntil } from '../../support/harness.js';
import { next } from '../../adapters/backbone/support.js';
import { HELD_BYTES_PER_PAGE, subPage } from '../../../lib/client/resync.js';

describe('client: resync', () => {
  afterEach(cleanup);

  it('a failed resync is reported on the client and the Backbone collection, then retried until it works', async () => {
    const store = new MemoryStore();
    await store.create({ title: 'a' });
    let failures = 2;
    const server = await startServer(undefined, { autoCollections: true });
    server.sync.collection('todos', {
      ...store.handlers(),
      list: async () => {
        if (failures-- > 0) throw { code: 'flaky' };
        return store.list(undefined);
      },
    });
    const client = await connectClient(server);
    const clientErrors: SyncError[] = [];
    client.on('error', (err) => clientErrors.push(err));
    const Todos = SyncedCollection.extend({ url: '/todos' });
    const todos = new Todos([], { client });
    const reported = next<[unknown, SyncError]>(todos, 'error');
    const [, err] = await reported;
    expect(err.code).to.equal('flaky');
    await waitUntil(client.collection('todos'), ['synced'], () => todos.length === 1);
    expect(todos.pluck('title')).to.deep.equal(['a']);
    expect(clientErrors.map((e) => e.code)).to.deep.equal(['flaky', 'flaky']);
  });

  it('a resync failing again and again is reported on the 1st, 2nd, 4th... failure in a row, not on each', async () => {
    // Found by the independent review: an `error` on every retry (18 in 4 s).
    let failures = 5;
    const server = await startServer(undefined, { autoCollections: true });
    server.sync.collection('todos', {
      ...new MemoryStore().handlers(),
      list: async () => {
        if (failures-- > 0) throw { code: 'flaky' };
        return [];
      },
    });
    const client = await connectClient(server, { reconnectionDelay: 5, reconnectionDelayMax: 20 });
    const errors: string[] = [];
    const todos = client.collection('todos');
    todos.on('error', (err) => errors.push(err.code));
    todos.subscribe().catch(() => undefined);
    await waitFor(todos, 'synced');
    expect(failures).to.equal(-1); // five failed, the sixth worked
    expect(errors).to.deep.equal(['flaky', 'flaky', 'flaky']);
  });

  it('pages the held versions: 5 000 per request, cursors in id order', () => {
    const held: Array<[number | string, number]> = [];
    for (let i = 0; i < 12_000; i++) held.push([i, 1]);
    held.push(['x', 2]);
    const first = subPage(held.slice(), undefined);
    expect(first.h).to.have.length(5_000);
    expect(first).to.not.have.property('k');
    // Ids compare as strings: 0, 1, 10, 100, 1000, 10000, 10001...
    expect(first.h.slice(0, 4).map(([id]) => id)).to.deep.equal([0, 1, 10, 100]);
    expect(first.t).to.equal(first.h[4_999][0]);
    const second = subPage(held.slice(), first.t);
    expect(second.k).to.equal(first.t);
    expect(second.h).to.have.length(5_000);
    const third = subPage(held.slice(), second.t);
    expect(third.h).to.have.length(2_001);
    expect(third).to.not.have.property('t');
    expect(third.h.at(-1)).to.deep.equal(['x', 2]);
  });

  it('resyncs a collection of more than 10 000 objects after a reconnect', async function () {
    this.timeout(60_000);
    const store = new MemoryStore();
    for (let i = 0; i < 10_500; i++) await store.create({ n: i });
    const server = await startServer(undefined, { autoCollections: true });
    server.sync.collection('big', store);
    const [a, b] = [await connectClient(server), await connectClient(server)];
    const big = a.collection('big');
    await big.subscribe();
    expect(Object.keys(big.allObjects())).to.have.length(10_500);
    a.disconnect();
    await b.collection('big').destroy(7);
    await b.collection('big').save({ id: 10_400, n: 'changed' });
    const made = await b.collection('big').save({ n: 'new' });
    const errors: SyncError[] = [];
    a.on('error', (err) => errors.push(err));
    a.connect();
    await waitFor(big, 'synced');
    expect(errors).to.deep.equal([]);
    expect(big.get(7)).to.equal(undefined);
    expect(big.get(10_400)).to.deep.equal({ id: 10_400, n: 'changed' });
    expect(big.get(made.id)).to.deep.equal({ id: made.id, n: 'new' });
    expect(Object.keys(big.allObjects())).to.have.length(10_500);
  });

  it('resyncs objects with long ids: a page of held versions stays within the payload limit (break report 2, 4)', async function () {
    this.timeout(60_000);
    let n = 0;
    const store = new MemoryStore({ generateId: () => `${String(n++).padStart(6, '0')}${'i'.repeat(214)}` });
    for (let i = 0; i < 6_000; i++) await store.create({ n: i });
    const server = await startServer(undefined, { autoCollections: true });
    server.sync.collection('long', store);
    const [a, b] = [await connectClient(server), await connectClient(server)];
    const long = a.collection('long');
    await long.subscribe();
    expect(Object.keys(long.allObjects())).to.have.length(6_000);
    a.disconnect();
    const changed = await b.collection('long').save({ n: 'new' });
    const errors: SyncError[] = [];
    a.on('error', (err) => errors.push(err));
    a.connect();
    await waitFor(long, 'synced');
    expect(errors.map((e) => e.code)).to.deep.equal([]);
    expect(long.get(changed.id)).to.deep.equal({ id: changed.id, n: 'new' });
    expect(Object.keys(long.allObjects())).to.have.length(6_001);
  });

  it('splits held versions by bytes as well as by count', () => {
    const held: Array<[string, number]> = [];
    for (let i = 0; i < 3_000; i++) held.push([`${String(i).padStart(6, '0')}${'i'.repeat(250)}`, 1]);
    const first = subPage(held.slice(), undefined);
    expect(first.h.length).to.be.below(3_000);
    expect(JSON.stringify(first.h).length).to.be.at.most(HELD_BYTES_PER_PAGE + 300);
    expect(first.t).to.equal(first.h.at(-1)![0]);
  });
});
