/**
 * The model-based randomized test, short: a few runs of several clients with different sessions and
 * a `visible` rule doing random creates, updates, destroys, fetches, lists, subscribes and
 * unsubscribes, with connection cuts, server restarts on a durable SQLite store, handlers slower than
 * `handlerTimeout` and changes of visibility; after quiescence every property of checks.ts must hold.
 *
 * The seed is printed; `OBJECT_SYNC_FUZZ_SEED=<seed>` replays it here, `npm run fuzz -- --commands 30 --seed <seed>`
 * replays and shrinks it. Long runs: `npm run fuzz -- --runs 200`.
 *
 * Part of `npm test`; the defects it found are in spec/fuzz/FINDINGS.md.
 */
import { expect } from 'chai';
import { fuzz, report, Tally } from './property.js';

describe('model-based randomized test (short run)', function () {
  this.timeout(60_000);

  it('keeps every client equal to the store seen through visible, leaks nothing, loses nothing', async () => {
    const seed = Number(process.env.OBJECT_SYNC_FUZZ_SEED ?? Date.now() % 2 ** 31);
    const tally = new Tally();
    const started = Date.now();
    const details = await fuzz({
      runs: 60,
      seed,
      maxCommands: 30,
      shrink: false,
      timeLimitMs: 9_000,
      quiescenceMs: 4_000,
      tally,
    });
    console.log(
      `      fuzz seed ${seed}, ${((Date.now() - started) / 1000).toFixed(1)} s\n      ${tally.summary().split('\n').join('\n      ')}`,
    );
    expect(details.failed, report(details, '--commands 30 ')).to.equal(false);
    expect(tally.runs, 'runs done').to.be.greaterThan(0);
  });
});
