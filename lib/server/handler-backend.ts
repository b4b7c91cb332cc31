/**
 * The engine's view of a collection served by node-object-sync-style handlers.
 *
 * Handlers know nothing of versions or diffs, so this keeps, per object, the last state the engine
 * saw and its version (`cache`). A write's diff is computed against that state (`versioning.ts`); an
 * empty diff means no event. An object the cache does not know yet is read through `fetch` first. A
 * handler answer that comes after its timeout marks the cached state stale: the next write or read
 * sends the whole object at a new version. Changes made to the stored objects behind the engine's
 * back are not seen: make them with the server-side `save`/`destroy`, which broadcast.
 */
import { clone } from '../diff.js';
import { SyncError } from '../errors.js';
import type { Id, JsonValue, StoredObject } from '../protocol.js';
import type { Applied, Backend, RequestContext, Sid, Versioned } from './backend.js';
import { idKey } from './backend.js';
import type { Handlers } from './handlers.js';
import { callHandler, isStoredObject, toPatch } from './handlers.js';
import { applyRemoval, applyState, unchanged } from './versioning.js';

/** A cached state; `stale` after a late handler answer may have changed the stored object. */
interface CacheEntry extends Versioned {
  stale?: boolean;
}

export class HandlerBackend implements Backend {
  private readonly cache = new Map<string, CacheEntry>();

  constructor(
    private readonly handlers: Handlers,
    private readonly timeoutMs: number,
  ) {}

  async create(obj: Record<string, unknown>, sid: Sid, ctx: RequestContext): Promise<Applied> {
    const { result } = await callHandler<unknown>((cb) => this.handlers.create(clone(obj), sid, cb, ctx), {
      timeoutMs: this.timeoutMs,
      hasResult: true,
    });
    const next = this.snapshot(result);
    return this.remember(applyState(next.id, this.cache.get(idKey(next.id)), next, true));
  }

  async update(
    id: Id,
    set: Record<string, unknown>,
    unset: string[],
    sid: Sid,
    ctx: RequestContext,
  ): Promise<Applied> {
    const key = idKey(id);
    const prev: CacheEntry | undefined = this.cache.get(key) ?? (await this.load(id, sid));
    const patch = toPatch(id, clone(set), unset);
    const { result, broadcast } = await callHandler<unknown>(
      (cb) => this.handlers.update(patch, sid, cb, ctx),
      {
        timeoutMs: this.timeoutMs,
        hasResult: true,
        onLate: () => this.markStale(key),
      },
    );
    if (!broadcast) return unchanged(id, prev);
    const next = this.snapshot(result);
    if (idKey(next.id) !== key) throw new SyncError('handler_error');
    // Unknown before, or changed by a late answer: send the whole state at a new version.
    return this.remember(applyState(id, prev, next, prev?.stale === true));
  }

  async destroy(id: Id, sid: Sid, ctx: RequestContext): Promise<Applied> {
    const key = idKey(id);
    const { broadcast } = await callHandler<unknown>((cb) => this.handlers.destroy(id, sid, cb, ctx), {
      timeoutMs: this.timeoutMs,
      hasResult: false,
      onLate: () => this.markStale(key),
    });
    const prev = this.cache.get(key);
    if (!broadcast) return unchanged(id, prev);
    this.cache.delete(key);
    return applyRemoval(id, prev);
  }

  async fetch(ids: Id[], sid: Sid): Promise<Array<Versioned | null>> {
    const { result } = await callHandler<unknown>((cb) => this.handlers.fetch(ids.slice(), sid, cb), {
      timeoutMs: this.timeoutMs,
      hasResult: true,
    });
    if (!Array.isArray(result) || result.length !== ids.length) throw new SyncError('handler_error');
    return result.map((item) =>
      item === null || item === undefined ? null : this.observe(this.snapshot(item)),
    );
  }

  /**
   * Every object: the `list` handler's answer when there is one, else every object the engine has
   * seen (for handler collections every object goes through the engine, so that is all of them).
   */
  async list(query: JsonValue | undefined, sid: Sid): Promise<Versioned[]> {
    const list = this.handlers.list;
    if (!list) return [...this.cache.values()];
    const { result } = await callHandler<unknown>((cb) => list.call(this.handlers, query, sid, cb), {
      timeoutMs: this.timeoutMs,
      hasResult: true,
    });
    if (!Array.isArray(result)) throw new SyncError('handler_error');
    return result.map((item) => this.observe(this.snapshot(item)));
  }

  /** Reads one object the cache does not know through the `fetch` handler. */
  private async load(id: Id, sid: Sid): Promise<Versioned | undefined> {
    const [found] = await this.fetch([id], sid);
    return found ?? undefined;
  }

  /** Keeps the state after a write. */
  private remember(applied: Applied): Applied {
    if (applied.record && applied.next)
      this.cache.set(idKey(applied.id), { obj: applied.next, v: applied.v });
    return applied;
  }

  /**
   * Pairs an object read from the handlers with its version. The cache is the engine's truth for
   * versions: a known object keeps its version (a read racing a write of it sees either state, and the
   * write's event brings both sides to the same end); an unknown or stale one gets the next version.
   */
  private observe(obj: StoredObject): Versioned {
    const key = idKey(obj.id);
    const known = this.cache.get(key);
    if (known && !known.stale) return { obj, v: known.v };
    const entry = { obj, v: (known?.v ?? 0) + 1 };
    this.cache.set(key, entry);
    return entry;
  }

  /** A handler answered after its timeout: what it stored is unknown until the object is read again. */
  private markStale(key: string): void {
    const entry = this.cache.get(key);
    if (entry) entry.stale = true;
  }

  /** A private deep copy of a handler's answer, so later mutation by the handler cannot reach us. */
  private snapshot(result: unknown): StoredObject {
    if (!isStoredObject(result)) throw new SyncError('handler_error');
    return clone(result);
  }
}
