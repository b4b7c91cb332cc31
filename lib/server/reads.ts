/**
 * Answers read requests (`fetch`, `list`, `sub`, `unsub`). Every record goes through the egress, so a
 * session never reads an object `visible` hides from it.
 *
 * Listings and resyncs are paged (protocol 3): one answer holds at most `PAGE_RECORDS` records and
 * about `PAGE_BYTES` of JSON, in `compareIds` order, and says where to continue; the client asks for
 * the next page when it got this one. So an answer never grows with the collection, and a client that
 * stops reading holds one page of the server's memory, not the whole collection. A read lists the
 * collection once, at its first page, and its next pages read only their own ids (`cursors.ts`).
 */
import { createHash } from 'node:crypto';
import { SyncError } from '../errors.js';
import type { AnswerMap, ChangeRecord, Id, RequestMap, VersionedTuple } from '../protocol.js';
import { compareIds, idKey } from '../protocol.js';
import type { Connection } from '../transport.js';
import type { Backend, Sid, Versioned } from './backend.js';
import type { CreateGate } from './create-gate.js';
import type { Egress } from './egress.js';
import { fullRecord } from './egress.js';
import type { Cursors } from './cursors.js';
import { after } from './cursors.js';

/** Most records in one page of a list or resync answer. */
export const PAGE_RECORDS = 1000;
/** About the most JSON bytes in one page (a single larger object still makes a page of its own). */
export const PAGE_BYTES = 256 * 1024;

/** What reads share: the egress (what a session sees) and the cursors of paged reads. */
export interface ReadContext {
  egress: Egress;
  cursors: Cursors;
}

/** A collection as reads need it. */
export interface ReadTarget {
  room: string;
  backend: Backend;
  /** Told of every object an answer shows to exist (see `create-gate.ts`). */
  creates: CreateGate;
}

/** Fetch: one entry per id, `null` for a missing or hidden object. */
export async function answerFetch(
  coll: ReadTarget,
  msg: RequestMap['fetch'],
  sid: Sid,
  egress: Egress,
): Promise<AnswerMap['fetch']> {
  const found = await coll.backend.fetch(msg.i, sid);
  for (const entry of found) if (entry) coll.creates.saw(entry.obj.id);
  return { r: found.map((entry) => egress.tuple(entry, sid)) };
}

/** List: one page of the visible objects after `k` (the first page lists, the next read their own ids). */
export async function answerList(
  coll: ReadTarget,
  msg: RequestMap['list'],
  conn: Connection,
  ctx: ReadContext,
): Promise<AnswerMap['list']> {
  const list = coll.backend.list;
  if (!list) throw new SyncError('unsupported');
  const sid = conn.sid;
  const read = { name: `list\n${coll.room}`, tag: whereTag(msg.w) };
  const source = await pageSource(coll, conn, read, msg, ctx, () => list.call(coll.backend, msg.w, sid));
  const r: VersionedTuple[] = [];
  const page = new Page();
  let last: Id | undefined;
  while (!source.done) {
    if (page.full()) return { r, k: last! };
    for (const [id, entry] of await source.next(page.nextRead())) {
      if (entry && ctx.egress.sees(entry.obj, sid)) {
        if (page.full()) return { r, k: last! };
        page.add(entry);
        coll.creates.saw(id);
        r.push([entry.v, entry.obj]);
        last = id; // a hidden id never ends a page: it would name an object the session cannot see
      }
    }
  }
  ctx.cursors.drop(conn, read.name);
  return { r };
}

/**
 * Subscribe and resync one page: joins the room first (so no change is missed while listing), then
 * answers the whole state of every visible object in the page's range whose version the client does
 * not hold, and a removal (without version) for every held id of that range that is gone or hidden.
 * A collection that cannot list (handlers without `list`) resyncs the held ids through `fetch`.
 */
export async function answerSubscribe(
  coll: ReadTarget,
  msg: RequestMap['sub'],
  conn: Connection,
  ctx: ReadContext,
): Promise<AnswerMap['sub']> {
  conn.join(coll.room);
  const sid = conn.sid;
  const read = { name: subRead(coll), tag: '' };
  const known = new Map<string, number>();
  const held: Id[] = [];
  for (const [id, v] of msg.h) {
    known.set(idKey(id), v);
    if (inPage(id, msg)) held.push(id);
  }
  const list = coll.backend.list;
  const listing = list && (() => list.call(coll.backend, undefined, sid));
  const source = await pageSource(coll, conn, read, msg, ctx, listing, held.sort(compareIds));
  const records: ChangeRecord[] = [];
  const page = new Page();
  let last: Id | undefined;
  while (!source.done) {
    if (page.full()) return { r: records, k: last! };
    for (const [id, entry] of await source.next(page.nextRead())) {
      const key = idKey(id);
      if (entry && ctx.egress.sees(entry.obj, sid)) {
        if (known.get(key) !== entry.v) {
          if (page.full()) return { r: records, k: last! };
          page.add(entry);
          records.push(fullRecord(entry.obj, entry.v));
        }
        coll.creates.saw(id);
        last = id;
      } else if (known.has(key)) {
        records.push({ k: 'd', i: id });
        last = id; // an id the client holds; a hidden one it does not hold never ends a page
      }
    }
  }
  // The read ends with the page that reaches the end of the collection.
  if (msg.t === undefined) ctx.cursors.drop(conn, read.name);
  return { r: records };
}

