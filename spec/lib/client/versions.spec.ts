/**
 * The client applies records by version (PROTOCOL.md, "Order"): what a cluster delivers out of order
 * — a write's answer before an earlier change, changes of one object from two nodes swapped, a read's
 * full record after a newer diff — never takes an object back to an older version. Checked on the
 * identity map with every kind of record, in 100 seeded shuffles.
 */
import { expect } from 'chai';
import { IdentityMap } from '../../../lib/client/identity-map.js';
import type { ChangeRecord, StoredObject } from '../../../lib/protocol.js';
import { prng } from '../../support/random.js';

/** The states of one object at versions 1..n (a field per version, so each state differs). */
function states(n: number): StoredObject[] {
  const out: StoredObject[] = [];
  for (let v = 1; v <= n; v++)
    out.push({ id: 'x', ...Object.fromEntries(Array.from({ length: v }, (_, k) => [`f${k}`, v])) });
  return out;
}

describe('records applied by version', () => {
  it('drops a c, u or d older than the version held, and leaves the object as it was', () => {
    const map = new IdentityMap();
    const s = states(5);
    map.apply({ k: 'c', i: 'x', v: 5, o: s[4]! });
    for (const older of [
      { k: 'c', i: 'x', v: 3, o: s[2]! },
      { k: 'c', i: 'x', v: 5, o: s[2]! }, // same version: not newer
      { k: 'u', i: 'x', v: 4, s: { f0: 4 } },
      { k: 'u', i: 'x', v: 5, s: { f0: 0 } },
      { k: 'd', i: 'x', v: 4 },
      { k: 'd', i: 'x', v: 5 },
    ] satisfies ChangeRecord[]) {
      expect(map.apply(older), JSON.stringify(older)).to.deep.equal({ type: 'none' });
      expect(map.get('x')).to.deep.equal(s[4]);
      expect(map.entry('x')!.v).to.equal(5);
    }
  });

  it('never goes back a version, whatever order diffs and full records of one object arrive in (100 shuffles)', () => {
    const N = 12;
    const s = states(N);
    for (let seed = 1; seed <= 100; seed++) {
      const random = prng(seed);
      // Every version as a diff (a ch) and, for some, as a full record too (an answer or a read).
      const records: ChangeRecord[] = [];
      for (let v = 2; v <= N; v++) {
        records.push({
          k: 'u',
          i: 'x',
          v,
          s: {
            [`f${v - 1}`]: v,
            ...Object.fromEntries(Array.from({ length: v - 1 }, (_, k) => [`f${k}`, v])),
          },
        });
        if (random() < 0.4) records.push({ k: 'c', i: 'x', v, o: s[v - 1]! });
      }
      for (let i = records.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [records[i], records[j]] = [records[j]!, records[i]!];
      }
      const map = new IdentityMap();
      map.apply({ k: 'c', i: 'x', v: 1, o: s[0]! });
      let held = 1;
      for (const record of records) {
        const effect = map.apply(record);
        const v = map.entry('x')!.v;
        const why = `seed ${seed}: v${record.v} ${record.k} applied at v${held}`;
        expect(v, why).to.be.at.least(held);
        if (record.v! <= held) expect(effect, why).to.deep.equal({ type: 'none' });
        held = v;
        expect(map.get('x'), why).to.deep.equal(s[v - 1]);
      }
      // A gap is healed by a read of the newest state (the client refetches it).
      map.apply({ k: 'c', i: 'x', v: N, o: s[N - 1]! });
      expect(map.get('x')).to.deep.equal(s[N - 1]);
    }
  });
});
