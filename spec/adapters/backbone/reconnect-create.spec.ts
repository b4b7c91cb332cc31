/**
 * Issue 13 item 4: a connection that drops while a model's create is in flight. The create is resent
 * and answered before the resync, so the resync never announces the object first: the collection
 * holds the page's own model once, never a copy beside it.
 */
import { expect } from 'chai';
import type Backbone from 'backbone';
import { SyncedCollection } from '../../../adapters/backbone/index.js';
import { MemoryStore } from '../../../lib/index.js';
import { connectClient, startServer, waitFor } from '../../support/harness.js';
import { FaultProxy } from '../../support/proxy.js';
import { gate, next, teardown } from './support.js';

const Todos = SyncedCollection.extend({ url: '/todos' });

/** A server whose `todos` creates wait for a gate; `applied` resolves when the held create is stored. */
async function heldCreates() {
  const store = new MemoryStore();
  const hold = gate();
  let applied!: () => void;
  const stored = new Promise<void>((resolve) => (applied = resolve));
  const server = await startServer(undefined, { autoCollections: true });
  server.sync.collection('todos', {
    ...store.handlers(),
    create: async (obj) => {
      await hold.promise;
      const made = await store.create(obj);
      applied();
      return made;
    },
  });
  return { server, store, hold, stored };
}

describe('backbone SyncedCollection: a reconnect while a create is in flight', () => {
  let proxy: FaultProxy | undefined;
  afterEach(async () => {
    await teardown();
    await proxy?.close();
    proxy = undefined;
  });

  for (const wait of [false, true]) {
    it(`holds the page's own model once${wait ? ' (wait: true)' : ''}`, async () => {
      const { server, store, hold, stored } = await heldCreates();
      proxy = await new FaultProxy(server.port).start();
      const client = await connectClient(proxy);
      const todos = new Todos([], { client });
      await todos.ready();
      const own = todos.create({ title: 'mine' }, { wait }) as Backbone.Model;
      // The create reaches the server; its answer is lost with the connection.
      proxy.dropDownstream();
      hold.open();
      await stored;
      const back = waitFor(client, 'connect');
      proxy.cut();
      await back;
      await next(own, 'sync');
      await todos.ready();
      await client.collection('todos').subscribe();
      expect(store.size).to.equal(1);
      expect(todos.pluck('id')).to.deep.equal([1]);
      expect(todos.get(1)).to.equal(own);
      expect(own.toJSON()).to.deep.equal({ id: 1, title: 'mine' });
    });
  }
});
