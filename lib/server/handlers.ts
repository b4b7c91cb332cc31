/**
 * The handler API of node-object-sync, typed, and the one function that calls a handler.
 *
 * A handler answers either through the Promise (or thenable) it returns — then `cb` is ignored — or
 * through `cb(err, result, broadcast)`. Whatever it does, `callHandler` settles exactly once: with the
 * first answer, with `handler_error` when it throws, or with `timeout` when it never answers within
 * `timeoutMs` (when given).
 *
 * Write handlers get a fourth argument, `ctx`: `ctx.signal` is an `AbortSignal` aborted when the
 * requester was answered `timeout` — a handler may stop its work then (the object's queue stays held
 * until it answers).
 */
import type { Id, JsonValue, StoredObject, SyncObject } from '../protocol.js';
import { SyncError, toWireError } from '../errors.js';
import type { RequestContext, Sid } from './backend.js';

export type { RequestContext, Sid };

/** Node-style callback of `create` and `update`: `broadcast` defaults to true. */
export type ObjectCallback = (err?: unknown, stored?: SyncObject | null, broadcast?: boolean) => void;
/** Callback of `destroy`: `broadcast` defaults to true. */
export type DestroyCallback = (err?: unknown, broadcast?: boolean) => void;
/** Callback of `fetch`: one entry per id, `null` for unknown ids. */
export type FetchCallback = (err?: unknown, objects?: Array<SyncObject | null>) => void;
/** Callback of `list`: every object of the collection. */
export type ListCallback = (err?: unknown, objects?: SyncObject[]) => void;

/** An update patch: the id and the changed properties; a removed property is a key whose value is `undefined`. */
export type Patch = { id: Id } & Record<string, unknown>;

/**
 * The four CRUD handlers (plus an optional `list`), exactly as in node-object-sync; each may be an
 * `async` function returning its result instead.
 */
export interface Handlers {
  /** `obj` has no id; assign one and answer the stored object. */
  create(
    obj: Record<string, unknown>,
    sid: Sid,
    cb: ObjectCallback,
    ctx?: RequestContext,
  ): void | PromiseLike<SyncObject | null | undefined>;
  /** Apply `patch` and answer the full stored object (`broadcast = false` when nothing changed). */
  update(
    patch: Patch,
    sid: Sid,
    cb: ObjectCallback,
    ctx?: RequestContext,
  ): void | PromiseLike<SyncObject | null | undefined>;
  /** Remove the object; an async handler may resolve `false` to send no event. */
  destroy(id: Id, sid: Sid, cb: DestroyCallback, ctx?: RequestContext): void | PromiseLike<unknown>;
  /** Answer the objects in the same order as `ids`, `null` for unknown ids. */
  fetch(ids: Id[], sid: Sid, cb: FetchCallback): void | PromiseLike<Array<SyncObject | null>>;
  /** Optional: every object of the collection (what `Backbone.Collection#fetch` and resyncs need). */
  list?(query: JsonValue | undefined, sid: Sid, cb: ListCallback): void | PromiseLike<SyncObject[]>;
}

/** What a handler answered: its result and its broadcast flag. */
export interface HandlerAnswer<R> {
  result: R;
  broadcast: boolean;
}

/** Hook for an answer that arrives after the timeout already answered the request. */
export type LateAnswer = () => void;

/**
 * Calls one handler and settles once. `resultIndex` says which callback argument is the result
 * (destroy's callback has none: `(err, broadcast)`).
 */
export function callHandler<R>(
  invoke: (cb: (...args: unknown[]) => void) => unknown,
  options: { timeoutMs?: number; hasResult: boolean; onLate?: LateAnswer },
): Promise<HandlerAnswer<R>> {
  return new Promise<HandlerAnswer<R>>((resolve, reject) => {
    let settled = false;
    // Without `timeoutMs` the caller bounds the wait (writes: the pipeline, which keeps the object's
    // queue until the handler answers).
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            if (settled) return;
            settled = true;
            reject(new SyncError('timeout'));
          }, options.timeoutMs);
    const finish = (err: unknown, result: unknown, broadcast: unknown): void => {
      if (settled) {
        if (options.onLate) options.onLate();
        return;
      }
      settled = true;
      clearTimeout(timer);
      if (err !== undefined && err !== null) {
        const wire = toWireError(err);
        reject(Object.assign(new SyncError(wire.code, wire.message), { cause: err }));
      } else {
        resolve({ result: result as R, broadcast: broadcast !== false });
      }
    };
    const cb = (...args: unknown[]): void => {
      if (options.hasResult) finish(args[0], args[1], args[2]);
      else finish(args[0], undefined, args[1]);
    };
    let returned: unknown;
    try {
      returned = invoke(cb);
    } catch (err) {
      finish(err ?? new Error('handler threw'), undefined, undefined);
      return;
    }
    if (isThenable(returned)) {
      returned.then(
        (value) => finish(undefined, value, options.hasResult ? true : value),
        (err: unknown) => finish(err ?? new Error('handler rejected'), undefined, undefined),
      );
    }
  });
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return (
    x !== null &&
    (typeof x === 'object' || typeof x === 'function') &&
    typeof (x as PromiseLike<unknown>).then === 'function'
  );
}

/** True when a handler's answer is a stored object with a valid id. */
export function isStoredObject(x: unknown): x is StoredObject {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return false;
  const id = (x as SyncObject).id;
  return (
    (typeof id === 'string' && id.length > 0) ||
    (typeof id === 'number' && Number.isSafeInteger(id) && id >= 0)
  );
}

/** True for a value usable as handlers: an object with the four CRUD functions. */
export function isHandlers(x: unknown): x is Handlers {
  if (x === null || typeof x !== 'object') return false;
  const h = x as Record<string, unknown>;
  return ['create', 'update', 'destroy', 'fetch'].every((name) => typeof h[name] === 'function');
}

/** The update handlers' patch of a change: `{ id, ...set }`, removed properties as `undefined`. */
export function toPatch(id: Id, set: Record<string, unknown>, unset: readonly string[]): Patch {
  const patch: Patch = { id, ...set };
  for (const name of unset) patch[name] = undefined;
  return patch;
}

/** The change a patch (or a saved object) asks for: `undefined` removes a property; `id` is left out. */
export function fromPatch(obj: Record<string, unknown>): { set: Record<string, unknown>; unset: string[] } {
  const set: Record<string, unknown> = {};
  const unset: string[] = [];
  for (const key of Object.keys(obj)) {
    if (key === 'id') continue;
    if (obj[key] === undefined) unset.push(key);
    else set[key] = obj[key];
  }
  return { set, unset };
}
