/**
 * Issue 13 item 12, Backbone details: the first load is one `add` (one `update`, one `sort`); two
 * `SyncedCollection`s on one url share every model; a refused save rolls back only what it changed.
 */
import { expect } from 'chai';
import Backbone from 'backbone';
import { backboneSync, SyncedCollection } from '../../../adapters/backbone/index.js';
import { settled, setup, teardown, until } from './support.js';

describe('backbone SyncedCollection: details', () => {
  afterEach(teardown);

  it('loads what the server holds as one add: one update and one sort, not one per object', async () => {
    const { clients } = await setup(2);
    const theirs = clients[1].collection('todos');
    for (let i = 0; i < 50; i++) await theirs.save({ n: i });
    const Todos = SyncedCollection.extend({ url: '/todos', comparator: 'n' });
    const todos = new Todos([], { client: clients[0] });
    const events: Record<string, number> = {};
    todos.on('all', (event: string) => (events[event] = (events[event] ?? 0) + 1));
    await todos.ready();
    expect(todos.length).to.equal(50);
    expect(events).to.deep.equal({ add: 50, update: 1, sort: 1 });
  });

  it("two SyncedCollections on one url share the page's own models and everyone else's", async () => {
    const { clients } = await setup(2);
    const Todos = SyncedCollection.extend({ url: '/todos' });
    const one = new Todos([], { client: clients[0] });
    const two = new Todos([], { client: clients[0] });
    await Promise.all([one.ready(), two.ready()]);
    const mine = one.create({ title: 'mine' });
    await clients[1].collection('todos').save({ title: 'theirs' });
    await until(two, 'add', () => two.length === 2);
    await until(one, 'add', () => one.length === 2);
    expect(two.get(mine.id as number)).to.equal(mine);
    const theirs = one.findWhere({ title: 'theirs' })!;
    expect(two.get(theirs.id as number)).to.equal(theirs);
  });

  it('a refused save rolls back only the attributes it changed; local-only attributes stay', async () => {
    const { clients, spy } = await setup(1);
    spy.refuseUpdate = (patch) => (patch.title === 'bad' ? 'forbidden' : undefined);
    const Todo = Backbone.Model.extend({ urlRoot: '/todos', sync: backboneSync(clients[0]) });
    const todo = new Todo({ title: 'ok' });
    await todo.save();
    todo.set({ draft: 'typing...' });
    const outcome = await settled(todo.save({ title: 'bad' }, { patch: true }));
    expect(outcome.ok).to.equal(false);
    expect(todo.toJSON()).to.deep.equal({ id: 1, title: 'ok', draft: 'typing...' });
  });
});
