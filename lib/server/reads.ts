/**
 * Answers read requests (`fetch`, `list`, `sub`, `unsub`). Every record goes through the egress, so a
 * session never reads an object `visible` hides from it.
 *
 * Listings and resyncs are paged (protocol 3): one answer holds at most `PAGE_RECORDS` records and
 * about `PAGE_BYTES` of JSON, in `compareIds` order, and says where to continue; the client asks for
 * the next page when it got this one. So an answer never grows with the collection, and a client that
 * stops reading holds one page of the server's memory, not the whole collection.
 */
import { SyncError } from '../errors.js';
import type { AnswerMap, ChangeRecord, Id, RequestMap, VersionedTuple } from '../protocol.js';
import { compareIds, idKey } from '../protocol.js';
import type { Connection } from '../transport.js';
import type { Backend, Sid, Versioned } from './backend.js';
import type { CreateGate } from './create-gate.js';
import type { Egress } from './egress.js';
import { fullRecord } from './egress.js';

/** Most records in one page of a list or resync answer. */
export const PAGE_RECORDS = 1000;
/** About the most JSON bytes in one page (a single larger object still makes a page of its own). */
export const PAGE_BYTES = 256 * 1024;

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

/** List: one page of the visible objects after `k`. */
export async function answerList(
  coll: ReadTarget,
  msg: RequestMap['list'],
  sid: Sid,
  egress: Egress,
): Promise<AnswerMap['list']> {
  if (!coll.backend.list) throw new SyncError('unsupported');
  const sorted = inOrder(await coll.backend.list(msg.w, sid), sid, egress);
  const r: VersionedTuple[] = [];
  const page = new Page();
  for (let at = after(sorted, msg.k); at < sorted.length; at++) {
    const entry = sorted[at]!;
    if (page.full()) return { r, k: sorted[at - 1]!.obj.id };
    page.add(entry);
    coll.creates.saw(entry.obj.id);
    r.push([entry.v, entry.obj]);
  }
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
  egress: Egress,
): Promise<AnswerMap['sub']> {
  conn.join(coll.room);
  const sid = conn.sid;
  const inRange = (id: Id): boolean => inPage(id, msg);
  const entries = coll.backend.list
    ? await coll.backend.list(undefined, sid)
    : await fetchHeld(coll.backend, msg.h, sid);
  const sorted = inOrder(entries, sid, egress).filter((entry) => inRange(entry.obj.id));
  const known = new Map<string, number>();
  for (const [id, v] of msg.h) known.set(idKey(id), v);
  const records: ChangeRecord[] = [];
  const present = new Set<string>();
  const page = new Page();
  let end: Id | undefined;
  for (const entry of sorted) {
    const key = idKey(entry.obj.id);
    if (known.get(key) !== entry.v) {
      if (page.full()) {
        end = records[records.length - 1]!.i;
        break;
      }
      page.add(entry);
      records.push(fullRecord(entry.obj, entry.v));
    }
    coll.creates.saw(entry.obj.id);
    present.add(key);
  }
  for (const [id] of msg.h) {
    if (!inRange(id) || (end !== undefined && compareIds(id, end) > 0)) continue;
    if (!present.has(idKey(id))) records.push({ k: 'd', i: id });
  }
  return end === undefined ? { r: records } : { r: records, k: end };
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

/** Unsubscribe: the connection leaves the collection's room. */
export function answerUnsubscribe(coll: ReadTarget, conn: Connection): AnswerMap['unsub'] {
  conn.leave(coll.room);
  return {};
}

/** The held objects as they are now, read through `fetch` (a collection that cannot list). */
async function fetchHeld(backend: Backend, held: Array<[Id, number]>, sid: Sid): Promise<Versioned[]> {
  if (held.length === 0) return [];
  const found = await backend.fetch(
    held.map(([id]) => id),
    sid,
  );
  return found.filter((entry): entry is Versioned => entry !== null);
}

/** The entries a session may see, in `compareIds` order. */
function inOrder(entries: Versioned[], sid: Sid, egress: Egress): Versioned[] {
  return entries
    .filter((entry) => egress.sees(entry.obj, sid))
    .sort((a, b) => compareIds(a.obj.id, b.obj.id));
}

/** The index of the first entry after id `k` (binary search; 0 without `k`). */
function after(sorted: Versioned[], k: Id | undefined): number {
  if (k === undefined) return 0;
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareIds(sorted[mid]!.obj.id, k) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Counts a page's records and bytes. */
class Page {
  private records = 0;
  private bytes = 0;

  full(): boolean {
    return this.records >= PAGE_RECORDS || this.bytes >= PAGE_BYTES;
  }

  add(entry: Versioned): void {
    this.records++;
    this.bytes += JSON.stringify(entry.obj).length + 16;
  }
}
