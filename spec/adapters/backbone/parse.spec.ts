/**
 * Issue 13 item 6: every remote change (another page's, or the echo of this page's own write) goes
 * through `model.parse` on the full object, and one remote change fires one `change`.
 */
import { expect } from 'chai';
import Backbone from 'backbone';
import { SyncedCollection } from '../../../adapters/backbone/index.js';
import { next, setup, teardown, until } from './support.js';

/** Tags travel as "a,b" and live in the model as ['a', 'b']. */
const Tagged = Backbone.Model.extend({
  parse(resp: Record<string, unknown>) {
    return typeof resp.tags === 'string' ? { ...resp, tags: resp.tags.split(',') } : resp;
  },
  toJSON(this: Backbone.Model) {
    const tags = this.get('tags') as string[] | undefined;
    return tags ? { ...this.attributes, tags: tags.join(',') } : { ...this.attributes };
  },
});
const Todos = SyncedCollection.extend({ url: '/todos', model: Tagged });

/** Counts a model's `change` and `change:attr` events. */
function counted(model: Backbone.Model): Record<string, number> {
  const n: Record<string, number> = {};
  model.on('all', (event: string) => {
    if (event.startsWith('change')) n[event] = (n[event] ?? 0) + 1;
  });
  return n;
}

describe('backbone SyncedCollection: parse and one change per remote change', () => {
  afterEach(teardown);

  it("parses another page's create and update", async () => {
    const { clients } = await setup(2);
    const todos = new Todos([], { client: clients[0] });
    await todos.ready();
    const theirs = clients[1].collection('todos');
    const { id } = await theirs.save({ title: 't', tags: 'a,b' });
    await until(todos, 'add', () => todos.length === 1);
    const model = todos.get(id)!;
    expect(model.get('tags')).to.deep.equal(['a', 'b']);
    const n = counted(model);
    const changed = next(model, 'change');
    await theirs.save({ id, tags: 'c' });
    await changed;
    expect(model.get('tags')).to.deep.equal(['c']);
    expect(n).to.deep.equal({ 'change:tags': 1, change: 1 });
  });

  it('the echo of its own save sets nothing back (the parsed value is already there)', async () => {
    const { clients } = await setup(1);
    const todos = new Todos([], { client: clients[0] });
    await todos.ready();
    const model = todos.create({ title: 't', tags: ['a'] });
    await next(model, 'sync');
    const n = counted(model);
    await model.save({ tags: ['x', 'y'] });
    await clients[0].collection('todos').fetch(99); // a round trip: the echo is in
    expect(model.get('tags')).to.deep.equal(['x', 'y']);
    expect(n).to.deep.equal({ 'change:tags': 1, change: 1 });
  });

  it('a remote change that sets one attribute and removes another fires one change', async () => {
    const { clients } = await setup(2);
    const todos = new Todos([], { client: clients[0] });
    await todos.ready();
    const theirs = clients[1].collection('todos');
    const { id } = await theirs.save({ a: 1, b: 2 });
    await until(todos, 'add', () => todos.length === 1);
    const model = todos.get(id)!;
    const n = counted(model);
    const changed = next(model, 'change');
    await theirs.save({ id, a: 10, b: undefined });
    await changed;
    await clients[0].collection('todos').fetch(99);
    expect(model.get('a')).to.equal(10);
    expect(model.has('b')).to.equal(false);
    expect(n).to.deep.equal({ 'change:a': 1, 'change:b': 1, change: 1 });
  });

  it('a refused save rolls back through parse (the model holds the parsed value, not the wire one)', async () => {
    const { clients, spy } = await setup(1);
    spy.refuseUpdate = (patch) => (String(patch.tags).includes('bad') ? 'forbidden' : undefined);
    const todos = new Todos([], { client: clients[0] });
    await todos.ready();
    const model = todos.create({ title: 't', tags: ['a', 'b'] });
    await next(model, 'sync');
    const failed = next(model, 'error');
    model.save({ tags: ['bad'] }, { patch: true });
    expect(model.get('tags')).to.deep.equal(['bad']);
    await failed;
    expect(model.get('tags')).to.deep.equal(['a', 'b']);
  });
});
