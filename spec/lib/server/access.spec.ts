/**
 * Access control and limits: authorize at the handshake, sessions mapped to users, visible filtering
 * of every answer and broadcast, dedupe scoped to the session, exact origins, rate limits, and slow
 * readers dropped before they cost unbounded memory.
 */
import { expect } from 'chai';
import { io as rawIo, type Socket } from 'socket.io-client';
import { MemoryStore, PROTOCOL_VERSION, type Handlers, type StoredObject } from '../../../lib/index.js';
import type { ObjectSync as Client } from '../../../lib/client/index.js';
import {
  cleanup,
  connectClient,
  newClient,
  startServer,
  waitFor,
  waitUntil,
  type Running,
} from '../../support/harness.js';
import { FaultProxy } from '../../support/proxy.js';

const raws: Socket[] = [];
function raw(server: Running, session: string, extra: Record<string, unknown> = {}): Socket {
  const socket = rawIo(server.url, {
    path: '/object-sync',
    transports: ['websocket'],
    reconnection: false,
    auth: { osSession: session, osProtocol: PROTOCOL_VERSION },
    ...extra,
  });
  raws.push(socket);
  return socket;
}

/** Handlers over a MemoryStore that count every call. */
function counted(): { handlers: Handlers; calls: { n: number } } {
  const store = new MemoryStore();
  const calls = { n: 0 };
  const h = store.handlers();
  const handlers: Handlers = {
    create: (o, sid) => (calls.n++, h.create(o, sid, () => undefined)) as any,
    update: (p, sid) => (calls.n++, h.update(p, sid, () => undefined)) as any,
    destroy: (id, sid) => (calls.n++, h.destroy(id, sid, () => undefined)) as any,
    fetch: (ids, sid) => (calls.n++, h.fetch(ids, sid, () => undefined)) as any,
    list: (q, sid) => (calls.n++, h.list!(q, sid, () => undefined)) as any,
  };
  return { handlers, calls };
}

