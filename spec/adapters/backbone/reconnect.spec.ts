import { expect } from 'chai';
import type Backbone from 'backbone';
import { SyncedCollection } from '../../../adapters/backbone/index.js';
import { deepEqual } from '../../../lib/diff.js';
import { MemoryStore } from '../../../lib/index.js';
import type { ClientCollection, ObjectSync as Client } from '../../../lib/client/index.js';
import { connectClient, startServer, stopServer, waitFor } from '../../support/harness.js';
import { FaultProxy } from '../../support/proxy.js';
import { teardown, until } from './support.js';

const Todos = SyncedCollection.extend({ url: '/todos' });

/** The collection as plain data, sorted by id. */
function snapshot(todos: { toJSON(): Array<Record<string, unknown>> }): unknown[] {
  return todos.toJSON().sort((a, b) => Number(a.id) - Number(b.id));
}

/**
 * A's SyncedCollection and B's collection of the same todos, once A has both todos B saved: `stays`
 * (id 1, its model kept for identity checks) and `goes` (id 2).
 */
async function twoTodos(a: Client, b: Client) {
  const todos = new Todos([], { client: a });
  await todos.ready();
  const bTodos = b.collection('todos');
  await bTodos.save({ title: 'stays', done: false });
  await bTodos.save({ title: 'goes' });
  await until(todos, 'add', () => todos.length === 2);
  return { todos, bTodos, stays: todos.get(1)! };
}

/** B's changes while A is away: id 1 done, id 2 removed, id 3 added. */
async function changeWhileAway(bTodos: ClientCollection): Promise<void> {
  await bTodos.save({ id: 1, done: true });
  await bTodos.destroy(2);
  await bTodos.save({ title: 'new' });
}

describe('backbone SyncedCollection: reconnect', () => {
  let proxy: FaultProxy | undefined;
  afterEach(async () => {
    await teardown();
    await proxy?.close();
    proxy = undefined;
  });

  it("after a server restart every SyncedCollection equals the server's collection again", async () => {
    const first = await startServer();
    const old = new MemoryStore();
    first.sync.collection('todos', old);
    const client = await connectClient(first);
    const todos = new Todos([], { client });
    const other = new Todos([], { client });
    await Promise.all([todos.ready(), other.ready()]);
    for (const title of ['one', 'two', 'three']) todos.create({ title });
    await until(todos, 'sync', () => old.size === 3 && todos.every((m) => !m.isNew()));
    const one = todos.get(1);

    const dropped = waitFor(client, 'disconnect');
    await stopServer(first);
    await dropped;
    // The new server lost id 3, changed id 1 and has a new id 4.
    const store = new MemoryStore();
    await store.create({ title: 'one, changed' });
    await store.create({ title: 'two' });
    await store.create({ title: 'three' });
    await store.destroy(3);
    await store.create({ title: 'four' });
    const second = await startServer(undefined, undefined, first.port);
    second.sync.collection('todos', store);
    const expected = await store.list();

    const events: string[] = [];
    const record = (event: string, model: Backbone.Model, options: { remote?: boolean }): number =>
      events.push(`${event} ${String(model.id)}${options.remote ? ' (remote)' : ''}`);
    todos.on('add', (model: Backbone.Model, _c: unknown, options: object) => record('add', model, options));
    todos.on('remove', (model: Backbone.Model, _c: unknown, options: object) =>
      record('remove', model, options),
    );
    todos.on('change', (model: Backbone.Model, options: object) => record('change', model, options));
    const converged = (c: typeof todos): boolean => deepEqual(snapshot(c), expected);
    await Promise.all([
      until(todos, 'add remove change', () => converged(todos)),
      until(other, 'add remove change', () => converged(other)),
    ]);
    expect(snapshot(todos)).to.deep.equal(expected);
    expect(snapshot(other)).to.deep.equal(expected);
    expect(todos.get(1)).to.equal(one);
    expect(events.sort()).to.deep.equal(['add 4 (remote)', 'change 1 (remote)', 'remove 3 (remote)']);
  });

  it('after a network drop the missed adds, changes and removes are applied', async () => {
    const server = await startServer(undefined, { autoCollections: true });
    proxy = await new FaultProxy(server.port).start();
    const a = await connectClient(proxy);
    const b = await connectClient(server);
    const { todos, bTodos, stays } = await twoTodos(a, b);

    proxy.dropDownstream();
    await changeWhileAway(bTodos);
    expect(todos.length).to.equal(2);
    proxy.cut();
    const expected = [
      { id: 1, title: 'stays', done: true },
      { id: 3, title: 'new' },
    ];
    await until(todos, 'add remove change', () => deepEqual(snapshot(todos), expected));
    expect(todos.get(1)).to.equal(stays);
  });

  it('after disconnect() and connect() the missed adds, changes and removes are applied', async () => {
    const server = await startServer(undefined, { autoCollections: true });
    const a = await connectClient(server);
    const b = await connectClient(server);
    const { todos, bTodos, stays } = await twoTodos(a, b);

    a.disconnect();
    await changeWhileAway(bTodos);
    a.connect();
    await until(todos, 'add remove change', () => todos.length === 2 && todos.get(3) !== undefined);
    await until(todos, 'change', () => stays.get('done') === true);
    expect(snapshot(todos)).to.deep.equal([
      { id: 1, title: 'stays', done: true },
      { id: 3, title: 'new' },
    ]);
    expect(todos.get(1)).to.equal(stays);
  });
});
