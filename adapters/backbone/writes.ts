/**
 * The writes of a Backbone model: create, update/patch and delete, in order per model.
 *
 * Rules (see SPEC "Backbone", "Known pitfalls", "Full saves"):
 * - What a write names is captured during its sync call: `patch` (or `options.attrs`) names the given
 *   attributes; a full save names every attribute of `toJSON`, and as removed only those the model
 *   had at its last sync and has unset since (fields the server added, or that `toJSON` leaves out,
 *   survive). The client diffs that against the state it expects the server to reach (confirmed
 *   state plus pending writes) when it knows that state, else sends all of it.
 * - The pending writes are the client's (`ClientCollection#pendingWrites`); the adapter only tags the
 *   optimistic ones. An answer is handed to Backbone as the confirmed state with the model's
 *   optimistic writes still pending laid on top, so it never sets the model back over them.
 * - While a model's create is in flight, its saves (Backbone calls them `create` again, the model
 *   being still new) and its destroy (Backbone sends none for a new model: the `destroy` event is
 *   watched) wait for the create's answer and go out, in order, with the new id. When the create is
 *   refused, the first waiting save becomes the create.
 * - A refused optimistic write rolls back the attributes it changed (to the confirmed state plus the
 *   other optimistic writes still pending) before the error path runs; local-only attributes stay. A
 *   refused optimistic destroy puts the model back into its `SyncedCollection`s.
 */
import type Backbone from 'backbone';
import type { ClientCollection, PendingWrite } from '../../lib/client/collection.js';
import { SyncError } from '../../lib/errors.js';
import type { Id, StoredObject } from '../../lib/protocol.js';
import { attrsOf, layered, parsedAttrs, plainAttrs } from './attrs.js';
import { optimisticWrites, type Binding, type Waiting, type WriteTag } from './binding.js';
import type { SyncRequest } from './request.js';
import type { Attrs, SyncOptions } from './types.js';

/** One write call: the binding, the model, its client collection, its request and the caller's options. */
export interface WriteCall {
  binding: Binding;
  model: Backbone.Model;
  coll: ClientCollection;
  request: SyncRequest;
  options: SyncOptions;
}

const hasOwn = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);

/** `create`: sends the model's attributes, or queues them behind the model's create in flight. */
export function createModel(call: WriteCall): void {
  const state = call.binding.stateOf(call.model);
  if (state.waiting) queueSave(call, givenOf(call, call.options.attrs === undefined));
  else startCreate(call, bodyOf(givenOf(call, false)), []);
}

/** `update` (a full save: see the rules above) or `patch` (only the given attributes). */
export function updateModel(call: WriteCall, patch: boolean): void {
  const given = givenOf(call, !patch && call.options.attrs === undefined);
  if (call.binding.stateOf(call.model).waiting) return queueSave(call, given);
  const id = idOf(call.model);
  if (id === undefined) return call.request.fail(new SyncError('invalid_id'));
  sendUpdate(call, id, given, !call.options.wait);
}

/** `delete`: destroys the model's object; its late events are ignored while the answer is awaited. */
export function deleteModel(call: WriteCall): void {
  const id = idOf(call.model);
  if (id === undefined) return call.request.fail(new SyncError('invalid_id'));
  sendDelete(call.binding, call.coll, call.model, id, call.request, !call.options.wait);
}

/**
 * What a write names, captured now (`wait: true` has swapped its attributes in as `options.attrs`):
 * with `full`, also the attributes the model had at its last sync and has unset since, as `undefined`.
 */
function givenOf({ binding, model, coll, options }: WriteCall, full: boolean): Attrs {
  const idAttribute = model.idAttribute || 'id';
  const given = plainAttrs(options.attrs ?? model.toJSON(options), idAttribute);
  if (full) {
    for (const key of binding.syncedKeys(model, coll, idOf(model))) {
      if (key !== 'id' && key !== idAttribute && !hasOwn(model.attributes, key)) given[key] = undefined;
    }
  }
  return given;
}

/** The attributes a create sends: what is named, removed ones left out. */
function bodyOf(given: Attrs): Attrs {
  const body: Attrs = {};
  for (const key of Object.keys(given)) if (given[key] !== undefined) body[key] = given[key];
  return body;
}

function queueSave(call: WriteCall, given: Attrs): void {
  call.binding.stateOf(call.model).waiting!.push({
    kind: 'save',
    given,
    body: bodyOf(givenOf(call, false)),
    optimistic: !call.options.wait,
    request: call.request,
    options: call.options,
  });
}

/** Watches a model's `destroy` event once: a destroy Backbone sends no delete for (see below). */
function watchDestroy(binding: Binding, model: Backbone.Model, coll: ClientCollection): void {
  const state = binding.stateOf(model);
  if (state.watched) return;
  state.watched = true;
  model.on('destroy', (_m: unknown, _c: unknown, options?: { remote?: boolean }) => {
    if (options?.remote) return;
    if (state.waiting) return void state.waiting.push({ kind: 'delete' });
    // `destroy()` of a model that was new when called (its create in flight) sends no delete, and with
    // `wait: true` fires `destroy` later, possibly after the create's answer: delete it then.
    const id = idOf(model);
    if (id !== undefined && !state.deleteSent) sendDelete(binding, coll, model, id, undefined, true);
  });
}

