import { expect } from 'chai';
import Backbone from 'backbone';
import { backboneSync, SyncedCollection } from '../../../adapters/backbone/index.js';
import { next, setup, teardown, until } from './support.js';

const Todos = SyncedCollection.extend({ url: '/todos' });

describe('backbone SyncedCollection', () => {
  afterEach(teardown);

  it('works with extend: subscribes and adds remote creates, marked remote', async () => {
    const { clients } = await setup(2);
    const todos = new Todos([], { client: clients[0] });
    expect(todos).to.be.instanceOf(Backbone.Collection);
    await todos.ready();
    const added = next(todos, 'add');
    await clients[1].collection('todos').save({ title: 'from b' });
    const [model, , options] = await added;
    expect(model.toJSON()).to.deep.equal({ id: 1, title: 'from b' });
    expect(options.remote).to.equal(true);
  });

  it('works with class X extends SyncedCollection and a url class field (read after the constructor)', async () => {
    const { clients } = await setup(2);
    class Notes extends SyncedCollection {
      override url = '/todos';
      shout(): string {
        return this.pluck('title').join('!');
      }
    }
    const notes = new Notes([], { client: clients[0] });
    await notes.ready();
    expect(clients[0].collection('todos').isSubscribed()).to.equal(true);
    const added = next(notes, 'add');
    await clients[1].collection('todos').save({ title: 'hi' });
    await added;
    expect(notes.shout()).to.equal('hi');
  });

  it('uses options.client, else the client of the latest backboneSync(client)', async () => {
    const { clients } = await setup(2);
    backboneSync(clients[0]);
    const viaOption = new Todos([], { client: clients[1] });
    await viaOption.ready();
    expect(clients[1].collection('todos').isSubscribed()).to.equal(true);
    expect(clients[0].collection('todos').isSubscribed()).to.equal(false);
    const viaLatest = new Todos();
    await viaLatest.ready();
    expect(clients[0].collection('todos').isSubscribed()).to.equal(true);
  });

  it('mirrors what the server already holds when it subscribes', async () => {
    const { server, clients } = await setup(1);
    await server.sync.collection('todos').save({ title: 'a' });
    await server.sync.collection('todos').save({ title: 'b' });
    const todos = new Todos([], { client: clients[0] });
    await todos.ready();
    expect(todos.pluck('title')).to.deep.equal(['a', 'b']);
    const again = new Todos([], { client: clients[0] });
    await again.ready();
    expect(again.pluck('title')).to.deep.equal(['a', 'b']);
  });

  it('its models sync through its client (Backbone.sync left untouched)', async () => {
    const { clients, spy } = await setup(1);
    const todos = new Todos([], { client: clients[0] });
    const todo = todos.create({ title: 'a' });
    await next(todo, 'sync');
    await todo.save({ title: 'b' });
    await todos.fetch();
    expect(spy.creates).to.deep.equal([{ title: 'a' }]);
    expect(spy.updates).to.deep.equal([{ id: 1, title: 'b' }]);
    expect(todos.toJSON()).to.deep.equal([{ id: 1, title: 'b' }]);
  });

  it('never adds a duplicate of a model this side created', async () => {
    const { clients } = await setup(1);
    const todos = new Todos([], { client: clients[0] });
    await todos.ready();
    const first = todos.create({ title: 'optimistic' });
    const second = todos.create({ title: 'waited' }, { wait: true });
    await Promise.all([next(first, 'sync'), next(second, 'sync')]);
    // A model saved on its own (urlRoot) joins the mirror as that very instance.
    const Todo = Backbone.Model.extend({ urlRoot: '/todos', sync: backboneSync(clients[0]) });
    const alone = new Todo({ title: 'alone' });
    await alone.save();
    expect(todos.pluck('title')).to.deep.equal(['optimistic', 'waited', 'alone']);
    expect(todos.get(1)).to.equal(first);
    expect(todos.get(2)).to.equal(second);
    expect(todos.get(3)).to.equal(alone);
  });

  it('remote updates set the same model; only attributes that really changed fire change:attr', async () => {
    const { clients } = await setup(2);
    const todos = new Todos([], { client: clients[0] });
    await todos.ready();
    const added = next(todos, 'add');
    await clients[1].collection('todos').save({ title: 'a', done: false, tags: ['x'] });
    const [model] = await added;
    const fired: string[] = [];
    model.on('all', (event: string, _m: unknown, _v: unknown, options: { remote?: boolean }) => {
      if (event.startsWith('change')) fired.push(`${event}${options?.remote ? ' (remote)' : ''}`);
    });
    const changed = next(model, 'change');
    await clients[1].collection('todos').save({ id: 1, title: 'b', done: false, tags: ['x'] });
    await changed;
    expect(todos.get(1)).to.equal(model);
    expect(fired).to.deep.equal(['change:title (remote)', 'change']);
    expect(model.toJSON()).to.deep.equal({ id: 1, title: 'b', done: false, tags: ['x'] });
    const removed = next(model, 'change');
    await clients[1].collection('todos').save({ id: 1, tags: undefined });
    await removed;
    expect(model.has('tags')).to.equal(false);
  });

  it("remote destroys trigger the model's destroy event: it leaves every collection, views remove themselves", async () => {
    const { clients } = await setup(2);
    const todos = new Todos([], { client: clients[0] });
    await todos.ready();
    const added = next(todos, 'add');
    await clients[1].collection('todos').save({ title: 'a' });
    const [model] = await added;
    const other = new Backbone.Collection([model]);
    // A view as Backbone wires it (no DOM here): it listens to its model and removes itself.
    const view = { ...Backbone.Events } as Backbone.Events;
    let viewRemoved = false;
    view.listenTo(model, 'destroy', () => {
      viewRemoved = true;
      view.stopListening();
    });
    const destroyed = next(model, 'destroy');
    await clients[1].collection('todos').destroy(1);
    const [, , options] = await destroyed;
    expect(options.remote).to.equal(true);
    expect(todos.length).to.equal(0);
    expect(other.length).to.equal(0);
    expect(viewRemoved).to.equal(true);
  });

  it('live add, change and destroy across two SyncedCollections on two clients', async () => {
    const { clients } = await setup(2);
    const a = new Todos([], { client: clients[0] });
    const b = new Todos([], { client: clients[1] });
    await Promise.all([a.ready(), b.ready()]);
    const echoes: string[] = [];
    // An app listener that saves local changes and leaves remote ones alone: no echo.
    b.on('change', (model: Backbone.Model, options: { remote?: boolean }) => {
      if (options.remote) echoes.push('remote');
      else model.save();
    });
    const todo = a.create({ title: 'a', done: false });
    await until(b, 'add', () => b.length === 1);
    todo.save({ done: true });
    await until(b, 'change', () => b.get(todo.id)?.get('done') === true);
    b.get(todo.id).save({ title: 'from b' });
    await until(a, 'change', () => todo.get('title') === 'from b');
    todo.destroy();
    await until(b, 'remove', () => b.length === 0);
    expect(a.length).to.equal(0);
    expect(echoes).to.deep.equal(['remote']);
  });

  it('fires error on the collection when the server refuses the subscription', async () => {
    const { clients } = await setup(1, { autoCollections: false });
    const Unknown = SyncedCollection.extend({ url: '/nowhere' });
    const unknown = new Unknown([], { client: clients[0] });
    const [collection, err] = await next(unknown, 'error');
    expect(collection).to.equal(unknown);
    expect(err.code).to.equal('unknown_collection');
  });

  it('detach() (now dispose()) stops mirroring', async () => {
    const { clients } = await setup(2);
    const todos = new Todos([], { client: clients[0] });
    const watcher = new Todos([], { client: clients[0] });
    await Promise.all([todos.ready(), watcher.ready()]);
    todos.detach();
    const added = next(watcher, 'add');
    await clients[1].collection('todos').save({ title: 'a' });
    await added;
    expect(todos.length).to.equal(0);
  });
});
