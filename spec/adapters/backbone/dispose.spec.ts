/**
 * Issue 13 item 10: `SyncedCollection#dispose()` stops live updates and releases what only the
 * collection held; subscriptions are counted (the last one unsubscribes); the client forgets the
 * objects of a collection nobody mirrors; disposed collections and their objects are collected.
 */
import { expect } from 'chai';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SyncedCollection } from '../../../adapters/backbone/index.js';
import { next, setup, teardown } from './support.js';

const Todos = SyncedCollection.extend({ url: '/todos' });

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Collects garbage until `done()` holds (finalizers run between turns), at most 50 rounds. */
async function collectUntil(done: () => boolean): Promise<void> {
  for (let round = 0; round < 50 && !done(); round++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('backbone SyncedCollection: dispose and collection', () => {
  afterEach(teardown);

  it('dispose() stops live updates; another collection on the url keeps its own', async () => {
    const { clients } = await setup(2);
    const todos = new Todos([], { client: clients[0] });
    const watcher = new Todos([], { client: clients[0] });
    await Promise.all([todos.ready(), watcher.ready()]);
    todos.dispose();
    const added = next(watcher, 'add');
    await clients[1].collection('todos').save({ title: 'a' });
    await added;
    expect(todos.length).to.equal(0);
    expect(clients[0].collection('todos').isSubscribed()).to.equal(true);
  });

  it('the last subscriber to leave unsubscribes, and the client forgets the objects', async () => {
    const { clients } = await setup(2);
    const coll = clients[0].collection('todos');
    await clients[1].collection('todos').save({ title: 'a' });
    const one = new Todos([], { client: clients[0] });
    const two = new Todos([], { client: clients[0] });
    await Promise.all([one.ready(), two.ready()]);
    expect(Object.keys(coll.allObjects())).to.have.length(1);
    one.dispose();
    expect(coll.isSubscribed()).to.equal(true);
    two.dispose();
    expect(coll.isSubscribed()).to.equal(false);
    expect(Object.keys(coll.allObjects())).to.have.length(0);
  });

  it('disposed collections and the objects only they held are garbage-collected', async () => {
    const { clients } = await setup(2);
    for (let i = 0; i < 5; i++) await clients[1].collection('todos').save({ title: `t${i}` });
    let collected = 0;
    let objectsCollected = 0;
    const registry = new FinalizationRegistry<string>((kind) => {
      if (kind === 'collection') collected++;
      else objectsCollected++;
    });
    // Made and disposed in a function of their own: no variable of this test's frame keeps one.
    const makeAndDispose = async (): Promise<void> => {
      const all: SyncedCollection[] = [];
      for (let i = 0; i < 20; i++) {
        const todos = new Todos([], { client: clients[0] });
        await todos.ready();
        registry.register(todos, 'collection');
        all.push(todos);
      }
      const held = clients[0].collection('todos').allObjects();
      expect(Object.keys(held)).to.have.length(5);
      for (const obj of Object.values(held)) registry.register(obj, 'object');
      all.forEach((todos) => todos.dispose());
    };
    await makeAndDispose();
    // The last dispose ended the subscription: the client holds no object any more.
    expect(Object.keys(clients[0].collection('todos').allObjects())).to.have.length(0);
    await collectUntil(() => collected === 20 && objectsCollected === 5);
    expect(collected).to.equal(20);
    expect(objectsCollected).to.equal(5);
  });
});
