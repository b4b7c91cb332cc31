/**
 * The writes of a Backbone model: create, update/patch and delete, in order per model.
 *
 * Rules (see SPEC "Backbone", "Known pitfalls"):
 * - What a write sends is captured during its sync call: the change from the expected state (the
 *   live object plus the model's pending writes) to the attributes of that moment.
 * - While a model's create is in flight, its saves (Backbone calls them `create` again, the model
 *   being still new) and its destroy (Backbone sends none for a new model: the `destroy` event is
 *   watched) wait for the create's answer and go out, in order, with the new id. When the create is
 *   refused, the first waiting save becomes the create.
 * - An answer is handed to Backbone with the model's newer optimistic writes still pending laid on
 *   top, so it never sets the model back over them.
 * - A refused optimistic write rolls the model back to its live (server-confirmed) state plus its
 *   other pending writes before the error path runs; a refused optimistic destroy puts the model
 *   back into its `SyncedCollection`s.
 */
import type Backbone from 'backbone';
import type { ClientCollection } from '../../lib/client/collection.js';
import { SyncError } from '../../lib/errors.js';
import type { Id, StoredObject } from '../../lib/protocol.js';
import { applyChanges, attrsOf, changeOf, plainAttrs, saveObjectOf } from './attrs.js';
import type { SyncRequest } from './request.js';
import {
  expectedState,
  pendingChanges,
  rememberCreated,
  restoreDestroyed,
  setDoomed,
  settleWrite,
  stateOf,
  type Waiting,
  type Write,
} from './state.js';
import type { Attrs, SyncOptions } from './types.js';

/** One write call: the model, its client collection, its request and the caller's options. */
export interface WriteCall {
  model: Backbone.Model;
  coll: ClientCollection;
  request: SyncRequest;
  options: SyncOptions;
}

/** `create`: sends the model's attributes, or queues them behind the model's create in flight. */
export function createModel(call: WriteCall): void {
  const full = captured(call);
  const state = stateOf(call.model);
  if (state.waiting) queueSave(call, full, call.options.attrs === undefined);
  else startCreate(call, full, undefined, []);
}

/** `update` (all attributes; removed ones are removed) or `patch` (only the given attributes). */
export function updateModel(call: WriteCall, patch: boolean): void {
  const full = captured(call);
  const removeMissing = !patch && call.options.attrs === undefined;
  if (stateOf(call.model).waiting) return queueSave(call, full, removeMissing);
  const id = idOf(call.model);
  if (id === undefined) return call.request.fail(new SyncError('invalid_id'));
  const write = newWrite(call, changeOf(expectedState(call.model, call.coll), full, removeMissing));
  sendUpdate(call, id, write);
}

/** `delete`: destroys the model's object; its late events are ignored while the answer is awaited. */
export function deleteModel(call: WriteCall): void {
  const id = idOf(call.model);
  if (id === undefined) return call.request.fail(new SyncError('invalid_id'));
  sendDelete(call.coll, call.model, id, call.request, !call.options.wait);
}

/** The attributes a write is about, captured now (`wait: true` has swapped them in for the call). */
function captured({ model, options }: WriteCall): Attrs {
  return plainAttrs(options.attrs ?? model.toJSON(options), model.idAttribute || 'id');
}

function newWrite(call: WriteCall, change: { set: Attrs; unset: string[] }): Write {
  const write: Write = { ...change, optimistic: !call.options.wait };
  stateOf(call.model).writes.push(write);
  return write;
}

function queueSave(call: WriteCall, full: Attrs, removeMissing: boolean): void {
  const write = newWrite(call, changeOf(expectedState(call.model, call.coll), full, removeMissing));
  stateOf(call.model).waiting!.push({
    kind: 'save',
    write,
    full,
    request: call.request,
    options: call.options,
  });
}

/**
 * Sends a create and watches the model's `destroy` event until its answer; then sends what waited.
 * `write` is given when a waiting save becomes the create.
 */
