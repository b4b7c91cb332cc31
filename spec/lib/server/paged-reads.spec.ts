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

/** How many ids the server's cursors keep now (the engine's own counter). */
function cursorIds(server: Running): number {
  return (server.sync as unknown as { reads: { cursors: Cursors } }).reads.cursors.size;
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
    let k: Id | undefined;
    do {
      const page = await ask(socket, 'sub', k === undefined ? { c: 'big', h: [] } : { c: 'big', h: [], k });
      k = page.k;
    } while (k !== undefined);
    expect(cursorIds(server)).to.equal(0);
    // A whole listing: the same.
    do {
      const page = await ask(socket, 'list', k === undefined ? { c: 'big' } : { c: 'big', k });
      k = page.k;
    } while (k !== undefined);
    expect(cursorIds(server)).to.equal(0);
    // A resync left after its first page: unsub ends it.
    expect((await ask(socket, 'sub', { c: 'big', h: [] })).k).to.not.equal(undefined);
    expect(cursorIds(server)).to.equal(2_500);
    await ask(socket, 'unsub', { c: 'big' });
    expect(cursorIds(server)).to.equal(0);
    // A listing left after its first page: the connection's end ends it.
    expect((await ask(socket, 'list', { c: 'big' })).k).to.not.equal(undefined);
    expect(cursorIds(server)).to.equal(2_500);
    const gone = new Promise<void>((resolve) => server.sync.once('disconnect', () => resolve()));
    socket.disconnect();
    await gone;
    expect(cursorIds(server)).to.equal(0);
  });
});

describe('Cursors', () => {
  const conn = { closed: false } as Connection;

  it('keeps at most its bound of ids, over every cursor', () => {
    const cursors = new Cursors(10);
    cursors.take(conn, 'a', [3, 1, 2]);
    expect(cursors.get(conn, 'a')).to.deep.equal([1, 2, 3]);
    cursors.take(conn, 'b', [...Array(8).keys()]);
    expect(cursors.get(conn, 'b')).to.equal(undefined);
    expect(cursors.size).to.equal(3);
    cursors.dropAll(conn);
    expect(cursors.size).to.equal(0);
  });

  it('ends a cursor left idle', async () => {
    const cursors = new Cursors(10, 1);
    cursors.take(conn, 'a', [1]);
    await new Promise<void>((resolve) => setTimeout(resolve, 20));
    expect(cursors.get(conn, 'a')).to.equal(undefined);
    expect(cursors.size).to.equal(0);
  });
});
