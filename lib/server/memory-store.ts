/**
 * The embedded default store: objects with their versions in a `Map`, numeric ids from a counter (as
 * in the original demo). Given to the engine as it is, the engine uses its versioned backend directly;
 * its methods are also async handlers, so it can be wrapped by handlers of your own:
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
import type { Id, StoredObject } from '../protocol.js';
import type { Applied, Backend, Store, Versioned } from './backend.js';
import { BACKEND, idKey } from './backend.js';
import type { Handlers } from './handlers.js';
import { StoreHandlers } from './store-handlers.js';
import { applyPatch, applyRemoval, applyState } from './versioning.js';

/** Options of `MemoryStore`. */
export interface MemoryStoreOptions {
  /** Makes the id of a new object (default: 1, 2, 3...). */
  generateId?: () => Id;
}

/** The versioned backend of a `MemoryStore`: the objects are kept as copies nobody else holds. */
class MemoryBackend implements Backend {
  readonly objects = new Map<string, Versioned>();
  readonly inProcess = true;

  constructor(private readonly generateId: () => Id) {}

  async create(obj: Record<string, unknown>): Promise<Applied> {
    const next = { ...clone(obj), id: this.generateId() } as StoredObject;
    return this.keep(applyState(next.id, this.objects.get(idKey(next.id)), next, true));
  }

  async update(id: Id, set: Record<string, unknown>, unset: string[]): Promise<Applied> {
    const prev = this.objects.get(idKey(id));
    if (!prev) throw new SyncError('not_found');
    return this.keep(applyPatch(id, prev, set, unset));
  }

  async destroy(id: Id): Promise<Applied> {
    const key = idKey(id);
    const prev = this.objects.get(key);
    if (!prev) throw new SyncError('not_found');
    this.objects.delete(key);
    return applyRemoval(id, prev);
  }

  async fetch(ids: Id[]): Promise<Array<Versioned | null>> {
    return ids.map((id) => this.objects.get(idKey(id)) ?? null);
  }

  async list(): Promise<Versioned[]> {
    return [...this.objects.values()];
  }

  private keep(applied: Applied): Applied {
    if (applied.record && applied.next)
      this.objects.set(idKey(applied.id), { obj: applied.next, v: applied.v });
    return applied;
  }
}

export class MemoryStore extends StoreHandlers implements Handlers, Store {
  private readonly backend: MemoryBackend;
  private counter = 0;

  constructor(options: MemoryStoreOptions = {}) {
    super();
    this.backend = new MemoryBackend(options.generateId ?? (() => ++this.counter));
  }

  /** @internal */
  [BACKEND](): Backend {
    return this.backend;
  }

  /** How many objects are stored. */
  get size(): number {
    return this.backend.objects.size;
  }
}
