/**
 * Coalescing (option `coalesce`): the changes published within one tick (or a window of a few ms)
 * leave as one frame per connection instead of one frame per change, since a server's cost is per
 * frame, not per byte. Without `visible` each room's batch is encoded once for all of its plain
 * receivers; with `visible` each receiver gets the batch as it may see it (`recordFor`).
 *
 * Order is kept exactly as without coalescing: write answers are held until the flush, and a writer
 * gets the others' changes and its own answers interleaved in the order they happened, so it never
 * gets an answer before an earlier change of the same object, nor a later change before an answer.
 * A writer's own changes are left out of what it receives (its answers carry them), so its callback
 * still runs before its own event.
 */
import { logger, showCollection, showId } from '../debug.js';
import type { ChangeRecord } from '../protocol.js';
import type { Connection, ServerTransport } from '../transport.js';
import type { Applied, Sid } from './backend.js';
import { audience, changes, collectionField, type Audience } from './egress.js';

const log = logger('server:publish');

type Entry =
  | { coll: Audience; applied: Applied; origin: Connection | undefined }
  | { answerTo: Connection; answer: () => void };

type Change = Extract<Entry, { applied: Applied }>;

/** What one session sees of a change (the egress's rule); `null` when `filtered` is false is never asked. */
export type RecordFor = (applied: Applied, sid: Sid) => ChangeRecord | null;

export class Coalescer {
  private entries: Entry[] = [];
  private scheduled = false;

  constructor(
    private readonly transport: ServerTransport,
    private readonly windowMs: number,
    /** Whether receivers see changes differently (`visible`): then each gets its own batch. */
    private readonly filtered: boolean,
    private readonly recordFor: RecordFor,
  ) {}

  /** Adds a change for its collection's room. */
  add(coll: Audience, applied: Applied, origin: Connection | undefined): void {
    this.entries.push({ coll, applied, origin });
    this.schedule();
  }

  /** Holds a write's answer to `conn` until the next flush. */
  defer(conn: Connection, answer: () => void): void {
    this.entries.push({ answerTo: conn, answer });
    this.schedule();
  }

  /** Sends every batch and every held answer. */
  flush(): void {
    this.scheduled = false;
    const entries = this.entries;
    this.entries = [];
    // Writers: each room they wrote to, and every connection with held answers, get their own timeline.
    const writers = new Map<Connection, Set<string>>();
    const rooms = new Map<string, { coll: Audience; changes: Change[]; writers: Connection[] }>();
    for (const entry of entries) {
      if ('answerTo' in entry) {
        if (!writers.has(entry.answerTo)) writers.set(entry.answerTo, new Set());
        continue;
      }
      const name = entry.coll.room;
      let room = rooms.get(name);
      if (!room) rooms.set(name, (room = { coll: entry.coll, changes: [], writers: [] }));
      room.changes.push(entry);
      // A writer not subscribed to the room gets none of its changes (nor is it excepted from it).
      if (entry.origin?.isIn(name)) {
        let own = writers.get(entry.origin);
        if (!own) writers.set(entry.origin, (own = new Set()));
        if (!own.has(name)) {
          own.add(name);
          room.writers.push(entry.origin);
        }
      }
    }
    for (const [name, room] of rooms) {
      const collection = collectionField(room.coll.name);
      if (!this.filtered) {
        const records = room.changes.map((c) => c.applied.record!);
        this.transport.publish(name, changes(collection, records), room.writers);
        // Counted when logging only; the writers get the others' changes on their own timelines.
        if (log.enabled) {
          log('%s: %d recipients (coalesced)', showBatch(room), audience(this.transport, name, room.writers));
        }
        continue;
      }
      let sent = 0;
      for (const conn of this.transport.members(name)) {
        if (writers.has(conn)) continue; // its timeline below
        const records = this.seenBy(conn, room.changes);
        if (records.length === 0) continue;
        conn.send('ch', ...changes(collection, records));
        sent++;
      }
      if (log.enabled) log('%s: %d recipients (coalesced, filtered by visible)', showBatch(room), sent);
    }
    for (const [conn, ownRooms] of writers) this.replay(conn, ownRooms, entries);
  }

  /** The records of `list` that `conn` may see, its own changes left out. */
  private seenBy(conn: Connection, list: Change[]): ChangeRecord[] {
    const records: ChangeRecord[] = [];
    for (const change of list) {
      if (change.origin === conn) continue;
      const record = this.filtered ? this.recordFor(change.applied, conn.sid) : change.applied.record;
      if (record) records.push(record);
    }
    return records;
  }

  /**
   * A writer's timeline: the others' changes in the rooms it is in, and its answers, in order;
   * consecutive changes of one room go out as one frame.
   */
  private replay(conn: Connection, ownRooms: Set<string>, entries: Entry[]): void {
    let pending: { coll: Audience; changes: Change[] } | undefined;
    const send = (): void => {
      if (pending) {
        const records = this.seenBy(conn, pending.changes);
        if (records.length > 0) conn.send('ch', ...changes(collectionField(pending.coll.name), records));
      }
      pending = undefined;
    };
    for (const entry of entries) {
      if ('answerTo' in entry) {
        if (entry.answerTo !== conn) continue;
        send();
        entry.answer();
      } else if (this.receives(conn, ownRooms, entry.coll.room) && entry.origin !== conn) {
        if (pending && pending.coll.room !== entry.coll.room) send();
        pending ??= { coll: entry.coll, changes: [] };
        pending.changes.push(entry);
      }
    }
    send();
  }

  /**
   * Whether a writer gets a room's changes on its own timeline: without filtering the room's batch
   * excepted it only for the rooms it wrote to; with filtering every member is served one by one.
   */
  private receives(conn: Connection, ownRooms: Set<string>, room: string): boolean {
    return this.filtered ? conn.isIn(room) : ownRooms.has(room);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    if (this.windowMs > 0) setTimeout(() => this.flush(), this.windowMs);
    else setImmediate(() => this.flush());
  }
}

/** A room's batch for a log line: `todos: 3 changes (7 v3, 8 v1, 9 v2)`, at most 10 ids, no field. */
function showBatch(room: { coll: Audience; changes: Change[] }): string {
  const ids = room.changes
    .slice(0, 10)
    .map((c) => `${showId(c.applied.next?.id ?? c.applied.id)} v${c.applied.v}`);
  const more = room.changes.length > 10 ? ', ...' : '';
  return `${showCollection(room.coll.name)}: ${room.changes.length} changes (${ids.join(', ')}${more})`;
}
