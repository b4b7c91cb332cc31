/**
 * `backboneSync(client)`: a replacement for `Backbone.sync` that persists models over an object-sync
 * client instead of Ajax. It honours Backbone 1.6's `sync(method, model, options)` contract:
 *
 * - `create`, `update`, `patch` (only the given attributes travel), `delete`; `read` fetches a model
 *   by id (`not_found` when the server has none) or lists a collection (`options.data` is the query).
 * - The collection is named by `options.url`, else the model's or collection's url (see url.ts); no
 *   url throws Backbone's own error, synchronously.
 * - `options.success(resp)` or `options.error(err)` runs exactly once; `resp` is a plain copy of the
 *   server's object (Backbone parses it and fires `sync` itself); `err` is a `SyncError`
 *   (`{ code, message }`), and Backbone's `error` event follows.
 * - Fires `request(model, xhr, options)` once per call; returns a thenable (a jQuery Deferred's
 *   promise when `Backbone.$` has one, else a Promise), settled after the callbacks and also stored as
 *   `options.xhr`. It never surfaces as an unhandled rejection.
 * - Ordering per model, rollback of refused optimistic changes: see writes.ts.
 *
 * Nothing is assigned on import: the application writes `Backbone.sync = backboneSync(client)`.
 */
import type { ObjectSync } from '../../lib/client/client.js';
import type { ClientCollection } from '../../lib/client/collection.js';
import { clone } from '../../lib/diff.js';
import { SyncError } from '../../lib/errors.js';
import type { JsonValue } from '../../lib/protocol.js';
import { SyncRequest } from './request.js';
import type { BackboneSync, SyncMethod, SyncOptions, SyncTarget } from './types.js';
import { collectionNameOf, isCollection } from './url.js';
import { Binding } from './binding.js';
import {
  answerOf,
  asSyncError,
  createModel,
  deleteModel,
  idOf,
  updateModel,
  type WriteCall,
} from './writes.js';

const METHODS: ReadonlySet<string> = new Set(['create', 'read', 'update', 'patch', 'delete']);

/**
 * The client of the latest `backboneSync(client)`: SPEC's default for a `SyncedCollection` (the one
 * piece of module state, as SPEC asks; `client.close()` releases what the client holds).
 */
let latest: ObjectSync | undefined;
/** One binding and one sync function per client (keyed weakly: a closed client is collected). */
const bindings = new WeakMap<ObjectSync, { binding: Binding; sync: BackboneSync }>();

/**
 * Returns a `sync(method, model, options)` for `Backbone.sync`, a model's or a collection's `sync`,
 * that goes through `client`. Also makes `client` the one `SyncedCollection`s use when none is given.
 * Each call of the returned function fires `request(model, xhr, options)` on its model or collection;
 * Backbone then fires `sync` or `error` from the callbacks, and a refused optimistic change first
 * rolls back with `change` events marked `{ remote: true, rollback: true }`.
 *
 * @example
 *   const client = new ObjectSync({ url: 'http://localhost:8080' });
 *   Backbone.sync = backboneSync(client);
 */
export function backboneSync(client: ObjectSync): BackboneSync {
  if (!client || typeof client.collection !== 'function') {
    throw new TypeError('backboneSync needs an object-sync client');
  }
  latest = client;
  return syncThrough(client);
}

/** The client of the latest `backboneSync(client)` call. @internal */
export function latestClient(): ObjectSync | undefined {
  return latest;
}

/** The binding of a client (one per client). @internal */
export function bindingOf(client: ObjectSync): Binding {
  return bound(client).binding;
}

/** The sync function of a client (one per client), without making it the latest. @internal */
export function syncThrough(client: ObjectSync): BackboneSync {
  return bound(client).sync;
}

function bound(client: ObjectSync): { binding: Binding; sync: BackboneSync } {
  let it = bindings.get(client);
  if (!it) {
    const binding = new Binding(client);
    it = {
      binding,
      sync: (method: SyncMethod, target, options?: SyncOptions) =>
        runSync(binding, method, target, options ?? {}),
    };
    bindings.set(client, it);
  }
  return it;
}

/** One sync call: everything it sends is captured here, synchronously. Fires `request`. */
function runSync(
  binding: Binding,
  method: SyncMethod,
  target: SyncTarget,
  options: SyncOptions,
): PromiseLike<unknown> {
  if (!METHODS.has(method)) throw new TypeError(`object-sync: unknown sync method ${String(method)}`);
  const coll = binding.client.collection(collectionNameOf(target, options));
  const request = new SyncRequest(options);
  options.xhr = request.promise;
  if (isCollection(target)) {
    if (method !== 'read') throw new TypeError(`object-sync: a collection can only be read, not ${method}`);
    listCollection(binding, coll, target, options, request);
  } else {
    const call = { binding, model: target, coll, request, options };
    if (method === 'read') readModel(call);
    else if (method === 'create') createModel(call);
    else if (method === 'delete') deleteModel(call);
    else updateModel(call, method === 'patch');
  }
  try {
    target.trigger('request', target, request.promise, options);
  } finally {
    request.release();
  }
  return request.promise;
}

/** `read` of a model: fetches its object by id; `not_found` when the server has none. */
function readModel({ binding, model, coll, request }: WriteCall): void {
  const id = idOf(model);
  if (id === undefined) return request.fail(new SyncError('invalid_id'));
  coll.fetch([id], (err, found) => {
    if (err || !found) return request.fail(asSyncError(err));
    const obj = found[0];
    if (!obj) return request.fail(new SyncError('not_found'));
    request.succeed(answerOf(coll, obj.id, model.idAttribute || 'id'));
    binding.markSynced(model);
  });
}

/** `read` of a collection: lists the client collection (`options.data` is the list query). */
function listCollection(
  binding: Binding,
  coll: ClientCollection,
  target: Extract<SyncTarget, { models: unknown }>,
  options: SyncOptions,
  request: SyncRequest,
): void {
  const query = options.data === undefined ? undefined : (clone(options.data) as JsonValue);
  const modelClass = target.model as { prototype?: { idAttribute?: string } } | undefined;
  const idAttribute = modelClass?.prototype?.idAttribute || 'id';
  coll.list(query, (err, objs) => {
    if (err || !objs) return request.fail(asSyncError(err));
    request.succeed(objs.map((obj) => answerOf(coll, obj.id, idAttribute)));
    for (const obj of objs) {
      const model = target.get(obj.id);
      if (model) binding.markSynced(model);
    }
  });
}
