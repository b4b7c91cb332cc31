/**
 * A session is bound to its first handshake's user, compared by the server option `sameUser` (break
 * report, finding 5: users were compared by JSON text, so an `authorize` answering the decoded token
 * refused the same user after a token refresh and a reconnect, and the page stayed `refused`).
 */
import { expect } from 'chai';
import { io as rawIo, type Socket } from 'socket.io-client';
import { PROTOCOL_VERSION } from '../../../lib/index.js';
import type { ObjectSync as Client } from '../../../lib/client/index.js';
import type { Handshake } from '../../../lib/socketio/server-transport.js';
import { sameUser, Sessions } from '../../../lib/server/sessions.js';
import type { Connection } from '../../../lib/transport.js';
import { cleanup, connectClient, startServer, waitFor, waitUntil } from '../../support/harness.js';

/** "jwt.verify": a token `name.issued` decodes to `{ sub: name, iat: issued }`. */
function decode(handshake: Handshake): { sub: string; iat: number } {
  const [sub, iat] = String(handshake.auth.token).split('.');
  return { sub: sub!, iat: Number(iat) };
}

/** Drops a client's connection as a network blip would (not a deliberate leave). */
function drop(client: Client): void {
  (client as unknown as { socket: Socket }).socket.io.engine.close();
}

