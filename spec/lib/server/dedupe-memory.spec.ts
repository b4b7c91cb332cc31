/**
 * The request-dedupe table's memory against what PROTOCOL.md says of it (break report, finding 12:
 * the docs said about 8 MiB for 65 536 outcomes; one outcome in each of 65 536 sessions took 31 MB).
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DedupeTable } from '../../../lib/server/dedupe.js';

const MiB = 1024 * 1024;

function gc(): void {
  setFlagsFromString('--expose-gc');
  const collect = runInNewContext('gc') as () => void;
  collect();
  collect();
}

/** The heap taken by a table holding `per` outcomes in each of `sessions` sessions (sids as the server makes them). */
function measure(sessions: number, per: number): { bytes: number; kept: number } {
  const table = new DedupeTable(600_000);
  const sids = Array.from({ length: sessions }, () =>
    createHash('sha256').update(randomBytes(18)).digest('base64url').slice(0, 22),
  );
  gc();
  const before = process.memoryUsage().heapUsed;
  for (const sid of sids)
    for (let q = 1; q <= per; q++) {
      table.claim(sid, q);
      table.settle(sid, q, { ok: false, code: 'not_found', message: 'No object has that id.' });
    }
  gc();
  const bytes = process.memoryUsage().heapUsed - before;
  const kept = table.size;
  return { bytes, kept };
}

describe('dedupe memory (PROTOCOL.md, "Resend and dedupe")', function () {
  this.timeout(60_000);
  const doc = readFileSync(new URL('../../../../PROTOCOL.md', import.meta.url), 'utf8').replace(/\s+/g, ' ');

  it('holds at most the documented total, reached with one outcome in each of 65 536 sessions', function () {
    const m = /at most 65 536 outcomes for all sessions together[^:]*: at most about (\d+) MiB/.exec(doc);
    expect(m, 'PROTOCOL states the total bound in MiB').to.not.equal(null);
    const documented = Number(m![1]) * MiB;
    const { bytes, kept } = measure(70_000, 1); // more sessions than the bound: the idlest are dropped
    expect(kept).to.equal(65_536);
    expect(bytes, `${(bytes / MiB).toFixed(1)} MiB`).to.be.at.most(documented);
    expect(bytes, `${(bytes / MiB).toFixed(1)} MiB is "about" the documented figure`).to.be.above(
      documented / 2,
    );
  });

  it("keeps one session's 1 024 outcomes in about the documented size", function () {
    const m = /one session's 1 024 take about (\d+) KiB/.exec(doc);
    expect(m, 'PROTOCOL states a session size in KiB').to.not.equal(null);
    const documented = Number(m![1]) * 1024;
    const { bytes, kept } = measure(64, 1100); // more than a session keeps: its oldest are dropped
    expect(kept).to.equal(65_536);
    expect(bytes / 64, `${(bytes / 64 / 1024).toFixed(1)} KiB per session`).to.be.at.most(documented * 1.25);
  });
});