/** What tells a `list`'s cursor from one of another `where`: its JSON, or a hash of a long one. */
function whereTag(where: unknown): string {
  const text = JSON.stringify(where ?? null);
  return text.length <= 64 ? text : createHash('sha256').update(text).digest('base64');
}

/** The cursor name of a collection's resync. */
function subRead(coll: ReadTarget): string {
  return `sub\n${coll.room}`;
}

/** Whether an id lies in the range a `sub` page asks for (after `k`, up to and with `t`). */
function inPage(id: Id, msg: RequestMap['sub']): boolean {
  return (
    (msg.k === undefined || compareIds(id, msg.k) > 0) && (msg.t === undefined || compareIds(id, msg.t) <= 0)
  );
}

/**
 * Subscribe to a collection that does not exist yet (`autoCollections`): joins its room, so the
 * changes reach the connection once a create makes it, and answers as an empty collection (a removal
 * for every held id of the page's range).
 */
export function answerSubscribeUnknown(
  room: string,
  msg: RequestMap['sub'],
  conn: Connection,
): AnswerMap['sub'] {
  conn.join(room);
  const r: ChangeRecord[] = [];
  for (const [id] of msg.h) if (inPage(id, msg)) r.push({ k: 'd', i: id });
  return { r };
}

/** Unsubscribe: the connection leaves the collection's room (and a resync it was paging ends). */
export function answerUnsubscribe(coll: ReadTarget, conn: Connection, ctx: ReadContext): AnswerMap['unsub'] {
  conn.leave(coll.room);
  ctx.cursors.drop(conn, subRead(coll));
  return {};
}

/**
 * The objects a page goes through, from its read's cursor, else from a new listing (kept as the
 * cursor): the ids after `k` and up to and with `t` (else to the end), with `extra`.
 */
async function pageSource(
  coll: ReadTarget,
  conn: Connection,
  read: { name: string; tag: string },
  range: { k?: Id; t?: Id },
  ctx: ReadContext,
  listing: (() => Promise<Versioned[]>) | undefined,
  extra?: Id[],
): Promise<PageSource> {
  let ids = range.k === undefined || !listing ? undefined : ctx.cursors.get(conn, read.name, read.tag);
  let listed: Map<string, Versioned> | undefined;
  if (!ids && listing) {
    const entries = await ctx.cursors.listing(conn, listing);
    listed = new Map();
    for (const entry of entries) listed.set(idKey(entry.obj.id), entry);
    ids = ctx.cursors.take(
      conn,
      read.name,
      read.tag,
      entries.map((entry) => entry.obj.id),
    );
  }
  ids ??= [];
  const hi = range.t === undefined ? ids.length : after(ids, range.t);
  return new PageSource(coll.backend, conn.sid, ids, after(ids, range.k), hi, extra, listed);
}

/**
 * A page's objects: the ids of its read from index `lo` up to (without) `hi`, merged with `extra`
 * (sorted: ids the client holds in the page's range, gone or not), each once, in order, with their
 * state (`null`: gone) — from the listing just made (a read's first page) or read by `fetch` (its
 * next pages), a chunk at a time.
 */
class PageSource {
  private j = 0;
  private prev: Id | undefined;

  constructor(
    private readonly backend: Backend,
    private readonly sid: Sid,
    /** Sorted by `compareIds`. */
    private readonly ids: Id[],
    private i: number,
    private readonly hi: number,
    private readonly extra: Id[] = [],
    private readonly listed?: Map<string, Versioned>,
  ) {}

  /** Whether every id was read. */
  get done(): boolean {
    return this.i >= this.hi && this.j >= this.extra.length;
  }

  /** The next (at most) `size` ids with their state. */
  async next(size: number): Promise<Array<[Id, Versioned | null]>> {
    const chunk: Id[] = [];
    while (chunk.length < size && !this.done) {
      const order =
        this.i >= this.hi
          ? 1
          : this.j >= this.extra.length
            ? -1
            : compareIds(this.ids[this.i]!, this.extra[this.j]!);
      const id = order < 0 ? this.ids[this.i++]! : this.extra[this.j++]!;
      if (this.prev === undefined || compareIds(this.prev, id) !== 0) chunk.push(id);
      this.prev = id;
    }
    const found = await this.read(chunk);
    return chunk.map((id, n): [Id, Versioned | null] => [id, found[n] ?? null]);
  }

  private async read(ids: Id[]): Promise<Array<Versioned | null>> {
    const listed = this.listed;
    if (listed) return ids.map((id) => listed.get(idKey(id)) ?? null);
    return ids.length === 0 ? [] : this.backend.fetch(ids, this.sid);
  }
}

/** The first read of a page, before the size of its objects is known. */
const FIRST_READ = 100;

/** Counts a page's records and bytes. */
class Page {
  private records = 0;
  private bytes = 0;
  private reads = 0;

  full(): boolean {
    return this.records >= PAGE_RECORDS || this.bytes >= PAGE_BYTES;
  }

  /**
   * How many ids to read next, so a page reads little past its end: about as many records as still
   * fit by the sizes seen so far; before any, a small read, growing while reads add nothing (a
   * resync whose client holds most versions).
   */
  nextRead(): number {
    if (this.records === 0) return Math.min(PAGE_RECORDS, FIRST_READ * 4 ** this.reads++);
    const records = PAGE_RECORDS - this.records;
    const bytes = Math.ceil(((PAGE_BYTES - this.bytes) * this.records) / this.bytes);
    return Math.max(1, Math.min(records, bytes));
  }

  add(entry: Versioned): void {
    this.records++;
    this.bytes += JSON.stringify(entry.obj).length + 16;
  }
}