/** Sends a create; the saves and the delete made meanwhile wait for its answer, then go out. */
function startCreate(call: WriteCall, body: Attrs, waiting: Waiting[]): void {
  const { binding, model, coll, request } = call;
  const state = binding.stateOf(model);
  state.waiting = waiting;
  watchDestroy(binding, model, coll);
  coll.save(body, (err, obj) => {
    const after = state.waiting ?? [];
    state.waiting = undefined;
    if (err || !obj) {
      request.fail(asSyncError(err));
      return retryCreate(call, after);
    }
    binding.setOwnModel(obj, model);
    // What waited goes out first, so a save made by a success handler cannot overtake it.
    // A list answered before this create may have brought a copy of the object: it goes before the
    // model takes the id (removing it after would unindex the model's id in its collection).
    binding.adoptCreated(coll, model, obj.id);
    flush(call, obj.id, after);
    succeed(call, obj.id, Object.keys(body));
    // Created, but gone since (a resent create answered after someone destroyed the object): the
    // model leaves its collections as on a remote destroy.
    if (!coll.get(obj.id)) model.trigger('destroy', model, model.collection, { remote: true });
  });
}

/** Sends the saves and the delete that waited for the create of `id`, in order. */
function flush(call: WriteCall, id: Id, waiting: Waiting[]): void {
  const { binding, model, coll } = call;
  // Destroyed while being created: the create's own event must not bring it back to mirrors.
  if (waiting.some((w) => w.kind === 'delete')) binding.setDoomed(coll, id, true);
  for (const item of waiting) {
    if (item.kind === 'save') {
      sendUpdate({ ...call, request: item.request, options: item.options }, id, item.given, item.optimistic);
    } else {
      sendDelete(binding, coll, model, id, undefined, true);
    }
  }
}

/** The create was refused: the first waiting save becomes the create; deletes before it have nothing to delete. */
function retryCreate(call: WriteCall, waiting: Waiting[]): void {
  const at = waiting.findIndex((w) => w.kind === 'save');
  if (at < 0) return;
  const next = waiting[at] as Extract<Waiting, { kind: 'save' }>;
  startCreate({ ...call, request: next.request, options: next.options }, next.body, waiting.slice(at + 1));
}

/** Sends an update of what a save names; a refused optimistic one rolls back what it changed. */
function sendUpdate(call: WriteCall, id: Id, given: Attrs, optimistic: boolean): void {
  const { model, coll, request } = call;
  const tag: WriteTag = { optimistic };
  const write = coll.change({ ...given, id }, tag, (err, obj) => {
    if (err || !obj) {
      if (optimistic) rollback(model, coll, id, write);
      return request.fail(asSyncError(err));
    }
    succeed(call, id, [...Object.keys(write.set), ...write.unset]);
  });
}

/** Hands Backbone the answer (confirmed state, pending optimistic writes on top); the model is synced. */
function succeed(call: WriteCall, id: Id, named: string[]): void {
  const answer = answerOf(call.coll, id, call.model.idAttribute || 'id');
  call.request.succeed(answer);
  // Backbone's success never removes (and with `wait: true` sets what was asked): an attribute the
  // write named that the object no longer has (someone removed it before this answer came) goes.
  const gone: Attrs = {};
  for (const key of named) {
    if (!hasOwn(answer, key) && hasOwn(call.model.attributes, key)) gone[key] = undefined;
  }
  if (call.coll.get(id) && Object.keys(gone).length > 0) {
    call.model.set(gone, { unset: true, remote: true });
  }
  call.binding.markSynced(call.model);
}

/** Sends a destroy; `request` is absent for the destroy of a model whose create was in flight. */
function sendDelete(
  binding: Binding,
  coll: ClientCollection,
  model: Backbone.Model,
  id: Id,
  request: SyncRequest | undefined,
  optimistic: boolean,
): void {
  const state = binding.stateOf(model);
  state.deleteSent = true;
  if (optimistic) binding.setDoomed(coll, id, true);
  coll.destroy(id, (err) => {
    if (optimistic) binding.setDoomed(coll, id, false);
    if (!err) return request?.succeed({});
    state.deleteSent = false;
    const failure = asSyncError(err);
    if (optimistic && coll.get(id)) binding.restoreDestroyed(coll, model);
    if (request) request.fail(failure);
    else model.trigger('error', model, failure, {});
  });
}

/**
 * Puts the attributes a refused write changed back to the confirmed state (plus the model's other
 * optimistic writes still pending), through `model.parse` as a remote change is; other attributes,
 * local-only ones included, stay. Fires `change:attr`/`change` with `{ remote: true, rollback: true }`.
 */
function rollback(model: Backbone.Model, coll: ClientCollection, id: Id, write: PendingWrite): void {
  const confirmed = coll.confirmed(id);
  if (!confirmed) return;
  const target = parsedAttrs(
    model,
    layered(attrsOf(confirmed, model.idAttribute || 'id'), optimisticWrites(coll, id)),
  );
  const options = { remote: true, rollback: true };
  const set: Attrs = {};
  const gone: Attrs = {};
  for (const key of [...Object.keys(write.set), ...write.unset]) {
    if (hasOwn(target, key)) set[key] = target[key];
    else if (hasOwn(model.attributes, key)) gone[key] = undefined;
  }
  if (Object.keys(gone).length > 0) model.set(gone, { ...options, unset: true });
  if (Object.keys(set).length > 0) model.set(set, options);
}

/** The response handed to Backbone: the confirmed object, the pending optimistic writes on top. */
export function answerOf(coll: ClientCollection, id: Id, idAttribute: string): Attrs {
  const confirmed: StoredObject = coll.confirmed(id) ?? { id };
  return layered(attrsOf(confirmed, idAttribute), optimisticWrites(coll, id));
}

/** The id of a model that has one. */
export function idOf(model: Backbone.Model): Id | undefined {
  const id: unknown = model.id;
  return typeof id === 'string' || typeof id === 'number' ? id : undefined;
}

/** The engine's callbacks fail with `SyncError`s; anything else is a malformed answer. */
export function asSyncError(err: unknown): SyncError {
  return err instanceof SyncError ? err : new SyncError('invalid_message');
}
