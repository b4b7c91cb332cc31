/**
 * The handler API: the original demo server's handlers, callback and async styles, errors that go
 * to the requester only, handlers that throw, reject or never answer.
 */
import { expect } from 'chai';
import type { Handlers, StoredObject } from '../../../lib/index.js';
import { MemoryStore } from '../../../lib/index.js';
import { BACKEND, type Backend } from '../../../lib/server/backend.js';
import { StoreHandlers } from '../../../lib/server/store-handlers.js';
import { originalDemo } from '../../fixtures/original-demo.js';
import { cleanup, connectClient, startServer, waitFor, waitUntil } from '../../support/harness.js';

describe('handlers', () => {
  afterEach(cleanup);

  describe('the original demo server', () => {
    it('runs unchanged: ids from a counter, updates, invalid_id, owners destroyed on disconnect', async () => {
      const demo = originalDemo();
      const server = await startServer(demo.handlers, { sessionTimeout: 100 });
      demo.attach(server.sync);
      const a = await connectClient(server);
      const b = await connectClient(server);
      const p1 = await a.save({ x: 10, y: 20, says: "I'm new here" });
      const p2 = await b.save({ x: 0, y: 0 });
      expect([p1.id, p2.id]).to.deep.equal([1, 2]);
      expect(demo.owners[a.sid!]).to.deep.equal([1]);

      const moved = waitFor(b, 'update');
      await a.save({ id: 1, x: 20 });
      expect((await moved)[1]).to.deep.equal({ x: 20 });

      let err: any;
      await a.destroy(77).catch((e) => (err = e));
      expect(err).to.deep.include({ code: 'invalid_id' });

      const gone = waitFor(b, 'destroy');
      a.disconnect();
      expect((await gone)[0]).to.equal(1);
      expect(demo.objects[1]).to.equal(undefined);
      expect(b.get(1)).to.equal(undefined);
    });

    it('sends no event when the handler answers broadcast = false', async () => {
      const demo = originalDemo();
      const server = await startServer(demo.handlers);
      const a = await connectClient(server);
      const b = await connectClient(server);
      const p = await a.save({ x: 1 });
      let updates = 0;
      b.on('update', () => updates++);
      await a.save({ id: p.id, x: 1 });
      const real = waitFor(b, 'update');
      await a.save({ id: p.id, x: 2 });
      await real;
      expect(updates).to.equal(1);
    });
  });

  it('accepts async handlers that return their result', async () => {
    const store = new MemoryStore();
    const calls: string[] = [];
    const handlers: Handlers = {
      async create(obj, sid) {
        calls.push(`create ${typeof sid}`);
        return store.create(obj);
      },
      async update(patch) {
        calls.push('update');
        return store.update(patch);
      },
      async destroy(id) {
        calls.push('destroy');
        await store.destroy(id);
      },
      async fetch(ids) {
        calls.push('fetch');
        return store.fetch(ids);
      },
    };
    const server = await startServer(handlers);
    const a = await connectClient(server);
    const obj = await a.save({ n: 1 });
    await a.save({ id: obj.id, n: 2 });
    expect(await a.fetch(obj.id)).to.deep.equal([{ id: obj.id, n: 2 }]);
    await a.destroy(obj.id);
    expect(calls).to.deep.equal(['create string', 'update', 'fetch', 'destroy']);
  });

  it('gives the update handler the patch: id and changed properties, removed ones as undefined', async () => {
    const patches: any[] = [];
    const store = new MemoryStore();
    const server = await startServer({
      ...store.handlers(),
      update: (patch) => {
        patches.push({ ...patch });
        return store.update(patch);
      },
    });
    const a = await connectClient(server);
    const obj = await a.save({ a: 1, b: 2, c: 3 });
    await a.save({ ...obj, b: 20, c: undefined });
    expect(patches).to.have.length(1);
    expect(patches[0]).to.have.all.keys('id', 'b', 'c');
    expect(patches[0]).to.deep.include({ id: obj.id, b: 20 });
    expect(patches[0].c).to.equal(undefined);
  });

  it('sends a handler error to the requester only, and broadcasts nothing', async () => {
    const store = new MemoryStore();
    const server = await startServer({
      ...store.handlers(),
      update: (patch, _sid, cb) =>
        patch.bad
          ? cb({ code: 'forbidden', message: 'not yours' })
          : void store.update(patch).then((o) => cb(null, o), cb),
    });
    const a = await connectClient(server);
    const b = await connectClient(server);
    const errors: unknown[] = [];
    b.on('error', (e) => errors.push(e));
    a.on('error', (e) => errors.push(e));
    const obj = await a.save({ n: 1 });
    let updates = 0;
    b.on('update', () => updates++);
    const err = await new Promise<any>((resolve) => void a.save({ id: obj.id, bad: true }, resolve));
    expect(err.code).to.equal('forbidden');
    expect(err.message).to.equal('not yours');
    expect((await server.sync.fetch(obj.id))[0]).to.deep.equal({ id: obj.id, n: 1 });
    const ok = waitFor(b, 'update');
    await a.save({ id: obj.id, n: 2 });
    await ok;
    expect(updates).to.equal(1);
    expect(errors).to.deep.equal([]);
  });

  for (const [name, handler] of [
    [
      'throws',
      () => {
        throw new Error('secret /etc/passwd detail');
      },
    ],
    ['rejects', () => Promise.reject(new Error('secret stack detail'))],
    [
      'calls back with a plain Error',
      (_o: unknown, _s: unknown, cb: (e: unknown) => void) => cb(new TypeError('internal')),
    ],
  ] as const) {
    it(`answers handler_error, with no internal detail, when a handler ${name}`, async () => {
      const store = new MemoryStore();
      const server = await startServer({ ...store.handlers(), create: handler as any });
      const serverErrors: unknown[] = [];
      server.sync.on('error', (e) => serverErrors.push(e));
      const a = await connectClient(server);
      const err: any = await a.save({ n: 1 }).catch((e) => e);
      expect(err.toJSON()).to.deep.equal({
        code: 'handler_error',
        message: 'The server failed to handle the request.',
      });
      expect(serverErrors).to.have.length(1);
      // The server keeps serving.
      const b = await connectClient(server);
      expect(await b.fetch(1)).to.deep.equal([null]);
    });
  }

  it('answers timeout when a handler is slower than handlerTimeout, holds the object until it answers, and publishes its late change', async () => {
    // Regression (issue 12, 6): the timeout released the object's queue while the handler still ran.
    const store = new MemoryStore();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let slow = true;
    let running = 0;
    let overlap = 0;
    const server = await startServer(
      {
        ...store.handlers(),
        async update(patch) {
          overlap = Math.max(overlap, ++running);
          // Read-modify-write, as an increment handler does.
          const [current] = await store.fetch([patch.id]);
          if (slow) {
            slow = false;
            await gate;
          }
          const stored = await store.update({ id: patch.id, n: (current!.n as number) + 1 });
          running--;
          return stored;
        },
      },
      { handlerTimeout: 300 },
    );
    const a = await connectClient(server);
    const b = await connectClient(server);
    const obj = await a.save({ n: 0 });
    await waitUntil(b, ['create'], () => b.get(obj.id) !== undefined);
    const first = a.save({ id: obj.id, inc: 1 }).catch((e) => e);
    expect((await first).code).to.equal('timeout');
    const late = waitUntil(b, ['update'], () => b.get(obj.id)?.n === 1);
    const next = [a.save({ id: obj.id, inc: 2 }), a.save({ id: obj.id, inc: 3 })];
    release();
    await late; // the late change reaches everyone
    await Promise.all(next);
    expect(overlap).to.equal(1);
    const [stored] = await store.fetch([obj.id]);
    expect(stored).to.deep.include({ id: obj.id, n: 3 });
    await waitUntil(b, ['update'], () => b.get(obj.id)?.n === 3);
  });

  it('a create slower than handlerTimeout resolves with its object once it lands, and is created once', async () => {
    // Regression (issue 13, 8; fuzz finding M): the create failed with `timeout`, landed anyway, and
    // the app, told it failed, created it again.
    const store = new MemoryStore();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let calls = 0;
    const server = await startServer(
      {
        ...store.handlers(),
        async create(obj) {
          calls++;
          await gate;
          return store.create(obj);
        },
      },
      { handlerTimeout: 100 },
    );
    // The first answer is `timeout`; the client sends the same request again, which waits for the
    // first attempt: the handler is let go when that second create arrives.
    let creates = 0;
    const resent = new Promise<void>((resolve) =>
      server.sync.io.on('connection', (socket) =>
        socket.onAny((event: string) => {
          if (event === 'create' && ++creates === 2) resolve();
        }),
      ),
    );
    const a = await connectClient(server);
    const saved = a.save({ title: 'slow' }).catch((err: Error) => err);
    await Promise.race([resent, saved]);
    release();
    const outcome = await saved;
    expect(outcome).to.not.be.an('error');
    const obj = outcome as StoredObject;
    expect(obj).to.deep.include({ title: 'slow' });
    expect(a.get(obj.id)).to.equal(obj);
    expect(calls).to.equal(1);
    expect(await store.list()).to.deep.equal([{ id: obj.id, title: 'slow' }]);
  });

  it('refuses handlers without the four CRUD functions at once', async () => {
    const server = await startServer();
    expect(() => server.sync.collection('x', { create: () => undefined } as any)).to.throw(TypeError);
  });

  it('never runs two handler calls for one object at once, and keeps arrival order', async () => {
    const store = new MemoryStore();
    let running = 0;
    let maxRunning = 0;
    const seen: number[] = [];
    const server = await startServer({
      ...store.handlers(),
      async update(patch) {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise<void>((resolve) => setImmediate(resolve));
        seen.push(patch.n as number);
        running--;
        return store.update(patch);
      },
    });
    const a = await connectClient(server);
    const obj = await a.save({ n: 0 });
    await Promise.all([1, 2, 3, 4, 5, 6].map((n) => a.save({ id: obj.id, n })));
    expect(maxRunning).to.equal(1);
    expect(seen).to.deep.equal([1, 2, 3, 4, 5, 6]);
    expect(a.get(obj.id)!.n).to.equal(6);
  });
});

