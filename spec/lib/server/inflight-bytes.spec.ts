/**
 * `maxInFlightBytes`: the bytes of requests the server is processing, over all connections (break
 * report, finding 3: 10 connections × 64 updates of ~1 MiB waiting on a slow handler took the heap
 * from 7 to 591 MB; nothing bounded the sum).
 */
import { expect } from 'chai';
import { MemoryStore, type Handlers, type SyncObject } from '../../../lib/index.js';
import { cleanup, startServer } from '../../support/harness.js';
import { ask, closeRaws, connectRaw } from '../../support/raw.js';

describe('maxInFlightBytes', () => {
  afterEach(async () => {
    closeRaws();
    await cleanup();
  });

  it('answers busy at once past the bytes of requests being processed, until the slow write ended', async () => {
    const store = new MemoryStore();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    const h = store.handlers();
    const handlers: Handlers = {
      ...h,
      // The update of a big value is slow (a row lock held elsewhere), and outlives its timeout.
      async update(patch, sid, cb) {
        if (typeof patch.big === 'string') {
          entered();
          await gate;
        }
        return h.update(patch, sid, cb) as Promise<SyncObject>;
      },
    };
    const server = await startServer(handlers, { maxInFlightBytes: 10_000, handlerTimeout: 200 });
    const { id } = await store.create({ n: 0 });
    const [a, b] = await Promise.all([connectRaw(server), connectRaw(server)]);
    const big = 'x'.repeat(6_000);

    const slow = ask(a, 'update', { q: 1, i: id, s: { big } });
    await inHandler;
    // 6 000 bytes held: another 6 000 would pass 10 000, from any connection; small requests pass.
    expect((await ask(b, 'create', { q: 1, o: { big } })).error.code).to.equal('busy');
    expect((await ask(b, 'create', { q: 2, o: { small: 1 } })).r).to.include({ k: 'c' });
    expect((await slow).error.code).to.equal('timeout'); // answered, but its handler still runs
    expect((await ask(b, 'create', { q: 3, o: { big } })).error.code).to.equal('busy');

    release();
    // Queued behind the slow write of the same object: answered after it ended.
    const after = await ask(b, 'update', { q: 4, i: id, s: { n: 1 } });
    expect(after.error, JSON.stringify(after.error)).to.equal(undefined);
    expect(after.r).to.include({ i: id, v: 3 });
    expect((await ask(b, 'create', { q: 5, o: { big } })).r).to.include({ k: 'c' });
    expect((server.sync as unknown as { admission: { heldBytes: number } }).admission.heldBytes).to.equal(0);
  });
});
