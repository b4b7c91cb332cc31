/**
 * Issue 13 items 1 and 3 through Backbone: a full `model.save()` sets what it names and removes only
 * what the model unset since its last sync; a save is never lost against a stale copy.
 */
import { expect } from 'chai';
import Backbone from 'backbone';
import { backboneSync } from '../../../adapters/backbone/index.js';
import { MemoryStore } from '../../../lib/index.js';
import { connectClient, startServer } from '../../support/harness.js';
import { setup, teardown } from './support.js';

describe('backbone sync: full saves', () => {
  afterEach(teardown);

  it('a save on page A after page B changed the object is not lost (A holds a stale copy)', async () => {
    const { clients, server } = await setup(2);
    const [a, b] = clients;
    const TodoA = Backbone.Model.extend({ urlRoot: '/todos', sync: backboneSync(a) });
    const TodoB = Backbone.Model.extend({ urlRoot: '/todos', sync: backboneSync(b) });
    const made = new TodoA({ title: 't', done: false });
    await made.save();
    const onA = new TodoA({ id: made.id });
    await onA.fetch();
    const onB = new TodoB({ id: made.id });
    await onB.fetch();
    await onB.save({ done: true });
    await onA.save({ done: false });
    expect(await server.sync.collection('todos').fetch([made.id as number])).to.deep.equal([
      { id: made.id, title: 't', done: false },
    ]);
  });

  it('keeps server fields that toJSON leaves out, and fields added since the last sync', async () => {
    const store = new MemoryStore();
    const server = await startServer(undefined, { autoCollections: true });
    server.sync.collection('todos', {
      ...store.handlers(),
      create: (obj) => store.create({ ...obj, createdAt: 'then', ownerId: 7 }),
    });
    const [a, b] = [await connectClient(server), await connectClient(server)];
    const Todo = Backbone.Model.extend({
      urlRoot: '/todos',
      sync: backboneSync(a),
      toJSON(this: Backbone.Model) {
        const { createdAt: _c, ownerId: _o, ...rest } = this.attributes;
        return rest;
      },
    });
    const todo = new Todo({ title: 'a', tag: 'x' });
    await todo.save();
    expect(todo.get('createdAt')).to.equal('then');
    await b.collection('todos').save({ id: todo.id as number, note: 'from b' });
    todo.unset('tag');
    await todo.save({ title: 'b' });
    expect(await server.sync.collection('todos').fetch([todo.id as number])).to.deep.equal([
      { id: todo.id, title: 'b', createdAt: 'then', ownerId: 7, note: 'from b' },
    ]);
  });
});