describe('session user across a token refresh', () => {
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    await cleanup();
  });

  it('compares users by id, else sub, else JSON', () => {
    expect(sameUser('alice', 'alice')).to.equal(true);
    expect(sameUser('alice', 'bob')).to.equal(false);
    expect(sameUser({ id: 7, name: 'a' }, { id: 7, name: 'b' })).to.equal(true);
    expect(sameUser({ id: 7, sub: 'x' }, { id: 8, sub: 'x' })).to.equal(false);
    expect(sameUser({ sub: 'alice', iat: 1 }, { sub: 'alice', iat: 2 })).to.equal(true);
    expect(sameUser({ sub: 'alice', iat: 1 }, { sub: 'bob', iat: 1 })).to.equal(false);
    expect(sameUser({ id: 7 }, { sub: 7 })).to.equal(false);
    expect(sameUser({ name: 'a', roles: [1] }, { name: 'a', roles: [1] })).to.equal(true);
    expect(sameUser({ name: 'a' }, { name: 'b' })).to.equal(false);
  });

  it('accepts the same user with a refreshed token after a reconnect; another user stays refused', async () => {
    const server = await startServer(undefined, { authorize: decode });
    let issued = 0;
    let name = 'alice';
    const started = waitFor<[string]>(server.sync, 'connect');
    const page = await connectClient(server, { auth: () => ({ token: `${name}.${++issued}` }) });
    const [sid] = await started;
    await page.save({ n: 1 });
    expect(server.sync.user(sid)).to.deep.equal({ sub: 'alice', iat: 1 });

    drop(page);
    const saved = page.save({ n: 2 }); // queued while the connection is down
    await waitUntil(page, ['status'], () => page.status.state !== 'connected');
    await waitUntil(page, ['status'], () => ['connected', 'refused'].includes(page.status.state));
    expect(page.status.state, page.status.error?.code).to.equal('connected');
    await saved;
    expect(server.sync.user(sid)).to.deep.equal({ sub: 'alice', iat: 2 }); // its latest answer
    expect((await server.sync.list()).map((o) => o.n).sort()).to.deep.equal([1, 2]);

    name = 'eve'; // the same session secret with another user's token
    drop(page);
    await waitUntil(page, ['status'], () => page.status.state === 'refused');
    expect(page.status.error?.code).to.equal('unauthorized');
    expect(server.sync.user(sid)).to.deep.equal({ sub: 'alice', iat: 2 });
  });

  it('uses the sameUser option when given', async () => {
    const server = await startServer(undefined, {
      authorize: decode,
      sameUser: (a, b) => JSON.stringify(a) === JSON.stringify(b), // the old rule: every refresh is another user
    });
    let issued = 0;
    const page = await connectClient(server, { auth: () => ({ token: `alice.${++issued}` }) });
    drop(page);
    await waitUntil(page, ['status'], () => page.status.state === 'refused');
    expect(page.status.error?.code).to.equal('unauthorized');
  });

  it("keeps an ended session's secret bound to its user while its requests are remembered", async () => {
    const server = await startServer(undefined, { authorize: decode });
    let name = 'alice';
    const started = waitFor<[string]>(server.sync, 'connect');
    const page = await connectClient(server, { auth: () => ({ token: `${name}.1` }) });
    const [sid] = await started;
    await page.save({ n: 1 });
    // The client leaves on purpose: the session ends at once.
    const ended = waitFor(server.sync, 'disconnect');
    page.disconnect();
    await ended;

    name = 'eve'; // the ended session's secret with another user's token
    page.connect();
    await waitUntil(page, ['status'], () => ['connected', 'refused'].includes(page.status.state));
    expect(page.status.state).to.equal('refused');
    expect(page.status.error?.code).to.equal('unauthorized');
    expect(server.sync.user(sid)).to.equal(undefined);

    name = 'alice'; // its own user starts it again
    const again = waitFor<[string]>(server.sync, 'connect');
    page.connect();
    expect(await again).to.deep.equal([sid]);
    expect(server.sync.user(sid)).to.deep.equal({ sub: 'alice', iat: 1 });
  });

  it("forgets an ended session's user after endedMs, and past its bound", () => {
    /** Sessions remembering ended ones for `endedMs`, at most `max` of them. */
    const sessions = (endedMs: number, max: number): Sessions =>
      new Sessions(
        1_000,
        () => undefined,
        () => undefined,
        undefined,
        sameUser,
        endedMs,
        max,
      );
    /** A session of `user` that started and ended (its client left). */
    const end = (into: Sessions, sid: string, user: string): void => {
      const conn = { sid, user, id: sid } as unknown as Connection;
      into.attach(conn);
      into.detach(conn, true);
    };
    const brief = sessions(1, 2);
    end(brief, 'a', 'alice');
    expect(brief.accepts('a', 'eve')).to.equal(false);
    const at = Date.now();
    while (Date.now() < at + 2); // endedMs (1 ms) passes
    expect(brief.accepts('a', 'eve')).to.equal(true);

    const bound = sessions(60_000, 2);
    for (const sid of ['a', 'b', 'c']) end(bound, sid, 'alice');
    expect(bound.accepts('a', 'eve')).to.equal(true); // the oldest, forgotten past the bound of 2
    expect(bound.accepts('b', 'eve')).to.equal(false);
    expect(bound.accepts('c', 'eve')).to.equal(false);
  });

  it('refuses the second of two first handshakes of one secret by different users at once (break report 2, 6)', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let waiting = 0;
    const server = await startServer(undefined, {
      // Both answers come in the same turn, before either connection attaches.
      authorize: async (handshake) => {
        if (++waiting === 2) release();
        await gate;
        return { id: String(handshake.auth.user) };
      },
    });
    const secret = 'race-secret-0123456789ab';
    const handshake = (user: string): Promise<Socket> => {
      const socket = rawIo(server.url, {
        path: '/object-sync',
        transports: ['websocket'],
        reconnection: false,
        auth: { osSession: secret, osProtocol: PROTOCOL_VERSION, user },
      });
      sockets.push(socket);
      return new Promise((resolve, reject) => {
        socket.once('connect', () => resolve(socket));
        socket.once('connect_error', reject);
      });
    };
    const [alice, mallory] = await Promise.allSettled([handshake('alice'), handshake('mallory')]);
    expect(alice.status).to.equal('fulfilled');
    expect(mallory.status).to.equal('rejected');
    expect((mallory as PromiseRejectedResult).reason.data?.code).to.equal('unauthorized');
  });
});
