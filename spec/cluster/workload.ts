/**
 * The randomized cluster workload (the idea of bench/torture/writer.ts and verify.ts, kept small):
 * - each writer alone writes its own field `f<k>` of the shared objects and `tokens` of the objects
 *   it created; every write appends a fresh token to that list and sends the whole list, so the stored
 *   list must be a prefix of what was issued, holding every acknowledged token (else: lost);
 * - every applied update changes its object, so a version above 1 + updates sent means an update was
 *   applied twice; every create carries a unique `tok`, so two rows with one `tok` mean a create
 *   applied twice; a destroy answered `not_found` was applied twice.
 */
import { EventEmitter } from 'node:events';
import { ObjectSync as Client } from '../../lib/client/index.js';
import type { Id, StoredObject } from '../../lib/index.js';

/** A seeded generator (mulberry32). */
export class Random {
  constructor(private state: number) {}
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  pick<T>(items: T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
}

interface FieldLog {
  id: Id;
  field: string;
  issued: string[];
  ackedTokens: number[];
  sent: number;
}

interface Owned {
  tok: string;
  id: Id;
  log: FieldLog;
  destroy: 'none' | 'sent' | 'acked';
}

const newLog = (id: Id, field: string): FieldLog => ({ id, field, issued: [], ackedTokens: [], sent: 0 });

/** One writer: a client of collection `things`, writing `quota` writes, `window` at a time. */
export class Writer {
  readonly owned: Owned[] = [];
  readonly sharedLogs: FieldLog[];
  readonly creates = new Map<string, 'sent' | 'acked' | 'failed'>();
  readonly failed = new Map<string, number>();
  sent = 0;
  acked = 0;
  destroyedTwice = 0;
  disconnects = 0;
  private seq = 0;
  private inFlight = 0;
  private readonly progress = new EventEmitter();

  constructor(
    readonly index: number,
    readonly client: Client,
    shared: Id[],
    private readonly rng: Random,
    private readonly quota: number,
    private readonly window: number,
    private readonly settled: () => void,
  ) {
    this.sharedLogs = shared.map((id) => newLog(id, `f${index}`));
    client.on('disconnect', () => this.disconnects++);
  }

  private get things(): ReturnType<Client['collection']> {
    return this.client.collection('things');
  }

  /** Sends the quota, and on while `more()` holds; resolves once every write settled. */
  async run(more: () => boolean = () => false): Promise<void> {
    while (this.sent < this.quota || more()) {
      while (this.inFlight >= this.window)
        await new Promise((resolve) => this.progress.once('settled', resolve));
      this.inFlight++;
      this.sent++;
      void this.writeOne().finally(() => {
        this.inFlight--;
        this.settled();
        this.progress.emit('settled');
      });
      // A steady stream, well under the per-connection rate limit.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    while (this.inFlight > 0) await new Promise((resolve) => this.progress.once('settled', resolve));
  }

  private writeOne(): Promise<void> {
    const alive = this.owned.filter((x) => x.destroy === 'none');
    const r = this.rng.next();
    if (alive.length < 2 || r < 0.05) return this.create();
    if (r < 0.08 && alive.length >= 3) return this.destroy(this.rng.pick(alive));
    if (r < 0.55) return this.update(this.rng.pick(this.sharedLogs));
    return this.update(this.rng.pick(alive).log);
  }

  private fail(err: unknown): void {
    const code = (err as { code?: string }).code ?? String(err);
    this.failed.set(code, (this.failed.get(code) ?? 0) + 1);
  }

  private async create(): Promise<void> {
    const tok = `w${this.index}-${++this.seq}`;
    this.creates.set(tok, 'sent');
    try {
      const obj = await this.things.save({ owner: this.index, tok, tokens: [] });
      this.creates.set(tok, 'acked');
      this.acked++;
      this.owned.push({ tok, id: obj.id, log: newLog(obj.id, 'tokens'), destroy: 'none' });
    } catch (err) {
      this.creates.set(tok, 'failed');
      this.fail(err);
    }
  }

  private async update(log: FieldLog): Promise<void> {
    log.issued.push(`w${this.index}-${++this.seq}`);
    const at = log.issued.length - 1;
    log.sent++;
    try {
      await this.things.save({ id: log.id, [log.field]: log.issued.slice() });
      this.acked++;
      log.ackedTokens.push(at);
    } catch (err) {
      this.fail(err);
    }
  }

  private async destroy(x: Owned): Promise<void> {
    x.destroy = 'sent';
    try {
      await this.things.destroy(x.id);
      x.destroy = 'acked';
      this.acked++;
    } catch (err) {
      if ((err as { code?: string }).code === 'not_found') this.destroyedTwice++;
      this.fail(err);
    }
  }
}

/** A stored row: the object and its version. */
export interface Row {
  obj: StoredObject;
  v: number;
}

export interface Verdict {
  lost: number;
  twice: number;
  corrupt: number;
  notes: string[];
}

/** The store's final rows against what every writer had acknowledged. */
export function verify(writers: Writer[], rows: Row[], shared: Id[]): Verdict {
  const v: Verdict = { lost: 0, twice: 0, corrupt: 0, notes: [] };
  const note = (s: string): void => void (v.notes.length < 20 && v.notes.push(s));
  const byId = new Map(rows.map((r) => [String(r.obj.id), r]));
  const byTok = new Map<string, number>();
  for (const r of rows)
    if (typeof r.obj.tok === 'string') byTok.set(r.obj.tok, (byTok.get(r.obj.tok) ?? 0) + 1);

  const checkField = (obj: StoredObject, log: FieldLog): void => {
    const value = obj[log.field] ?? [];
    if (!Array.isArray(value) || !value.every((t, i) => t === log.issued[i])) {
      v.corrupt++;
      return note(`${log.id}.${log.field} is not a prefix of what its writer sent`);
    }
    const missing = log.ackedTokens.filter((i) => i >= value.length).length;
    if (missing > 0) {
      v.lost += missing;
      note(`${log.id}.${log.field}: ${missing} acknowledged tokens missing`);
    }
  };
  const checkVersion = (r: Row, updates: number): void => {
    if (r.v > 1 + updates) {
      v.twice += r.v - 1 - updates;
      note(`${r.obj.id} is at version ${r.v} after 1 create and ${updates} updates sent`);
    }
  };

  const sharedUpdates = new Map<string, number>();
  for (const w of writers) {
    for (const x of w.owned) {
      const r = byId.get(String(x.id));
      if (x.destroy === 'acked') {
        if (r) {
          v.lost++;
          note(`${x.id}: destroy acknowledged, object still stored`);
        }
      } else if (!r) {
        if (x.destroy === 'none') {
          v.lost += 1 + x.log.ackedTokens.length;
          note(`${x.id}: create acknowledged, object not stored`);
        }
      } else {
        checkField(r.obj, x.log);
        checkVersion(r, x.log.sent);
      }
    }
    for (const log of w.sharedLogs) {
      sharedUpdates.set(String(log.id), (sharedUpdates.get(String(log.id)) ?? 0) + log.sent);
      const r = byId.get(String(log.id));
      if (r) checkField(r.obj, log);
      else v.lost += log.ackedTokens.length;
    }
    for (const tok of w.creates.keys()) {
      const n = byTok.get(tok) ?? 0;
      if (n > 1) {
        v.twice += n - 1;
        note(`create ${tok} stored ${n} times`);
      }
    }
    v.twice += w.destroyedTwice;
  }
  for (const id of shared) {
    const r = byId.get(String(id));
    if (r) checkVersion(r, sharedUpdates.get(String(id)) ?? 0);
  }
  return v;
}
