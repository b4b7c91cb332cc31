/**
 * Change records in `ch` events (PROTOCOL.md, "Server → client: ch"): a diff as `[i, v, s, u?]`, the
 * other records as objects; what the client reads back, and what it ignores.
 */
import { expect } from 'chai';
import type { ChangeRecord } from '../../lib/protocol.js';
import { fromWire, toWire } from '../../lib/protocol.js';

describe('ch records', () => {
  it('reads back every record as it was sent', () => {
    const records: ChangeRecord[] = [
      { k: 'u', i: 7, v: 4, s: { done: true } },
      { k: 'u', i: 'a-1', v: 2, s: { n: 1 }, u: ['old'] },
      { k: 'c', i: 3, v: 1, o: { id: 3, title: 'x' } },
      { k: 'd', i: 3, v: 2 },
    ];
    expect(records.map(toWire)).to.deep.equal([
      [7, 4, { done: true }],
      ['a-1', 2, { n: 1 }, ['old']],
      { k: 'c', i: 3, v: 1, o: { id: 3, title: 'x' } },
      { k: 'd', i: 3, v: 2 },
    ]);
    expect(records.map(toWire).map(fromWire)).to.deep.equal(records);
    // A diff that only removes travels with an empty `s`.
    const removal = fromWire(toWire({ k: 'u', i: 7, v: 5, u: ['done'] }));
    expect(removal).to.deep.equal({ k: 'u', i: 7, v: 5, s: {}, u: ['done'] });
  });

  it('ignores anything that is not a record', () => {
    for (const junk of [
      null,
      7,
      'u',
      [],
      [7],
      [7, 4],
      [7, '4', {}],
      [7, 4, null],
      [7, 4, ['done']],
      [{ id: 1 }, 4, {}],
      [-1, 4, {}],
      { k: 'u', i: 7, v: 4, s: {} },
      { i: 7, v: 4, s: {} },
      { k: 'x', i: 7 },
    ]) {
      expect(fromWire(junk), JSON.stringify(junk)).to.equal(undefined);
    }
  });
});
