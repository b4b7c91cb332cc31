import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import vm from 'node:vm';
import { expect } from 'chai';
import Backbone from 'backbone';
import { backboneSync } from '../../../adapters/backbone/index.js';
import { next, setup, teardown } from './support.js';

const original = Backbone.sync;

describe('backbone sync: assigned globally', () => {
  afterEach(async () => {
    Backbone.sync = original;
    await teardown();
  });

  it('importing the adapter assigns nothing (Backbone.sync is still the Ajax one)', () => {
    expect(String(Backbone.sync)).to.contain('Backbone.ajax');
  });

  it('works with Backbone.sync = backboneSync(client) for plain models and collections', async () => {
    const { clients, spy } = await setup(2);
    Backbone.sync = backboneSync(clients[0]) as typeof Backbone.sync;
    const Todo = Backbone.Model.extend({ urlRoot: '/todos' });
    const Todos = Backbone.Collection.extend({ url: '/todos', model: Todo });
    const todos = new Todos();
    const todo = todos.create({ title: 'a' });
    await next(todo, 'sync');
    await todo.save({ title: 'b' }, { patch: true });
    const listed = new Todos();
    await listed.fetch();
    expect(listed.toJSON()).to.deep.equal([{ id: 1, title: 'b' }]);
    await todo.destroy();
    expect(spy.creates).to.have.length(1);
    expect(spy.updates).to.deep.equal([{ id: 1, title: 'b' }]);
    expect(spy.destroys).to.deep.equal([1]);
  });

  it('the browser bundle defines ObjectSync.Backbone on the page Backbone, assigning nothing else', async () => {
    const require = createRequire(import.meta.url);
    const bundle = await readFile(new URL('../../../browser/object-sync.js', import.meta.url), 'utf8');
    const pageBackbone = require('backbone') as typeof Backbone;
    const pageSync = pageBackbone.sync;
    const page: Record<string, unknown> = {
      Backbone: pageBackbone,
      _: require('underscore'),
      queueMicrotask,
      setTimeout,
      clearTimeout,
    };
    vm.runInNewContext(bundle, vm.createContext(page));
    const ObjectSync = page.ObjectSync as { Backbone: Record<string, any> };
    expect(ObjectSync).to.be.a('function');
    expect(Object.keys(ObjectSync.Backbone).sort()).to.deep.equal(['SyncedCollection', 'backboneSync']);
    const collection = new ObjectSync.Backbone.SyncedCollection();
    expect(collection).to.be.instanceOf(pageBackbone.Collection);
    expect(pageBackbone.sync).to.equal(pageSync);
  });

  it('the browser bundle still loads on a page without Backbone (SyncedCollection then says why it fails)', async () => {
    const bundle = await readFile(new URL('../../../browser/object-sync.js', import.meta.url), 'utf8');
    const page: Record<string, unknown> = { queueMicrotask, setTimeout, clearTimeout };
    vm.runInNewContext(bundle, vm.createContext(page));
    const ObjectSync = page.ObjectSync as { Backbone: Record<string, any> };
    expect(ObjectSync).to.be.a('function');
    expect(() => new ObjectSync.Backbone.SyncedCollection()).to.throw(/load Backbone/);
  });
});
