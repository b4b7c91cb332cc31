/**
 * The client's copy of one collection: exactly one live object per id, mutated in place on every
 * change, with the version it is at, and beside it a private copy of what the server last confirmed.
 *
 * The live object is handed out (views hold it, applications may even edit it); the confirmed state
 * never is, so it is what writes are diffed against and what a refused write rolls back to. Every
 * record changes the confirmed state first; the keys it really changed are then written to the live
 * object, and they are the `changes` of the event.
 *
 * Rules (where versions decide):
 * - A full record (`c`) replaces the object when its version is newer (or the object is new).
 * - A diff (`u`) applies only on top of the version just before it; a duplicate is ignored; a gap
 *   (or a diff for an unknown object) is reported so the caller refetches the object.
 * - A removal (`d`) applies when newer; without a version (resync) it always applies.
 * - A read answer (fetch, list, resync) was taken at some instant: it must not bring back an object
 *   removed after that instant, nor remove one that arrived after it. Inserts and removals are stamped
 *   with a local tick, reads carry the tick at which they were sent, and a read's record is dropped
 *   when the map saw something newer of that object since.
 */
import { applyDiff, clone, diff } from '../diff.js';
import type { ChangeRecord, Id, StoredObject } from '../protocol.js';

/** A live object, its version (0: version unknown, e.g. after a server restart), and when it came. */
export interface Entry {
  /** The live object, handed out. */
  obj: StoredObject;
  /** What the server last confirmed (private; never handed out). */
  confirmed: StoredObject;
  v: number;
  /** Local tick at which the object entered the map. */
  at: number;
}

/** What applying a record did, for the events to raise. */
export type Effect =
  | { type: 'create'; obj: StoredObject }
  | {
      type: 'update';
      obj: StoredObject;
      changes: Record<string, unknown>;
      /** The confirmed value of each changed property before the change (`undefined`: absent). */
      previous: Record<string, unknown>;
    }
  | { type: 'destroy'; id: Id }
  | { type: 'gap'; id: Id }
  | { type: 'none' };

const NONE: Effect = { type: 'none' };

/** The key of an id: numbers and strings that print alike name the same object. */
export function keyOf(id: Id): string {
  return typeof id === 'number' ? String(id) : id;
}

/** The effect of changes made to a live object (none when `changes` is empty). */
function updated(
  obj: StoredObject,
  { changes, previous }: { changes: Record<string, unknown>; previous: Record<string, unknown> },
): Effect {
  for (const _ in changes) return { type: 'update', obj, changes, previous };
  return NONE;
}

/**
 * Applies a server change to the confirmed state, then writes the keys it really changed to the live
 * object (whatever the application did to it); returns those changes.
 */
function confirm(
  entry: Entry,
  set: Record<string, unknown> | undefined,
  unset: readonly string[] | undefined,
): { changes: Record<string, unknown>; previous: Record<string, unknown> } {
  const before = entry.confirmed as Record<string, unknown>;
  const previous: Record<string, unknown> = {};
  for (const key of [...Object.keys(set ?? {}), ...(unset ?? [])]) previous[key] = clone(before[key]);
  const changes = applyDiff(entry.confirmed, set, unset);
  const live = entry.obj as Record<string, unknown>;
  for (const key of Object.keys(changes)) {
    if (changes[key] === undefined) delete live[key];
    else live[key] = clone(changes[key]);
  }
  for (const key of Object.keys(previous)) {
    if (!Object.prototype.hasOwnProperty.call(changes, key)) delete previous[key];
  }
  return { changes, previous };
}

export class IdentityMap {
  private readonly entries = new Map<string, Entry>();
  /** Local tick of each recent removal (see the rules above). */
  private readonly removedAt = new Map<string, number>();
  private tick = 0;
  private readonly openReads = new Map<number, number>();

  /** The live object of an id. */
  get(id: Id): StoredObject | undefined {
    return this.entries.get(keyOf(id))?.obj;
  }

