/**
 * The model-based randomized test on Backbone (issue 13), short: pages with a `SyncedCollection` each
 * do random creates, full and patch saves (with and without `wait`), destroys and fetches while the
 * server changes objects, connections drop, handlers are slow and the server restarts; after
 * quiescence no collection holds an id twice, every collection equals the store seen through
 * `visible`, every model went through `parse`, and no write was lost without an error to its caller.
 *
 * The seed is printed; `OBJECT_SYNC_FUZZ_SEED=<seed>` replays it here, and
 * `npm run fuzz -- --backbone --commands 25 --seed <seed>` replays and shrinks it.
 */
import { expect } from 'chai';
import { fuzzBackbone, report, Tally } from './property.js';

describe('model-based randomized test on Backbone (short run)', function () {
  this.timeout(60_000);

  it('keeps every page equal to the store, with no duplicate and no silent loss', async () => {
    const seed = Number(process.env.OBJECT_SYNC_FUZZ_SEED ?? Date.now() % 2 ** 31);
    const tally = new Tally();
    const started = Date.now();
    const details = await fuzzBackbone({
      runs: 15,
      seed,
      maxCommands: 25,
      shrink: false,
      timeLimitMs: 7_000,
      quiescenceMs: 4_000,
      tally,
    });
    console.log(
      `      fuzz seed ${seed}, ${((Date.now() - started) / 1000).toFixed(1)} s\n      ${tally.summary().split('\n').join('\n      ')}`,
    );
    expect(details.failed, report(details, '--backbone --commands 25 ')).to.equal(false);
    expect(tally.runs, 'runs done').to.be.greaterThan(0);
  });
});
