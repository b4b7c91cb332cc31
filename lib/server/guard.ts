/**
 * `guardStore(store, guard)`: a store whose writes first pass checks of your own (ownership, allowed
 * properties), while the engine still uses the store's own versions (which a plain handlers wrapper
 * would hide). A check refuses by throwing an error with a `code` (e.g. `{ code: 'forbidden' }`);
 * server-initiated writes (`sid === null`) are checked too, so a guard decides what they may do.
 *
 * @example
 *   const players = guardStore(new MemoryStore(), {
 *     update: (current, patch, sid) => { if (sid && current.owner !== sid) throw { code: 'forbidden' }; },
 *   });
 */
import { SyncError } from '../errors.js';
import type { Id, StoredObject } from '../protocol.js';
import type { Applied, Backend, RequestContext, Sid, Store } from './backend.js';
import { BACKEND } from './backend.js';
import { toPatch, type Patch } from './handlers.js';
import { StoreHandlers } from './store-handlers.js';

/** Checks run before a write reaches the store; each may throw (or reject) to refuse it. */
export interface StoreGuard {
  create?(obj: Record<string, unknown>, sid: Sid): void | Promise<void>;
  /** `patch` is `{ id, ...set }` with removed properties as `undefined`, as update handlers get it. */
  update?(current: StoredObject, patch: Patch, sid: Sid): void | Promise<void>;
  destroy?(current: StoredObject, sid: Sid): void | Promise<void>;
}

class GuardedBackend implements Backend {
  readonly recall?: Backend['recall'];
  readonly list?: Backend['list'];
  readonly inProcess?: boolean;

  constructor(
    private readonly inner: Backend,
    private readonly guard: StoreGuard,
  ) {
    if (inner.recall) this.recall = inner.recall.bind(inner);
    if (inner.list) this.list = inner.list.bind(inner);
  }

  async create(obj: Record<string, unknown>, sid: Sid, ctx: RequestContext): Promise<Applied> {
    await this.guard.create?.(obj, sid);
    return this.inner.create(obj, sid, ctx);
  }

  async update(
    id: Id,
    set: Record<string, unknown>,
    unset: string[],
    sid: Sid,
    ctx: RequestContext,
  ): Promise<Applied> {
    if (this.guard.update) await this.guard.update(await this.current(id, sid), toPatch(id, set, unset), sid);
    return this.inner.update(id, set, unset, sid, ctx);
  }

  async destroy(id: Id, sid: Sid, ctx: RequestContext): Promise<Applied> {
    if (this.guard.destroy) await this.guard.destroy(await this.current(id, sid), sid);
    return this.inner.destroy(id, sid, ctx);
  }

  fetch(ids: Id[], sid: Sid): ReturnType<Backend['fetch']> {
    return this.inner.fetch(ids, sid);
  }

  /**
   * The object as stored now (the engine's per-object queue keeps it so until the write). An object
   * `visible` hides from the writer never gets here: the engine answers `not_found` first.
   */
  private async current(id: Id, sid: Sid): Promise<StoredObject> {
    const [found] = await this.inner.fetch([id], sid);
    if (!found) throw new SyncError('not_found');
    return found.obj;
  }
}

class GuardedStore extends StoreHandlers implements Store {
  private readonly backend: Backend;

  constructor(store: Store, guard: StoreGuard) {
    super();
    this.backend = new GuardedBackend(store[BACKEND](), guard);
  }

  /** @internal */
  [BACKEND](): Backend {
    return this.backend;
  }
}

/** A store whose writes pass `guard` first; see the file header. */
export function guardStore(store: Store, guard: StoreGuard): Store & StoreHandlers {
  return new GuardedStore(store, guard);
}
