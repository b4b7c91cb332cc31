/**
 * Where a write's change goes: to every subscriber of its collection but its originator, encoded
 * once per audience (one room emit, or one coalesced batch), or — with `visible` — to each
 * connection as it may see it: the change, the whole object (it became visible), a removal (it
 * stopped being visible), or nothing. On several nodes a filtered change is relayed, and each node
 * filters it for its own connections.
 */
import type { ChangeRecord, ChangesMessage, StoredObject } from '../protocol.js';
import { DEFAULT_COLLECTION, toWire } from '../protocol.js';
import type { Connection, ServerTransport } from '../transport.js';
import type { Applied, Versioned } from './backend.js';
import type { Coalescer } from './coalescer.js';

/** A change relayed to the other nodes when `visible` filters per connection. */
interface Relayed {
  c: string;
  a: Applied;
}

/** A collection as broadcasting needs it. */
export interface Audience {
  name: string;
  room: string;
}

export class Broadcaster {
  constructor(
    private readonly transport: ServerTransport,
    private readonly visible: ((obj: StoredObject, sid: string) => boolean) | undefined,
    private readonly coalescer: Coalescer | undefined,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Sends a write's change (nothing when it changed nothing). */
  publish(coll: Audience, applied: Applied, origin: Connection | undefined): void {
    if (!applied.record) return;
    if (!this.visible) {
      if (this.coalescer) this.coalescer.add(coll.room, collectionField(coll.name), applied.record, origin);
      else this.transport.publish(coll.room, envelope(coll.name, applied.record), origin);
      return;
    }
    this.publishVisible(coll, applied, origin);
    this.transport.relay({ c: coll.name, a: applied } satisfies Relayed);
  }

  /** A change another node relayed; `find` names its collection here. */
  relayed(message: unknown, find: (name: string) => Audience | undefined): void {
    const { c, a } = (message ?? {}) as Partial<Relayed>;
    const coll = typeof c === 'string' ? find(c) : undefined;
    // The adapter's encoding (msgpack) turns `undefined` into `null`: restore "no state".
    if (coll && a && a.record) {
      this.publishVisible(coll, { ...a, prev: a.prev ?? undefined, next: a.next ?? undefined }, undefined);
    }
  }

  /** Whether a session may see an object (always, without `visible`). */
  readonly visibleEntry = (entry: Versioned, sid: string): boolean =>
    !this.visible || this.isVisible(entry.obj, sid);

  /** Sends each local subscriber what it may see of a change. */
  private publishVisible(coll: Audience, applied: Applied, origin: Connection | undefined): void {
    // Most subscribers get the change itself: its message is made once.
    const common = envelope(coll.name, applied.record!);
    for (const conn of this.transport.members(coll.room)) {
      if (conn === origin) continue;
      const record = this.recordFor(applied, conn.sid);
      if (record) conn.send('ch', ...(record === applied.record ? common : envelope(coll.name, record)));
    }
  }

  /** What one session sees of a change: the change, the whole object, a removal, or nothing. */
  private recordFor(applied: Applied, sid: string): ChangeRecord | null {
    const record = applied.record!;
    const before = applied.prev !== undefined && this.isVisible(applied.prev, sid);
    const after = applied.next !== undefined && this.isVisible(applied.next, sid);
    if (after) {
      return before || record.k === 'c' ? record : { k: 'c', i: applied.id, v: applied.v, o: applied.next! };
    }
    return before ? { k: 'd', i: applied.id, v: applied.v } : null;
  }

  private isVisible(obj: StoredObject, sid: string): boolean {
    try {
      return this.visible!(obj, sid) === true;
    } catch (err) {
      this.onError(err);
      return false;
    }
  }
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
function collectionField(name: string): string | undefined {
  return name === DEFAULT_COLLECTION ? undefined : name;
}
