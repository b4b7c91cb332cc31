/**
 * One writer of part 2: our client, behind its own gate and fault proxy, writing under faults.
 *
 * The workload makes every misstep measurable:
 * - Each field has exactly one writer, and each write of it appends a fresh token to the writer's
 *   own list and sends the whole list (`tokens` on the writer's own objects, `f<k>` on the shared
 *   objects). The final value must be a prefix of what the writer issued (anything else is
 *   corruption) at least as long as the last acknowledged write's list (else acknowledged writes
 *   were lost).
 * - Every update that is applied changes the object, so its version grows by exactly one: a final
 *   version above 1 + the updates ever sent means some update was applied twice.
 * - Every create carries a unique token `tok`: two stored objects with one token mean a create was
 *   applied twice.
 * - Each object is destroyed at most once by its owner: a destroy answered `not_found` was applied
 *   twice (its first attempt removed the object).
 */
import { performance } from 'node:perf_hooks';
import { ObjectSync, type SyncError } from '../../lib/client/index.js';
import type { Id, StoredObject } from '../../lib/index.js';
import type { Random } from './random.js';

/** One field written by this writer alone: the tokens issued, in order, and how many were acknowledged. */
export interface FieldLog {
  id: Id;
  field: string;
  issued: string[];
  /** Indices (in `issued`) of the tokens whose own write was acknowledged. */
  ackedTokens: number[];
  /** Updates sent for this field. */
  sent: number;
}

/** A write answered with an error. */
export interface FailedWrite {
  what: string;
  code: string;
  /** When it was sent and when it failed (performance.now, ms). */
  start: number;
  end: number;
}

/** An object this writer created. */
export interface Owned {
  tok: string;
  id: Id;
  log: FieldLog;
  /** `none`, `sent` (outcome unknown yet or failed), `acked`. */
  destroy: 'none' | 'sent' | 'acked';
}

export interface WriterOptions {
  index: number;
  url: string;
  /** Writes this writer sends. */
  quota: number;
  /** Writes in flight at once. */
  window: number;
  /** The shared objects (created by the server), where this writer owns field `f<index>`. */
  shared: Id[];
  /** Before each write: resolves when the fault plan lets writers go on. */
  allowance: () => Promise<void>;
  /** Called when a write settles (acknowledged or failed). */
  settled: () => void;
  /** Use socket.io's default transports (polling, then upgrade) instead of websocket only. */
  polling: boolean;
}

/** `TORTURE_TRACE=1` prints every client's disconnects and reconnects. */
function trace(line: string): void {
  if (process.env.TORTURE_TRACE === '1')
    console.log(`    ${(performance.now() / 1000).toFixed(2)} s: ${line}`);
}

export class Writer {
  readonly client: ObjectSync;
  readonly owned: Owned[] = [];
  readonly sharedLogs: FieldLog[];
  /** Create tokens sent, with the outcome of each. */
  readonly creates = new Map<string, 'sent' | 'acked' | 'failed'>();
  sent = 0;
  acked = 0;
  /** Failed writes by error code. */
  readonly failed = new Map<string, number>();
  /** Every failed write: what it was, its code, and when it was sent and settled (performance.now). */
  readonly failures: FailedWrite[] = [];
  /** Destroys answered `not_found` (applied twice), and answers that did not hold their own write. */
  destroyedTwice = 0;
  readonly wrongAnswers: string[] = [];
  /** `error` events of the client (a failed resync...). */
  readonly clientErrors: string[] = [];
  disconnects = 0;
  private seq = 0;
  private inFlight = 0;
  private wake: (() => void) | undefined;

  constructor(
    private readonly o: WriterOptions,
    private readonly rng: Random,
  ) {
    this.client = new ObjectSync({
      url: o.url,
      ...(o.polling ? {} : { transports: ['websocket'] as Array<'websocket'> }),
      reconnectionDelay: 50,
      reconnectionDelayMax: 500,
      requestTimeout: 30_000,
    });
    this.client.on('disconnect', (reason) => {
      this.disconnects++;
      trace(`client ${o.index} disconnected (${reason})`);
    });
    this.client.on('connect', () => trace(`client ${o.index} ready`));
    this.client.on('error', (err: SyncError) => this.clientErrors.push(err.code));
    this.sharedLogs = o.shared.map((id) => newLog(id, `f${o.index}`));
  }

