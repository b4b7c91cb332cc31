/**
 * Sessions across nodes: two engines in this process on one private Redis (the streams adapter), a
 * client behind a fault proxy that moves it from one node to the other. A session is one across the
 * nodes: `connect` fires once where it started, `disconnect` once where it ended.
 */
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { expect } from 'chai';
import { createClient } from 'redis';
import { ObjectSync as Client } from '../../lib/client/index.js';
import { cleanup, connectClient, startServer, waitFor, type Running } from '../support/harness.js';
import { FaultProxy } from '../support/proxy.js';
import { freePort, PrivateRedis } from './cluster-support.js';

interface Node {
  running: Running;
  events: string[];
}

describe('cluster: sessions across nodes', function () {
  this.timeout(20000);
  let redis: PrivateRedis;
  /** The fault proxy of the test, closed after it. */
  let opened: FaultProxy | undefined;
  const redisClients: Array<ReturnType<typeof createClient>> = [];

  /**
   * A node on the private Redis; `authorize` answers a user that is not serializable (a function).
   * The session timeout is far longer than a reconnect, so a node never times a moving session out
   * before the node it moved to has asked about it.
   */
  async function startNode(
    sessionTimeout = 3000,
    redisOptions: { disableOfflineQueue?: boolean } = {},
  ): Promise<Node> {
    const client = createClient({ url: redis.url, ...redisOptions });
    client.on('error', () => undefined);
    await client.connect();
    redisClients.push(client);
    const running = await startServer(undefined, {
      adapter: createAdapter(client),
      sessionTimeout,
      authorize: () => ({ name: 'ann', greet: () => 'hello' }),
    });
    const events: string[] = [];
    running.sync.on('connect', (sid) => events.push(`connect ${sid}`));
    running.sync.on('disconnect', (sid) => events.push(`disconnect ${sid}`));
    return { running, events };
  }

  /**
   * Waits until every question `node` asked the other nodes before this call was answered: the
   * answers to one node's questions come back in the order they were asked.
   */
  async function questionsAnswered(node: Node): Promise<void> {
    await node.running.sync.io.serverSideEmitWithAck('os:session', 'nobody');
  }

  beforeEach(async () => {
    redis = new PrivateRedis(await freePort());
    await redis.start();
  });

  afterEach(async () => {
    await cleanup();
    await opened?.close();
    opened = undefined;
    for (const client of redisClients.splice(0)) await client.disconnect().catch(() => undefined);
    await redis.kill();
  });

  /** Two nodes, and a client connected to the first through the proxy; resolves with its sid. */
  async function clientOnFirst(a: Node): Promise<{ client: Client; sid: string; proxy: FaultProxy }> {
    const p = (opened = await new FaultProxy(a.running.port).start());
    const started = waitFor<[string]>(a.running.sync, 'connect');
    const client = await connectClient({ url: p.url });
    const [sid] = await started;
    expect(sid).to.equal(client.sid);
    return { client, sid, proxy: p };
  }

  it('keeps the session when its client moves to another node: connect once, disconnect once', async () => {
    const a = await startNode();
    const b = await startNode();
    const { client, sid, proxy } = await clientOnFirst(a);

    proxy.retarget(b.running.port);
    const back = waitFor(client, 'connect');
    proxy.cut();
    await back;
    await questionsAnswered(b);
    // The first node let the session go to the second without ending it.
    expect(a.running.sync.user(sid)).to.equal(undefined);
    expect(b.running.sync.user(sid)).to.deep.include({ name: 'ann' });
    // socket.data stays serializable: another node can list this node's sockets.
    expect((await a.running.sync.io.fetchSockets()).length).to.equal(1);

    const ended = waitFor(b.running.sync, 'disconnect');
    client.disconnect();
    await ended;
    expect({ a: a.events, b: b.events }).to.deep.equal({ a: [`connect ${sid}`], b: [`disconnect ${sid}`] });
  });

  it('ends a session whose client is gone once, on the node it was on last, after the timeout', async () => {
    const a = await startNode(1500);
    const b = await startNode(1500);
    const { client, sid, proxy } = await clientOnFirst(a);

    proxy.retarget(b.running.port);
    const back = waitFor(client, 'connect');
    proxy.cut();
    await back;
    const ended = waitFor(b.running.sync, 'disconnect');
    await proxy.close(); // the client cannot come back
    await ended;
    await questionsAnswered(b);
    expect({ a: a.events, b: b.events }).to.deep.equal({ a: [`connect ${sid}`], b: [`disconnect ${sid}`] });
    expect(a.running.sync.user(sid)).to.equal(undefined);
    expect(b.running.sync.user(sid)).to.equal(undefined);
  });

  it('starts sessions while Redis is down (asking the other nodes fails), without crashing', async () => {
    // Without an offline queue, the adapter's question to Redis (how many nodes?) fails at once.
    const a = await startNode(3000, { disableOfflineQueue: true });
    await redis.kill();
    const started = waitFor<[string]>(a.running.sync, 'connect');
    const client = await connectClient(a.running);
    const [sid] = await started;
    expect(sid).to.equal(client.sid);
    // Redis back, so the node's clients reconnect and can be closed (a client that is still
    // reconnecting cannot be).
    await redis.start();
    await Promise.all(
      redisClients.map((c) => c.isReady || new Promise((resolve) => c.once('ready', resolve))),
    );
  });
});
