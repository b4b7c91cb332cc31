/**
 * The handler API (node-object-sync's `create`/`update`/`destroy`/`fetch`, plus `list`) on top of a
 * store's versioned backend, so every store is also a set of async handlers that application code can
 * call or wrap. Every answer is a copy: mutating it never touches the store.
 */
import { clone } from '../diff.js';
import type { Id, JsonValue, StoredObject } from '../protocol.js';
import type { Backend, Sid } from './backend.js';
import { BACKEND } from './backend.js';
import { fromPatch, type Handlers, type Patch } from './handlers.js';

/** How long a durable store keeps request-dedupe records by default (ms): 1 h. */
export const DURABLE_DEDUPE_RETENTION_MS = 3_600_000;

export abstract class StoreHandlers implements Handlers {
  /** The store's versioned backend. @internal */
  abstract [BACKEND](): Backend;

  /** Stores a new object under a fresh id; answers a copy of what was stored. */
  async create(obj: Record<string, unknown>, sid: Sid = null): Promise<StoredObject> {
    const applied = await this[BACKEND]().create(obj, sid, {});
    return clone(applied.next!);
  }

  /** Sets the patch's properties (removing those given as `undefined`); `not_found` for unknown ids. */
  async update(patch: Patch, sid: Sid = null): Promise<StoredObject> {
    const { set, unset } = fromPatch(patch);
    const applied = await this[BACKEND]().update(patch.id, set, unset, sid, {});
    return clone(applied.next!);
  }

  /** Removes an object; `not_found` for unknown ids. */
  async destroy(id: Id, sid: Sid = null): Promise<void> {
    await this[BACKEND]().destroy(id, sid, {});
  }

  /** Copies of the objects, in the order of `ids`, `null` for unknown ids. */
  async fetch(ids: Id[], sid: Sid = null): Promise<Array<StoredObject | null>> {
    return (await this[BACKEND]().fetch(ids, sid)).map((entry) => (entry ? clone(entry.obj) : null));
  }

  /** Copies of every object (`query` is passed to the backend). */
  async list(query?: JsonValue, sid: Sid = null): Promise<StoredObject[]> {
    const backend = this[BACKEND]();
    if (!backend.list) return [];
    return (await backend.list(query, sid)).map((entry) => clone(entry.obj));
  }

  /** The store's methods as a plain handlers object, to spread into handlers of your own. */
  handlers(): Handlers {
    return {
      create: (obj, sid) => this.create(obj, sid),
      update: (patch, sid) => this.update(patch, sid),
      destroy: (id, sid) => this.destroy(id, sid),
      fetch: (ids, sid) => this.fetch(ids, sid),
      list: (query, sid) => this.list(query, sid),
    };
  }
}
