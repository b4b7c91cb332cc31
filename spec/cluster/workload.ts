/**
 * The randomized cluster workload (the idea of bench/torture/writer.ts and verify.ts, kept small):
 * - each writer alone writes its own field `f<k>` of the shared objects and `tokens` of the objects
 *   it created; every write appends a fresh token to that list and sends the whole list, so the stored
 *   list must be a prefix of what was issued, holding every acknowledged token (else: lost);
 * - every applied update changes its object, so a version above 1 + updates sent means an update was
 *   applied twice; every create carries a unique `tok`, so two rows with one `tok` mean a create
 *   applied twice; a destroy answered `not_found` was applied twice.
 * The verdict is the torture run's (`bench/torture/verify.ts`), on the same logs.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { ObjectSync as Client, type ClientCollection } from '../../lib/client/index.js';
import type { Id } from '../../lib/index.js';
import type { Random } from '../../bench/torture/random.js';
import type { FailedWrite, FieldLog, Owned } from '../../bench/torture/writer.js';

const newLog = (id: Id, field: string): FieldLog => ({ id, field, issued: [], ackedTokens: [], sent: 0 });

/** One writer: a client of collection `things`, writing `quota` writes, `window` at a time. */
export class Writer {
  readonly owned: Owned[] = [];
  readonly sharedLogs: FieldLog[];
  readonly creates = new Map<string, 'sent' | 'acked' | 'failed'>();
  readonly failed = new Map<string, number>();
  /** Every failed write, with when it was sent and failed (see bench/torture/explain.ts). */
  readonly failures: FailedWrite[] = [];
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

  private get things(): ClientCollection {
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

  private fail(err: unknown, what: string, start: number): void {
    const code = (err as { code?: string }).code ?? String(err);
    this.failed.set(code, (this.failed.get(code) ?? 0) + 1);
    this.failures.push({ what, code, start, end: performance.now() });
  }

  private async create(): Promise<void> {
    const tok = `w${this.index}-${++this.seq}`;
    this.creates.set(tok, 'sent');
    const start = performance.now();
    try {
      const obj = await this.things.save({ owner: this.index, tok, tokens: [] });
      this.creates.set(tok, 'acked');
      this.acked++;
      this.owned.push({ tok, id: obj.id, log: newLog(obj.id, 'tokens'), destroy: 'none' });
    } catch (err) {
      this.creates.set(tok, 'failed');
      this.fail(err, `create ${tok}`, start);
    }
  }

  private async update(log: FieldLog): Promise<void> {
    log.issued.push(`w${this.index}-${++this.seq}`);
    const at = log.issued.length - 1;
    log.sent++;
    const start = performance.now();
    try {
      await this.things.save({ id: log.id, [log.field]: log.issued.slice() });
      this.acked++;
      log.ackedTokens.push(at);
    } catch (err) {
      this.fail(err, `update of ${log.id}.${log.field} adding ${log.issued[at]}`, start);
    }
  }

  private async destroy(x: Owned): Promise<void> {
    x.destroy = 'sent';
    const start = performance.now();
    try {
      await this.things.destroy(x.id);
      x.destroy = 'acked';
      this.acked++;
    } catch (err) {
      if ((err as { code?: string }).code === 'not_found') this.destroyedTwice++;
      this.fail(err, `destroy ${x.id}`, start);
    }
  }
}
