/**
 * The wire: only changed properties travel (both ways), every ack-asking message gets an answer with
 * a stable code, hostile input is refused without harm, and the browser bundle is served.
 */
import { expect } from 'chai';
import { io as rawIo, type Socket } from 'socket.io-client';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryStore, ObjectSync, PROTOCOL_VERSION } from '../../lib/index.js';
import { cleanup, connectClient, startServer, waitFor, type Running } from '../support/harness.js';

/** A socket.io client that is not ours, speaking the protocol by hand. */
async function rawClient(server: Running, auth: Record<string, unknown> = {}): Promise<Socket> {
  const socket = rawIo(server.url, {
    path: '/object-sync',
    transports: ['websocket'],
    reconnection: false,
    auth: { osSession: 'raw-client-session-0001', osProtocol: PROTOCOL_VERSION, ...auth },
  });
  raws.push(socket);
  await waitFor(socket, 'connect');
  return socket;
}
const raws: Socket[] = [];

function ask(socket: Socket, event: string, ...args: unknown[]): Promise<any> {
  return socket.timeout(5000).emitWithAck(event, ...args);
}

describe('the wire', () => {
  afterEach(async () => {
    for (const s of raws.splice(0)) s.disconnect();
    await cleanup();
  });

  it('sends only the changed properties, client to server and server to clients', async () => {
    const server = await startServer();
    const inbound: string[] = [];
    server.sync.io.engine.on('connection', (raw: any) =>
      raw.on('packet', (p: any) => p.type === 'message' && inbound.push(p.data)),
    );
    const a = await connectClient(server);
    const b = await connectClient(server);
    const outbound: string[] = [];
    (b as any).socket.io.engine.on('packet', (p: any) => p.type === 'message' && outbound.push(p.data));
    const fields: Record<string, string> = {};
    for (let i = 0; i < 10; i++) fields[`f${i}`] = `value-${i}`;
    const obj = await a.save(fields);
    inbound.length = 0;
    outbound.length = 0;
    const seen = waitFor(b, 'update');
    await a.save({ ...a.get(obj.id)!, f3: 'moved' });
    await seen;
    const sent = inbound.map((d) => JSON.parse(d.replace(/^\d+/, '')));
    expect(sent).to.deep.equal([['update', { i: obj.id, b: 1, e: true, s: { f3: 'moved' }, q: 2 }]]);
    // A diff travels as `[i, v, s]` (the most frequent record: every byte counts per delivery).
    expect(outbound).to.deep.equal([`2["ch",[[${obj.id},2,{"f3":"moved"}]]]`]);
  });

  it('sends a client that did not subscribe none of the changes, also while it writes (coalesced too)', async () => {
    // A 100 ms coalescing window puts the raw client's write and b's change in one batch.
    const server = await startServer(undefined, { coalesce: 100 });
    const raw = await rawClient(server);
    const frames: unknown[] = [];
    raw.on('ch', (message: unknown) => frames.push(message));
    const b = await connectClient(server);
    const created = await ask(raw, 'create', { o: { n: 0 }, q: 1 });
    const id = created.r.i;
    // b's change and the raw client's next write, together; the answer leaves after the batch.
    const [, answer] = await Promise.all([
      b.save({ id, n: 1 }),
      ask(raw, 'update', { i: id, b: 1, s: { m: 1 }, q: 2 }),
    ]);
    expect(answer.error).to.equal(undefined);
    await b.save({ id, n: 2 });
    await ask(raw, 'fetch', { i: [id] });
    expect(frames).to.deep.equal([]);
  });

  it('greets each connection with the epoch and its session id', async () => {
    const server = await startServer();
    const socket = rawIo(server.url, {
      path: '/object-sync',
      transports: ['websocket'],
      reconnection: false,
      auth: { osSession: 'raw-client-session-0002', osProtocol: PROTOCOL_VERSION },
    });
    raws.push(socket);
    const [hello] = await waitFor(socket, 'hi');
    expect(hello).to.have.all.keys('e', 's', 'p');
    expect(hello.e).to.equal(server.sync.epoch);
    expect(hello.s).to.match(/^[A-Za-z0-9_-]{22}$/);
    expect(hello.s).not.to.contain('raw-client');
  });

  it('answers every malformed request with a stable code and stores nothing', async () => {
    const store = new MemoryStore();
    const server = await startServer(store);
    const socket = await rawClient(server);
    const deep: any = {};
    let cursor = deep;
    for (let i = 0; i < 100; i++) cursor = cursor.x = {};
    const cases: Array<[string, unknown[], string]> = [
      ['create', [{ q: 1 }], 'invalid_message'],
      ['create', [{ q: 'one', o: {} }], 'invalid_message'],
      ['create', [{ q: 1, o: [] }], 'invalid_message'],
      ['create', [{ q: 1, o: { id: 5 } }], 'invalid_message'],
      ['create', [{ q: 1, o: JSON.parse('{"__proto__": {"polluted": true}}') }], 'invalid_message'],
      ['create', [{ q: 1, o: { a: { constructor: { prototype: { polluted: true } } } } }], 'invalid_message'],
      ['create', [{ q: 1, o: deep }], 'invalid_message'],
      ['create', [{ q: 1, o: { big: 'x'.repeat(300 * 1024) } }], 'payload_too_large'],
      ['create', [{ q: 1, o: {}, extra: 1 }], 'invalid_message'],
      ['create', [{ q: 1, o: {} }, 'extra argument'], 'invalid_message'],
      ['create', [], 'invalid_message'],
      ['create', ['string'], 'invalid_message'],
      ['create', [{ c: '__proto__', q: 1, o: {} }], 'invalid_message'],
      ['update', [{ q: 1, i: { $gt: '' }, s: { a: 1 } }], 'invalid_id'],
      ['update', [{ q: 1, i: ['x'], s: { a: 1 } }], 'invalid_id'],
      ['update', [{ q: 1, i: '__proto__', s: { a: 1 } }], 'invalid_id'],
      ['update', [{ q: 1, i: 'x'.repeat(1000), s: { a: 1 } }], 'invalid_id'],
      ['update', [{ q: 1, i: -1, s: { a: 1 } }], 'invalid_id'],
      ['update', [{ q: 1, i: 1.5, s: { a: 1 } }], 'invalid_id'],
      ['update', [{ q: 1, i: 1, s: { a: 1 }, u: ['a'] }], 'invalid_message'],
      ['update', [{ q: 1, i: 1, u: ['__proto__'] }], 'invalid_message'],
      ['update', [{ q: 1, i: 1, s: { v: 1 }, b: -3 }], 'invalid_message'],
      ['destroy', [{ q: 1, i: null }], 'invalid_id'],
      ['fetch', [{ i: [] }], 'invalid_message'],
      ['fetch', [{ i: 'x' }], 'invalid_message'],
      ['fetch', [{ i: new Array(20_000).fill(1) }], 'payload_too_large'],
      ['sub', [{ h: [[1]] }], 'invalid_message'],
      ['list', [{ c: 'no-such' }], 'unknown_collection'],
      ['hello', [{}], 'unknown_event'],
      ['constructor', [{}], 'unknown_event'],
      ['__proto__', [{}], 'unknown_event'],
    ];
    for (const [event, args, code] of cases) {
      const answer = await ask(socket, event, ...args);
      expect(answer, `${event} ${JSON.stringify(args).slice(0, 80)}`).to.deep.equal({
        error: { code, message: answer.error?.message },
      });
      expect(answer.error.message).to.be.a('string');
    }
    expect(({} as any).polluted).to.equal(undefined);
    expect(store.size).to.equal(0);
    // Still serving.
    const ok = await ask(socket, 'create', { q: 2, o: { fine: true } });
    expect(ok).to.deep.equal({ r: { k: 'c', i: 1, v: 1, o: { fine: true, id: 1 } } });
  });

  it('answers an event packet that has an ack id but no data (regression: it went unanswered)', async () => {
    const server = await startServer();
    const socket = await rawClient(server);
    const answered = new Promise<any>((resolve) => ((socket as any).acks[7] = resolve));
    socket.io.engine.write('27'); // EVENT with ack id 7 and no payload at all
    expect(await answered).to.deep.equal({
      error: { code: 'unknown_event', message: 'The server does not know that event.' },
    });
  });

  it('answers busy past maxInFlight unanswered requests on one connection', async () => {
    const store = new MemoryStore();
    const server = await startServer(
      {
        ...store.handlers(),
        create: () => new Promise(() => undefined), // never answers
      },
      { maxInFlight: 2, handlerTimeout: 300 },
    );
    const socket = await rawClient(server);
    const first = ask(socket, 'create', { q: 1, o: {} });
    const second = ask(socket, 'create', { q: 2, o: {} });
    expect(await ask(socket, 'create', { q: 3, o: {} })).to.deep.equal({
      error: {
        code: 'busy',
        message: 'Too many requests are in flight (on this connection, or on the server).',
      },
    });
    expect((await first).error.code).to.equal('timeout');
    expect((await second).error.code).to.equal('timeout');
  });

  it('refuses a handshake without a session secret or with another protocol version', async () => {
    const server = await startServer();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ osSession: 'short' }, 'invalid_message'],
      [{ osSession: undefined }, 'invalid_message'],
      [{ osProtocol: 99 }, 'protocol_version'],
      [{ osProtocol: undefined }, 'protocol_version'],
    ];
    for (const [auth, code] of cases) {
      const socket = rawIo(server.url, {
        path: '/object-sync',
        transports: ['websocket'],
        reconnection: false,
        auth: { osSession: 'raw-client-session-0003', osProtocol: PROTOCOL_VERSION, ...auth },
      });
      raws.push(socket);
      const [err] = await waitFor(socket, 'connect_error');
      expect((err as any).data, JSON.stringify(auth)).to.deep.equal({
        code,
        message: (err as any).data?.message,
      });
      expect((err as any).data.message).to.be.a('string');
    }
  });

  it('serves the browser bundle at /object-sync.js and leaves other requests alone', async () => {
    // The app's own handler, there before the engine: it must get every other request.
    const http = createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(`app ${req.url}`);
    });
    const sync = ObjectSync.listen(http);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    try {
      for (const path of ['/object-sync.js', '/object-sync.js?v=2']) {
        const res = await fetch(`${url}${path}`);
        expect(res.status, path).to.equal(200);
        expect(res.headers.get('content-type'), path).to.contain('javascript');
        expect(await res.text(), path).to.contain('ObjectSync');
      }
      for (const path of [
        '/',
        '/index.html',
        '/object-sync.jsx',
        '/js/object-sync.js',
        '/other?object-sync.js',
      ]) {
        const res = await fetch(`${url}${path}`);
        expect(res.status, path).to.equal(200);
        expect(await res.text(), path).to.equal(`app ${path}`);
      }
    } finally {
      await sync.close();
    }
  });
});
