/**
 * Issue 13 items 11 and 13: `client.status` ({ state, pending, error? }) and the `status` event; a
 * refused handshake fails later requests with the same code; an unreachable server is reported with
 * `unreachable` (not on every attempt) while the requests stay queued.
 */
import { expect } from 'chai';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { ClientStatus } from '../../../lib/client/index.js';
import type { SyncError } from '../../../lib/errors.js';
import { cleanup, newClient, startServer, stopServer, waitFor, waitUntil } from '../../support/harness.js';

/** A TCP server that accepts and at once drops every connection, counting them (failed attempts). */
async function dropEverything(): Promise<{ server: Server; port: number; attempts: () => number }> {
  let n = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    n++;
    sockets.add(socket);
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, attempts: () => n };
}

describe('client: status and connection errors', () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await cleanup();
    for (const close of closers.splice(0)) await close();
  });

  it('status tells connecting, connected, pending writes, reconnecting and offline, with a status event per change', async () => {
    const server = await startServer();
    const client = newClient(server);
    expect(client.status).to.deep.equal({ state: 'offline', pending: 0 });
    const seen: ClientStatus[] = [];
    client.on('status', (s) => seen.push(s));
    client.connect();
    await waitFor(client, 'connect');
    expect(client.status).to.deep.equal({ state: 'connected', pending: 0 });
    const saved = client.save({ n: 1 });
    expect(client.status).to.deep.equal({ state: 'connected', pending: 1 });
    await saved;
    expect(client.status.pending).to.equal(0);
    const dropped = waitFor(client, 'disconnect');
    await stopServer(server);
    await dropped;
    expect(client.status.state).to.equal('reconnecting');
    client.disconnect();
    expect(client.status.state).to.equal('offline');
    expect(seen.map((s) => `${s.state} ${s.pending}`)).to.deep.equal([
      'connecting 0',
      'connected 0',
      'connected 1',
      'connected 0',
      'reconnecting 0',
      'offline 0',
    ]);
    expect(seen.at(-1)).to.equal(client.status);
    expect(Object.isFrozen(client.status)).to.equal(true);
  });

  it('after a refused handshake the status is refused and later requests fail with the same code', async () => {
    const server = await startServer(undefined, { authorize: () => null });
    const client = newClient(server);
    const refused = waitFor<[SyncError]>(client, 'error');
    client.connect();
    expect((await refused)[0].code).to.equal('unauthorized');
    expect(client.status).to.deep.include({ state: 'refused', pending: 0 });
    expect(client.status.error?.code).to.equal('unauthorized');
    const later = await client.save({ n: 1 }).catch((err: SyncError) => err);
    expect((later as SyncError).code).to.equal('unauthorized');
    const read = await client.fetch(1).catch((err: SyncError) => err);
    expect((read as SyncError).code).to.equal('unauthorized');
  });

  it('an unreachable server: error unreachable on the 1st, 2nd, 4th... failed attempt; writes stay queued until it is there', async () => {
    const blackhole = await dropEverything();
    closers.push(() => new Promise<void>((resolve) => blackhole.server.close(() => resolve())));
    const client = newClient(
      { url: `http://127.0.0.1:${blackhole.port}` },
      { reconnectionDelay: 20, reconnectionDelayMax: 40 },
    );
    const errors: SyncError[] = [];
    client.on('error', (err) => errors.push(err));
    client.connect();
    const saved = client.save({ n: 1 });
    await waitUntil(client, ['error', 'status'], () => blackhole.attempts() >= 9 && errors.length >= 4);
    const attempts = blackhole.attempts();
    expect(errors.every((e) => e.code === 'unreachable')).to.equal(true);
    // One error per power of two: 1, 2, 4, 8 (and 16 only once 16 attempts failed).
    expect(errors.length).to.be.at.most(Math.floor(Math.log2(attempts)) + 1);
    expect(client.status).to.deep.include({ state: 'connecting', pending: 1 });
    expect(client.status.error?.code).to.equal('unreachable');
    // The server comes up where the client looks: the queued write goes out.
    await new Promise<void>((resolve) => blackhole.server.close(() => resolve()));
    closers.length = 0;
    const server = await startServer(undefined, undefined, blackhole.port);
    const obj = await saved;
    expect(obj).to.deep.include({ n: 1 });
    expect(client.status).to.deep.equal({ state: 'connected', pending: 0 });
    expect(await server.sync.fetch([obj.id])).to.deep.equal([obj]);
  });
});
