/**
 * `SyncedCollection`: a `Backbone.Collection` that mirrors one collection of the server, live.
 *
 * - Its client is `options.client` given at construction, else the client of the latest
 *   `backboneSync(client)`. It and its models sync through that client.
 * - It subscribes to the client collection named by its `url` on the next microtask (ES class fields
 *   such as `url = '/todos'` are assigned only after the constructor returns), or on its first sync.
 * - Server changes are translated, each with `options.remote: true` so listeners can tell them apart
 *   and never echo them back: a create `add`s a model (never a second one for a model this side
 *   created), an update `set`s the same model instance (only real changes fire `change:attr`), and a
 *   destroy triggers the model's `destroy` event, so it leaves every collection and its views remove
 *   themselves. A change is applied underneath the model's own pending optimistic writes.
 * - After a reconnect the client resyncs and raises what was missed: the collection converges by
 *   itself.
 *
 * Events (beyond Backbone's): `error(collection, err, {})` when a resync fails (the subscription is
 * refused, the server fails it...): the collection may be stale until the client's retry succeeds.
 *
 * It is defined with `Backbone.Collection.extend`, so both `SyncedCollection.extend({...})` and
 * `class Todos extends SyncedCollection` work.
 */
import Backbone from 'backbone';
import type { ObjectSync } from '../../lib/client/client.js';
import type { ClientCollection } from '../../lib/client/collection.js';
import { clone, deepEqual } from '../../lib/diff.js';
import type { Id, StoredObject } from '../../lib/protocol.js';
import { attrsOf, layered, parsedAttrs } from './attrs.js';
import { optimisticWrites, type Binding, type Mirror } from './binding.js';
import { bindingOf, latestClient, syncThrough } from './sync.js';
import type { Attrs, SyncMethod, SyncOptions, SyncTarget } from './types.js';
import { isCollection, nameFromUrl, resultOf } from './url.js';

/** Constructor options of a `SyncedCollection` (besides Backbone's own). */
export interface SyncedCollectionOptions {
  /** The client to sync through (default: the one given to the latest `backboneSync(client)`). */
  client?: ObjectSync;
  [option: string]: unknown;
}

/** What a `SyncedCollection` adds to `Backbone.Collection`. */
export interface SyncedCollection<
  TModel extends Backbone.Model = Backbone.Model,
> extends Backbone.Collection<TModel> {
  /** Resolves once the collection is subscribed and holds every object the client knows of. */
  ready(): Promise<this>;
  /**
   * Stops its live updates for good and releases what only it held: its listeners on the client, and
   * its subscription (the last subscriber of a client collection unsubscribes it, and the client
   * forgets its objects). The models stay in the collection; syncing them still works.
   */
  dispose(): void;
  /** @deprecated the same as `dispose()`. */
  detach(): void;
}

/** The `SyncedCollection` constructor: `new`, `class ... extends`, or Backbone's `extend`. */
export interface SyncedCollectionConstructor {
  new <TModel extends Backbone.Model = Backbone.Model>(
    models?: Array<NoInfer<TModel> | Record<string, unknown>>,
    options?: SyncedCollectionOptions,
  ): SyncedCollection<TModel>;
  readonly prototype: SyncedCollection;
  /** Backbone's `extend`: a subclass (typed as a `SyncedCollection`; prefer `class ... extends` for more). */
  extend(properties?: object, classProperties?: object): SyncedCollectionConstructor;
}

/** Per instance, kept off the instance so ES class fields cannot clobber it. */
interface Internal {
  client: ObjectSync | undefined;
  coll: ClientCollection | undefined;
  ready: Promise<void>;
  settle: { resolve(): void; reject(err: unknown): void };
  detach: (() => void) | undefined;
  disposed: boolean;
}

const internals = new WeakMap<Backbone.Collection, Internal>();

/**
 * Options of every change this module makes (a fresh object each time: listeners get it): `remote`
 * tells app listeners not to echo the change back.
 */
