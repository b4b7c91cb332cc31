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

let latest: ObjectSync | undefined;
const syncs = new WeakMap<ObjectSync, BackboneSync>();

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

/** The sync function of a client (one per client), without making it the latest. @internal */
export function syncThrough(client: ObjectSync): BackboneSync {
  let sync = syncs.get(client);
  if (!sync) {
    sync = (method: SyncMethod, target, options?: SyncOptions) =>
      runSync(client, method, target, options ?? {});
    syncs.set(client, sync);
  }
  return sync;
}

/** One sync call: everything it sends is captured here, synchronously. Fires `request`. */
function runSync(
  client: ObjectSync,
  method: SyncMethod,
  target: SyncTarget,
  options: SyncOptions,
): PromiseLike<unknown> {
  if (!METHODS.has(method)) throw new TypeError(`object-sync: unknown sync method ${String(method)}`);
  const coll = client.collection(collectionNameOf(target, options));
  const request = new SyncRequest(options);
  options.xhr = request.promise;
  if (isCollection(target)) {
    if (method !== 'read') throw new TypeError(`object-sync: a collection can only be read, not ${method}`);
    listCollection(coll, target, options, request);
  } else {
    const call = { model: target, coll, request, options };
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
function readModel({ model, coll, request }: WriteCall): void {
  const id = idOf(model);
  if (id === undefined) return request.fail(new SyncError('invalid_id'));
  coll.fetch([id], (err, found) => {
    if (err || !found) return request.fail(asSyncError(err));
    const obj = found[0];
    if (!obj) return request.fail(new SyncError('not_found'));
    request.succeed(answerOf(obj, model));
  });
}

/** `read` of a collection: lists the client collection (`options.data` is the list query). */
function listCollection(
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
    request.succeed(objs.map((obj) => answerOf(obj, target.get(obj.id), idAttribute)));
  });
}
