import { expect } from 'chai';
import Backbone from 'backbone';
import { backboneSync, SyncedCollection } from '../../../adapters/backbone/index.js';
import { SyncError } from '../../../lib/errors.js';
import { gate, next, settled, setup, teardown } from './support.js';

/** A `todos` model class and collection class syncing through a client. */
async function todos(n = 1) {
  const env = await setup(n);
  const sync = backboneSync(env.clients[0]);
  const Todo = Backbone.Model.extend({ urlRoot: '/todos', sync });
  const Todos = Backbone.Collection.extend({ url: '/todos', model: Todo, sync });
  return { ...env, sync, Todo, Todos };
}

describe('backbone sync: the Backbone.sync contract', () => {
  afterEach(teardown);

  it('create sends the attributes and calls success once with a plain copy of the stored object', async () => {
    const { Todo, spy, clients } = await todos();
    const todo = new Todo({ title: 'The Tempest', author: 'Bill Shakespeare', length: 123 });
    const responses: unknown[] = [];
    await todo.save(null, { success: (_m: unknown, resp: unknown) => responses.push(resp) });
    expect(spy.creates).to.deep.equal([{ title: 'The Tempest', author: 'Bill Shakespeare', length: 123 }]);
    expect(responses).to.deep.equal([
      { id: 1, title: 'The Tempest', author: 'Bill Shakespeare', length: 123 },
    ]);
    expect(responses[0]).to.not.equal(clients[0].collection('todos').get(1));
    expect(todo.id).to.equal(1);
  });

  it('read on a model fetches it by id; an unknown id fails with not_found', async () => {
    const { Todo } = await todos();
    await new Todo({ title: 'x' }).save();
    const copy = new Todo({ id: 1 });
    await copy.fetch();
    expect(copy.toJSON()).to.deep.equal({ id: 1, title: 'x' });
    const missing = new Todo({ id: 99 });
    const failed = next<[unknown, SyncError]>(missing, 'error');
    const outcome = await settled(missing.fetch());
    expect(outcome.ok).to.equal(false);
    const [, err] = await failed;
    expect(err).to.be.instanceOf(SyncError);
    expect(err.code).to.equal('not_found');
  });

  it('read on a collection lists it, options.data being the list query', async () => {
    const { Todo, Todos, spy } = await todos();
    await new Todo({ title: 'a' }).save();
    await new Todo({ title: 'b' }).save();
    const list = new Todos();
    await list.fetch({ data: { a: 'a', one: 1 } });
    expect(list.pluck('title')).to.deep.equal(['a', 'b']);
    expect(spy.lists).to.deep.equal([{ a: 'a', one: 1 }]);
  });

  it('update of a mirrored collection sends only what changed; attributes the model unset are removed', async () => {
    const { spy, clients } = await todos();
    const list = new SyncedCollection([], { client: clients[0] });
    list.url = '/todos';
    await list.ready();
    const todo = list.create({ title: 'a', done: false, tag: 'x' });
    await next(todo, 'sync');
    todo.unset('tag');
    await todo.save({ done: true });
    expect(spy.updates).to.have.length(1);
    expect(spy.updates[0]).to.have.all.keys('id', 'done', 'tag');
    expect(spy.updates[0]).to.deep.include({ id: 1, done: true, tag: undefined });
    expect(clients[0].collection('todos').get(1)).to.deep.equal({ id: 1, title: 'a', done: true });
  });

  it('update of a collection the client does not mirror sends every attribute (its copy may be stale)', async () => {
    const { Todo, spy, clients } = await todos();
    const todo = new Todo({ title: 'a', done: false, tag: 'x' });
    await todo.save();
    todo.unset('tag');
    await todo.save({ done: true });
    expect(spy.updates).to.deep.equal([{ id: 1, title: 'a', done: true, tag: undefined }]);
    expect(clients[0].collection('todos').get(1)).to.deep.equal({ id: 1, title: 'a', done: true });
  });

  it('patch: true sends only the given attributes (asserted at the update handler)', async () => {
    const { Todo, spy } = await todos();
    const todo = new Todo({ title: 'a', done: false, notes: 'long text' });
    await todo.save();
    todo.set({ notes: 'changed locally, not saved' });
    await todo.save({ done: true }, { patch: true });
    expect(spy.updates).to.deep.equal([{ id: 1, done: true }]);
    expect(Object.keys(spy.updates[0])).to.deep.equal(['id', 'done']);
  });

  it('options.attrs wins over the model attributes', async () => {
    const { Todo, spy } = await todos();
    const todo = new Todo({ title: 'a', done: false });
    await todo.save();
    await todo.save(null, { attrs: { title: 'from attrs' } });
    expect(spy.updates).to.deep.equal([{ id: 1, title: 'from attrs' }]);
  });

  it('wait: true swaps the attributes in only during the call and sets them on success', async () => {
    const { Todo, spy } = await todos();
    const todo = new Todo({ title: 'a' });
    await todo.save();
    const xhr = todo.save({ title: 'b' }, { wait: true });
    expect(todo.get('title')).to.equal('a');
    await xhr;
    expect(spy.updates).to.deep.equal([{ id: 1, title: 'b' }]);
    expect(todo.get('title')).to.equal('b');
  });

  it('calls options.error once with the SyncError, and Backbone fires error', async () => {
    const { Todo, spy } = await todos();
    spy.refuseUpdate = () => 'forbidden';
    const todo = new Todo({ title: 'a' });
    await todo.save();
    const errors: unknown[] = [];
    const events: unknown[] = [];
    todo.on('error', (_m: unknown, err: unknown) => events.push(err));
    const outcome = await settled(
      todo.save({ title: 'b' }, { error: (_m: unknown, err: unknown) => errors.push(err) }),
    );
    expect(outcome.ok).to.equal(false);
    expect(errors).to.have.length(1);
    expect(errors[0]).to.be.instanceOf(SyncError);
    expect(errors[0]).to.deep.include({ code: 'forbidden' });
    expect(events).to.deep.equal(errors);
    expect(outcome.value).to.equal(errors[0]);
  });

  it('keeps and passes the same options object, and stores the thenable as options.xhr', async () => {
    const { Todo, sync } = await todos();
    const todo = new Todo({ title: 'a' });
    const seen: unknown[] = [];
    const options: Record<string, any> = { success: (resp: unknown) => seen.push(resp) };
    todo.on('request', (_m: unknown, _x: unknown, opts: unknown) => seen.push(opts));
    const xhr = sync('create', todo, options);
    expect(options.xhr).to.equal(xhr);
    await xhr;
    expect(seen).to.deep.equal([options, { id: 1, title: 'a' }]);
    // Through Backbone: the options `request` gets are the ones `sync` and the callbacks get.
    const [requestOptions, syncOptions] = await Promise.all([
      next(todo, 'request').then((args) => args[2]),
      next(todo, 'sync').then((args) => args[2]),
      todo.save({ title: 'b' }),
    ]);
    expect(requestOptions).to.equal(syncOptions);
  });

  it('triggers request (model, xhr, options) once per request, then Backbone fires sync', async () => {
    const { Todo, Todos } = await todos();
    const todo = new Todo({ title: 'a' });
    const events: string[] = [];
    let xhrSeen: unknown;
    todo.on('request', (_m: unknown, xhr: unknown) => {
      events.push('request');
      xhrSeen = xhr;
    });
    todo.on('sync', () => events.push('sync'));
    const xhr = todo.save();
    expect(xhrSeen).to.equal(xhr);
    await xhr;
    await todo.save({ title: 'b' });
    await todo.fetch();
    expect(events).to.deep.equal(['request', 'sync', 'request', 'sync', 'request', 'sync']);
    const list = new Todos();
    const listed = next(list, 'request');
    await list.fetch();
    expect((await listed)[0]).to.equal(list);
  });

  it('returns a Promise settled after the callbacks', async () => {
    const { Todo } = await todos();
    const order: string[] = [];
    const todo = new Todo({ title: 'a' });
    todo.on('sync', () => order.push('sync event'));
    const xhr = todo.save(null, { success: () => order.push('success') });
    expect(xhr).to.be.instanceOf(Promise);
    await xhr.then(() => order.push('then'));
    expect(order).to.deep.equal(['success', 'sync event', 'then']);
  });

  it('returns a jQuery Deferred promise when Backbone.$ has Deferred', async () => {
    const { Todo } = await todos();
    const saved = (Backbone as any).$;
    const made: any[] = [];
    (Backbone as any).$ = { Deferred: () => fakeDeferred(made) };
    try {
      const xhr = new Todo({ title: 'a' }).save();
      expect(made).to.have.length(1);
      expect(xhr).to.equal(made[0].promise());
      expect(await xhr).to.deep.equal({ id: 1, title: 'a' });
    } finally {
      (Backbone as any).$ = saved;
    }
  });

  it('never surfaces the thenable as an unhandled rejection', async () => {
    const { Todo, spy } = await todos();
    spy.refuseCreate = () => 'forbidden';
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): number => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const todo = new Todo({ title: 'a' });
      const failed = next(todo, 'error');
      todo.save();
      await failed;
      // unhandledRejection is raised once the microtasks after a rejection have run.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).to.deep.equal([]);
  });

  it('accepts undefined options (Backbone #1052)', async () => {
    const { Todo, sync, spy } = await todos();
    const todo = new Todo({ title: 'a' });
    expect(await sync('create', todo)).to.deep.equal({ id: 1, title: 'a' });
    expect(spy.creates).to.have.length(1);
  });

  it('delete destroys the object and calls success once; the model leaves its collection', async () => {
    const { Todo, Todos, spy } = await todos();
    const list = new Todos();
    const todo = list.add(new Todo({ title: 'a' }));
    await todo.save();
    let successes = 0;
    await todo.destroy({ success: () => successes++ });
    expect(spy.destroys).to.deep.equal([1]);
    expect(successes).to.equal(1);
    expect(list.length).to.equal(0);
  });

  it('destroying a never-saved model sends nothing (Backbone returns false)', async () => {
    const { Todo, spy } = await todos();
    const todo = new Todo({ title: 'a' });
    const succeeded = next(todo, 'destroy');
    expect(todo.destroy()).to.equal(false);
    await succeeded;
    await new Todo({ title: 'b' }).save();
    expect(spy.destroys).to.deep.equal([]);
    expect(spy.creates).to.deep.equal([{ title: 'b' }]);
  });

  it('lets Backbone parse the raw response (parse is given the raw server object)', async () => {
    const env = await setup(1);
    const raw: unknown[] = [];
    const Todo = Backbone.Model.extend({
      urlRoot: '/todos',
      sync: backboneSync(env.clients[0]),
      parse(resp: Record<string, unknown>) {
        raw.push(resp);
        return { ...resp, parsed: true };
      },
    });
    const todo = new Todo({ title: 'a' });
    await todo.save();
    expect(raw).to.deep.equal([{ id: 1, title: 'a' }]);
    expect(todo.get('parsed')).to.equal(true);
  });

  it('collection.create adds at once, or after the answer with wait: true', async () => {
    const { Todos } = await todos();
    const list = new Todos();
    const todo = list.create({ title: 'a' });
    expect(list.length).to.equal(1);
    await next(todo, 'sync');
    expect(todo.id).to.equal(1);
    const added = next(list, 'add');
    const waited = list.create({ title: 'b' }, { wait: true });
    expect(list.length).to.equal(1);
    const [model] = await added;
    expect(model).to.equal(waited);
    expect(model.id).to.equal(2);
  });

  it("maps the server's id to a custom idAttribute", async () => {
    const env = await setup(1);
    const Todo = Backbone.Model.extend({
      urlRoot: '/todos',
      idAttribute: '_id',
      sync: backboneSync(env.clients[0]),
    });
    const todo = new Todo({ title: 'a' });
    await todo.save();
    expect(todo.id).to.equal(1);
    expect(todo.toJSON()).to.deep.equal({ _id: 1, title: 'a' });
    await todo.save({ title: 'b' });
    expect(env.spy.updates).to.deep.equal([{ id: 1, title: 'b' }]);
  });

  it('with idAttribute _id, an attribute named id throws a TypeError from save() instead of being dropped', async () => {
    // Regression (issue 13, 12): the attribute was silently left out of every write.
    const env = await setup(1);
    const Todo = Backbone.Model.extend({
      urlRoot: '/todos',
      idAttribute: '_id',
      sync: backboneSync(env.clients[0]),
    });
    const todo = new Todo({ title: 'a', id: 'legacy-7' });
    expect(() => todo.save()).to.throw(TypeError, /attribute named "id"/);
    const plain = new Todo({ title: 'b' });
    await plain.save();
    expect(() => plain.save({ id: 'x' }, { patch: true })).to.throw(TypeError, /attribute named "id"/);
    expect(env.spy.creates).to.have.length(1);
    expect(env.spy.updates).to.deep.equal([]);
  });

  it('delivers a failure known during the call only after sync has returned', async () => {
    const { Todo, sync } = await todos();
    const todo = new Todo({ title: 'a' });
    const hold = gate();
    let called = false;
    const xhr = sync('read', todo, { error: () => ((called = true), hold.open()) });
    expect(called).to.equal(false);
    await hold.promise;
    expect((await settled(xhr)).value).to.deep.include({ code: 'invalid_id' });
  });
});

/** A minimal stand-in for `$.Deferred()`: what the adapter uses of it. */
function fakeDeferred(made: any[]) {
  let resolve!: (v: unknown) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise((res, rej) => ((resolve = res), (reject = rej)));
  promise.catch(() => undefined);
  const d = {
    promise: () => promise,
    resolve: (v: unknown) => resolve(v),
    reject: (e: unknown) => reject(e),
  };
  made.push(d);
  return d;
}
