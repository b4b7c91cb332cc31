/**
 * One named collection on the server: its backend (handlers or store), its per-object queue, and its
 * server-side API (`save`, `destroy`, `fetch`, `list`), which broadcasts like client requests do.
 *
 * Invariants:
 * - Writes of one object run one at a time, in arrival order (`KeyedQueue`), and each write's event
 *   is published before the next write of that object starts, so events leave in version order.
 * - Nothing is published for a write that failed or changed nothing.
 */
import { SyncError } from '../errors.js';
import type { ChangeRecord, Id, JsonValue, StoredObject, SyncObject } from '../protocol.js';
import { isValidId } from '../protocol.js';
import { settle, type NodeCallback } from '../settle.js';
import type { Connection } from '../transport.js';
import type { Applied, Backend, Versioned } from './backend.js';
import { idKey } from './backend.js';
import type { RequestContext, Sid } from './backend.js';
import { fromPatch } from './handlers.js';
import { KeyedQueue } from './queue.js';

/** How the engine publishes a collection's changes. @internal */
export interface Publisher {
  publish(collection: ServerCollection, applied: Applied, origin: Connection | undefined): void;
  /** Keeps shutdown waiting for running work. */
  track<T>(work: Promise<T>): Promise<T>;
}

/** Runs synchronously after a write was published (the engine answers the requester there). @internal */
export type OnApplied = (applied: Applied) => void;

export class ServerCollection {
  /** The socket.io room of this collection's subscribers. @internal */
  readonly room: string;
  private readonly queue = new KeyedQueue();

  /** @internal */
  constructor(
    readonly name: string,
    /** @internal */
    readonly backend: Backend,
    private readonly publisher: Publisher,
  ) {
    this.room = `c:${name}`;
  }

  /**
   * Stores an object from the server side: creates it when it has no id, else updates the properties
   * it has (`undefined` removes one). Broadcasts like a client's save. Resolves with the stored object.
   */
  save(obj: SyncObject, cb?: NodeCallback<StoredObject>): Promise<StoredObject> {
    const work = async (): Promise<StoredObject> => {
      if (obj === null || typeof obj !== 'object') throw new SyncError('invalid_message');
      if (obj.id === undefined) return (await this.create(withoutId(obj), null, {})).next as StoredObject;
      if (!isValidId(obj.id)) throw new SyncError('invalid_id');
      const { set, unset } = fromPatch(obj);
      const applied = await this.update(obj.id, set, unset, null, {});
      if (!applied.next) throw new SyncError('not_found');
      return applied.next;
    };
    return settle(work(), cb);
  }

  /** Destroys an object from the server side and broadcasts it. */
  destroy(id: Id, cb?: NodeCallback<void>): Promise<void> {
    const work = async (): Promise<void> => {
      if (!isValidId(id)) throw new SyncError('invalid_id');
      await this.destroyOne(id, null, {});
    };
    return settle(work(), cb);
  }

  /** Reads objects by id (one id or an array); resolves with an array, `null` for unknown ids. */
  fetch(ids: Id | Id[], cb?: NodeCallback<Array<StoredObject | null>>): Promise<Array<StoredObject | null>> {
    const work = async (): Promise<Array<StoredObject | null>> => {
      const list = Array.isArray(ids) ? ids : [ids];
      if (!list.every((id) => isValidId(id))) throw new SyncError('invalid_id');
      const found = await this.publisher.track(this.backend.fetch(list, null));
      return found.map((entry) => entry?.obj ?? null);
    };
    return settle(work(), cb);
  }

  /** Every object of the collection. */
  list(query?: JsonValue, cb?: NodeCallback<StoredObject[]>): Promise<StoredObject[]> {
    const work = async (): Promise<StoredObject[]> =>
      (await this.publisher.track(this.backend.list(query, null))).map((entry) => entry.obj);
    return settle(work(), cb);
  }

  /**
   * Creates an object and publishes it. `onApplied` runs synchronously right after the publish, so
   * the requester's answer leaves before anything else happens to the object. @internal
   */
  async create(
    obj: Record<string, unknown>,
    origin: Connection | null,
    ctx: RequestContext,
    onApplied?: OnApplied,
  ): Promise<Applied> {
    return this.published(
      await this.publisher.track(this.backend.create(obj, sidOf(origin), ctx)),
      origin,
      onApplied,
    );
  }

  /** Updates an object in its queue and publishes the change; see `create` for `onApplied`. @internal */
  update(
    id: Id,
    set: Record<string, unknown>,
    unset: string[],
    origin: Connection | null,
    ctx: RequestContext,
    onApplied?: OnApplied,
  ): Promise<Applied> {
    return this.serial(id, () => this.updateNow(id, set, unset, origin, ctx, onApplied));
  }

  /** Destroys an object in its queue and publishes it; see `create` for `onApplied`. @internal */
  destroyOne(
    id: Id,
    origin: Connection | null,
    ctx: RequestContext,
    onApplied?: OnApplied,
  ): Promise<Applied> {
    return this.serial(id, () => this.destroyNow(id, origin, ctx, onApplied));
  }

  /** `update` for a caller already inside the object's queue (`serial`). @internal */
  async updateNow(
    id: Id,
    set: Record<string, unknown>,
    unset: string[],
    origin: Connection | null,
    ctx: RequestContext,
    onApplied?: OnApplied,
  ): Promise<Applied> {
    return this.published(await this.backend.update(id, set, unset, sidOf(origin), ctx), origin, onApplied);
  }

  /** `destroyOne` for a caller already inside the object's queue (`serial`). @internal */
  async destroyNow(
    id: Id,
    origin: Connection | null,
    ctx: RequestContext,
    onApplied?: OnApplied,
  ): Promise<Applied> {
    return this.published(await this.backend.destroy(id, sidOf(origin), ctx), origin, onApplied);
  }

  /** Reads through the backend for a client. @internal */
  read(ids: Id[], sid: Sid): Promise<Array<Versioned | null>> {
    return this.publisher.track(this.backend.fetch(ids, sid));
  }

  /** Lists through the backend for a client. @internal */
  readAll(query: JsonValue | undefined, sid: Sid): Promise<Versioned[]> {
    return this.publisher.track(this.backend.list(query, sid));
  }

  /** Publishes a write's change, then runs `onApplied` (the requester's answer) at once. */
  private published(applied: Applied, origin: Connection | null, onApplied: OnApplied | undefined): Applied {
    this.publisher.publish(this, applied, origin ?? undefined);
    onApplied?.(applied);
    return applied;
  }

  /**
   * Runs `task` in the object's queue: after every write of `id` queued before it, before every one
   * queued after. The queue is taken synchronously, so tasks run in the order this was called. @internal
   */
  serial<T>(id: Id, task: () => Promise<T>): Promise<T> {
    return this.publisher.track(this.queue.run(idKey(id), task));
  }
}

function sidOf(origin: Connection | null): Sid {
  return origin ? origin.sid : null;
}

function withoutId(obj: SyncObject): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(obj)) if (key !== 'id' && obj[key] !== undefined) copy[key] = obj[key];
  return copy;
}

/** The full-state record of an object. */
export function fullRecord(obj: StoredObject, v: number): ChangeRecord {
  return { k: 'c', i: obj.id, v, o: obj };
}
