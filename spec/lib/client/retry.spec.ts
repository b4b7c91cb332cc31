/**
 * A request the server turned away before running it (`busy`, `rate_limited`) goes again by itself,
 * the same, after a growing delay; a write of one object never overtakes an earlier one of it.
 * Found by the independent review: 5 000 creates from one default client against a default server
 * left 2 318 failed with `rate_limited`.
 */
import { expect } from 'chai';
import { Outbox } from '../../../lib/client/outbox.js';
import { MemoryStore } from '../../../lib/index.js';
import { cleanup, connectClient, startServer } from '../../support/harness.js';

describe('client: requests turned away go again', () => {
  afterEach(cleanup);

  it('every create of a burst past maxRequestsPerSecond lands once', async () => {
    const store = new MemoryStore();
    const server = await startServer(store, { maxRequestsPerSecond: 50 });
    const a = await connectClient(server);
    const saved = await Promise.all(Array.from({ length: 150 }, (_, n) => a.save({ n })));
    expect(saved.map((o) => o.n)).to.deep.equal(Array.from({ length: 150 }, (_, n) => n));
    expect(store.size).to.equal(150);
  });

  it('updates of one object turned away keep their order: the last one wins', async () => {
    const store = new MemoryStore();
    const server = await startServer(store, { maxRequestsPerSecond: 20 });
    const a = await connectClient(server);
    const { id } = await a.save({ n: 0 });
    const writes = Array.from({ length: 60 }, (_, k) =>
      a.save({ id, n: k + 1 }).then(
        () => 'ok',
        (err: { code: string }) => err.code,
      ),
    );
    const outcomes = await Promise.all(writes);
    // Some may fail (a later write of the object went out before one was turned away), none is
    // applied out of order: the object ends on the last write that succeeded.
    const last = outcomes.lastIndexOf('ok') + 1;
    expect(last).to.be.greaterThan(0);
    expect(outcomes.filter((o) => o !== 'ok' && o !== 'rate_limited')).to.deep.equal([]);
    expect((await server.sync.fetch([id]))[0]!.n).to.equal(last);
  });

  it('a later write of the object waits behind one turned away; one sent already makes it fail instead', async () => {
    const sent: string[] = [];
    const acks: Array<(answer: unknown) => void> = [];
    let wanted = 0;
    let reached: () => void = () => undefined;
    const outbox = new Outbox(
      (event, payload, ack) => {
        sent.push(`${event} ${String(payload.i ?? '')}${String(payload.q)}`);
        acks.push(ack);
        if (sent.length === wanted) reached();
      },
      32,
      10_000,
      () => undefined,
      () => 20,
    );
    const sentCount = (n: number) => new Promise<void>((resolve) => ((wanted = n), (reached = resolve)));
    const settled: string[] = [];
    const push = (event: 'update' | 'create', payload: Record<string, unknown>) =>
      outbox.push({
        event,
        payload,
        settle: (a) => settled.push(`${String(payload.q)} ${JSON.stringify(a)}`),
      });
    const away = { error: { code: 'rate_limited' } };
    outbox.setReady(true);
    push('update', { i: 'x', q: 1 });
    acks[0]!(away); // turned away: waits 20 ms
    push('update', { i: 'x', q: 2 }); // waits behind it
    push('create', { q: 3 }); // another object: goes at once
    expect(sent).to.deep.equal(['update x1', 'create 3']);
    await sentCount(4);
    expect(sent).to.deep.equal(['update x1', 'create 3', 'update x1', 'update x2']);
    // Both in flight: the first turned away again would now land after the second: it fails.
    acks[2]!(away);
    expect(settled).to.deep.equal([`1 ${JSON.stringify(away)}`]);
    outbox.failAll({ error: { code: 'unavailable' } });
  });
});
