/**
 * What the adapter remembers for one client (one `Binding` per client, made by `bindingOf`): nothing
 * is shared between clients, and nothing duplicates the client's own records.
 *
 * - The confirmed state of every object and the writes still pending live in the client
 *   (`ClientCollection#confirmed`, `#pendingWrites`, `#expected`); the adapter only tags its
 *   optimistic writes (`WriteTag`) so that answers and remote changes are laid underneath them.
 * - Per model (a `WeakMap`, so forgotten models are collected): the saves and the delete waiting for
 *   the model's create in flight, whether a delete was sent, and which attributes the model had at
 *   its last sync (a full save removes only those the model has unset since).
 * - Per live object: the model this side created for it, so a `SyncedCollection` adds that very
 *   instance (no timing involved: the object is the key for as long as it lives).
 * - Per client collection: the ids being destroyed from this side (their late events are ignored)
 *   and the mirrors (`SyncedCollection`s) to put a model back into when the server refuses a destroy.
 */
import type Backbone from 'backbone';
import type { ObjectSync } from '../../lib/client/client.js';
import type { ClientCollection, PendingWrite } from '../../lib/client/collection.js';
import { keyOf } from '../../lib/client/identity-map.js';
import type { Id, StoredObject } from '../../lib/protocol.js';
import type { SyncRequest } from './request.js';
import type { Attrs, SyncOptions } from './types.js';

/** The tag the adapter gives its writes: whether the model shows the write before its answer. */
export interface WriteTag {
  readonly optimistic: boolean;
}

/** Whether a pending write is one the model already shows (no `wait: true`). */
export function isOptimistic(write: PendingWrite): boolean {
  return (write.tag as WriteTag | undefined)?.optimistic === true;
}

/**
 * What waits for a create's answer: a save (what it names, captured at its call, and the attributes
 * it would create with if it must become the create itself) or a delete (from the `destroy` event).
 */
export type Waiting =
  | {
      kind: 'save';
      given: Attrs;
      body: Attrs;
      optimistic: boolean;
      request: SyncRequest;
      options: SyncOptions;
    }
  | { kind: 'delete' };

/** The adapter's state of one model. */
export interface ModelState {
  /** Set while a create is in flight. */
  waiting: Waiting[] | undefined;
  /** A delete was sent (and not refused). */
  deleteSent: boolean;
  /** The attribute names the model had at its last sync (undefined: never synced through us). */
  synced: Set<string> | undefined;
  /** Whether the model's `destroy` event is watched (see writes.ts). */
  watched: boolean;
}

/** A `SyncedCollection` as the sync side sees it. */
export interface Mirror {
  /** Puts a model back after the server refused its destroy. */
  restore(model: Backbone.Model): void;
  /** A model of this side is about to take `id`: a copy of that object the mirror holds goes. */
  adopt(model: Backbone.Model, id: Id): void;
}

interface CollectionState {
  doomed: Set<string>;
  mirrors: Set<Mirror>;
}

export class Binding {
  private readonly models = new WeakMap<Backbone.Model, ModelState>();
  private readonly colls = new WeakMap<ClientCollection, CollectionState>();
  private readonly own = new WeakMap<StoredObject, Backbone.Model>();

  constructor(readonly client: ObjectSync) {}

  /** The adapter's state of a model (created on first use). */
  stateOf(model: Backbone.Model): ModelState {
    let state = this.models.get(model);
    if (!state) {
      state = { waiting: undefined, deleteSent: false, synced: undefined, watched: false };
      this.models.set(model, state);
    }
    return state;
  }

  /** Records the attributes a model has now as the ones it had at its last sync. */
  markSynced(model: Backbone.Model): void {
    this.stateOf(model).synced = new Set(Object.keys(model.attributes));
  }

  /**
   * The attribute names a full save may remove when the model no longer has them: those it had at
   * its last sync, else (a model that came from a collection fetch) those of the confirmed object.
   */
  syncedKeys(model: Backbone.Model, coll: ClientCollection, id: Id | undefined): Iterable<string> {
    const synced = this.models.get(model)?.synced;
    if (synced) return synced;
    const confirmed = id === undefined ? undefined : coll.confirmed(id);
    return confirmed ? Object.keys(confirmed) : [];
  }

  /** Remembers the model this side created for a live object. */
  setOwnModel(obj: StoredObject, model: Backbone.Model): void {
    this.own.set(obj, model);
  }

  /** The model this side created for a live object, if any. */
  ownModel(obj: StoredObject): Backbone.Model | undefined {
    return this.own.get(obj);
  }

  private collState(coll: ClientCollection): CollectionState {
    let state = this.colls.get(coll);
    if (!state) {
      state = { doomed: new Set(), mirrors: new Set() };
      this.colls.set(coll, state);
    }
    return state;
  }

  /** Marks an id as being destroyed from this side (`on`) or not any more. */
  setDoomed(coll: ClientCollection, id: Id, on: boolean): void {
    if (on) this.collState(coll).doomed.add(keyOf(id));
    else this.collState(coll).doomed.delete(keyOf(id));
  }

  /** Whether an id is being destroyed from this side: its events are no news to mirrors. */
  isDoomed(coll: ClientCollection, id: Id): boolean {
    return this.colls.get(coll)?.doomed.has(keyOf(id)) ?? false;
  }

  /** Registers (or unregisters) a mirror of a client collection. */
  setMirror(coll: ClientCollection, mirror: Mirror, on: boolean): void {
    if (on) this.collState(coll).mirrors.add(mirror);
    else this.colls.get(coll)?.mirrors.delete(mirror);
  }

  /** Tells the mirrors of a collection that a model of this side got its id (see `Mirror#adopt`). */
  adoptCreated(coll: ClientCollection, model: Backbone.Model, id: Id): void {
    for (const mirror of this.colls.get(coll)?.mirrors ?? []) mirror.adopt(model, id);
  }

  /** Puts a model whose destroy the server refused back into the mirrors of its collection. */
  restoreDestroyed(coll: ClientCollection, model: Backbone.Model): void {
    for (const mirror of this.colls.get(coll)?.mirrors ?? []) mirror.restore(model);
  }
}

/** The optimistic writes still pending for an id (what must stay on top of any answer). */
export function optimisticWrites(coll: ClientCollection, id: Id | undefined): PendingWrite[] {
  return id === undefined ? [] : coll.pendingWrites(id).filter(isOptimistic);
}
