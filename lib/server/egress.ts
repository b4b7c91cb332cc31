/**
 * The one way out: every record that leaves the server for a connection passes here, and here alone
 * is decided what a session may see of it — write answers, fetch, list and subscribe answers, `ch`
 * events (one by one or coalesced), replays of resent writes, and changes relayed from other nodes.
 *
 * Visibility is existence: for a session that `visible` hides an object from, the object does not
 * exist. It reads as `null`, is left out of listings, and no record carries its fields or its version;
 * a session that saw it and stops seeing it gets a removal (`d`), one that starts seeing it the whole
 * object (`c`). Later, query subscriptions filter here too.
 *
 * Without `visible` a change is encoded once per audience (one room emit, or one coalesced batch).
 */
import { logger, showCollection, showId } from '../debug.js';
import type { ChangeRecord, ChangesMessage, Id, StoredObject, VersionedTuple } from '../protocol.js';
import { DEFAULT_COLLECTION, toWire } from '../protocol.js';
import type { Connection, ServerTransport } from '../transport.js';
import type { Applied, Sid, Versioned } from './backend.js';
import type { Coalescer } from './coalescer.js';

const log = logger('server:publish');

/** A change relayed to the other nodes when `visible` filters per connection. */
interface Relayed {
  c: string;
  a: Applied;
}

/** A collection as the egress needs it. */
export interface Audience {
  name: string;
  room: string;
}

export class Egress {
  constructor(
    private readonly transport: ServerTransport,
    private readonly visible: ((obj: StoredObject, sid: string) => boolean) | undefined,
    private readonly coalescer: Coalescer | undefined,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Whether anything is filtered per session (then writes check that their object exists for the writer). */
  get filters(): boolean {
    return this.visible !== undefined;
  }

  /** Whether a session may see an object; server-side callers (`sid` null) see everything. */
  sees(obj: StoredObject | undefined, sid: Sid): boolean {
    if (obj === undefined) return false;
    if (!this.visible || sid === null) return true;
    try {
      return this.visible(obj, sid) === true;
    } catch (err) {
      this.onError(err);
      return false;
    }
  }

  /** A read result as a session may see it: `[v, obj]`, or `null` for a missing or hidden object. */
  tuple(entry: Versioned | null | undefined, sid: Sid): VersionedTuple | null {
    return entry && this.sees(entry.obj, sid) ? [entry.v, entry.obj] : null;
  }

  /**
   * What one session sees of a write: the change, the whole object (it became visible), a removal
   * with the version (it stopped being visible), or nothing.
   */
  recordFor(applied: Applied, sid: Sid): ChangeRecord | null {
    const record = applied.record;
    if (!record) return null;
    if (!this.visible || sid === null) return record;
    const before = this.sees(applied.prev, sid);
    const after = this.sees(applied.next, sid);
    if (after) return before || record.k === 'c' ? record : fullRecord(applied.next!, applied.v);
    return before ? { k: 'd', i: applied.id, v: applied.v } : null;
  }

  /**
   * The record a writer's answer carries: the change as it sees it; when the object is hidden from it
   * after its own write, a removal without a version (nothing of a hidden object leaves).
   */
  answerRecord(applied: Applied, sid: Sid, base: number | undefined): ChangeRecord | null {
    const id = applied.next?.id ?? applied.id;
    if (!applied.next) return { k: 'd', i: id, v: applied.v };
    if (!this.sees(applied.next, sid)) return { k: 'd', i: id };
    const record = applied.record;
    if (base === undefined) return fullRecord(applied.next, applied.v);
    if (record === null) return base === applied.v ? null : fullRecord(applied.next, applied.v);
    if (record.k === 'u' && base === applied.v - 1 && this.sees(applied.prev, sid)) return record;
    return fullRecord(applied.next, applied.v);
  }

  /** The current state of an object as a session may see it: the whole object, or a removal without version. */
  stateRecord(id: Id, entry: Versioned | null | undefined, sid: Sid): ChangeRecord {
    return entry && this.sees(entry.obj, sid) ? fullRecord(entry.obj, entry.v) : { k: 'd', i: id };
  }

  /** Sends a write's change to every subscriber but its originator (nothing when it changed nothing). */
  publish(coll: Audience, applied: Applied, origin: Connection | undefined): void {
    if (!applied.record) return;
    if (this.coalescer) {
      this.coalescer.add(coll, applied, origin);
    } else if (!this.visible) {
      this.transport.publish(coll.room, envelope(coll.name, applied.record), origin);
      // Counted only when logging: the room's members on this node, the writer left out.
      if (log.enabled) {
        log('%s: %d recipients', showChange(coll, applied), audience(this.transport, coll.room, origin));
      }
    } else {
      this.publishVisible(coll, applied, origin);
    }
    if (this.visible) this.transport.relay({ c: coll.name, a: applied } satisfies Relayed);
  }

  /** A change another node relayed (only with `visible`); `find` names its collection here. */
  relayed(message: unknown, find: (name: string) => Audience | undefined): void {
    const { c, a } = (message ?? {}) as Partial<Relayed>;
    const coll = typeof c === 'string' ? find(c) : undefined;
    // The adapter's encoding (msgpack) turns `undefined` into `null`: restore "no state".
    if (coll && a && a.record) {
      this.publishVisible(coll, { ...a, prev: a.prev ?? undefined, next: a.next ?? undefined }, undefined);
    }
  }

  /** Sends an answer now, or with coalescing after the batch with earlier changes. */
  answer(conn: Connection, send: () => void): void {
    if (this.coalescer) this.coalescer.defer(conn, send);
    else send();
  }

  /** Sends each local subscriber what it may see of a change; the common message is made once. */
  private publishVisible(coll: Audience, applied: Applied, origin: Connection | undefined): void {
    const common = envelope(coll.name, applied.record!);
    let sent = 0;
    for (const conn of this.transport.members(coll.room)) {
      if (conn === origin) continue;
      const record = this.recordFor(applied, conn.sid);
      if (!record) continue;
      conn.send('ch', ...(record === applied.record ? common : envelope(coll.name, record)));
      sent++;
    }
    if (log.enabled) log('%s: %d recipients (filtered by visible)', showChange(coll, applied), sent);
  }
}

/** A change for a log line: its collection, id, version and kind (`todos/7 v3 u`), no field. */
export function showChange(coll: Audience, applied: Applied): string {
  return `${showCollection(coll.name)}/${showId(applied.next?.id ?? applied.id)} v${applied.v} ${applied.record?.k ?? '-'}`;
}

/** How many connections of this node are in `room`, those in `except` left out (for log lines only). */
export function audience(
  transport: ServerTransport,
  room: string,
  except?: Connection | Connection[],
): number {
  const left = except === undefined ? [] : Array.isArray(except) ? except : [except];
  let n = 0;
  for (const conn of transport.members(room)) if (!left.includes(conn)) n++;
  return n;
}

/** The full-state record of an object. */
export function fullRecord(obj: StoredObject, v: number): ChangeRecord {
  return { k: 'c', i: obj.id, v, o: obj };
}

/** The `ch` message of one record. */
export function envelope(name: string, record: ChangeRecord): ChangesMessage {
  return changes(collectionField(name), [record]);
}

/** The `ch` message of records of one collection (`undefined` for the default collection). */
export function changes(collection: string | undefined, records: ChangeRecord[]): ChangesMessage {
  const wire = records.map(toWire);
  return collection === undefined ? [wire] : [wire, collection];
}

/** A collection's name as its `ch` messages carry it (absent for the default collection). */
export function collectionField(name: string): string | undefined {
  return name === DEFAULT_COLLECTION ? undefined : name;
}
