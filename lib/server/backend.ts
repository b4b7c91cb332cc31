/**
 * What the engine needs from a collection's storage: versioned reads and writes that say what
 * changed. `HandlerBackend` builds this on the original handler API; a store may implement it
 * itself to keep versions durable.
 *
 * Every write of one object is called inside that object's queue, so a backend never sees two
 * writes of one id at once.
 */
import type { ChangeRecord, Id, JsonValue, StoredObject } from '../protocol.js';
import type { RequestContext, Sid } from './handlers.js';

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

export interface Backend {
  create(obj: Record<string, unknown>, sid: Sid, ctx: RequestContext): Promise<Applied>;
  /** `set` and `unset` come validated; `unset` names removed properties. */
  update(
    id: Id,
    set: Record<string, unknown>,
    unset: string[],
    sid: Sid,
    ctx: RequestContext,
  ): Promise<Applied>;
  destroy(id: Id, sid: Sid, ctx: RequestContext): Promise<Applied>;
  fetch(ids: Id[], sid: Sid): Promise<Array<Versioned | null>>;
  list(query: JsonValue | undefined, sid: Sid): Promise<Versioned[]>;
}

/** The key of an id in maps: numbers and strings that print alike name the same object. */
export function idKey(id: Id): string {
  return typeof id === 'number' ? String(id) : id;
}