function startCreate(call: WriteCall, full: Attrs, write: Write | undefined, waiting: Waiting[]): void {
  const { model, coll, request } = call;
  const state = stateOf(model);
  const body = plainAttrs(full, 'id');
  for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
  if (write) Object.assign(write, { set: { ...body }, unset: [] });
  const own = write ?? newWrite(call, { set: { ...body }, unset: [] });
  state.waiting = waiting;
  const onDestroy = (_m: unknown, _c: unknown, options?: { remote?: boolean }): void => {
    if (options?.remote) return;
    if (state.waiting) return void state.waiting.push({ kind: 'delete' });
    // `destroy({ wait: true })` of a model that was new fires `destroy` from a deferred callback
    // that may run just after the create's answer, and Backbone sends no delete for it.
    const id = idOf(model);
    if (id !== undefined && !state.deleteSent) sendDelete(coll, model, id, undefined, true);
  };
  model.on('destroy', onDestroy);
  call.coll.save(body, (err, obj) => {
    settleWrite(model, own);
    const after = state.waiting ?? [];
    state.waiting = undefined;
    if (err || !obj) {
      model.off('destroy', onDestroy);
      request.fail(asSyncError(err));
      return retryCreate(model, coll, after);
    }
    // Backbone defers with `setTimeout(fn, 1)`: one set earlier runs before this one.
    setTimeout(() => model.off('destroy', onDestroy), 1);
    rememberCreated(coll, obj.id, model);
    // What waited goes out first, so a save made by a success handler cannot overtake it.
    flush(model, coll, obj.id, after);
    request.succeed(answerOf(obj, model));
  });
}

/** Sends the saves and the delete that waited for the create of `id`, in order. */
function flush(model: Backbone.Model, coll: ClientCollection, id: Id, waiting: Waiting[]): void {
  // Destroyed while being created: the create's own event must not bring it back to mirrors.
  if (waiting.some((w) => w.kind === 'delete')) setDoomed(coll, id, true);
  for (const item of waiting) {
    if (item.kind === 'save')
      sendUpdate({ model, coll, request: item.request, options: item.options }, id, item.write);
    else sendDelete(coll, model, id, undefined, true);
  }
}

/** The create was refused: the first waiting save becomes the create; deletes before it have nothing to delete. */
function retryCreate(model: Backbone.Model, coll: ClientCollection, waiting: Waiting[]): void {
  const at = waiting.findIndex((w) => w.kind === 'save');
  if (at < 0) return;
  const next = waiting[at] as Extract<Waiting, { kind: 'save' }>;
  const call = { model, coll, request: next.request, options: next.options };
  startCreate(call, next.full, next.write, waiting.slice(at + 1));
}

function sendUpdate(call: WriteCall, id: Id, write: Write): void {
  const { model, coll, request } = call;
  coll.save(saveObjectOf(id, write), (err, obj) => {
    settleWrite(model, write);
    if (err || !obj) {
      if (write.optimistic) rollback(model, coll, id);
      return request.fail(asSyncError(err));
    }
    request.succeed(answerOf(obj, model));
  });
}

/** Sends a destroy; `request` is absent for the destroy of a model whose create was in flight. */
function sendDelete(
  coll: ClientCollection,
  model: Backbone.Model,
  id: Id,
  request: SyncRequest | undefined,
  optimistic: boolean,
): void {
  const state = stateOf(model);
  state.deleteSent = true;
  if (optimistic) setDoomed(coll, id, true);
  coll.destroy(id, (err) => {
    if (optimistic) setDoomed(coll, id, false);
    if (!err) return request?.succeed({});
    state.deleteSent = false;
    const failure = asSyncError(err);
    if (optimistic && coll.get(id)) restoreDestroyed(coll, model);
    if (request) request.fail(failure);
    else model.trigger('error', model, failure, {});
  });
}

/**
 * Puts a model back to its last server-confirmed attributes (plus its other optimistic writes still
 * pending). Fires `change:attr`/`change` with `{ remote: true, rollback: true }`.
 */
function rollback(model: Backbone.Model, coll: ClientCollection, id: Id): void {
  const live = coll.get(id);
  if (!live) return;
  const idAttribute = model.idAttribute || 'id';
  const target = applyChanges(attrsOf(live, idAttribute), pendingChanges(model));
  const options = { remote: true, rollback: true };
  const gone: Attrs = {};
  for (const key of Object.keys(model.attributes)) {
    if (key !== idAttribute && !Object.prototype.hasOwnProperty.call(target, key)) gone[key] = undefined;
  }
  if (Object.keys(gone).length > 0) model.set(gone, { ...options, unset: true });
  model.set(target, options);
}

/** The response handed to Backbone: the server object, with the model's pending optimistic writes on top. */
export function answerOf(obj: StoredObject, model: Backbone.Model | undefined, idAttribute?: string): Attrs {
  const attrs = attrsOf(obj, idAttribute ?? (model?.idAttribute || 'id'));
  return applyChanges(attrs, pendingChanges(model));
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
