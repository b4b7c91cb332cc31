/**
 * Answers validated client requests: one function per request kind, each returning the ack payload.
 * Writes go through the session's dedupe, so a resent request is applied at most once.
 */
import type { AnswerMap, ChangeRecord, RequestMap, VersionedTuple } from '../protocol.js';
import type { Connection } from '../transport.js';
import type { Applied, Versioned } from './backend.js';
import { idKey } from './backend.js';
import type { ServerCollection } from './collection.js';
import type { RequestContext } from './backend.js';
import { fullRecord } from './collection.js';

/** Filters objects by the `visible` option for one session. */
export type VisibilityFilter = (entry: Versioned, sid: string) => boolean;

/** Answers the requester of a write; called at most once. */
export type Reply = (payload: unknown) => void;

/** Creates; the answer leaves right after the publish. */
export async function answerCreate(
  coll: ServerCollection,
  msg: RequestMap['create'],
  conn: Connection,
  reply: Reply,
): Promise<void> {
  const format = (applied: Applied): AnswerMap['create'] => ({
    r: applied.record ?? fullRecord(applied.next!, applied.v),
  });
  await coll.create(msg.o, conn, context(conn, msg.q, format), (applied) => reply(format(applied)));
}

/**
 * Updates; the caller holds the object's queue (`ServerCollection#serial`). The answer leaves right
 * after the publish, before the object's next write starts.
 */
export async function answerUpdate(
  coll: ServerCollection,
  msg: RequestMap['update'],
  conn: Connection,
  reply: Reply,
): Promise<void> {
  const format = (applied: Applied): AnswerMap['update'] => ({ r: recordFor(applied, msg.b), v: applied.v });
  await coll.updateNow(msg.i, msg.s, msg.u, conn, context(conn, msg.q, format), (applied) =>
    reply(format(applied)),
  );
}

/** Destroys; the caller holds the object's queue. The answer leaves right after the publish. */
export async function answerDestroy(
  coll: ServerCollection,
  msg: RequestMap['destroy'],
  conn: Connection,
  reply: Reply,
): Promise<void> {
  const format = (applied: Applied): AnswerMap['destroy'] => ({ r: { k: 'd', i: msg.i, v: applied.v } });
  await coll.destroyNow(msg.i, conn, context(conn, msg.q, format), (applied) => reply(format(applied)));
}

/** The request a write answers, and how its answer is made (a durable store records it with the write). */
function context(conn: Connection, seq: number, answer: (applied: Applied) => unknown): RequestContext {
  return { request: { sid: conn.sid, seq }, answer };
}

/**
 * The change as the requester should get it: the diff when the client holds the version just before
 * it, else the whole object; nothing when nothing changed and the client is up to date.
 */
function recordFor(applied: Applied, base: number): ChangeRecord | null {
  if (!applied.next) return null;
  const record = applied.record;
  if (record === null) return base === applied.v ? null : fullRecord(applied.next, applied.v);
  if (record.k === 'u' && base === applied.v - 1) return record;
  return fullRecord(applied.next, applied.v);
}

export async function answerFetch(
  coll: ServerCollection,
  msg: RequestMap['fetch'],
  conn: Connection,
  visible: VisibilityFilter,
): Promise<AnswerMap['fetch']> {
  const found = await coll.read(msg.i, conn.sid);
  return { r: found.map((entry) => (entry && visible(entry, conn.sid) ? tuple(entry) : null)) };
}

export async function answerList(
  coll: ServerCollection,
  msg: RequestMap['list'],
  conn: Connection,
  visible: VisibilityFilter,
): Promise<AnswerMap['list']> {
  const all = await coll.readAll(msg.w, conn.sid);
  return { r: all.filter((entry) => visible(entry, conn.sid)).map(tuple) };
}

/**
 * Subscribes and resyncs: joins the room first (so no change is missed while listing), then answers
 * the whole state of every object whose version the client does not hold, and a removal for every
 * object it holds that is gone (or no longer visible to it).
 */
export async function answerSubscribe(
  coll: ServerCollection,
  msg: RequestMap['sub'],
  conn: Connection,
  visible: VisibilityFilter,
): Promise<AnswerMap['sub']> {
  conn.join(coll.room);
  const all = await coll.readAll(undefined, conn.sid);
  const known = new Map<string, number>();
  for (const [id, v] of msg.h) known.set(idKey(id), v);
  const records: ChangeRecord[] = [];
  const present = new Set<string>();
  for (const entry of all) {
    if (!visible(entry, conn.sid)) continue;
    const key = idKey(entry.obj.id);
    present.add(key);
    if (known.get(key) !== entry.v) records.push(fullRecord(entry.obj, entry.v));
  }
  for (const [id] of msg.h) if (!present.has(idKey(id))) records.push({ k: 'd', i: id });
  return { r: records };
}

export function answerUnsubscribe(coll: ServerCollection, conn: Connection): AnswerMap['unsub'] {
  conn.leave(coll.room);
  return {};
}

function tuple(entry: Versioned): VersionedTuple {
  return [entry.v, entry.obj];
}
