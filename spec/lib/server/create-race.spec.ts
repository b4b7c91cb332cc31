/**
 * Break session finding (issue 12 item 15): a handler `create` ran outside its object's queue. When
 * the handler had stored the object but not answered yet, an update of the new id ran and published
 * first; the create's answer then published its older snapshot at a HIGHER version, and clients that
 * got it held the stale state for good (the watcher kept title 'draft'). Now the update waits for the
 * create (lib/server/create-gate.ts).
 */
import { expect } from 'chai';
import type { Handlers, StoredObject } from '../../../lib/index.js';
import { cleanup, connectClient, startServer, waitUntil } from '../../support/harness.js';

describe('server: a handler create racing an update of its new id', () => {
  afterEach(cleanup);

  it('never leaves a client on a state older than the store at the same version', async () => {
    const rows = new Map<number, StoredObject>();
    let stored!: () => void;
    const storedOnce = new Promise<void>((resolve) => (stored = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const handlers: Handlers = {
      async create(obj) {
        const row = { ...obj, id: 1 } as StoredObject;
        rows.set(1, row);
        const snapshot = { ...row };
        stored();
        await gate; // stored, not answered yet (an audit insert, a second query...)
        return snapshot;
      },
      async update(patch) {
        const row = rows.get(patch.id as number);
        if (!row) throw { code: 'not_found' };
        Object.assign(row, patch);
        return { ...row };
      },
      async destroy(id) {
        rows.delete(id as number);
      },
      async fetch(ids) {
        return ids.map((id) => (rows.has(id as number) ? { ...rows.get(id as number)! } : null));
      },
      async list() {
        return [...rows.values()].map((row) => ({ ...row }));
      },
    };
    const server = await startServer(handlers);
    const updateArrived = new Promise<void>((resolve) =>
      server.sync.io.on('connection', (socket) =>
        socket.onAny((event: string) => event === 'update' && resolve()),
      ),
    );
    const [a, b, watcher] = await Promise.all([
      connectClient(server),
      connectClient(server),
      connectClient(server),
    ]);
    const created = a.save({ title: 'draft' });
    await storedOnce;
    // b updates the new id while the create has stored it but not answered (it waits for the create).
    const updated = b.save({ id: 1, title: 'final' });
    await updateArrived;
    release();
    await Promise.all([created, updated]);
    await waitUntil(watcher, ['create', 'update'], () => watcher.get(1) !== undefined);
    // A fetch answer leaves after every change published before it: a barrier.
    await watcher.fetch(1);
    expect(rows.get(1)).to.deep.equal({ id: 1, title: 'final' });
    expect(watcher.get(1)).to.deep.equal({ id: 1, title: 'final' });
  });
});
