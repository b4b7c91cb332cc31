/**
 * A client heals a version gap by itself: a change whose version does not follow the one held (a lost
 * frame) makes it read the object whole; a write made on a version it missed settles with the whole
 * object.
 */
import { expect } from 'chai';
import type { ObjectSync as Client } from '../../../lib/client/index.js';
import type { ChangeRecord, Id } from '../../../lib/protocol.js';
import { cleanup, connectClient, startServer, waitFor, waitUntil } from '../../support/harness.js';
import { loseChanges } from '../../support/lose.js';

/** The change record of `id` at version `v` (a diff; with coalescing, one record per version too). */
const at =
  (id: Id, v: number) =>
  (record: ChangeRecord): boolean =>
    record.i === id && 'v' in record && record.v === v;

describe('version gaps', () => {
  afterEach(cleanup);

  /** a and b hold `{ n: 0 }` at version 1; b loses the event of version 2 (`n: 1`, written by a). */
  async function gapAtB(): Promise<{ a: Client; b: Client; id: Id }> {
    const server = await startServer();
    const a = await connectClient(server);
    const b = await connectClient(server);
    const { id } = await a.save({ n: 0 });
    await waitUntil(b, ['create'], () => b.get(id) !== undefined);
    const losses = loseChanges(b, at(id, 2));
    const lost = waitFor(losses, 'lost');
    await a.save({ id, n: 1 });
    await lost;
    expect(b.get(id)).to.deep.equal({ id, n: 0 });
    return { a, b, id };
  }

  it('reads the object whole after an event whose version skips one', async () => {
    const { a, b, id } = await gapAtB();
    await a.save({ id, m: 1 }); // version 3, a diff on top of version 2, which b never saw
    await waitUntil(b, ['update'], () => b.get(id)?.n === 1 && b.get(id)?.m === 1);
    expect(b.get(id)).to.deep.equal({ id, n: 1, m: 1 });
  });

  it('settles a write made on a version it missed with the whole object', async () => {
    const { b, id } = await gapAtB();
    // b writes on version 1; the object is at version 2: the answer must bring what b missed. The
    // callback must see the whole object at version 3 (copied at once: later events may change the
    // live object). (A write answer that is a diff skipping a version is in sqlite-crash.spec.ts.)
    const settled = await new Promise<unknown>((resolve, reject) =>
      b.save({ id, m: 1 }, (err, obj) => (err ? reject(err) : resolve(structuredClone(obj)))),
    );
    expect(settled).to.deep.equal({ id, n: 1, m: 1 });
    expect(b.get(id)).to.deep.equal({ id, n: 1, m: 1 });
  });
});
