/**
 * A save never leaves out what a pending write names: that write may yet be refused (found by the
 * random run, seed 11: a refused `save({ bad: true }, { wait: true })` let the next identical save
 * send nothing, succeed, and set `bad` on the model for good).
 */
import { expect } from 'chai';
import { SyncedCollection } from '../../../adapters/backbone/index.js';
import { next, settled, setup, teardown } from './support.js';

const Todos = SyncedCollection.extend({ url: '/todos' });

describe('backbone sync: saves behind a pending save', () => {
  afterEach(teardown);

  it('a save of what a pending (later refused) save names is sent, and refused too', async () => {
    const { clients, spy } = await setup(1);
    spy.refuseUpdate = (patch) => (patch.bad === true ? 'forbidden' : undefined);
    const todos = new Todos([], { client: clients[0] });
    await todos.ready();
    const todo = todos.create({ n: 1 });
    await next(todo, 'sync');
    const first = settled(todo.save({ bad: true }, { wait: true }));
    const second = settled(todo.save({ bad: true }, { wait: true }));
    expect((await first).ok).to.equal(false);
    expect((await second).ok).to.equal(false);
    expect(spy.updates).to.deep.equal([
      { id: 1, bad: true },
      { id: 1, bad: true },
    ]);
    expect(todo.toJSON()).to.deep.equal({ id: 1, n: 1 });
  });
});
