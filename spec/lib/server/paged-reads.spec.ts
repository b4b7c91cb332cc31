/**
 * Issue 12, review finding 4: a paged read costs its pages, not pages × the collection. Each page of a
 * resync or a listing used to list, filter (`visible`) and sort the whole collection again, so a first
 * load of n objects cost n / 1000 listings (100 000 objects: 12.9 s of server time). Now a read lists
 * once, at its first page, and its next pages read only their own ids (`lib/server/cursors.ts`).
 */
import { expect } from 'chai';
import { MemoryStore, type Handlers } from '../../../lib/index.js';
import type { Id, StoredObject } from '../../../lib/protocol.js';
import { PAGE_RECORDS } from '../../../lib/server/reads.js';
import { cleanup, connectClient, startServer, waitUntil, type Running } from '../../support/harness.js';
import type { Socket } from 'socket.io-client';
import { ask, closeRaws, connectRaw } from '../../support/raw.js';
import { Cursors } from '../../../lib/server/cursors.js';
import type { Connection } from '../../../lib/transport.js';

const N = 5_000;

/** A store's handlers that count their calls, and the ids `fetch` was asked for. */
function counted(store: MemoryStore): { handlers: Handlers; lists: number; fetched: number } {
  const counts = { lists: 0, fetched: 0 };
  const handlers: Handlers = {
    ...store.handlers(),
    list: (query, sid) => {
      counts.lists++;
      return store.list(query, sid);
    },
    fetch: (ids, sid) => {
      counts.fetched += ids.length;
      return store.fetch(ids, sid);
    },
  };
  return Object.assign(counts, { handlers });
}

async function fill(store: MemoryStore, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await store.create({ n: i });
}

/** How many bytes (estimated) the server's cursors keep now (the engine's own counter). */
function cursorBytes(server: Running): number {
  return (server.sync as unknown as { reads: { cursors: Cursors } }).reads.cursors.size;
}

/** Asks for every page of a read (`first`, then with the answer's `k`); resolves with those `k`s. */
async function readAll(socket: Socket, event: 'list' | 'sub', first: object): Promise<Id[]> {
  const cursors: Id[] = [];
  let k: Id | undefined;
  do {
    const page = await ask(socket, event, k === undefined ? first : { ...first, k });
    expect(page.error, event).to.equal(undefined);
    k = page.k;
    if (k !== undefined) cursors.push(k);
  } while (k !== undefined);
  return cursors;
}

