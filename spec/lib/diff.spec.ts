/**
 * `diffPatch` (what a store's update computes from the keys a client named) against the definition it
 * shortens: the full `diff` from the old state to the patched one.
 */
import { expect } from 'chai';
import { diff, diffPatch } from '../../lib/diff.js';

const KEYS = ['id', 'a', 'b', 'c', 'd'];
const VALUES: unknown[] = [1, 2, 'x', null, true, { n: 1 }, { n: 2 }, [1, 2], [2, 1], { n: { m: [1] } }];

/** The patched state by definition: set each key (but `id`), then remove each named key (but `id`). */
function patched(prev: Record<string, unknown>, set: Record<string, unknown>, unset: string[]) {
  const next = structuredClone(prev);
  for (const key of Object.keys(set)) if (key !== 'id') next[key] = structuredClone(set[key]);
  for (const key of unset) if (key !== 'id') delete next[key];
  return next;
}

describe('diffPatch', () => {
  it('equals the full diff from the old state to the patched one (2000 seeded cases)', () => {
    let seed = 12345;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const pick = <T>(list: readonly T[]): T => list[next(list.length)]!;
    for (let i = 0; i < 2000; i++) {
      const prev: Record<string, unknown> = { id: 7 };
      const set: Record<string, unknown> = {};
      const unset: string[] = [];
      for (const key of KEYS.slice(1)) if (next(3) > 0) prev[key] = structuredClone(pick(VALUES));
      for (let k = next(4); k > 0; k--) {
        const key = pick(KEYS);
        // Often the value the object already has: an update that changes nothing of that key.
        set[key] = next(3) === 0 && key in prev ? structuredClone(prev[key]) : structuredClone(pick(VALUES));
      }
      for (let k = next(3); k > 0; k--) unset.push(pick(KEYS));
      const before = structuredClone(prev);
      const got = diffPatch(prev, set, unset);
      const want = diff(prev, patched(prev, set, unset));
      const label = JSON.stringify({ prev, set, unset });
      expect(got.set, label).to.deep.equal(want.set);
      expect([...got.unset].sort(), label).to.deep.equal([...want.unset].sort());
      expect(prev, 'prev is left alone').to.deep.equal(before);
    }
  });
});