/** The answer to an engine.io polling handshake sent with `origin` (none when undefined). */
async function handshakeStatus(
  server: Running,
  origin: string | undefined,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${server.url}/object-sync/?EIO=4&transport=polling`, {
    headers: origin ? { origin } : {},
  });
  const text = await res.text();
  return { status: res.status, body: res.status === 200 ? text : JSON.parse(text) };
}

describe('access control and limits', () => {
  let proxy: FaultProxy | undefined;
  afterEach(async () => {
    for (const s of raws.splice(0)) s.disconnect();
    await cleanup();
    await proxy?.close();
    proxy = undefined;
  });

  it('refuses an unauthorized client with unauthorized, once, and it reaches no handler', async () => {
    const { handlers, calls } = counted();
    let attempts = 0;
    const server = await startServer(handlers, {
      authorize: (handshake) => {
        attempts++;
        return handshake.auth.token === 'good' ? { name: 'ann' } : null;
      },
    });
    const bad = newClient(server, { auth: { token: 'bad' } });
    const refused = waitFor(bad, 'error');
    const pending = bad.save({ sneaky: true }).catch((e) => e);
    bad.connect();
    const [err] = await refused;
    expect(err.toJSON()).to.deep.equal({
      code: 'unauthorized',
      message: 'The connection was not authorized.',
    });
    expect((await pending).code).to.equal('unauthorized');
    expect(bad.state).to.equal('disconnected');
    expect((bad as any).socket.active).to.equal(false); // no reconnection scheduled
    const good = await connectClient(server, { auth: { token: 'good' } });
    await good.save({ fine: true });
    expect(attempts).to.equal(2);
    expect(calls.n).to.equal(2); // the good client's subscribe listing and its create only
    expect(server.sync.user(good.sid!)).to.deep.equal({ name: 'ann' });
  });

  it('filters fetch, list and every broadcast with visible, adding and removing objects as visibility changes', async () => {
    const owners = new Map<string, string>();
    const server = await startServer(undefined, {
      authorize: (handshake) => String(handshake.auth.user),
      visible: (obj, sid) => obj.public === true || obj.owner === owners.get(sid),
    });
    const ann = await connectClient(server, { auth: { user: 'ann' } });
    const bob = await connectClient(server, { auth: { user: 'bob' } });
    owners.set(ann.sid!, 'ann');
    owners.set(bob.sid!, 'bob');
    let checked = 0;
    const watch = (client: Client, user: string): void => {
      const check = (obj: StoredObject): void => {
        checked++;
        expect(obj.public === true || obj.owner === user, `${user} saw ${JSON.stringify(obj)}`).to.equal(
          true,
        );
      };
      client.on('create', check);
      client.on('update', check);
    };
    watch(ann, 'ann');
    watch(bob, 'bob');
    const secret = await ann.save({ owner: 'ann', text: 'mine' });
    const open = await ann.save({ owner: 'ann', public: true, text: 'hello' });
    await waitUntil(bob, ['create'], () => bob.get(open.id) !== undefined);
    expect(bob.get(secret.id)).to.equal(undefined);
    expect(await bob.fetch([secret.id, open.id])).to.deep.equal([null, bob.get(open.id)]);
    expect((await bob.list()).map((o) => o.id)).to.deep.equal([open.id]);
    // Hidden from bob: he loses it; shown: he gains it.
    const lost = waitFor(bob, 'destroy');
    await ann.save({ id: open.id, public: false });
    expect((await lost)[0]).to.equal(open.id);
    const gained = waitFor(bob, 'create');
    await ann.save({ id: secret.id, public: true });
    expect((await gained)[0]).to.deep.equal({ id: secret.id, owner: 'ann', text: 'mine', public: true });
    await ann.save({ id: secret.id, text: 'still public' });
    await waitUntil(bob, ['update'], () => bob.get(secret.id)?.text === 'still public');
    expect(checked).to.be.greaterThan(4);
    expect(bob.get(open.id)).to.equal(undefined);
  });

  it('applies visible to resyncs: objects made before the client came, and objects hidden while it was away', async () => {
    // A user sees public objects and their own (the user bound to the session at its handshake).
    const server: Running = await startServer(undefined, {
      authorize: (handshake) => String(handshake.auth.user),
      visible: (obj, sid) => obj.public === true || obj.owner === server.sync.user(sid),
    });
    // Every frame the server sends to bob's connections (answers and events alike).
    const toBob: string[] = [];
    server.sync.io.on('connection', (socket: any) => {
      if (socket.handshake.auth.user !== 'bob') return;
      socket.conn.on('packetCreate', (p: any) => p.type === 'message' && toBob.push(String(p.data)));
    });
    const ann = await connectClient(server, { auth: { user: 'ann' } });
    const secret = await ann.save({ owner: 'ann', text: 'ann-only-secret' });
    const open = await ann.save({ owner: 'ann', public: true, text: 'for everyone' });
    // bob comes after both exist: his first resync is all he learns of them.
    proxy = await new FaultProxy(server.port).start();
    const bob = await connectClient(proxy, { auth: { user: 'bob' } });
    // The resync answer is one frame: once it brought the open object, it brought all it had.
    await waitUntil(bob, ['create'], () => bob.get(open.id) !== undefined);
    expect({ ...bob.allObjects() }).to.deep.equal({ [open.id]: open });
    expect(bob.get(secret.id)).to.equal(undefined);
    // While bob is away, the open object is hidden from him: his resync on return removes it.
    proxy.dropDownstream();
    await ann.save({ id: open.id, public: false, text: 'hidden now' });
    const removed = waitFor(bob, 'destroy');
    proxy.cut();
    expect((await removed)[0]).to.equal(open.id);
    expect({ ...bob.allObjects() }).to.deep.equal({});
    expect(toBob.length).to.be.greaterThan(2);
    expect(toBob.filter((frame) => /ann-only-secret|hidden now/.test(frame))).to.deep.equal([]);
  });

  it('scopes dedupe records to the session: the same sequence number from two sessions is two requests', async () => {
    const store = new MemoryStore();
    const server = await startServer(store);
    const one = raw(server, 'session-one-0000000001');
    const two = raw(server, 'session-two-0000000002');
    await Promise.all([waitFor(one, 'connect'), waitFor(two, 'connect')]);
    const a1 = await one.emitWithAck('create', { q: 1, o: { who: 'one' } });
    const b1 = await two.emitWithAck('create', { q: 1, o: { who: 'two' } });
    const a1again = await one.emitWithAck('create', { q: 1, o: { who: 'one, resent' } });
    expect(a1.r.o).to.deep.equal({ id: 1, who: 'one' });
    expect(b1.r.o).to.deep.equal({ id: 2, who: 'two' });
    expect(a1again).to.deep.equal(a1);
    expect(store.size).to.equal(2);
  });

  it('refuses browsers from origins not listed in allowedOrigins', async () => {
    const server = await startServer(undefined, { allowedOrigins: ['http://good.example'] });
    // Refused by origin, at the transport, before any handshake: 403 on both transports.
    for (const transports of [['polling'], ['websocket']]) {
      const evil = raw(server, 'origin-test-000000001', {
        transports,
        extraHeaders: { origin: 'http://evil.example' },
      });
      const [err] = await waitFor<[Error & { description?: unknown }]>(evil, 'connect_error');
      expect(err.message, transports[0]).to.equal(
        `${transports[0] === 'polling' ? 'xhr poll' : 'websocket'} error`,
      );
    }
    expect(await handshakeStatus(server, 'http://evil.example')).to.deep.equal({
      status: 403,
      body: { code: 4, message: 'origin not allowed' },
    });
    expect((await handshakeStatus(server, 'http://good.example')).status).to.equal(200);
    expect((await handshakeStatus(server, undefined)).status).to.equal(200);
    const good = raw(server, 'origin-test-000000002', { extraHeaders: { origin: 'http://good.example' } });
    await waitFor(good, 'connect');
    const node = raw(server, 'origin-test-000000003');
    await waitFor(node, 'connect');
  });

  it('answers rate_limited past maxRequestsPerSecond (bursts of twice the rate)', async () => {
    const server = await startServer(undefined, { maxRequestsPerSecond: 5 });
    const socket = raw(server, 'rate-limit-test-00001');
    await waitFor(socket, 'connect');
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => socket.emitWithAck('fetch', { i: [1] })),
    );
    const codes = answers.map((a) => a.error?.code ?? 'ok');
    expect(codes.filter((c) => c === 'ok')).to.have.length(10);
    expect(codes.slice(10)).to.deep.equal(['rate_limited', 'rate_limited']);
  });

  it('drops a client that stops reading once its buffer passes maxBufferedBytes; it resyncs on return', async () => {
    const server = await startServer(undefined, { maxBufferedBytes: 256 * 1024 });
    proxy = await new FaultProxy(server.port).start();
    const writer = await connectClient(server);
    const serverSide = waitFor<[any]>(server.sync.io, 'connection');
    const slow = await connectClient(proxy);
    const [slowSocket] = await serverSide;
    const obj = await writer.save({ blob: '' });
    await waitUntil(slow, ['create'], () => slow.get(obj.id) !== undefined);
    proxy.stallDownstream();
    const gone = waitFor(slowSocket, 'disconnect');
    let dropped = false;
    void gone.then(() => (dropped = true));
    // Broadcasts flow until the server gives up on the stalled reader (kernel buffers fill first).
    for (let n = 0; !dropped && n < 4000; n++) {
      await writer.save({ id: obj.id, blob: `${n}`.padEnd(16 * 1024, 'x') });
    }
    await gone;
    proxy.resumeDownstream();
    await waitFor(slow, 'connect');
    await waitUntil(slow, ['update'], () => slow.get(obj.id)!.blob === writer.get(obj.id)!.blob);
  });
});
