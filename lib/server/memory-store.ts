/**
 * The embedded default store: objects in a `Map`, numeric ids from a counter (as in the original
 * demo). It is a set of async handlers, so it can be passed wherever handlers go and wrapped by
 * handlers of your own:
 *
 * @example
 *   const players = new MemoryStore();
 *   sync.collection('players', {
 *     ...players.handlers(),
 *     destroy: (id, sid) => { if (!owns(sid, id)) throw { code: 'forbidden' }; return players.destroy(id); },
 *   });
 */
import { clone } from '../diff.js';
import { SyncError } from '../errors.js';
import type { Id, JsonValue, StoredObject } from '../protocol.js';
import { idKey } from './backend.js';
import type { Handlers, Patch } from './handlers.js';

/** Options of `MemoryStore`. */
export interface MemoryStoreOptions {
  /** Makes the id of a new object (default: 1, 2, 3...). */
  generateId?: () => Id;
}

export class MemoryStore implements Handlers {
  private readonly objects = new Map<string, StoredObject>();
  private readonly generateId: () => Id;
  private counter = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.generateId = options.generateId ?? (() => ++this.counter);
  }

  /** Stores a new object under a fresh id; answers a copy of what was stored. */
  async create(obj: Record<string, unknown>): Promise<StoredObject> {
    const stored = { ...clone(obj), id: this.generateId() } as StoredObject;
    this.objects.set(idKey(stored.id), stored);
    return clone(stored);
  }

  /** Sets the patch's properties (removing those given as `undefined`); `not_found` for unknown ids. */
  async update(patch: Patch): Promise<StoredObject> {
    const stored = this.objects.get(idKey(patch.id));
    if (!stored) throw new SyncError('not_found');
    for (const key of Object.keys(patch)) {
      if (key === 'id') continue;
      if (patch[key] === undefined) delete stored[key];
      else stored[key] = clone(patch[key]);
    }
    return clone(stored);
  }

  /** Removes an object; `not_found` for unknown ids. */
  async destroy(id: Id): Promise<void> {
    if (!this.objects.delete(idKey(id))) throw new SyncError('not_found');
  }

  /** Copies of the objects, in the order of `ids`, `null` for unknown ids. */
  async fetch(ids: Id[]): Promise<Array<StoredObject | null>> {
    return ids.map((id) => {
      const stored = this.objects.get(idKey(id));
      return stored ? clone(stored) : null;
    });
  }

  /** Copies of every object. The query is ignored. */
  async list(_query?: JsonValue): Promise<StoredObject[]> {
    return [...this.objects.values()].map((o) => clone(o));
  }

  /** How many objects are stored. */
  get size(): number {
    return this.objects.size;
  }

  /** The store's methods as a plain handlers object, to spread into handlers of your own. */
  handlers(): Handlers {
    return {
      create: (obj) => this.create(obj),
      update: (patch) => this.update(patch),
      destroy: (id) => this.destroy(id),
      fetch: (ids) => this.fetch(ids),
      list: (query) => this.list(query),
    };
  }
}

/** True for a value usable as handlers: an object with the four CRUD functions. */
export function isHandlers(x: unknown): x is Handlers {
  if (x === null || typeof x !== 'object') return false;
  const h = x as Record<string, unknown>;
  return ['create', 'update', 'destroy', 'fetch'].every((name) => typeof h[name] === 'function');
}
