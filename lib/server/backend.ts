/**
 * What the engine needs from a collection's storage: versioned reads and writes that say what
 * changed. `HandlerBackend` builds this on the original handler API; a store (`MemoryStore`, the
 * SQLite and PostgreSQL stores) implements it itself, keeping versions — and, when durable, the
 * request-dedupe records — with the objects.
 *
 * Every write of one object is called inside that object's queue, so a backend never sees two
 * writes of one id at once (on one node; a shared store must also guard against other nodes).
 */
import type { ChangeRecord, Id, JsonValue, StoredObject, WriteEvent } from '../protocol.js';
import type { Outcome } from './dedupe.js';

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
 * `replayed`: the request had been applied before (a durable store found its record); nothing was
 * changed now, and the requester is answered from the object's state.
 */
export interface Applied {
  id: Id;
  v: number;
  prev: StoredObject | undefined;
  next: StoredObject | undefined;
  record: ChangeRecord | null;
  replayed?: true;
}

/**
 * What a write carries beyond its data: the client request it answers (absent for server-initiated
 * writes), and a signal aborted when its requester was answered `timeout` (a store or handler may
 * stop then; the object's queue stays held until the call returns). A durable store records the
 * write's outcome (`outcomeOf`) under `request` in the same transaction as the write, and gives it
 * back from `recall`, so a request resent after a crash is answered, not applied again.
 */
export interface RequestContext {
  request?: { sid: string; seq: number; kind: WriteEvent };
  signal?: AbortSignal;
}

/**
 * An outcome as a durable store keeps it (JSON text), read back; `undefined` for anything else. Rows
 * written by object-sync 0.1 (whole wire answers) are read as the outcomes they stand for.
 */
export function parseOutcome(text: string | null | undefined): Outcome | undefined {
  if (text == null) return undefined;
  let x: unknown;
  try {
    x = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (x === null || typeof x !== 'object') return undefined;
  const o = x as Record<string, unknown>;
  if (o.ok === true && (o.kind === 'create' || o.kind === 'update' || o.kind === 'destroy'))
    return { ok: true, kind: o.kind, id: o.id as Id, v: Number(o.v) };
  const r = o.r as { k?: unknown; i?: unknown; v?: unknown } | null | undefined;
  if (r && (typeof r.i === 'string' || typeof r.i === 'number')) {
    const kind = r.k === 'd' ? 'destroy' : 'v' in o ? 'update' : 'create';
    return { ok: true, kind, id: r.i, v: Number(r.v ?? o.v ?? 0) };
  }
  return undefined;
}

/** The outcome a write's request records: its object's id and version after it, never the object. */
export function outcomeOf(kind: WriteEvent, applied: Applied): Outcome {
  return { ok: true, kind, id: applied.next?.id ?? applied.id, v: applied.v };
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
  /** Every object (matching `query`); absent when the collection cannot list (handlers without `list`). */
  list?(query: JsonValue | undefined, sid: Sid): Promise<Versioned[]>;
  /** The outcome recorded for a request, if this backend keeps them durably. */
  recall?(sid: string, seq: number): Promise<Outcome | undefined>;
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

export { idKey } from '../protocol.js';
