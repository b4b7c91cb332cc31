/**
 * Break session finding (issue 13 item 1, variation): a subscribed, connected, resynced client
 * "knows the server's state" only up to the changes still on their way to it. A save made while
 * another writer's change is in flight must not be elided against the stale copy: README promises
 * "a save made against a stale copy is never lost". Fails today: the save sends `{ id }` alone,
 * resolves with the other writer's value, and the server keeps it.
 */
import { expect } from 'chai';
import { cleanup, connectClient, startServer } from '../../support/harness.js';

describe('client: a save made while another change is on its way', () => {
  afterEach(cleanup);

  it('is not elided against the stale copy: the server ends with what the later save set', async () => {
    const server = await startServer();
    const a = await connectClient(server);
    const { id } = await a.save({ done: false });
    // The server side writes done: true; its `ch` cannot have reached `a` yet (no I/O happened
    // since: the MemoryStore answers within microtasks), so `a` still holds done: false.
    await server.sync.save({ id, done: true });
    const saved = await a.save({ id, done: false });
    expect(saved.done).to.equal(false);
    expect((await server.sync.fetch([id]))[0]).to.deep.equal({ id, done: false });
  });
});