type RemoteOptions = Backbone.AddOptions &
  Backbone.ModelSetOptions & { remote: true; rollback?: true; parse?: boolean; unset?: boolean };
const remote = (extra?: Partial<RemoteOptions>): RemoteOptions => ({ ...extra, remote: true });

type PrepareModel = (this: Backbone.Collection, attrs: unknown, options: unknown) => Backbone.Model | false;

/** The constructor: Backbone's collection constructor, then the subscription on the next microtask. */
function SyncedCollectionCtor(
  this: Backbone.Collection,
  models?: unknown,
  options?: SyncedCollectionOptions,
) {
  let settle!: Internal['settle'];
  const ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  ready.catch(() => undefined);
  internals.set(this, {
    client: options?.client,
    coll: undefined,
    ready,
    settle,
    detach: undefined,
    disposed: false,
  });
  (Backbone.Collection as unknown as (...args: unknown[]) => void).call(this, models, options);
  queueMicrotask(() => {
    try {
      attach(this);
    } catch {
      // A url that names no collection: the first sync throws it to the caller.
    }
  });
}

const methods = {
  constructor: SyncedCollectionCtor,

  /** Syncs the collection (and, through `_prepareModel`, its models) through its client. */
  sync(this: Backbone.Collection, method: SyncMethod, target: SyncTarget, options?: SyncOptions) {
    attach(this);
    const client = internals.get(this)?.client ?? latestClient();
    if (!client) {
      throw new Error(
        'object-sync: a SyncedCollection needs { client } or a backboneSync(client) call first',
      );
    }
    return syncThrough(client)(method, target, options);
  },

  /** Backbone's model preparation, plus: a model without a sync of its own syncs through this collection. */
  _prepareModel(this: Backbone.Collection, attrs: unknown, options: unknown) {
    const base = (Backbone.Collection.prototype as unknown as { _prepareModel: PrepareModel })._prepareModel;
    const model = base.call(this, attrs, options);
    if (model && model.sync === Backbone.Model.prototype.sync) {
      model.sync = (method: SyncMethod, target: SyncTarget, opts?: SyncOptions) =>
        this.sync(method, target, opts);
    }
    return model;
  },

  /** Resolves once the collection is subscribed and holds every object the client knows of. */
  ready(this: Backbone.Collection) {
    attach(this);
    return internals.get(this)!.ready.then(() => this);
  },

  /** Stops live updates for good and releases its subscription and listeners (see the interface). */
  dispose(this: Backbone.Collection) {
    const it = internals.get(this);
    if (!it || it.disposed) return;
    it.disposed = true;
    it.detach?.();
    it.detach = undefined;
  },

  /** @deprecated the same as `dispose()`. */
  detach(this: Backbone.Collection) {
    (this as SyncedCollection).dispose();
  },
};

/**
 * The `SyncedCollection` class. In the browser bundle `Backbone` is the page's global, which must
 * be loaded first; without it, using the class throws a clear error (and loading does not fail).
 */
export const SyncedCollection: SyncedCollectionConstructor = Backbone?.Collection
  ? (Backbone.Collection.extend(methods) as SyncedCollectionConstructor)
  : (missingBackbone as unknown as SyncedCollectionConstructor);

function missingBackbone(): never {
  throw new Error('object-sync: load Backbone before the object-sync bundle to use SyncedCollection');
}

