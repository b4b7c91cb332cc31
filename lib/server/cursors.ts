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
 * Bounds: a cursor ends with its read's last page, a new first page of the same read, `unsub`, its
 * connection closing, or `CURSOR_IDLE_MS` without a page; at most `MAX_CURSOR_IDS` ids are kept over
 * the whole server. A page that finds no cursor (none kept, or it ended) lists again: slower, the same
 * answer.
 */
import type { Id } from '../protocol.js';
import { compareIds } from '../protocol.js';
import type { Connection } from '../transport.js';

/** A cursor unused this long ends (ms). */
export const CURSOR_IDLE_MS = 60_000;
/** Most ids kept in cursors over the whole server (about 8 bytes each, plus the ids themselves). */
export const MAX_CURSOR_IDS = 2_000_000;

/** The sorted ids of one paged read. */
interface Cursor {
  ids: Id[];
  timer: ReturnType<typeof setTimeout>;
}

export class Cursors {
  private readonly byConn = new WeakMap<Connection, Map<string, Cursor>>();
  private kept = 0;

  constructor(
    private readonly maxIds = MAX_CURSOR_IDS,
    private readonly idleMs = CURSOR_IDLE_MS,
  ) {}

  /** How many ids cursors keep now. */
  get size(): number {
    return this.kept;
  }

  /**
   * Keeps a read's ids for its next pages (replacing an earlier cursor of the same read); the ids are
   * sorted here (`compareIds`) and returned. Nothing is kept past `MAX_CURSOR_IDS`.
   */
  take(conn: Connection, read: string, ids: Id[]): Id[] {
    ids.sort(compareIds);
    this.drop(conn, read);
    if (conn.closed || this.kept + ids.length > this.maxIds) return ids;
    let reads = this.byConn.get(conn);
    if (!reads) this.byConn.set(conn, (reads = new Map()));
    const timer = setTimeout(() => this.drop(conn, read), this.idleMs);
    timer.unref?.();
    reads.set(read, { ids, timer });
    this.kept += ids.length;
    return ids;
  }

  /** A read's kept ids, if any (and its idle time starts again). */
  get(conn: Connection, read: string): Id[] | undefined {
    const cursor = this.byConn.get(conn)?.get(read);
    cursor?.timer.refresh();
    return cursor?.ids;
  }

  /** Ends a read's cursor. */
  drop(conn: Connection, read: string): void {
    const reads = this.byConn.get(conn);
    const cursor = reads?.get(read);
    if (!reads || !cursor) return;
    clearTimeout(cursor.timer);
    reads.delete(read);
    this.kept -= cursor.ids.length;
  }

  /** Ends every cursor of a connection (it closed). */
  dropAll(conn: Connection): void {
    for (const read of [...(this.byConn.get(conn)?.keys() ?? [])]) this.drop(conn, read);
    this.byConn.delete(conn);
  }
}

/** The index of the first id after `k` in sorted `ids` (0 without `k`). */
export function after(ids: Id[], k: Id | undefined): number {
  if (k === undefined) return 0;
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareIds(ids[mid]!, k) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
