/**
 * Issue 13 item 7: nested Backbone models and collections in attributes are saved through their
 * `toJSON`, as `JSON.stringify` would; a cyclic object gets a clear synchronous error.
 */
import { expect } from 'chai';
import Backbone from 'backbone';
import { backboneSync } from '../../../adapters/backbone/index.js';
import { setup, teardown } from './support.js';

describe('backbone sync: nested models and collections', () => {
  afterEach(teardown);

  it('saves a nested model and a nested collection as their toJSON', async () => {
    const { clients, server } = await setup(1);
    const Todo = Backbone.Model.extend({ urlRoot: '/todos', sync: backboneSync(clients[0]) });
    const todo = new Todo({
      title: 't',
      owner: new Backbone.Model({ name: 'ann' }),
      items: new Backbone.Collection([{ n: 1 }, { n: 2 }]),
      due: new Date(Date.UTC(2026, 0, 2)),
    });
    await todo.save();
    const stored = {
      title: 't',
      owner: { name: 'ann' },
      items: [{ n: 1 }, { n: 2 }],
      due: '2026-01-02T00:00:00.000Z',
    };
    expect(await server.sync.collection('todos').fetch([todo.id as number])).to.deep.equal([
      { id: todo.id, ...stored },
    ]);
    await todo.save({ items: new Backbone.Collection([{ n: 3 }]) }, { patch: true });
    expect(await server.sync.collection('todos').fetch([todo.id as number])).to.deep.equal([
      { id: todo.id, ...stored, items: [{ n: 3 }] },
    ]);
  });

  it('a cyclic attribute throws a TypeError from save(), and nothing is sent', async () => {
    const { clients, spy } = await setup(1);
    const Todo = Backbone.Model.extend({ urlRoot: '/todos', sync: backboneSync(clients[0]) });
    const loop: Record<string, unknown> = { a: 1 };
    loop.self = loop;
    const todo = new Todo({ title: 't', loop });
    expect(() => todo.save()).to.throw(TypeError, /cyclic/);
    const list = new Backbone.Collection();
    const holder = new Todo({ list });
    list.add({ back: holder });
    expect(() => holder.save()).to.throw(TypeError, /cyclic/);
    await clients[0].collection('todos').fetch(99);
    expect(spy.creates).to.deep.equal([]);
  });

  it('an attribute named constructor throws a TypeError from save() (it was dropped silently)', async () => {
    const { clients, spy } = await setup(1);
    const Car = Backbone.Model.extend({ urlRoot: '/todos', sync: backboneSync(clients[0]) });
    const car = new Car({ driver: 'Ann', constructor: 'Ferrari' });
    expect(() => car.save()).to.throw(TypeError, /"constructor"/);
    await clients[0].collection('todos').fetch(99);
    expect(spy.creates).to.deep.equal([]);
  });
});
