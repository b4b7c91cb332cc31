/**
 * Paged reads that list once: the first page of a `sub` or `list` lists the collection and keeps the
 * ids, sorted, for its connection (a cursor); each later page takes its ids from the cursor and reads
 * only those (`fetch`). So a page costs about its own size, not the collection's, and a first load of
 * n objects lists once instead of n / `PAGE_RECORDS` times.
 *
 * A cursor keeps ids, not objects: each page carries its objects as they are when it is read, as a
 * page listed afresh would. For a `sub` the ids are listed after the connection joined the
 * collection's room, so an object created after the listing, which the cursor misses, reaches the
 * connection as a `ch` event; one removed since is absent from the page's `fetch`.
 *
 * Bounds, since a listing is the dearest thing a small request can ask for:
 * - a connection lists one collection at a time (its other listings wait their turn), so one
 *   connection cannot hold many listings in memory at once or keep the server busy with them;
 * - a connection keeps at most one cursor per read kind and collection (`list` with another `where`
 *   replaces it) and `MAX_CURSORS_PER_CONNECTION` in all, the least recently used dropped;
 * - the cursors of the whole server hold at most `MAX_CURSOR_BYTES` (estimated: pointers and id
 *   strings), the least recently used dropped first;
 * - a cursor ends with its read's last page, a new first page of the same read, `unsub`, its
 *   connection closing, or `CURSOR_IDLE_MS` without a page.
 * A page that finds no cursor (dropped or ended) lists again: slower, the same answer.
 */
import type { Id } from '../protocol.js';
import { compareIds, indexAfter } from '../protocol.js';
import type { Connection } from '../transport.js';

/** A cursor unused this long ends (ms). */
export const CURSOR_IDLE_MS = 60_000;
/** Most bytes (estimated) kept in cursors over the whole server. */
export const MAX_CURSOR_BYTES = 64 * 1024 * 1024;
/** Most cursors one connection keeps. */
export const MAX_CURSORS_PER_CONNECTION = 4;

/** The sorted ids of one paged read. */
interface Cursor {
  conn: Connection;
  read: string;
  /** What else the read is about (a `list`'s `where`): a page of another tag does not use it. */
  tag: string;
  ids: Id[];
  bytes: number;
  timer: ReturnType<typeof setTimeout>;
}

/** About what keeping an id costs: its slot, and a string's own bytes (shared ones counted too). */
function idBytes(id: Id): number {
  return typeof id === 'string' ? 8 + 24 + 2 * id.length : 8;
}

export class Cursors {
  private readonly byConn = new WeakMap<Connection, Map<string, Cursor>>();
  /** Every cursor, least recently used first. */
  private readonly lru = new Set<Cursor>();
  /** The tail of each connection's listings, which run one at a time. */
  private readonly listings = new WeakMap<Connection, Promise<unknown>>();
  private bytes = 0;

  constructor(
    private readonly maxBytes = MAX_CURSOR_BYTES,
    private readonly idleMs = CURSOR_IDLE_MS,
    private readonly maxPerConnection = MAX_CURSORS_PER_CONNECTION,
  ) {}

  /** How many bytes (estimated) cursors keep now. */
  get size(): number {
    return this.bytes;
  }

  /**
   * Runs a listing of a connection after its listings queued before (one at a time per connection,
   * each after a turn of the event loop, so the requests of other connections are served between
   * them); at once when none is running, so a read is served in the order it arrived.
   */
  listing<T>(conn: Connection, list: () => Promise<T>): Promise<T> {
    const before = this.listings.get(conn);
    const result = before ? before.then(nextTurn, nextTurn).then(list) : list();
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.listings.set(conn, tail);
    void tail.then(() => {
      if (this.listings.get(conn) === tail) this.listings.delete(conn);
    });
    return result;
  }

  /**
   * Keeps a read's ids for its next pages (replacing an earlier cursor of the same read); the ids are
   * sorted here (`compareIds`) and returned. Older cursors are dropped to stay within the bounds; a
   * read larger than `MAX_CURSOR_BYTES` alone is not kept.
   */
  take(conn: Connection, read: string, tag: string, ids: Id[]): Id[] {
    ids.sort(compareIds);
    this.drop(conn, read);
    let bytes = 0;
    for (const id of ids) bytes += idBytes(id);
    if (conn.closed || bytes > this.maxBytes) return ids;
    let reads = this.byConn.get(conn);
    if (!reads) this.byConn.set(conn, (reads = new Map()));
    while (reads.size >= this.maxPerConnection) this.end(this.oldestOf(reads));
    for (const old of this.lru) {
      if (this.bytes + bytes <= this.maxBytes) break;
      this.end(old);
    }
    const timer = setTimeout(() => this.drop(conn, read), this.idleMs);
    timer.unref?.();
    const cursor: Cursor = { conn, read, tag, ids, bytes, timer };
    reads.set(read, cursor);
    this.lru.add(cursor);
    this.bytes += bytes;
    return ids;
  }

  /** A read's kept ids when it has the same tag (and its idle time starts again). */
  get(conn: Connection, read: string, tag: string): Id[] | undefined {
    const cursor = this.byConn.get(conn)?.get(read);
    if (!cursor || cursor.tag !== tag) return undefined;
    cursor.timer.refresh();
    this.lru.delete(cursor);
    this.lru.add(cursor);
    return cursor.ids;
  }

  /** Ends a read's cursor. */
  drop(conn: Connection, read: string): void {
    const cursor = this.byConn.get(conn)?.get(read);
    if (cursor) this.end(cursor);
  }

  /** Ends every cursor of a connection (it closed). */
  dropAll(conn: Connection): void {
    for (const cursor of [...(this.byConn.get(conn)?.values() ?? [])]) this.end(cursor);
    this.byConn.delete(conn);
  }

  private end(cursor: Cursor): void {
    if (!this.lru.delete(cursor)) return;
    clearTimeout(cursor.timer);
    this.byConn.get(cursor.conn)?.delete(cursor.read);
    this.bytes -= cursor.bytes;
  }

  /** A connection's least recently used cursor. */
  private oldestOf(reads: Map<string, Cursor>): Cursor {
    for (const cursor of this.lru) if (reads.get(cursor.read) === cursor) return cursor;
    return reads.values().next().value!;
  }
}

/** Resolves after the event loop's pending I/O was served. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The index of the first id after `k` in sorted `ids` (0 without `k`). */
export function after(ids: Id[], k: Id | undefined): number {
  return k === undefined ? 0 : indexAfter(ids, k, (id) => id);
}
