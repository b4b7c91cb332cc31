/**
 * What the randomized test learns from the server's side without touching the engine: its handlers
 * and store guards are wrapped so that they can be made slower than `handlerTimeout`, count the calls
 * in flight per object (two at once for one object is a defect: per-object order), and log every
 * write that really reached the durable store, with the time it did.
 */
import type { Handlers, Patch, Sid } from '../../lib/index.js';

/** A write that reached the store. */
export interface Applied {
  coll: string;
  kind: 'create' | 'update' | 'destroy';
  id: string | undefined;
  /** The properties set (create: the whole object) and removed. */
  set: Record<string, unknown>;
  unset: string[];
  sid: Sid;
  gen: number;
  at: number;
}

/** A handler or guard call that was made slow. */
export interface SlowCall {
  coll: string;
  start: number;
  end: number;
  delay: number;
}

/** An overlap of two write calls of one object. */
export interface Overlap {
  coll: string;
  id: string;
  at: number;
  gen: number;
}

/** A delay that ends early when `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? { code: 'unavailable' });
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject({ code: 'unavailable' });
    });
  });
}

/** The signal an engine may pass to handlers and stores (issue 12: `ctx.signal`); absent today. */
function signalOf(ctx: unknown): AbortSignal | undefined {
  const s = (ctx as { signal?: unknown } | undefined)?.signal;
  return s instanceof AbortSignal ? s : undefined;
}

export class Instrument {
  readonly applied: Applied[] = [];
  readonly slowCalls: SlowCall[] = [];
  readonly overlaps: Overlap[] = [];
  /** Calls (any kind) running now, for quiescence. */
  running = 0;
  private readonly inFlight = new Map<string, number>();
  private readonly idleWaiters: Array<() => void> = [];
  /** How many of the next calls of each collection are made slow. */
  private readonly slowBudget = new Map<string, number>();
  /** Generations whose server was closed: their late calls give up instead of writing. */
  private readonly closedGens = new Set<number>();

  constructor(
    readonly slowDelay: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Makes the next `n` calls of a collection slower than the handler timeout. */
  makeSlow(coll: string, n: number): void {
    this.slowBudget.set(coll, (this.slowBudget.get(coll) ?? 0) + n);
  }

  /** No more slow calls (quiescence: the final reads must not be slowed). */
  clearSlow(): void {
    this.slowBudget.clear();
  }

  /** A server generation was closed: calls it started and that still wait give up. */
  closeGen(gen: number): void {
    this.closedGens.add(gen);
  }

  /** Resolves when no wrapped call is running. */
  idle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Runs one call: counts it, delays it when a slow budget remains, refuses it when its server
   * generation closed meanwhile (a well-behaved handler stops at shutdown), and counts overlaps per
   * object id.
   */
  async call<T>(
    coll: string,
    gen: number,
    id: string | undefined,
    ctx: unknown,
    body: () => Promise<T>,
  ): Promise<T> {
    this.running++;
    const key = id === undefined ? undefined : `${coll}\u0000${id}`;
    if (key !== undefined) {
      const n = (this.inFlight.get(key) ?? 0) + 1;
      this.inFlight.set(key, n);
      if (n > 1) this.overlaps.push({ coll, id: id!, at: this.now(), gen });
    }
    try {
      const budget = this.slowBudget.get(coll) ?? 0;
      if (budget > 0) {
        this.slowBudget.set(coll, budget - 1);
        const start = this.now();
        try {
          await sleep(this.slowDelay, signalOf(ctx));
        } finally {
          this.slowCalls.push({ coll, start, end: this.now(), delay: this.slowDelay });
        }
      }
      if (this.closedGens.has(gen)) throw { code: 'unavailable' };
      return await body();
    } finally {
      if (key !== undefined) {
        const n = this.inFlight.get(key)! - 1;
        if (n === 0) this.inFlight.delete(key);
        else this.inFlight.set(key, n);
      }
      if (--this.running === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** Records a write that reached the store. */
  log(entry: Omit<Applied, 'at'>): void {
    this.applied.push({ ...entry, at: this.now() });
  }

  /**
   * Handlers of a collection in handler mode: the store's own handlers (`store.handlers()`), each
   * call through `call`, each successful write logged. `withList: false` leaves `list` out (the
   * engine must then resync through `fetch`).
   */
  wrapHandlers(coll: string, gen: number, inner: Handlers, withList: boolean): Handlers {
    const h: Handlers = {
      create: (obj, sid, _cb, ctx) =>
        this.call(coll, gen, undefined, ctx, async () => {
          const stored = (await inner.create(obj, sid, noop, ctx)) as Record<string, unknown>;
          this.log({ coll, kind: 'create', id: String(stored.id), set: { ...obj }, unset: [], sid, gen });
          return stored as never;
        }),
      update: (patch: Patch, sid, _cb, ctx) =>
        this.call(coll, gen, String(patch.id), ctx, async () => {
          const stored = await inner.update(patch, sid, noop, ctx);
          const { set, unset } = splitPatch(patch);
          this.log({ coll, kind: 'update', id: String(patch.id), set, unset, sid, gen });
          return stored as never;
        }),
      destroy: (id, sid, _cb, ctx) =>
        this.call(coll, gen, String(id), ctx, async () => {
          await inner.destroy(id, sid, noop, ctx);
          this.log({ coll, kind: 'destroy', id: String(id), set: {}, unset: [], sid, gen });
        }),
      fetch: (ids, sid, _cb) =>
        this.call(coll, gen, undefined, undefined, async () => (await inner.fetch(ids, sid, noop))!),
    };
    if (withList && inner.list) {
      const list = inner.list.bind(inner);
      h.list = (query, sid, _cb) =>
        this.call(coll, gen, undefined, undefined, async () => (await list(query, sid, noop))!);
    }
    return h;
  }
}

function noop(): void {}

/** `{ id, ...set }` with removed properties as `undefined` -> set and unset. */
export function splitPatch(patch: Record<string, unknown>): {
  set: Record<string, unknown>;
  unset: string[];
} {
  const set: Record<string, unknown> = {};
  const unset: string[] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (k === 'id') continue;
    if (v === undefined) unset.push(k);
    else set[k] = v;
  }
  return { set, unset };
}