/** Subscribes once the client and the url are known; returns whether it is attached. */
function attach(c: Backbone.Collection): boolean {
  const it = internals.get(c);
  if (!it || it.coll || it.disposed) return it !== undefined;
  const client = it.client ?? latestClient();
  const url = resultOf(c, 'url');
  if (!client || !url) return false;
  const coll = client.collection(nameFromUrl(String(url)));
  const b = bindingOf(client);
  it.client = client;
  it.coll = coll;
  let settled = false;
  // Until the first resync is complete, objects are not added one by one: they join in one `add`.
  const onCreate = (obj: StoredObject): void => {
    if (settled || c.get(obj.id)) remoteCreate(b, c, coll, obj);
  };
  const onUpdate = (obj: StoredObject, _changes: Attrs, previous: Attrs): void => {
    if (settled || c.get(obj.id)) remoteUpdate(b, c, coll, obj, previous);
  };
  const onDestroy = (id: Id): void => remoteDestroy(c, id);
  const mirror: Mirror = {
    // A refused destroy: the model comes back as the object is now (changes that came while it was
    // being destroyed were not applied to it).
    restore: (model) => {
      if (c.get(model)) return;
      const id = model.id as Id | undefined;
      if (id !== undefined && coll.get(id)) applyRemote(b, coll, model, id, undefined);
      c.add(model, remote({ rollback: true }));
    },
    // The page's own create is answered after the object reached this collection as a copy (a
    // list, or the create's own change published before its answer): the model takes the copy's
    // place, also when it had left the collection meanwhile (a `fetch` removes what it did not list).
    adopt: (model, id) => {
      const copies = c.models.filter((m) => m !== model && m.id === id);
      if (copies.length === 0) return;
      c.remove(copies, remote());
      if (!c.get(model) && isOfModelClass(c, model)) c.add(model, remote());
    },
  };
  // After every complete resync (the first one included), the objects the collection lacks join in
  // one `add` (one `update`, one `sort`), e.g. the whole collection on the first load.
  const onSynced = (): void => {
    const missing = Object.values(coll.allObjects()).filter(
      (obj) => !c.get(obj.id) && !b.isDoomed(coll, obj.id),
    );
    const models = missing.map((obj) => modelFor(b, c, obj)).filter((m): m is Backbone.Model => !!m);
    if (models.length > 0) c.add(models, remote());
    for (const model of models) b.markSynced(model);
    if (!settled) it.settle.resolve();
    settled = true;
  };
  // A failed resync (retried by the client with backoff) or refetch: the collection may be stale.
  const onError = (err: unknown): void => {
    if (!settled) it.settle.reject(err);
    settled = true;
    c.trigger('error', c, err, {});
  };
  coll.on('create', onCreate).on('update', onUpdate).on('destroy', onDestroy);
  coll.on('synced', onSynced).on('error', onError);
  b.setMirror(coll, mirror, true);
  it.detach = () => {
    coll.off('create', onCreate).off('update', onUpdate).off('destroy', onDestroy);
    coll.off('synced', onSynced).off('error', onError);
    b.setMirror(coll, mirror, false);
    coll.unsubscribe().catch(() => undefined); // offline: nothing to end on the server
  };
  coll.subscribe().catch(() => undefined); // a failure arrives as `error` above
  return true;
}

/** A server create: adds the model (the very instance when this side created it). Fires `add`. */
function remoteCreate(b: Binding, c: Backbone.Collection, coll: ClientCollection, obj: StoredObject): void {
  if (b.isDoomed(coll, obj.id)) return;
  const model = c.get(obj.id);
  if (model) return applyRemote(b, coll, model, obj.id, undefined);
  const added = modelFor(b, c, obj);
  if (added) {
    c.add(added, remote());
    b.markSynced(added);
  }
}

/**
 * The model of a live object for a collection: the one this client already has for it (this side
 * created it, or another `SyncedCollection` of the same client made it), when it is of the
 * collection's model class; else a new one, which the others will share. Its `parse` sees the raw
 * object (as after a fetch); the collection's `parse`, meant for lists, is not given a single object.
 */
function modelFor(b: Binding, c: Backbone.Collection, obj: StoredObject): Backbone.Model | undefined {
  const known = b.ownModel(obj);
  if (known && isOfModelClass(c, known)) return known;
  const prepare = (c as unknown as { _prepareModel: PrepareModel })._prepareModel;
  const made = prepare.call(c, attrsOf(obj, idAttributeOf(c)), remote({ parse: true }));
  if (made && !known) b.setOwnModel(obj, made);
  return made || undefined;
}