  /** The entry of an id. */
  entry(id: Id): Entry | undefined {
    return this.entries.get(keyOf(id));
  }

  /** Every live object, keyed by id, in a null-prototype object. */
  all(): Record<string, StoredObject> {
    const out = Object.create(null) as Record<string, StoredObject>;
    for (const [key, entry] of this.entries) out[key] = entry.obj;
    return out;
  }

  /** A copy of the state the server last confirmed for an id. */
  confirmed(id: Id): StoredObject | undefined {
    const entry = this.entries.get(keyOf(id));
    return entry ? clone(entry.confirmed) : undefined;
  }

  /** Every id with its version, for a resync. */
  versions(): Array<[Id, number]> {
    return [...this.entries.values()].map((e) => [e.obj.id, e.v]);
  }

  /** How many objects the map holds. */
  get size(): number {
    return this.entries.size;
  }

  /** Forgets every object whose key `keep` refuses (a collection no longer mirrored). */
  retainOnly(keep: (key: string) => boolean): void {
    for (const key of [...this.entries.keys()]) if (!keep(key)) this.entries.delete(key);
    this.removedAt.clear();
  }

  /** Forgets every object (the client is closed). */
  clear(): void {
    this.entries.clear();
    this.removedAt.clear();
  }

  /** Versions from another server epoch mean nothing: keep the objects, forget their versions. */
  forgetVersions(): void {
    for (const entry of this.entries.values()) entry.v = 0;
    this.removedAt.clear();
  }

  /** Opens a read; pass the returned tick to `apply` for its answer and close it with `endRead`. */
  beginRead(): number {
    const t = this.tick;
    this.openReads.set(t, (this.openReads.get(t) ?? 0) + 1);
    return t;
  }

  /** Closes a read; removal stamps no open read needs are forgotten. */
  endRead(t: number): void {
    const n = (this.openReads.get(t) ?? 1) - 1;
    if (n > 0) this.openReads.set(t, n);
    else this.openReads.delete(t);
    if (this.openReads.size === 0) this.removedAt.clear();
  }

  /**
   * Applies one record. `readTick` is given for records from a read answer (see the rules above);
   * `refresh` lets a full record replace the object at the same version too (a read-back).
   */
  apply(record: ChangeRecord, readTick?: number, refresh = false): Effect {
    const key = keyOf(record.i);
    const entry = this.entries.get(key);
    switch (record.k) {
      case 'c': {
        if (!entry) {
          const removed = this.removedAt.get(key);
          if (readTick !== undefined && removed !== undefined && removed > readTick) return NONE;
          const obj = clone(record.o);
          this.entries.set(key, { obj, confirmed: clone(record.o), v: record.v, at: ++this.tick });
          return { type: 'create', obj };
        }
        if (record.v < entry.v || (record.v === entry.v && !refresh)) return NONE;
        entry.v = record.v;
        const d = diff(entry.confirmed, record.o);
        return updated(entry.obj, confirm(entry, d.set, d.unset));
      }
      case 'u': {
        if (!entry) return { type: 'gap', id: record.i };
        if (record.v <= entry.v) return NONE;
        if (record.v !== entry.v + 1) return { type: 'gap', id: record.i };
        entry.v = record.v;
        return updated(entry.obj, confirm(entry, record.s, record.u));
      }
      case 'd': {
        if (entry && record.v !== undefined && record.v <= entry.v) return NONE;
        ++this.tick;
        if (this.openReads.size > 0) this.removedAt.set(key, this.tick);
        if (!entry) return NONE;
        this.entries.delete(key);
        return { type: 'destroy', id: entry.obj.id };
      }
    }
  }

  /**
   * Removes an object a read answered `null` for, unless it entered the map after that read was sent
   * (then the read simply predates it).
   */
  removeUnlessNewer(id: Id, readTick: number): Effect {
    const entry = this.entries.get(keyOf(id));
    if (!entry || entry.at > readTick) return NONE;
    return this.apply({ k: 'd', i: id });
  }
}
