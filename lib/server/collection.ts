/**
 * One named collection on the server: its backend (handlers or store), its per-object queue, and its
 * server-side API (`save`, `destroy`, `fetch`, `list`), which takes the same write pipeline as client
 * requests (so it broadcasts like them) and answers copies: mutating a result never changes the store.
 */
import { clone } from '../diff.js';
import { SyncError } from '../errors.js';
import type { Id, JsonValue, StoredObject, SyncObject } from '../protocol.js';
import { isValidId } from '../protocol.js';
import { settle, type NodeCallback } from '../settle.js';
import type { Backend } from './backend.js';
import { fromPatch } from './handlers.js';
import type { WritePipeline, WriteTarget } from './pipeline.js';
import { CreateGate } from './create-gate.js';
import { KeyedQueue } from './queue.js';

/** What a collection needs of its engine. @internal */
export interface CollectionHost {
  readonly pipeline: WritePipeline;
  /** Keeps shutdown waiting for running work. */
  track<T>(work: Promise<T>): Promise<T>;
}

/**
 * The socket.io room of a collection's subscribers, also of one `autoCollections` has not made yet (a
 * `sub` of it joins the room, so its subscribers get the changes once a create makes it).
 */
export function roomOf(name: string): string {
  return `c:${name}`;
}

export class ServerCollection implements WriteTarget {
  /** The socket.io room of this collection's subscribers. @internal */
  readonly room: string;
  /** Writes of one object run one at a time, in arrival order. @internal */
  readonly queue = new KeyedQueue();
  /** Creates in flight, which writes of ids they may have made wait for. @internal */
  readonly creates = new CreateGate();

  /** @internal */
  constructor(
    readonly name: string,
    /** @internal */
    readonly backend: Backend,
    private readonly host: CollectionHost,
  ) {
    this.room = roomOf(name);
  }

  /**
   * Stores an object from the server side: creates it when it has no id, else updates the properties
   * it has (`undefined` removes one). Broadcasts like a client's save. Resolves with a copy of the
   * stored object.
   */
  save(obj: SyncObject, cb?: NodeCallback<StoredObject>): Promise<StoredObject> {
    const work = async (): Promise<StoredObject> => {
      if (obj === null || typeof obj !== 'object') throw new SyncError('invalid_message');
      if (obj.id === undefined) {
        const applied = await this.host.pipeline.server(this, { kind: 'create', obj: withoutId(obj) });
        return clone(applied.next!);
      }
      if (!isValidId(obj.id)) throw new SyncError('invalid_id');
      const { set, unset } = fromPatch(obj);
      const applied = await this.host.pipeline.server(this, { kind: 'update', id: obj.id, set, unset });
      if (!applied.next) throw new SyncError('not_found');
      return clone(applied.next);
    };
    return settle(work(), cb);
  }

  /** Destroys an object from the server side and broadcasts it. */
  destroy(id: Id, cb?: NodeCallback<void>): Promise<void> {
    const work = async (): Promise<void> => {
      if (!isValidId(id)) throw new SyncError('invalid_id');
      await this.host.pipeline.server(this, { kind: 'destroy', id });
    };
    return settle(work(), cb);
  }

  /** Reads objects by id (one id or an array); resolves with copies, `null` for unknown ids. */
  fetch(ids: Id | Id[], cb?: NodeCallback<Array<StoredObject | null>>): Promise<Array<StoredObject | null>> {
    const work = async (): Promise<Array<StoredObject | null>> => {
      const list = Array.isArray(ids) ? ids : [ids];
      if (!list.every((id) => isValidId(id))) throw new SyncError('invalid_id');
      const found = await this.host.track(this.backend.fetch(list, null));
      for (const entry of found) if (entry) this.creates.saw(entry.obj.id);
      return found.map((entry) => (entry ? clone(entry.obj) : null));
    };
    return settle(work(), cb);
  }

  /** Copies of every object of the collection (`unsupported` for handlers without `list`). */
  list(query?: JsonValue, cb?: NodeCallback<StoredObject[]>): Promise<StoredObject[]> {
    const work = async (): Promise<StoredObject[]> => {
      if (!this.backend.list) throw new SyncError('unsupported');
      return (await this.host.track(this.backend.list(query, null))).map((entry) => clone(entry.obj));
    };
    return settle(work(), cb);
  }
}

function withoutId(obj: SyncObject): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(obj)) if (key !== 'id' && obj[key] !== undefined) copy[key] = obj[key];
  return copy;
}
