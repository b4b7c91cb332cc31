/**
 * The engine's view of a collection served by node-object-sync-style handlers.
 *
 * Handlers know nothing of versions or diffs, so this keeps, for the objects written or read most
 * recently, the last state the engine saw and its version (`cache`): a write's diff is computed against
 * that state (`versioning.ts`), and an empty diff means no event. The cache is only that — a bounded
 * memory of recent states, never a listing and never the truth about what exists:
 * - it holds at most `CACHE_ENTRIES` objects and about `CACHE_BYTES` of them (least recently used
 *   dropped first);
 * - an object it does not hold is read through `fetch` and gets a version above every version this
 *   collection ever gave out (`floor`), so versions stay monotonic per object across evictions (a
 *   client holding an older one gets the whole object);
 * - without a `list` handler the collection cannot list: a resync reads the held ids through `fetch`,
 *   and `list` requests answer `unsupported`.
 * Write handlers are called inside their object's queue and are not timed here: the pipeline answers
 * the requester `timeout` and aborts `ctx.signal`, and the queue stays held until the handler answers.
 * Changes made to the stored objects behind the engine's back are not seen until the object leaves the
 * cache: make them with the server-side `save`/`destroy`, which broadcast.
 */
import { clone } from '../diff.js';
import { SyncError } from '../errors.js';
import type { Id, JsonValue, StoredObject } from '../protocol.js';
import type { Applied, Backend, RequestContext, Sid, Versioned } from './backend.js';
import { idKey } from './backend.js';
import type { Handlers } from './handlers.js';
import { callHandler, isStoredObject, toPatch } from './handlers.js';
import { applyRemoval, applyState, unchanged } from './versioning.js';

/** Most objects the cache keeps. */
export const CACHE_ENTRIES = 10_000;
/** About the most bytes (JSON length) of objects the cache keeps. */
export const CACHE_BYTES = 16 * 1024 * 1024;

interface CacheEntry extends Versioned {
  bytes: number;
}

export class HandlerBackend implements Backend {
  /** Least recently used first (a Map iterates in insertion order; a use re-inserts). */
  private readonly cache = new Map<string, CacheEntry>();
  private cacheBytes = 0;
  /** The highest version this collection gave out. */
  private floor = 0;
  readonly list?: (query: JsonValue | undefined, sid: Sid) => Promise<Versioned[]>;

  constructor(
    private readonly handlers: Handlers,
    /** Bounds reads (`fetch`, `list`); writes are bounded by the pipeline. */
    private readonly readTimeoutMs: number,
  ) {
    const list = handlers.list;
    if (list) {
      this.list = async (query, sid) => {
        const { result } = await callHandler<unknown>((cb) => list.call(handlers, query, sid, cb), {
          timeoutMs: this.readTimeoutMs,
          hasResult: true,
        });
        if (!Array.isArray(result)) throw new SyncError('handler_error');
        return result.map((item) => this.observe(this.snapshot(item)));
      };
    }
  }

  async create(obj: Record<string, unknown>, sid: Sid, ctx: RequestContext): Promise<Applied> {
    const { result, broadcast } = await callHandler<unknown>(
      (cb) => this.handlers.create(clone(obj), sid, cb, ctx),
      { hasResult: true },
    );
    const next = this.snapshot(result);
    const applied = this.remember(applyState(next.id, this.cache.get(idKey(next.id)), next, true));
    // `broadcast = false`: stored, answered to its requester, but no event.
    return broadcast ? applied : { ...applied, record: null };
  }

  async update(
    id: Id,
    set: Record<string, unknown>,
    unset: string[],
    sid: Sid,
    ctx: RequestContext,
  ): Promise<Applied> {
    const key = idKey(id);
    const prev = this.cached(key) ?? (await this.load(id, sid));
    const patch = toPatch(id, clone(set), unset);
    const { result, broadcast } = await callHandler<unknown>(
      (cb) => this.handlers.update(patch, sid, cb, ctx),
      { hasResult: true },
    );
    if (!broadcast) return unchanged(id, prev);
    const next = this.snapshot(result);
    if (idKey(next.id) !== key) throw new SyncError('handler_error');
    return this.remember(applyState(id, prev, next));
  }

  async destroy(id: Id, sid: Sid, ctx: RequestContext): Promise<Applied> {
    const key = idKey(id);
    // The state before, for who may see the removal (`visible`) and its version.
    const prev = this.cached(key) ?? (await this.load(id, sid));
    const { broadcast } = await callHandler<unknown>((cb) => this.handlers.destroy(id, sid, cb, ctx), {
      hasResult: false,
    });
    this.forget(key);
    if (!broadcast) return { ...unchanged(id, prev), next: undefined };
    // An object `fetch` did not know is removed at a version above any given out.
    const applied = applyRemoval(id, prev ?? { obj: { id }, v: this.floor });
    if (applied.v > this.floor) this.floor = applied.v;
    return applied;
  }

  async fetch(ids: Id[], sid: Sid): Promise<Array<Versioned | null>> {
    const { result } = await callHandler<unknown>((cb) => this.handlers.fetch(ids.slice(), sid, cb), {
      timeoutMs: this.readTimeoutMs,
      hasResult: true,
    });
    if (!Array.isArray(result) || result.length !== ids.length) throw new SyncError('handler_error');
    return result.map((item) =>
      item === null || item === undefined ? null : this.observe(this.snapshot(item)),
    );
  }

  /** Reads one object the cache does not hold through the `fetch` handler. */
  private async load(id: Id, sid: Sid): Promise<Versioned | undefined> {
    const [found] = await this.fetch([id], sid);
    return found ?? undefined;
  }

  /** The cached state of an object, marked as just used. */
  private cached(key: string): CacheEntry | undefined {
    const entry = this.cache.get(key);
    if (entry) {
      this.cache.delete(key);
      this.cache.set(key, entry);
    }
    return entry;
  }

  /** Keeps the state after a write. */
  private remember(applied: Applied): Applied {
    if (applied.record && applied.next) this.keep(idKey(applied.id), applied.next, applied.v);
    return applied;
  }

  /**
   * Pairs an object read from the handlers with its version: a cached object keeps its version (a
   * read racing a write of it sees either state, and the write's event brings both sides to the
   * same end); one the cache does not hold gets a version above every version given out.
   */
  private observe(obj: StoredObject): Versioned {
    const key = idKey(obj.id);
    const known = this.cached(key);
    if (known) return { obj, v: known.v };
    return this.keep(key, obj, this.floor + 1);
  }

  private keep(key: string, obj: StoredObject, v: number): CacheEntry {
    this.forget(key);
    const entry: CacheEntry = { obj, v, bytes: JSON.stringify(obj).length };
    this.cache.set(key, entry);
    this.cacheBytes += entry.bytes;
    if (v > this.floor) this.floor = v;
    for (const [oldest, old] of this.cache) {
      if (this.cache.size <= CACHE_ENTRIES && this.cacheBytes <= CACHE_BYTES) break;
      if (oldest === key) break;
      this.forget(oldest, old);
    }
    return entry;
  }

  private forget(key: string, entry = this.cache.get(key)): void {
    if (!entry) return;
    this.cache.delete(key);
    this.cacheBytes -= entry.bytes;
  }

  /** How many objects the cache holds (for the memory bound's spec). @internal */
  get cacheSize(): number {
    return this.cache.size;
  }

  /** A private deep copy of a handler's answer, so later mutation by the handler cannot reach us. */
  private snapshot(result: unknown): StoredObject {
    if (!isStoredObject(result)) throw new SyncError('handler_error');
    return clone(result);
  }
}