/** Whether a model may join a collection as it is: it is of the collection's model class. */
function isOfModelClass(c: Backbone.Collection, model: Backbone.Model): boolean {
  const modelClass = c.model as unknown as (new (...args: unknown[]) => Backbone.Model) | undefined;
  return !modelClass || model instanceof modelClass;
}

/** A server update: sets the changes on the same model, underneath its pending writes. Fires `change`. */
function remoteUpdate(
  b: Binding,
  c: Backbone.Collection,
  coll: ClientCollection,
  obj: StoredObject,
  previous: Attrs,
): void {
  if (b.isDoomed(coll, obj.id)) return;
  const model = c.get(obj.id);
  if (model) applyRemote(b, coll, model, obj.id, previous);
  else remoteCreate(b, c, coll, obj);
}

/** A server destroy: triggers the model's `destroy` event, so it leaves every collection. */
function remoteDestroy(c: Backbone.Collection, id: Id): void {
  const model = c.get(id);
  if (!model) return;
  model.stopListening();
  model.trigger('destroy', model, model.collection, remote());
}

/**
 * Applies a remote change to a model, in one `set` (one `change` event): the confirmed object with
 * the model's optimistic writes still pending on top goes through `model.parse` whole, as after a
 * fetch, and so does the same object as it was before the change (`previous`: the changed
 * properties' old values; undefined for a whole new state); the attributes whose parsed values
 * differ are set (an attribute the change removed is unset; with others set in the same change,
 * it is set to `undefined` in that one `set`, then removed silently). Attributes the change did not touch keep any local, unsaved value.
 */
function applyRemote(
  b: Binding,
  coll: ClientCollection,
  model: Backbone.Model,
  id: Id,
  previous: Attrs | undefined,
): void {
  const idAttribute = idAttributeOf(model);
  const pending = optimisticWrites(coll, id);
  const now = layered(attrsOf(coll.confirmed(id) ?? { id }, idAttribute), pending);
  const parse = (raw: Attrs): Attrs => parsedAttrs(model, raw);
  const after = parse(now);
  let keys: string[];
  if (previous) {
    const before = { ...now };
    for (const key of Object.keys(previous)) {
      if (previous[key] === undefined) delete before[key];
      else before[key] = previous[key];
    }
    layered(before, pending);
    const old = parse(before);
    keys = [...new Set([...Object.keys(after), ...Object.keys(old)])].filter(
      (key) => !sameValue(after[key], old[key]) || hasOwn(after, key) !== hasOwn(old, key),
    );
  } else {
    keys = Object.keys(after).filter((key) => !sameValue(after[key], model.attributes[key]));
  }
  const attrs: Attrs = {};
  for (const key of keys) if (key !== 'id' && key !== idAttribute) attrs[key] = clone(after[key]);
  const removed = Object.keys(attrs).filter((key) => !hasOwn(after, key));
  const removedOnly = removed.length > 0 && removed.length === Object.keys(attrs).length;
  if (Object.keys(attrs).length > 0) model.set(attrs, remote(removedOnly ? { unset: true } : {}));
  // A mixed change set its removed attributes to `undefined` (one `change` event for all): now they
  // go for good, silently (their `change:attr` has fired).
  if (!removedOnly && removed.length > 0) {
    const gone: Attrs = {};
    for (const key of removed) gone[key] = undefined;
    model.set(gone, remote({ unset: true, silent: true }));
  }
  b.markSynced(model);
}

const hasOwn = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);

/** Equality of parsed attribute values: dates by time, the rest as JSON. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (a instanceof Date || b instanceof Date) return false;
  return deepEqual(a, b);
}

/** The id attribute of a model, or of a collection's models. */
function idAttributeOf(target: Backbone.Model | Backbone.Collection): string {
  if (!isCollection(target)) return target.idAttribute || 'id';
  const modelClass = target.model as { prototype?: { idAttribute?: string } } | undefined;
  return modelClass?.prototype?.idAttribute || 'id';
}
