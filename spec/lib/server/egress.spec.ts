/**
 * Visibility is existence (issue 12, 1 and 2): for a session that `visible` hides an object from, the
 * object does not exist — on every path by which a record leaves the server. An attacker's raw socket
 * records every frame it receives; no frame may carry a hidden object's fields (its `secret`), and its
 * refusals must be exactly those of a missing id.
 */
import { expect } from 'chai';
import { io as rawIo, type Socket } from 'socket.io-client';
import { guardStore, MemoryStore, PROTOCOL_VERSION, type ServerOptions } from '../../../lib/index.js';
import type { StoredObject } from '../../../lib/protocol.js';
import { cleanup, connectClient, startServer, waitUntil, type Running } from '../../support/harness.js';

const raws: Socket[] = [];

/** A raw socket.io client for user `user` that records every frame it receives, acks included. */
async function attacker(server: Running, user: string): Promise<{ socket: Socket; heard: string[] }> {
  const heard: string[] = [];
  const socket = rawIo(server.url, {
    path: '/object-sync',
    transports: ['websocket'],
    reconnection: false,
    auth: { osSession: `raw-session-of-${user}-0001`, osProtocol: PROTOCOL_VERSION, user },
  });
  raws.push(socket);
  socket.io.engine.on('packet', (p: { type: string; data?: unknown }) => {
    if (p.type === 'message') heard.push(String(p.data));
  });
  await new Promise((resolve) => socket.once('connect', () => resolve(undefined)));
  return { socket, heard };
}

function ask(socket: Socket, event: string, payload: unknown): Promise<any> {
  return socket.timeout(5000).emitWithAck(event, payload);
}

/** A server whose objects are seen by their owner, or by everyone when `public`. */
async function start(options: ServerOptions = {}, store = new MemoryStore()): Promise<Running> {
  const server: Running = await startServer(store, {
    authorize: (handshake) => (handshake.auth as { user?: string }).user ?? false,
    visible: (obj: StoredObject, sid: string) => obj.public === true || obj.owner === server.sync.user(sid),
    ...options,
  });
  return server;
}

const notFound = { error: { code: 'not_found', message: 'No object has that id.' } };

describe('visibility is existence (the egress)', () => {
  afterEach(async () => {
    for (const s of raws.splice(0)) s.disconnect();
    await cleanup();
  });

  for (const coalesce of [false, true]) {
    it(`leaks nothing of a hidden object on any outbound path${coalesce ? ' (coalesced)' : ''}`, async () => {
      const server = await start({ coalesce });
      const alice = await connectClient(server, { auth: { user: 'alice' } });
      const { socket: eve, heard } = await attacker(server, 'eve');
      await ask(eve, 'sub', { h: [] });
      const hidden = await alice.save({ owner: 'alice', secret: 'S3CRET-1' });
      const missing = 987654;

      // Writes of a hidden object answer exactly as writes of a missing one, and change nothing.
      for (const [event, payload] of [
        ['update', { q: 1, i: hidden.id, s: {} }],
        ['update', { q: 2, i: hidden.id, s: { secret: 'mine' } }],
        ['destroy', { q: 3, i: hidden.id }],
      ] as const) {
        const twin = { ...payload, q: payload.q + 100, i: missing };
        expect(await ask(eve, event, payload)).to.deep.equal(notFound);
        expect(await ask(eve, event, twin)).to.deep.equal(notFound);
      }
      // A resend of one of them is refused alike (the dedupe record is a refusal, not the object).
      expect(await ask(eve, 'update', { q: 1, i: hidden.id, s: {} })).to.deep.equal(notFound);
      expect(await server.sync.fetch(hidden.id)).to.deep.equal([
        { id: hidden.id, owner: 'alice', secret: 'S3CRET-1' },
      ]);

      // Reads: null, left out, removed without a version.
      expect(await ask(eve, 'fetch', { i: [hidden.id] })).to.deep.equal({ r: [null] });
      expect(await ask(eve, 'list', {})).to.deep.equal({ r: [] });
      expect(await ask(eve, 'sub', { h: [[hidden.id, 1]] })).to.deep.equal({ r: [{ k: 'd', i: hidden.id }] });

      // Events: alice's changes of her hidden object reach eve not at all.
      await alice.save({ id: hidden.id, secret: 'S3CRET-2' });
      await alice.destroy(hidden.id);

      // A write that hides the writer's own object: the answer carries neither its fields nor its version.
      const own = (await ask(eve, 'create', { q: 10, o: { owner: 'eve', secret: 'S3CRET-3' } })).r;
      expect(own).to.deep.include({ k: 'c' });
      const handedOver = await ask(eve, 'update', { q: 11, i: own.i, s: { owner: 'alice' }, b: 1 });
      expect(handedOver).to.deep.equal({ r: { k: 'd', i: own.i }, v: 0 });
      // And a replay of the create that made it is answered from its state now: gone for eve.
      expect(await ask(eve, 'create', { q: 10, o: { owner: 'eve', secret: 'S3CRET-3' } })).to.deep.equal({
        r: { k: 'd', i: own.i },
      });
      await server.sync.save({ id: own.i, secret: 'S3CRET-4' });

      // Everything eve heard, in order, after a round trip that follows every change above.
      await ask(eve, 'fetch', { i: [missing] });
      const all = heard.join('\n');
      for (const secret of ['S3CRET-1', 'S3CRET-2', 'S3CRET-4']) expect(all).to.not.include(secret);
      // S3CRET-3 once: in the answer to eve's own create, while the object was hers.
      expect(all.split('S3CRET-3').length - 1).to.equal(1);
    });
  }

  it('answers not_found, not forbidden, through guardStore for an object visible hides', async () => {
    const store = guardStore(new MemoryStore(), {
      update: (current, _patch, sid) => {
        if (sid && current.owner !== 'nobody') throw { code: 'forbidden' };
      },
    });
    const server = await start({}, store as unknown as MemoryStore);
    const alice = await connectClient(server, { auth: { user: 'alice' } });
    const hidden = await alice.save({ owner: 'alice', secret: 'x' });
    const { socket: eve } = await attacker(server, 'eve');
    expect(await ask(eve, 'update', { q: 1, i: hidden.id, s: { a: 1 } })).to.deep.equal(notFound);
    expect(await ask(eve, 'update', { q: 2, i: 424242, s: { a: 1 } })).to.deep.equal(notFound);
  });

  it('sends a subscriber an object that becomes visible whole, and a removal when it is hidden again', async () => {
    const server = await start({ coalesce: true });
    const alice = await connectClient(server, { auth: { user: 'alice' } });
    const bob = await connectClient(server, { auth: { user: 'bob' } });
    const obj = await alice.save({ owner: 'alice', n: 1 });
    await alice.save({ id: obj.id, public: true, n: 2 });
    await waitUntil(bob, ['create'], () => bob.get(obj.id)?.n === 2);
    await alice.save({ id: obj.id, public: false });
    await waitUntil(bob, ['destroy'], () => bob.get(obj.id) === undefined);
  });
});
