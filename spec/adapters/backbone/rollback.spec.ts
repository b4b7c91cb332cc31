import { expect } from 'chai';
import Backbone from 'backbone';
import { backboneSync, SyncedCollection } from '../../../adapters/backbone/index.js';
import { SyncError } from '../../../lib/errors.js';
import { gate, next, settled, setup, teardown } from './support.js';

const Todos = SyncedCollection.extend({ url: '/todos' });

describe('backbone sync: rollback of refused optimistic changes', () => {
  afterEach(teardown);

  it('a refused save returns the model to its last server-confirmed attributes, then the error path runs', async () => {
    const { clients, spy } = await setup(1);
    spy.refuseUpdate = (patch) => (patch.title === 'bad' ? 'forbidden' : undefined);
    const todos = new Todos([], { client: clients[0] });
    const todo = todos.create({ title: 'ok', n: 1 });
    await next(todo, 'sync');
    let atError: unknown;
    const failed = next<[Backbone.Model, SyncError, { rollback?: boolean }]>(todos, 'error');
    todo.on('error', () => (atError = todo.toJSON()));
    const rollbacks: unknown[] = [];
    todo.on('change', (_m: unknown, options: { rollback?: boolean; remote?: boolean }) =>
      rollbacks.push([options.rollback, options.remote]),
    );
    todo.save({ title: 'bad', extra: true });
    expect(todo.get('title')).to.equal('bad');
    const [model, err] = await failed;
    expect(model).to.equal(todo);
    expect(err).to.be.instanceOf(SyncError);
    expect(err.code).to.equal('forbidden');
    expect(atError).to.deep.equal({ id: 1, title: 'ok', n: 1 });
    expect(todo.toJSON()).to.deep.equal({ id: 1, title: 'ok', n: 1 });
    expect(rollbacks.slice(1)).to.deep.equal([
      [true, true],
      [true, true],
    ]);
  });

  it('keeps the newer pending saves on top when an older one is refused', async () => {
    const { clients, spy } = await setup(1);
    spy.refuseUpdate = (patch) => (patch.title === 'bad' ? 'forbidden' : undefined);
    const Todo = Backbone.Model.extend({ urlRoot: '/todos', sync: backboneSync(clients[0]) });
    const todo = new Todo({ title: 'ok', n: 1 });
    await todo.save();
    const hold = gate();
    spy.holdUpdate = (patch) => (patch.n === 2 ? hold.promise : undefined);
    const refused = settled(todo.save({ title: 'bad' }));
    // patch: a full save would name title: 'bad' too (the client does not mirror `todos` here).
    const later = todo.save({ n: 2 }, { patch: true });
    expect((await refused).ok).to.equal(false);
    expect(todo.toJSON()).to.deep.equal({ id: 1, title: 'ok', n: 2 });
    hold.open();
    await later;
    expect(todo.toJSON()).to.deep.equal({ id: 1, title: 'ok', n: 2 });
  });

  it('with wait: true nothing was shown, so nothing rolls back; the error path runs', async () => {
    const { clients, spy } = await setup(1);
    spy.refuseUpdate = () => 'forbidden';
    const Todo = Backbone.Model.extend({ urlRoot: '/todos', sync: backboneSync(clients[0]) });
    const todo = new Todo({ title: 'ok' });
    await todo.save();
    let changes = 0;
    todo.on('change', () => changes++);
    const failed = next(todo, 'error');
    todo.save({ title: 'bad' }, { wait: true });
    await failed;
    expect(changes).to.equal(0);
    expect(todo.get('title')).to.equal('ok');
  });

  it('a refused destroy puts the model back into its SyncedCollection before the error event', async () => {
    const { clients, spy } = await setup(1);
    spy.refuseDestroy = () => 'forbidden';
    const todos = new Todos([], { client: clients[0] });
    const todo = todos.create({ title: 'keep me' });
    await next(todo, 'sync');
    const failed = next<[Backbone.Model, SyncError]>(todos, 'error');
    todo.destroy();
    expect(todos.length).to.equal(0);
    const [model, err] = await failed;
    expect(model).to.equal(todo);
    expect(err.code).to.equal('forbidden');
    expect(todos.get(1)).to.equal(todo);
  });

  it('a refused destroy puts the model back as the object is now, with the changes that came meanwhile', async () => {
    // Backbone fuzz seed 4711 run 27: a change published while the model was being destroyed was not
    // applied to it (its id was doomed), and the refused destroy put it back with its old attributes.
    const { clients, spy } = await setup(1, { autoCollections: true, handlerTimeout: 100 });
    spy.refuseDestroy = () => 'forbidden';
    const todos = new Todos([], { client: clients[0] });
    const todo = todos.create({ title: 'old' });
    await next(todo, 'sync');
    // An update slower than handlerTimeout: its requester hears `timeout`, then it lands, and its
    // change is published after all, while the model is being destroyed.
    const hold = gate();
    spy.holdUpdate = () => hold.promise;
    const timedOut = next<[Backbone.Model, SyncError]>(todo, 'error');
    todo.save({ title: 'new' }, { patch: true });
    expect((await timedOut)[1].code).to.equal('timeout');
    const refused = next<[Backbone.Model, SyncError]>(todo, 'error');
    todo.destroy(); // waits on the server behind the update, which still runs
    hold.open();
    expect((await refused)[1].code).to.equal('forbidden');
    expect(todos.get(todo.id!)).to.equal(todo);
    expect(todo.get('title')).to.equal('new');
    expect(clients[0].collection('todos').get(todo.id as number)).to.deep.include({ title: 'new' });
  });

  it('a refused create leaves the model new with the error path; a save queued behind it becomes the create', async () => {
    const { clients, spy } = await setup(1);
    spy.refuseCreate = (obj) => (obj.title === 'bad' ? 'forbidden' : undefined);
    const Todo = Backbone.Model.extend({ urlRoot: '/todos', sync: backboneSync(clients[0]) });
    const todo = new Todo({ title: 'bad' });
    const first = settled(todo.save());
    const second = todo.save({ title: 'good' });
    const outcome = await first;
    expect(outcome.ok).to.equal(false);
    expect((outcome.value as SyncError).code).to.equal('forbidden');
    await second;
    expect(spy.creates).to.deep.equal([{ title: 'bad' }, { title: 'good' }]);
    expect(spy.updates).to.deep.equal([]);
    expect(spy.store.size).to.equal(1);
    expect(todo.toJSON()).to.deep.equal({ id: 1, title: 'good' });
  });
});
