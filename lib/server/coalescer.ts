/**
 * Coalescing (option `coalesce`): the changes published within one tick (or a window of a few ms)
 * leave as one frame per connection instead of one frame per change, since a server's cost is per
 * frame, not per byte. Each room's batch is encoded once for all of its plain receivers.
 *
 * Order is kept exactly as without coalescing: write answers are held until the flush, and a writer
 * gets the others' changes and its own answers interleaved in the order they happened, so it never
 * gets an answer before an earlier change of the same object, nor a later change before an answer.
 * A writer's own changes are left out of what it receives (its answers carry them), so its callback
 * still runs before its own event.
 */
import type { ChangeRecord } from '../protocol.js';
import { changes } from './broadcast.js';
import type { Connection, ServerTransport } from '../transport.js';

type Entry =
  | { room: string; collection: string | undefined; record: ChangeRecord; origin: Connection | undefined }
  | { answerTo: Connection; answer: () => void };

export class Coalescer {
  private entries: Entry[] = [];
  private scheduled = false;

  constructor(
    private readonly transport: ServerTransport,
    private readonly windowMs: number,
  ) {}

  /** Adds a change for a room (`collection` undefined for the default one). */
  add(
    room: string,
    collection: string | undefined,
    record: ChangeRecord,
    origin: Connection | undefined,
  ): void {
    this.entries.push({ room, collection, record, origin });
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
    const rooms = new Map<
      string,
      { collection: string | undefined; records: ChangeRecord[]; writers: Connection[] }
    >();
    for (const entry of entries) {
      if ('answerTo' in entry) {
        if (!writers.has(entry.answerTo)) writers.set(entry.answerTo, new Set());
        continue;
      }
      let room = rooms.get(entry.room);
      if (!room) rooms.set(entry.room, (room = { collection: entry.collection, records: [], writers: [] }));
      room.records.push(entry.record);
      // A writer not subscribed to the room gets none of its changes (nor is it excepted from it).
      if (entry.origin?.isIn(entry.room)) {
        let own = writers.get(entry.origin);
        if (!own) writers.set(entry.origin, (own = new Set()));
        if (!own.has(entry.room)) {
          own.add(entry.room);
          room.writers.push(entry.origin);
        }
      }
    }
    for (const [name, room] of rooms)
      this.transport.publish(name, changes(room.collection, room.records), room.writers);
    for (const [conn, ownRooms] of writers) this.replay(conn, ownRooms, entries);
  }

  /**
   * A writer's timeline: the others' changes in the rooms it wrote to, and its answers, in order;
   * consecutive changes of one room go out as one frame.
   */
  private replay(conn: Connection, ownRooms: Set<string>, entries: Entry[]): void {
    let pending: { collection: string | undefined; room: string; records: ChangeRecord[] } | undefined;
    const send = (): void => {
      if (pending && pending.records.length > 0)
        conn.send('ch', ...changes(pending.collection, pending.records));
      pending = undefined;
    };
    for (const entry of entries) {
      if ('answerTo' in entry) {
        if (entry.answerTo !== conn) continue;
        send();
        entry.answer();
      } else if (ownRooms.has(entry.room) && entry.origin !== conn) {
        if (pending && pending.room !== entry.room) send();
        pending ??= { collection: entry.collection, room: entry.room, records: [] };
        pending.records.push(entry.record);
      }
    }
    send();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    if (this.windowMs > 0) setTimeout(() => this.flush(), this.windowMs);
    else setImmediate(() => this.flush());
  }
}
