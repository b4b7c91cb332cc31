import { expect } from 'chai';
import Backbone from 'backbone';
import { backboneSync, SyncedCollection } from '../../../adapters/backbone/index.js';
import { waitFor, waitUntil } from '../../support/harness.js';
import { gate, next, setup, teardown, until } from './support.js';

async function todos(n = 1) {
  const env = await setup(n);
  const sync = backboneSync(env.clients[0]);
  const Todo = Backbone.Model.extend({ urlRoot: '/todos', sync });
  return { ...env, sync, Todo };
}

/** Records the values an attribute takes, as `change:attr` reports them. */
function track(model: Backbone.Model, attr: string): unknown[] {
  const values: unknown[] = [];
  model.on(`change:${attr}`, (_m: unknown, value: unknown) => values.push(value));
  return values;
}

describe('backbone sync: ordering per model', () => {
  afterEach(teardown);

  it('a save issued while the create is in flight waits for it: one create, then an update', async () => {
    const { Todo, spy } = await todos();
    const todo = new Todo({ title: 'a' });
    const first = todo.save();
    const second = todo.save({ title: 'b' });
    expect(todo.isNew()).to.equal(true);
    await Promise.all([first, second]);
    expect(spy.creates).to.deep.equal([{ title: 'a' }]);
    expect(spy.updates).to.deep.equal([{ id: 1, title: 'b' }]);
    expect(spy.store.size).to.equal(1);
    expect(todo.toJSON()).to.deep.equal({ id: 1, title: 'b' });
  });

  it('a save queued behind the create sends the attributes captured at its own call', async () => {
    const { Todo, spy } = await todos();
    const hold = gate();
    spy.hold = hold.promise;
    const todo = new Todo({ n: 1 });
    const values = track(todo, 'n');
    todo.save();
    const queued = todo.save({ n: 2 }, { wait: true });
    todo.save({ n: 3 });
    hold.open();
    await queued;
    await until(todo, 'sync', () => spy.updates.length === 2 && !todo.isNew());
    expect(spy.creates).to.deep.equal([{ n: 1 }]);
    expect(spy.updates).to.deep.equal([
      { id: 1, n: 2 },
      { id: 1, n: 3 },
    ]);
    // The create's answer (n: 1) never set the model back under the pending n: 3.
    expect(values).to.deep.equal([3]);
  });

  it('a model destroyed before its create is answered leaves no orphan on the server', async () => {
    const { clients, spy } = await todos(2);
    const Todos = SyncedCollection.extend({ url: '/todos' });
    const mine = new Todos([], { client: clients[0] });
    const theirs = new Todos([], { client: clients[1] });
    await Promise.all([mine.ready(), theirs.ready()]);
    const hold = gate();
    spy.hold = hold.promise;
    const adds: unknown[] = [];
    mine.on('add', (m: unknown) => adds.push(m));
    const todo = mine.create({ title: 'short-lived' });
    expect(todo.destroy()).to.equal(false);
    expect(mine.length).to.equal(0);
    const destroyed = waitFor(clients[0].collection('todos'), 'destroy');
    hold.open();
    await destroyed;
    expect(spy.creates).to.have.length(1);
    expect(spy.destroys).to.deep.equal([1]);
    expect(spy.store.size).to.equal(0);
    expect(adds).to.deep.equal([todo]);
    expect(mine.length).to.equal(0);
    await until(theirs, 'remove', () => theirs.length === 0);
  });

  it('destroy({ wait: true }) of a model whose create is in flight leaves no orphan either', async () => {
    const { Todo, spy, clients } = await todos();
    const hold = gate();
    spy.hold = hold.promise;
    const todo = new Todo({ title: 'short-lived' });
    todo.save();
    const destroyed = next(todo, 'destroy');
    expect(todo.destroy({ wait: true })).to.equal(false);
    await destroyed;
    const deleted = waitFor(clients[0].collection('todos'), 'destroy');
    hold.open();
    await deleted;
    expect(spy.destroys).to.deep.equal([1]);
    expect(spy.store.size).to.equal(0);
  });

  it('a burst of saves on one model is answered in order', async () => {
    const { Todo, spy } = await todos();
    const todo = new Todo({ n: 0 });
    await todo.save();
    const answered: number[] = [];
    const all = [];
    for (let i = 1; i <= 10; i++) all.push(todo.save({ n: i }, { success: () => answered.push(i) }));
    await Promise.all(all);
    expect(answered).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(spy.updates.map((p) => p.n)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(spy.store.size).to.equal(1);
    expect((await spy.store.fetch([1]))[0]).to.deep.equal({ id: 1, n: 10 });
  });

  it('save(n=1) then save(n=0) ends on 0: a burst is diffed against the expected state', async () => {
    const { Todo, spy, clients } = await todos();
    const todo = new Todo({ n: 0 });
    await todo.save();
    todo.save({ n: 1 });
    await todo.save({ n: 0 });
    expect(spy.updates).to.deep.equal([
      { id: 1, n: 1 },
      { id: 1, n: 0 },
    ]);
    expect(clients[0].collection('todos').get(1)).to.deep.equal({ id: 1, n: 0 });
    expect(todo.get('n')).to.equal(0);
  });

  it('an answer to an older save does not set the model back over a newer pending change', async () => {
    const { Todo, spy } = await todos();
    const todo = new Todo({ x: 0, y: 0 });
    await todo.save();
    const hold = gate();
    spy.hold = hold.promise;
    const xs = track(todo, 'x');
    const ys = track(todo, 'y');
    todo.save({ x: 1, y: 1 });
    const last = todo.save({ x: 2 });
    hold.open();
    await last;
    expect(xs).to.deep.equal([1, 2]);
    expect(ys).to.deep.equal([1]);
    expect(todo.toJSON()).to.deep.equal({ id: 1, x: 2, y: 1 });
  });

  it("an echo of an older save does not set a SyncedCollection's model back", async () => {
    const { clients, spy } = await todos(2);
    const Todos = SyncedCollection.extend({ url: '/todos' });
    const mine = new Todos([], { client: clients[0] });
    await mine.ready();
    const todo = mine.create({ x: 0 });
    await next(todo, 'sync');
    const hold = gate();
    spy.hold = hold.promise;
    const xs = track(todo, 'x');
    todo.save({ x: 1 });
    todo.save({ x: 2 });
    let echoed = 0;
    const coll = clients[0].collection('todos');
    coll.on('update', () => echoed++);
    const echoes = waitUntil(coll, ['update'], () => echoed === 2);
    hold.open();
    await echoes;
    expect(xs).to.deep.equal([1, 2]);
    expect(todo.get('x')).to.equal(2);
  });
});