describe('paged reads', () => {
  afterEach(async () => {
    closeRaws();
    await cleanup();
  });

  it(`a first load of ${N} objects lists the collection once, and asks visible about each object about once`, async () => {
    const store = new MemoryStore();
    await fill(store, N);
    const backend = counted(store);
    let visibleCalls = 0;
    const server = await startServer(undefined, {
      visible: () => {
        visibleCalls++;
        return true;
      },
    });
    server.sync.collection('big', backend.handlers);
    const client = await connectClient(server);
    const big = client.collection('big');
    await big.subscribe();
    expect(Object.keys(big.allObjects())).to.have.length(N);
    // It took several pages, listed once; the later pages fetched their own ids only.
    expect(backend.lists).to.equal(1);
    expect(backend.fetched).to.be.at.most(N);
    // Once per object, plus at most one more per page (the old code: N per page).
    expect(visibleCalls).to.be.at.most(N + Math.ceil(N / PAGE_RECORDS));
  });

  it('pages of large objects read about what they carry', async () => {
    const store = new MemoryStore();
    for (let i = 0; i < 1_000; i++) await store.create({ pad: 'x'.repeat(2_000) });
    const backend = counted(store);
    const server = await startServer();
    server.sync.collection('big', backend.handlers);
    const client = await connectClient(server);
    const big = client.collection('big');
    await big.subscribe();
    expect(Object.keys(big.allObjects())).to.have.length(1_000);
    // About 128 objects per page (PAGE_BYTES): each page reads a few ids past its end at most.
    expect(backend.fetched).to.be.at.most(1_100);
  });

  it(`a paged list of ${N} objects lists the collection once, every object once, in order`, async () => {
    const store = new MemoryStore();
    await fill(store, N);
    const backend = counted(store);
    const server = await startServer(undefined, { autoCollections: true });
    server.sync.collection('big', backend.handlers);
    const client = await connectClient(server);
    const found = await client.collection('big').list();
    expect(found).to.have.length(N);
    expect(new Set(found.map((obj) => obj.id)).size).to.equal(N);
    expect(backend.lists).to.equal(1);
  });

  it('objects created and removed between the pages of a resync reach the client', async () => {
    const store = new MemoryStore();
    await fill(store, N);
    const server = await startServer();
    const made: StoredObject[] = [];
    let fetches = 0;
    const handlers: Handlers = {
      ...store.handlers(),
      // Between the first and the second page: objects come and go behind the cursor's listing.
      fetch: async (ids, sid) => {
        if (ids.length > 1 && fetches++ === 0) {
          for (let i = 0; i < 20; i++) made.push(await server.sync.collection('big').save({ n: `new ${i}` }));
          for (const id of [999, 4_999, 2]) await server.sync.collection('big').destroy(id);
        }
        return store.fetch(ids, sid);
      },
    };
    server.sync.collection('big', handlers);
    const client = await connectClient(server);
    const big = client.collection('big');
    await big.subscribe();
    expect(fetches).to.be.greaterThan(0);
    // The changes made during the resync arrive as events, possibly after its last page.
    const expected = new Map<Id, StoredObject>();
    for (const obj of await store.list()) expected.set(obj.id, obj);
    await waitUntil(
      big,
      ['create', 'destroy'],
      () => Object.keys(big.allObjects()).length === expected.size && made.every((m) => big.get(m.id)),
    );
    expect(big.allObjects()).to.deep.equal(Object.fromEntries(expected));
    for (const id of [999, 4_999, 2]) expect(big.get(id)).to.equal(undefined);
  });

  it("a read's cursor ends with its last page, with unsub, and with its connection", async () => {
    const store = new MemoryStore();
    await fill(store, 2_500);
    const server = await startServer(undefined, { autoCollections: true });
    server.sync.collection('big', store);
    const socket = await connectRaw(server);
    // A whole resync: the cursor is gone with its last page.
    await readAll(socket, 'sub', { c: 'big', h: [] });
    expect(cursorBytes(server)).to.equal(0);
    // A whole listing: the same.
    await readAll(socket, 'list', { c: 'big' });
    expect(cursorBytes(server)).to.equal(0);
    // A resync left after its first page: unsub ends it.
    expect((await ask(socket, 'sub', { c: 'big', h: [] })).k).to.not.equal(undefined);
    expect(cursorBytes(server)).to.equal(2_500 * 8); // 2 500 numeric ids
    await ask(socket, 'unsub', { c: 'big' });
    expect(cursorBytes(server)).to.equal(0);
    // A listing left after its first page: the connection's end ends it.
    expect((await ask(socket, 'list', { c: 'big' })).k).to.not.equal(undefined);
    expect(cursorBytes(server)).to.equal(2_500 * 8); // 2 500 numeric ids
    const gone = new Promise<void>((resolve) => server.sync.once('disconnect', () => resolve()));
    socket.disconnect();
    await gone;
    expect(cursorBytes(server)).to.equal(0);
  });

  it('keeps one listing cursor per collection for a connection, whatever the where (break report 2, 1)', async () => {
    const store = new MemoryStore();
    await fill(store, 1_001);
    const server = await startServer(undefined, { autoCollections: true });
    server.sync.collection('big', store);
    const socket = await connectRaw(server);
    // First pages with 20 different where values of 10 KB, never a second page.
    for (let i = 0; i < 20; i++) await ask(socket, 'list', { c: 'big', w: `${i}${'w'.repeat(10_000)}` });
    expect(cursorBytes(server)).to.equal(1_001 * 8);
  });

  it("runs one connection's listings one at a time (break report 2, 2)", async () => {
    const store = new MemoryStore();
    await fill(store, 1_001);
    let running = 0;
    let most = 0;
    const handlers: Handlers = {
      ...store.handlers(),
      list: async (query, sid) => {
        most = Math.max(most, ++running);
        await new Promise<void>((resolve) => setImmediate(resolve));
        running--;
        return store.list(query, sid);
      },
    };
    const server = await startServer(undefined, { autoCollections: true });
    server.sync.collection('big', handlers);
    const socket = await connectRaw(server);
    await Promise.all([...Array(10)].map((_, i) => ask(socket, 'sub', { c: 'big', h: [], k: `z${i}` })));
    expect(most).to.equal(1);
  });

  it('never ends a page on the id of an object the session cannot see (break report 2, 8)', async () => {
    const ids: string[] = [];
    for (let n = 0; n < 200; n++) ids.push(`v${String(n).padStart(4, '0')}`);
    const secret = 'v0150-secret';
    ids.push(secret); // sorts right after v0150, whose size fills the page's bytes
    let next = 0;
    const store = new MemoryStore({ generateId: () => ids[next++]! });
    const server = await startServer(undefined, {
      autoCollections: true,
      visible: (obj) => obj.hidden !== true,
    });
    const docs = server.sync.collection('docs', store);
    for (const id of ids)
      await docs.save({ hidden: id === secret, big: id === 'v0150' ? 'x'.repeat(260_000) : 'y' });
    const socket = await connectRaw(server);
    for (const [event, first] of [
      ['list', { c: 'docs' }],
      ['sub', { c: 'docs', h: [] }],
    ] as const) {
      const seen = await readAll(socket, event, first);
      expect(seen.length, event).to.be.greaterThan(0);
      expect(seen, event).to.not.include(secret);
    }
  });
});

