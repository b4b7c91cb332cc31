/**
 * The server's write pipeline and what it must not keep (issue 12): handler collections without
 * `list`, a bounded handler cache, copies from the server-side API, replays, transient outcomes,
 * requests that outlive their session, a session's user, shutdown, and `broadcast = false` on create.
 * Each spec names the defect it guards; each failed on the code before the pipeline.
 */
import { expect } from 'chai';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { io as rawIo, type Socket } from 'socket.io-client';
import { MemoryStore, PROTOCOL_VERSION, type Handlers } from '../../../lib/index.js';
import { fromWire, type ChangeRecord, type Id } from '../../../lib/protocol.js';
import {
  cleanup,
  connectClient,
  startServer,
  stopServer,
  waitFor,
  waitUntil,
  type Running,
} from '../../support/harness.js';

const raws: Socket[] = [];

/** A raw socket.io client with session secret `secret`; records every frame it receives. */
function raw(server: Running, secret: string, auth: Record<string, unknown> = {}) {
  const heard: string[] = [];
  const socket = rawIo(server.url, {
    path: '/object-sync',
    transports: ['websocket'],
    reconnection: false,
    auth: { osSession: secret, osProtocol: PROTOCOL_VERSION, ...auth },
  });
  raws.push(socket);
  socket.io.engine.on('packet', (p: { type: string; data?: unknown }) => {
    if (p.type === 'message') heard.push(String(p.data));
  });
  const ready = new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const hello = new Promise<{ s: string }>((resolve) => socket.once('hi', resolve));
  return { socket, heard, ready, hello };
}

function ask(socket: Socket, event: string, payload: unknown): Promise<any> {
  return socket.timeout(5000).emitWithAck(event, payload);
}

/** A store's handlers without `list`. */
function withoutList(store: MemoryStore): Handlers {
  const { create, update, destroy, fetch } = store.handlers();
  return { create, update, destroy, fetch };
}

/** Collects garbage (mocha runs without --expose-gc). */
function gc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** A raw connection subscribed to the default collection; `records` lists every change it was sent. */
async function watcher(server: Running, secret: string) {
  const { socket, ready } = raw(server, secret);
  await ready;
  const records: ChangeRecord[] = [];
  socket.on('ch', (wire: unknown[]) => {
    for (const r of wire) records.push(fromWire(r)!);
  });
  await ask(socket, 'sub', { h: [] });
  return records;
}

/**
 * A MemoryStore's handlers whose next create after `arm()` stores the object, says its id (`stored`),
 * and answers only once `release` was called: the object exists before the engine learns its id.
 */
function slowCreate(store: MemoryStore) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let made!: (id: Id) => void;
  const stored = new Promise<Id>((resolve) => (made = resolve));
  let armed = false;
  const handlers: Handlers = {
    ...store.handlers(),
    async create(obj) {
      const created = await store.create(obj);
      if (!armed) return created;
      armed = false;
      made(created.id);
      await gate;
      return (await store.fetch([created.id]))[0];
    },
  };
  const arm = (): void => {
    armed = true;
  };
  return { handlers, stored, release, arm };
}

/** The kinds and versions of the records of `id`, in the order they were sent. */
function history(records: ChangeRecord[], id: Id): Array<[string, number | undefined]> {
  return records.filter((r) => r.i === id).map((r) => [r.k, r.v]);
}