describe('stores that fail', () => {
  afterEach(cleanup);

  it('answers timeout when a store hangs, and handler_error when it throws; the server keeps serving', async () => {
    // A store whose updates wait on something outside the process (as a database's do), and may hang.
    const memory = new MemoryStore()[BACKEND]();
    let mode: 'hang' | 'throw' | 'ok' = 'hang';
    const backend: Backend = {
      create: (...args) => memory.create(...args),
      update: (...args) =>
        mode === 'hang'
          ? new Promise(() => undefined)
          : mode === 'throw'
            ? Promise.reject(new Error('disk on fire'))
            : memory.update(...args),
      destroy: (...args) => memory.destroy(...args),
      fetch: (...args) => memory.fetch(...args),
      list: (...args) => memory.list!(...args),
    };
    class Database extends StoreHandlers {
      [BACKEND](): Backend {
        return backend;
      }
    }
    const server = await startServer(new Database(), { handlerTimeout: 100 });
    const a = await connectClient(server);
    const obj = await a.save({ n: 1 });
    const other = await a.save({ n: 1 });
    expect((await a.save({ id: obj.id, n: 2 }).catch((e) => e)).code).to.equal('timeout');
    // The hanging call holds its object's queue; other objects are served.
    mode = 'throw';
    const thrown = await a.save({ id: other.id, n: 3 }).catch((e) => e);
    expect(thrown.toJSON()).to.deep.equal({
      code: 'handler_error',
      message: 'The server failed to handle the request.',
    });
    mode = 'ok';
    expect((await a.save({ id: other.id, n: 4 })).n).to.equal(4);
  });
});
