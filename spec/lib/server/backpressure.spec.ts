/**
 * A small request cannot make the server hold a large answer (issue 12, 10): listings and resyncs
 * come in pages the client asks for one by one, and a connection whose unread answers pass its byte
 * budget is dropped when the frame is queued — on long-polling too, where a client that stops polling
 * used to keep its whole buffer until the ping timeout.
 */
import { expect } from 'chai';
import { request } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { io as rawIo, type Socket } from 'socket.io-client';
import { MemoryStore, PROTOCOL_VERSION } from '../../../lib/index.js';
import { compareIds, type Id } from '../../../lib/protocol.js';
import { cleanup, startServer, type Running } from '../../support/harness.js';

const raws: Socket[] = [];

function gc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** One long-polling HTTP request to the engine; resolves with the response body. */
function poll(server: Running, method: 'GET' | 'POST', query: string, body?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: server.port, method, path: `/object-sync/?EIO=4&transport=polling${query}` },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve(text));
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.setHeader('content-type', 'text/plain;charset=UTF-8');
    req.end(body);
  });
}

async function fill(store: MemoryStore, count: number, bytes: number): Promise<void> {
  for (let i = 0; i < count; i++) await store.create({ pad: 'x'.repeat(bytes) });
}

describe('back-pressure', () => {
  afterEach(async () => {
    for (const s of raws.splice(0)) s.disconnect();
    await cleanup();
  });

  it('lists a collection in pages, each asked for, in id order, every object once', async () => {
    const store = new MemoryStore();
    await fill(store, 2500, 10);
    const server = await startServer(store);
    const socket = rawIo(server.url, {
      path: '/object-sync',
      transports: ['websocket'],
      reconnection: false,
      auth: { osSession: 'raw-session-pages-00001', osProtocol: PROTOCOL_VERSION },
    });
    raws.push(socket);
    const ids: Id[] = [];
    let k: Id | undefined;
    let pages = 0;
    do {
      const answer = await socket.timeout(5000).emitWithAck('list', k === undefined ? {} : { k });
      expect(answer.r.length).to.be.at.most(1000);
      for (const [, obj] of answer.r) ids.push(obj.id);
      k = answer.k;
      pages++;
    } while (k !== undefined);
    expect(pages).to.equal(3);
    expect(ids).to.have.length(2500);
    expect([...ids].sort(compareIds)).to.deep.equal(ids);
    expect(new Set(ids).size).to.equal(2500);
  });

  it('drops a long-polling client that stops polling once its answers pass its budget, and frees them', async () => {
    const store = new MemoryStore();
    await fill(store, 400, 50 * 1024); // a 20 MB collection
    const server = await startServer(store, { maxBufferedBytes: 1024 * 1024 });
    const gone = new Promise<string>((resolve) =>
      server.sync.io.once('connection', (socket) => socket.once('disconnect', resolve)),
    );
    gc();
    const before = process.memoryUsage().heapUsed;
    const open = await poll(server, 'GET', '');
    const sid = (JSON.parse(open.slice(1)) as { sid: string }).sid;
    const auth = JSON.stringify({ osSession: 'raw-session-never-polls-01', osProtocol: PROTOCOL_VERSION });
    await poll(server, 'POST', `&sid=${sid}`, `40${auth}`);
    await poll(server, 'GET', `&sid=${sid}`); // the namespace's connect answer and `hi`
    // 60 list requests of the whole collection in one 1 KB POST, and never another poll.
    const packets = Array.from({ length: 60 }, (_, i) => `42${i}["list",{}]`).join('\x1e');
    await poll(server, 'POST', `&sid=${sid}`, packets);
    expect(await gone).to.equal('forced close');
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    expect(grown, `heap grew by ${grown} bytes`).to.be.below(8 * 1024 * 1024);
  });
});
