import { expect } from 'chai';
import { cleanup, connectClient, startServer, waitFor } from '../support/harness.js';

describe('smoke', () => {
  afterEach(cleanup);

  it('creates on one client and the other sees it', async () => {
    const server = await startServer();
    const a = await connectClient(server);
    const b = await connectClient(server);
    const seen = waitFor(b, 'create');
    const stored = await a.save({ name: 'x' });
    expect(stored).to.deep.equal({ name: 'x', id: 1 });
    const [obj] = await seen;
    expect(obj).to.deep.equal({ name: 'x', id: 1 });
    expect(b.get(1)).to.equal(obj);
    const upd = waitFor(b, 'update');
    await a.save({ id: 1, name: 'y' });
    const [o2, changes] = await upd;
    expect(o2).to.equal(obj);
    expect(changes).to.deep.equal({ name: 'y' });
  });
});