  /** Waits for the first connection. */
  async ready(): Promise<void> {
    if (!this.client.isConnected())
      await new Promise<void>((resolve) => this.client.once('connect', resolve));
  }

  /** Sends the quota of writes, `window` at a time; resolves when every one has settled. */
  async run(): Promise<void> {
    while (this.sent < this.o.quota) {
      await this.o.allowance();
      while (this.inFlight >= this.o.window) await new Promise<void>((resolve) => (this.wake = resolve));
      this.inFlight++;
      this.sent++;
      void this.writeOne().finally(() => {
        this.inFlight--;
        this.o.settled();
        const wake = this.wake;
        this.wake = undefined;
        wake?.();
      });
      // A steady stream, well under the server's per-connection rate limit.
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    while (this.inFlight > 0) await new Promise<void>((resolve) => (this.wake = resolve));
  }

  /** The version the client holds of an object (0: unknown, e.g. after a server restart). */
  private heldVersion(id: Id): number | undefined {
    return this.client.collection('').map.entry(id)?.v;
  }

  /** Every write's token: writer index and a counter. */
  private token(): string {
    return `w${this.o.index}-${++this.seq}`;
  }

  private alive(): Owned[] {
    return this.owned.filter((x) => x.destroy === 'none');
  }

  private writeOne(): Promise<void> {
    const alive = this.alive();
    const r = this.rng.next();
    if (alive.length < 2 || r < 0.04) return this.create();
    if (r < 0.07 && alive.length >= 3) return this.destroy(this.rng.pick(alive));
    if (r < 0.3 && this.sharedLogs.length > 0) return this.update(this.rng.pick(this.sharedLogs));
    return this.update(this.rng.pick(alive).log);
  }

  private fail(err: unknown, what: string, start: number): void {
    const code = (err as { code?: string }).code ?? String(err);
    this.failed.set(code, (this.failed.get(code) ?? 0) + 1);
    this.failures.push({ what, code, start, end: performance.now() });
  }

  private async create(): Promise<void> {
    const tok = this.token();
    this.creates.set(tok, 'sent');
    const start = performance.now();
    try {
      const obj = await this.client.save({ owner: this.o.index, tok, tokens: [] });
      this.creates.set(tok, 'acked');
      this.acked++;
      if (obj.tok !== tok)
        this.wrongAnswers.push(`create ${tok} resolved with ${JSON.stringify(obj).slice(0, 100)}`);
      this.owned.push({ tok, id: obj.id, log: newLog(obj.id, 'tokens'), destroy: 'none' });
    } catch (err) {
      this.creates.set(tok, 'failed');
      this.fail(err, `create ${tok}`, start);
    }
  }

  private async update(log: FieldLog): Promise<void> {
    const token = this.token();
    log.issued.push(token);
    const at = log.issued.length - 1;
    const list = log.issued.slice();
    log.sent++;
    const start = performance.now();
    try {
      const obj: StoredObject = await this.client.save({ id: log.id, [log.field]: list });
      this.acked++;
      log.ackedTokens.push(at);
      const now = obj[log.field];
      if (!Array.isArray(now) || !now.includes(token))
        this.wrongAnswers.push(
          `update of ${log.id}.${log.field} adding ${token} resolved with ${describe(now)} (held version ${this.heldVersion(log.id)})`,
        );
    } catch (err) {
      this.fail(err, `update of ${log.id}.${log.field} adding ${token}`, start);
    }
  }

  private async destroy(x: Owned): Promise<void> {
    x.destroy = 'sent';
    const start = performance.now();
    try {
      await this.client.destroy(x.id);
      x.destroy = 'acked';
      this.acked++;
    } catch (err) {
      if ((err as { code?: string }).code === 'not_found') this.destroyedTwice++;
      this.fail(err, `destroy ${x.id}`, start);
    }
  }
}

/** A token list, short: its length and last token. */
function describe(value: unknown): string {
  if (!Array.isArray(value)) return JSON.stringify(value)?.slice(0, 60) ?? 'nothing';
  return value.length === 0
    ? 'an empty list'
    : `a list of ${value.length} ending ${JSON.stringify(value.at(-1))}`;
}

function newLog(id: Id, field: string): FieldLog {
  return { id, field, issued: [], ackedTokens: [], sent: 0 };
}
