/**
 * What the adapter remembers between a sync call and its answer.
 *
 * Per model (a `WeakMap`, so forgotten models are collected):
 * - `writes`: the model's writes issued and not answered yet, oldest first. The state the server is
 *   expected to reach is its live object plus these; an answer, an echo or a remote change is applied
 *   underneath the optimistic ones still pending, so it never sets a model back over a newer change.
 * - `waiting`: while the model's create is in flight, the saves and the delete that wait for its id.
 *
 * Per client collection: the ids being destroyed from this side (their late events are ignored),
 * the models this side just created (so a `SyncedCollection` adds that very instance), and the
 * mirrors (`SyncedCollection`s) to put a model back into when the server refuses its destroy.
 */
import type Backbone from 'backbone';
import type { ClientCollection } from '../../lib/client/collection.js';
import { keyOf } from '../../lib/client/identity-map.js';
import type { Id } from '../../lib/protocol.js';
import { applyChanges, plainAttrs, type Change } from './attrs.js';
import type { SyncRequest } from './request.js';
import type { Attrs, SyncOptions } from './types.js';

/** A write from its sync call to its answer. */
export interface Write extends Change {
  /** Shown by the model before its answer (no `wait: true`). */
  optimistic: boolean;
}

/**
 * What waits for a create's answer: a save (its change, and the full attributes captured at its call
 * in case it must become the create itself) or a delete (from the model's `destroy` event).
 */
export type Waiting =
  | { kind: 'save'; write: Write; full: Attrs; request: SyncRequest; options: SyncOptions }
  | { kind: 'delete' };

export interface ModelState {
  writes: Write[];
  /** Set while a create is in flight. */
  waiting: Waiting[] | undefined;
  /** A delete was sent (and not refused). */
  deleteSent: boolean;
}

/** A `SyncedCollection` as the sync side sees it. */
export interface Mirror {
  /** Puts a model back after the server refused its destroy. */
  restore(model: Backbone.Model): void;
}

interface CollectionState {
  doomed: Set<string>;
  created: Map<string, Backbone.Model>;
  mirrors: Set<Mirror>;
}

const models = new WeakMap<Backbone.Model, ModelState>();
const collections = new WeakMap<ClientCollection, CollectionState>();

/** The adapter's state of a model (created on first use). */
export function stateOf(model: Backbone.Model): ModelState {
  let state = models.get(model);
  if (!state) {
    state = { writes: [], waiting: undefined, deleteSent: false };
    models.set(model, state);
  }
  return state;
}

/** Removes a write from its model's pending writes. */
export function settleWrite(model: Backbone.Model, write: Write): void {
  const writes = stateOf(model).writes;
  const at = writes.indexOf(write);
  if (at >= 0) writes.splice(at, 1);
}

/** The optimistic writes of a model still pending (what must stay on top of any answer). */
export function pendingChanges(model: Backbone.Model | undefined): Write[] {
  const state = model && models.get(model);
  return state ? state.writes.filter((w) => w.optimistic) : [];
}

/** The state the server is expected to reach: the live object plus every pending write. */
export function expectedState(model: Backbone.Model, coll: ClientCollection): Attrs {
  const live = model.id === undefined || model.id === null ? undefined : coll.get(model.id as Id);
  return applyChanges(plainAttrs(live, 'id'), stateOf(model).writes);
}

function collState(coll: ClientCollection): CollectionState {
  let state = collections.get(coll);
  if (!state) {
    state = { doomed: new Set(), created: new Map(), mirrors: new Set() };
    collections.set(coll, state);
  }
  return state;
}

/** Marks an id as being destroyed from this side (`on`) or not any more. */
export function setDoomed(coll: ClientCollection, id: Id, on: boolean): void {
  if (on) collState(coll).doomed.add(keyOf(id));
  else collState(coll).doomed.delete(keyOf(id));
}

/** Whether an id is being destroyed from this side: its events are no news to mirrors. */
export function isDoomed(coll: ClientCollection, id: Id): boolean {
  return collState(coll).doomed.has(keyOf(id));
}

/** Remembers the model this side created under `id` until the create's own event has been raised. */
export function rememberCreated(coll: ClientCollection, id: Id, model: Backbone.Model): void {
  const created = collState(coll).created;
  created.set(keyOf(id), model);
  // The client raises the create event right after the callback, synchronously.
  queueMicrotask(() => {
    if (created.get(keyOf(id)) === model) created.delete(keyOf(id));
  });
}

/** The model this side just created under `id`, if any. */
export function createdModel(coll: ClientCollection, id: Id): Backbone.Model | undefined {
  return collState(coll).created.get(keyOf(id));
}

/** Registers (or unregisters) a mirror of a client collection. */
export function setMirror(coll: ClientCollection, mirror: Mirror, on: boolean): void {
  if (on) collState(coll).mirrors.add(mirror);
  else collState(coll).mirrors.delete(mirror);
}

/** Puts a model whose destroy the server refused back into the mirrors of its collection. */
export function restoreDestroyed(coll: ClientCollection, model: Backbone.Model): void {
  for (const mirror of collState(coll).mirrors) mirror.restore(model);
}
