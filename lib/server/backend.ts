/**
 * What the engine needs from a collection's storage: versioned reads and writes that say what
 * changed. `HandlerBackend` builds this on the original handler API; a store (`MemoryStore`, the
 * SQLite and PostgreSQL stores) implements it itself, keeping versions — and, when durable, the
 * request-dedupe records — with the objects.
 *
 * Every write of one object is called inside that object's queue, so a backend never sees two
 * writes of one id at once (on one node; a shared store must also guard against other nodes).
 */
import type { ChangeRecord, Id, JsonValue, StoredObject } from '../protocol.js';

/** The requesting client's session id; `null` for server-initiated calls. */
export type Sid = string | null;

/** An object at a version. */
export interface Versioned {
  obj: StoredObject;
  v: number;
}

/**
 * The outcome of one write. `record` is the change to broadcast (`null`: nothing changed, no event);
 * `prev`/`next` are the states before and after (for visibility transitions); `v` the version after.
 */
export interface Applied {
  id: Id;
  v: number;
  prev: StoredObject | undefined;
  next: StoredObject | undefined;
  record: ChangeRecord | null;
}

/**
 * What a write carries beyond its data: the client request it answers (absent for server-initiated
 * writes) and how to turn its outcome into that request's answer. A durable store records
 * `answer(applied)` under `request` in the same transaction as the write, and gives it back from
 * `recall`, so a request resent after a crash is answered, not applied again.
 */
export interface RequestContext {
  request?: { sid: string; seq: number };
  answer?: (applied: Applied) => unknown;
}

export interface Backend {
  /**
   * Set when no call ever waits on anything outside the process (the `MemoryStore`): the engine then
   * spares its calls the `handlerTimeout` timer, which could never fire.
   */
  readonly inProcess?: boolean;
  create(obj: Record<string, unknown>, sid: Sid, ctx: RequestContext): Promise<Applied>;
  /** `set` and `unset` come validated; `unset` names removed properties. `not_found` for unknown ids. */
  update(
    id: Id,
    set: Record<string, unknown>,
    unset: string[],
    sid: Sid,
    ctx: RequestContext,
  ): Promise<Applied>;
  /** `not_found` for unknown ids. */
  destroy(id: Id, sid: Sid, ctx: RequestContext): Promise<Applied>;
  fetch(ids: Id[], sid: Sid): Promise<Array<Versioned | null>>;
  list(query: JsonValue | undefined, sid: Sid): Promise<Versioned[]>;
  /** The answer recorded for a request, if this backend keeps them durably. */
  recall?(sid: string, seq: number): Promise<unknown>;
}

/** The key of a store's backend method. */
export const BACKEND: unique symbol = Symbol.for('object-sync.backend');

/** A store: usable as handlers, and giving the engine its versioned backend directly. */
export interface Store {
  [BACKEND](): Backend;
}

/** True for a store (see `Store`). */
export function isStore(x: unknown): x is Store {
  return x !== null && typeof x === 'object' && typeof (x as Partial<Store>)[BACKEND] === 'function';
}

/** The key of an id in maps: numbers and strings that print alike name the same object. */
export function idKey(id: Id): string {
  return typeof id === 'number' ? String(id) : id;
}