describe('Cursors', () => {
  const conn = (): Connection => ({ closed: false }) as Connection;
  const ids = (n: number, from = 0): number[] => [...Array(n).keys()].map((i) => i + from);

  it('keeps a read sorted, for a page of the same tag only', () => {
    const cursors = new Cursors();
    const c = conn();
    expect(cursors.take(c, 'list', 'w1', [3, 1, 2])).to.deep.equal([1, 2, 3]);
    expect(cursors.get(c, 'list', 'w1')).to.deep.equal([1, 2, 3]);
    expect(cursors.get(c, 'list', 'w2')).to.equal(undefined);
    cursors.take(c, 'list', 'w2', [5]); // another where replaces it
    expect(cursors.get(c, 'list', 'w1')).to.equal(undefined);
    expect(cursors.size).to.equal(8);
  });

  it('stays within its bytes over every cursor, dropping the least recently used', () => {
    const cursors = new Cursors(80); // 10 numeric ids
    const [a, b] = [conn(), conn()];
    cursors.take(a, 'sub', '', ids(4));
    cursors.take(b, 'sub', '', ids(4));
    cursors.get(a, 'sub', ''); // a was used last: b is the least recently used
    cursors.take(b, 'list', '', ids(4));
    expect(cursors.get(b, 'sub', '')).to.equal(undefined);
    expect(cursors.get(a, 'sub', '')).to.have.length(4);
    expect(cursors.size).to.equal(64);
    cursors.take(a, 'list', '', ids(11)); // larger than the whole budget: not kept
    expect(cursors.get(a, 'list', '')).to.equal(undefined);
    expect(cursors.size).to.be.at.most(80);
    cursors.dropAll(a);
    cursors.dropAll(b);
    expect(cursors.size).to.equal(0);
  });

  it('counts the bytes of string ids', () => {
    const cursors = new Cursors(10_000);
    cursors.take(conn(), 'sub', '', ['x'.repeat(1_000)]);
    expect(cursors.size).to.be.greaterThan(2_000);
  });

  it('keeps at most its number of cursors per connection', () => {
    const cursors = new Cursors(1_000_000, 60_000, 2);
    const c = conn();
    for (const read of ['a', 'b', 'c']) cursors.take(c, read, '', [1]);
    expect(cursors.get(c, 'a', '')).to.equal(undefined);
    expect(cursors.get(c, 'b', '')).to.deep.equal([1]);
    expect(cursors.get(c, 'c', '')).to.deep.equal([1]);
  });

  it("runs a connection's listings one at a time", async () => {
    const cursors = new Cursors();
    const [a, b] = [conn(), conn()];
    let running = 0;
    let most = 0;
    const listing = async (): Promise<void> => {
      most = Math.max(most, ++running);
      await new Promise<void>((resolve) => setImmediate(resolve));
      running--;
    };
    await Promise.all([...Array(5)].map(() => cursors.listing(a, listing)));
    expect(most).to.equal(1);
    most = 0;
    await Promise.all([cursors.listing(a, listing), cursors.listing(b, listing)]);
    expect(most).to.equal(2); // other connections' listings do not wait
  });

  it("serves other connections' I/O between one connection's queued listings", async () => {
    const cursors = new Cursors();
    const order: string[] = [];
    const queued = [...Array(3)].map(() => cursors.listing(conn(), async () => void order.push('other')));
    const a = conn();
    const all = Promise.all([...Array(3)].map(() => cursors.listing(a, async () => void order.push('list'))));
    setImmediate(() => order.push('io'));
    await Promise.all([all, ...queued]);
    expect(order.indexOf('io')).to.be.at.least(0);
    expect(order.indexOf('io')).to.be.below(order.lastIndexOf('list'));
  });

  it('ends a cursor left idle', async () => {
    const cursors = new Cursors(1_000, 1);
    const c = conn();
    cursors.take(c, 'a', '', [1]);
    await new Promise<void>((resolve) => setTimeout(resolve, 20));
    expect(cursors.get(c, 'a', '')).to.equal(undefined);
    expect(cursors.size).to.equal(0);
  });
});