describe('the write pipeline', () => {
  afterEach(async () => {
    for (const s of raws.splice(0)) s.disconnect();
    await cleanup();
  });

  it('keeps a client’s objects across a restart of a handler collection without list (regression: the resync removed them all)', async () => {
    const store = new MemoryStore();
    const first = await startServer(withoutList(store));
    const a = await connectClient(first);
    const obj = await a.save({ n: 1 });
    const down = waitFor(a, 'disconnect');
    await stopServer(first);
    await down;
    const removed: unknown[] = [];
    a.on('destroy', (id) => removed.push(id));
    await startServer(withoutList(store), undefined, first.port);
    await waitFor(a, 'connect');
    await a.fetch(999_999); // a round trip after the resync
    expect(removed).to.deep.equal([]);
    expect(a.get(obj.id)).to.deep.equal({ id: obj.id, n: 1 });
  });

  it('leaves no ghost of an object whose destroy answered after handlerTimeout', async () => {
    const store = new MemoryStore();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const server = await startServer(
      {
        ...withoutList(store),
        async destroy(id) {
          await gate;
          return store.destroy(id);
        },
      },
      { handlerTimeout: 150 },
    );
    const a = await connectClient(server);
    const b = await connectClient(server);
    const obj = await a.save({ n: 1 });
    await waitUntil(b, ['create'], () => b.get(obj.id) !== undefined);
    expect((await a.destroy(obj.id).catch((e) => e)).code).to.equal('timeout');
    release();
    await waitUntil(b, ['destroy'], () => b.get(obj.id) === undefined); // the late removal reaches everyone
    const c = await connectClient(server);
    expect(c.allObjects()).to.deep.equal({});
    expect(await c.fetch(obj.id)).to.deep.equal([null]);
  });

  it('keeps the handler cache bounded however many objects a client reads (regression: it kept every one)', async () => {
    const server = await startServer({
      create: () => undefined,
      update: () => undefined,
      destroy: () => undefined,
      fetch: async (ids) => ids.map((id) => ({ id, pad: 'x'.repeat(100) })),
    });
    const a = await connectClient(server);
    for (let page = 0; page < 3; page++) {
      const ids = Array.from({ length: 5000 }, (_, i) => page * 5000 + i + 1);
      expect(await a.fetch(ids)).to.have.length(5000);
    }
    const backend = (server.sync as any).collections.get('').backend;
    expect(backend.cache.size).to.be.at.most(10_000);
    // Versions stay monotonic across evictions: the first object read again is newer than before.
    const [again] = await a.fetch(1);
    expect(again).to.deep.include({ id: 1 });
  });

  it('answers copies from the server-side save, fetch and list (regression: mutating them changed the store)', async () => {
    const server = await startServer();
    const saved = await server.sync.save({ n: 1 });
    saved.n = 99;
    const [fetched] = await server.sync.fetch(saved.id);
    fetched!.n = 98;
    const [listed] = await server.sync.list();
    listed!.n = 97;
    expect(await server.sync.fetch(saved.id)).to.deep.equal([{ id: saved.id, n: 1 }]);
  });

  it('answers a resend without sending ch to a connection that never subscribed (regression)', async () => {
    const server = await startServer();
    server.sync.collection('things');
    const { socket, heard, ready } = raw(server, 'raw-session-never-subscribed');
    await ready;
    const first = await ask(socket, 'create', { c: 'things', q: 1, o: { n: 1 } });
    const again = await ask(socket, 'create', { c: 'things', q: 1, o: { n: 1 } });
    expect(again).to.deep.equal(first);
    await ask(socket, 'fetch', { c: 'things', i: [first.r.i] }); // a round trip after everything
    expect(heard.filter((frame) => frame.startsWith('2["ch"'))).to.deep.equal([]);
  });

  it('answers a resend after a timeout with the write’s real outcome (regression: timeout for ever)', async () => {
    const store = new MemoryStore();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let slow = true;
    const server = await startServer(
      {
        ...store.handlers(),
        async update(patch) {
          if (slow) {
            slow = false;
            await gate;
          }
          return store.update(patch);
        },
      },
      { handlerTimeout: 150 },
    );
    const b = await connectClient(server);
    const obj = await b.save({ n: 1 });
    const { socket, ready } = raw(server, 'raw-session-resends-00');
    await ready;
    expect(await ask(socket, 'update', { q: 1, i: obj.id, s: { n: 2 }, b: 1 })).to.deep.include({
      error: { code: 'timeout', message: 'The request took too long; its outcome is unknown.' },
    });
    release();
    await waitUntil(b, ['update'], () => b.get(obj.id)?.n === 2);
    const again = await ask(socket, 'update', { q: 1, i: obj.id, s: { n: 2 }, b: 1 });
    expect(again).to.deep.equal({ r: { k: 'c', i: obj.id, v: 2, o: { id: obj.id, n: 2 } }, v: 2 });
    expect(await store.fetch([obj.id])).to.deep.equal([{ id: obj.id, n: 2 }]);
  });

  it('runs a resend again after a transient failure of its first attempt (the refusal is not kept)', async () => {
    const store = new MemoryStore();
    let failOnce = true;
    const server = await startServer({
      ...store.handlers(),
      async update(patch) {
        if (failOnce) {
          failOnce = false;
          throw new Error('database restarting');
        }
        return store.update(patch);
      },
    });
    server.sync.on('error', () => undefined);
    const obj = await server.sync.save({ n: 1 });
    const { socket, ready } = raw(server, 'raw-session-transient-1');
    await ready;
    const first = await ask(socket, 'update', { q: 1, i: obj.id, s: { n: 2 }, b: 1 });
    expect(first.error.code).to.equal('handler_error');
    const again = await ask(socket, 'update', { q: 1, i: obj.id, s: { n: 2 }, b: 1 });
    expect(again).to.deep.include({ v: 2 });
    expect(await store.fetch([obj.id])).to.deep.equal([{ id: obj.id, n: 2 }]);
  });

  it('keeps outcomes, not objects, for dedupe: 40 updates of a 200 KiB field leave no megabytes behind', async () => {
    const server = await startServer();
    const a = await connectClient(server);
    const obj = await a.save({ blob: '' });
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 40; i++) await a.save({ id: obj.id, blob: String(i % 10).repeat(200 * 1024) });
    await server.sync.save({ id: obj.id, blob: '' }); // the store no longer holds a big value either
    a.disconnect();
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    expect(grown, `heap grew by ${grown} bytes`).to.be.below(4 * 1024 * 1024);
  });

  it('creates no collection on a read with autoCollections, and at most maxAutoCollections on writes', async () => {
    const server = await startServer(undefined, { autoCollections: true, maxAutoCollections: 5 });
    const { socket, ready } = raw(server, 'raw-session-auto-names-0');
    await ready;
    const collections = (server.sync as any).collections as Map<string, unknown>;
    for (let i = 0; i < 50; i++) {
      expect(await ask(socket, 'fetch', { c: `r${i}`, i: [1] })).to.deep.equal({ r: [null] });
      expect(await ask(socket, 'list', { c: `r${i}` })).to.deep.equal({ r: [] });
    }
    expect(collections.size).to.equal(1);
    for (let i = 0; i < 5; i++)
      expect(await ask(socket, 'create', { c: `w${i}`, q: i + 1, o: {} })).to.have.key('r');
    expect((await ask(socket, 'create', { c: 'w5', q: 6, o: {} })).error.code).to.equal('unknown_collection');
    expect(collections.size).to.equal(6);
  });

  it('creates no collection on a sub, update or destroy with autoCollections; a sub gets the changes once a create makes it (regression: subs used up maxAutoCollections)', async () => {
    const server = await startServer(undefined, { autoCollections: true, maxAutoCollections: 3 });
    const a = raw(server, 'raw-session-auto-names-1');
    const b = raw(server, 'raw-session-auto-names-2');
    await Promise.all([a.ready, b.ready]);
    const collections = (server.sync as any).collections as Map<string, unknown>;
    const heard: Array<[unknown[], string]> = [];
    a.socket.on('ch', (wire: unknown[], name: string) => heard.push([wire, name]));
    // Subscribed to names no collection has: answered as empty (held ids are gone), none is created.
    for (let i = 0; i < 3; i++)
      expect(await ask(a.socket, 'sub', { c: `s${i}`, h: [[1, 2]] })).to.deep.equal({
        r: [{ k: 'd', i: 1 }],
      });
    // A connection subscribes to at most maxAutoCollections such names at once.
    expect((await ask(a.socket, 'sub', { c: 's3', h: [] })).error.code).to.equal('unknown_collection');
    expect(await ask(a.socket, 'unsub', { c: 's2' })).to.deep.equal({});
    expect(await ask(a.socket, 'sub', { c: 's3', h: [] })).to.deep.equal({ r: [] });
    for (let i = 0; i < 20; i++) {
      expect(
        (await ask(b.socket, 'update', { c: `u${i}`, q: 2 * i + 1, i: 1, s: { x: 1 } })).error.code,
      ).to.equal('not_found');
      expect((await ask(b.socket, 'destroy', { c: `u${i}`, q: 2 * i + 2, i: 1 })).error.code).to.equal(
        'not_found',
      );
    }
    expect(collections.size).to.equal(1);
    // The quota is whole for creates, and the subscriber of s0 hears its first object; s2 was left.
    for (const [at, name] of ['s0', 's2', 'new'].entries()) {
      const created = await ask(b.socket, 'create', { c: name, q: 100 + at, o: { n: name } });
      expect(created.r, JSON.stringify(created)).to.include({ k: 'c' });
    }
    expect(collections.size).to.equal(4);
    await ask(a.socket, 'fetch', { c: 's0', i: [1] }); // answered after the change was sent to a
    expect(heard.map(([wire, name]) => [name, fromWire(wire[0])!.k])).to.deep.equal([['s0', 'c']]);
  });

  it('runs a request read with its session’s disconnect before disconnect(sid) fires (regression: ghost players)', async () => {
    const store = new MemoryStore();
    const order: string[] = [];
    const server = await startServer({
      ...store.handlers(),
      async create(obj) {
        await new Promise((resolve) => setTimeout(resolve, 30));
        order.push('created');
        return store.create(obj);
      },
    });
    const ended = waitFor(server.sync, 'disconnect');
    server.sync.on('disconnect', () => order.push('disconnect'));
    const { socket, ready } = raw(server, 'raw-session-leaves-at-once');
    await ready;
    socket.emit('create', { q: 1, o: { n: 1 } }, () => undefined);
    socket.disconnect(); // the same tick: often the same read on the server
    await ended;
    expect(order).to.deep.equal(['created', 'disconnect']);
  });

  it('binds a session to the user of its first handshake (regression: each handshake switched it)', async () => {
    const server = await startServer(undefined, {
      authorize: (handshake) => (handshake.auth as { user?: string }).user ?? false,
    });
    const alice = raw(server, 'shared-session-secret-01', { user: 'alice' });
    await alice.ready;
    const sid = (await alice.hello).s;
    const eve = raw(server, 'shared-session-secret-01', { user: 'eve' });
    const err = (await eve.ready.catch((e: unknown) => e)) as { data?: unknown };
    expect(err.data).to.deep.equal({ code: 'unauthorized', message: 'The connection was not authorized.' });
    expect(server.sync.user(sid)).to.equal('alice');
  });

  it('refuses handshakes from the moment close() is called (regression: a late client was admitted)', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    const store = new MemoryStore();
    const server = await startServer({
      ...store.handlers(),
      async create(obj) {
        entered();
        await gate;
        return store.create(obj);
      },
    });
    const a = await connectClient(server);
    const running = a.save({ n: 1 }).catch(() => undefined);
    await inHandler; // close() will wait for this handler call
    const sessions: string[] = [];
    server.sync.on('connect', (sid) => sessions.push(sid));
    const closing = server.sync.close();
    const late = raw(server, 'raw-session-comes-too-late');
    const err = (await late.ready.catch((e: unknown) => e)) as { data?: unknown };
    expect(err.data).to.deep.equal({
      code: 'unavailable',
      message: 'The server is shutting down or not reachable.',
    });
    release();
    await running;
    await closing;
    expect(sessions).to.deep.equal([]);
  });

  it('publishes a handler create before a write of the id it made, sent while the handler still ran (regression: the update went first)', async () => {
    const store = new MemoryStore();
    const { handlers, stored, release, arm } = slowCreate(store);
    const server = await startServer(handlers);
    const seen = await watcher(server, 'raw-session-watches-order');
    const a = await connectClient(server);
    arm();
    const creating = a.save({ n: 1 });
    const id = await stored; // stored, not answered: a client that guesses ids can write it now
    const b = raw(server, 'raw-session-guesses-ids-0');
    await b.ready;
    const updating = ask(b.socket, 'update', { q: 1, i: id, s: { n: 2 } });
    await ask(b.socket, 'fetch', { i: ['no-such-id'] }); // the update has reached the server
    release();
    await creating;
    const updated = await updating;
    await waitUntil(a, ['update'], () => a.get(id)?.n === 2);
    await ask(b.socket, 'fetch', { i: [id] }); // a round trip after both changes
    const [[, vc], [, vu]] = history(seen, id) as Array<[string, number]>;
    expect(history(seen, id)).to.deep.equal([
      ['c', vc],
      ['u', vu],
    ]);
    expect(vu).to.be.above(vc!);
    expect(updated).to.deep.include({ v: vu });
  });

  it('holds writes of a new id until a create slower than handlerTimeout has published (its queue is not freed by the timeout)', async () => {
    const store = new MemoryStore();
    const { handlers, stored, release, arm } = slowCreate(store);
    const server = await startServer(handlers, { handlerTimeout: 400 });
    const seen = await watcher(server, 'raw-session-watches-slowly');
    const a = await connectClient(server);
    arm();
    const creating = a.save({ n: 1 }).catch((err: { code: string }) => err.code);
    const id = await stored;
    expect(await creating).to.equal('timeout');
    // Another client reads the new object (so the server has seen it exists) and destroys it.
    const b = raw(server, 'raw-session-reads-then-0');
    await b.ready;
    const [found] = (await ask(b.socket, 'fetch', { i: [id] })).r;
    expect(found[1]).to.deep.equal({ id, n: 1 });
    const destroying = ask(b.socket, 'destroy', { q: 1, i: id });
    await ask(b.socket, 'fetch', { i: ['no-such-id'] }); // the destroy has reached the server
    release();
    expect((await destroying).r).to.deep.include({ k: 'd', i: id });
    await ask(b.socket, 'fetch', { i: [id] }); // a round trip after both changes
    expect(history(seen, id).map(([k]) => k)).to.deep.equal(['c', 'd']);
    const [[, vc], [, vd]] = history(seen, id) as Array<[string, number]>;
    expect(vd).to.be.above(vc!);
  });

  it('does not hold writes of objects it has seen, or a later create made, behind a create in flight', async () => {
    const store = new MemoryStore();
    const { handlers, stored, release, arm } = slowCreate(store);
    const server = await startServer(handlers);
    const made = await server.sync.save({ n: 1 }); // made through the engine
    const old = await store.create({ n: 1 }); // made behind its back, then read by a client
    const b = await connectClient(server);
    await waitUntil(b, ['create'], () => b.get(old.id) !== undefined);
    const a = await connectClient(server);
    arm();
    const creating = a.save({ n: 9 });
    await stored;
    expect(await b.save({ id: made.id, n: 2 })).to.deep.include({ n: 2 });
    expect(await b.save({ id: old.id, n: 2 })).to.deep.include({ n: 2 });
    // An object made by a later create is not the slow create's either.
    const later = await b.save({ n: 3 });
    expect(await b.save({ id: later.id, n: 4 })).to.deep.include({ n: 4 });
    release();
    await creating;
  });

  it('sends no event for a handler create that answers broadcast = false (regression: ignored)', async () => {
    const store = new MemoryStore();
    const server = await startServer({
      ...store.handlers(),
      create(obj, _sid, cb) {
        void store.create(obj).then((stored) => cb(null, stored, obj.quiet !== true));
      },
    });
    const a = await connectClient(server);
    const b = await connectClient(server);
    const seen: unknown[] = [];
    b.on('create', (o) => seen.push(o.id));
    const quiet = await a.save({ quiet: true });
    const loud = await a.save({ quiet: false });
    await waitUntil(b, ['create'], () => seen.includes(loud.id));
    expect(seen).to.deep.equal([loud.id]);
    expect(quiet.id).to.not.equal(undefined);
  });
});
