/**
 * The wire protocol of object-sync: every message, the protocol version, the limits, and the one
 * validator every inbound message passes before anything else sees it. PROTOCOL.md is written
 * from this file; change both together.
 *
 * Invariants:
 * - Every client -> server message is a socket.io event with exactly one payload object and an
 *   acknowledgement callback. The ack is `{ error: { code, message } }` or a success payload.
 * - Inbound data is untrusted: `__proto__`, `constructor` and `prototype` are refused as keys, ids
 *   and collection names at any depth; depth, sizes and counts are bounded (`Limits`).
 * - Server-owned fields are never taken from clients: `id` only names an object, `v` (version) is
 *   never accepted.
 */

/** Bumped on any incompatible change; sent by clients in the handshake (`auth.osProtocol`). */
export const PROTOCOL_VERSION = 3;

/** Default socket.io path of the engine (not `/socket.io`). */
export const DEFAULT_PATH = '/object-sync';

/** Default URL path of the browser bundle, outside the socket.io path. */
export const DEFAULT_CLIENT_PATH = '/object-sync.js';

/** The name of the default collection on the wire (`c` is omitted for it). */
export const DEFAULT_COLLECTION = '';

/** An object id: a non-empty string or a non-negative safe integer. */
export type Id = string | number;

/** What objects hold: JSON data. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A synced object: plain JSON data with an `id` once stored. */
export interface SyncObject {
  id?: Id;
  [key: string]: unknown;
}

/** A stored object: it always has its id. */
export interface StoredObject extends SyncObject {
  id: Id;
}

/** Keys refused everywhere in inbound data. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Bounds on inbound messages; every field has the default shown in `DEFAULT_LIMITS`. */
export interface Limits {
  /** Largest payload, estimated as the JSON text length (default 1 MiB). */
  maxPayloadBytes: number;
  /** Deepest nesting of objects and arrays inside a payload (default 32). */
  maxDepth: number;
  /** Most keys in one object (default 1 000). */
  maxKeys: number;
  /** Longest array (default 10 000). */
  maxArrayLength: number;
  /** Longest string value (default 256 KiB). */
  maxStringLength: number;
  /** Longest string id, property name or collection name (default 256). */
  maxIdLength: number;
  /** Most ids in one fetch, and known versions in one subscribe (default 10 000). */
  maxIdsPerRequest: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxPayloadBytes: 1024 * 1024,
  maxDepth: 32,
  maxKeys: 1000,
  maxArrayLength: 10_000,
  maxStringLength: 256 * 1024,
  maxIdLength: 256,
  maxIdsPerRequest: 10_000,
});

// ---------------------------------------------------------------------------------------------
// Server -> client: change records

/**
 * One change to one object, as broadcast (`ch` event), as answered to its originator, and as sent
 * by a resync. `v` is the object's version after the change (1 for a new object, +1 per change).
 *
 * - `k: 'c'` — the object's full state `o` at version `v` (a create, or a replacement after a resync,
 *   a fetch, or when it becomes visible).
 * - `k: 'u'` — a diff from version `v - 1`: `s` sets properties, `u` removes them. In `ch` events a
 *   diff travels as an array `[i, v, s, u?]` (the most frequent record; see `toWire`).
 * - `k: 'd'` — the object is gone (destroyed, or no longer visible to this client). A `d` without
 *   `v` (only in resync answers) removes unconditionally.
 */
export type ChangeRecord =
  | { k: 'c'; i: Id; v: number; o: StoredObject }
  | { k: 'u'; i: Id; v: number; s?: Record<string, unknown>; u?: string[] }
  | { k: 'd'; i: Id; v?: number };

/** A diff as it travels in `ch` events: `[i, v, s, u?]`, `s` an object (`{}` when it only removes). */
export type WireDiff = [i: Id, v: number, s: Record<string, unknown>, u?: string[]];

/** A change record as it travels in `ch` events: a diff as a `WireDiff`, the others as they are. */
export type WireRecord = Exclude<ChangeRecord, { k: 'u' }> | WireDiff;

/**
 * The `ch` form of a record. A diff is an array: a one-field change is then about as small, and as
 * quick to parse, as a hand-written `{ id, field }` (every byte and every object counts per delivery).
 */
export function toWire(record: ChangeRecord): WireRecord {
  if (record.k !== 'u') return record;
  const s = record.s ?? {};
  return record.u ? [record.i, record.v, s, record.u] : [record.i, record.v, s];
}

/** A record read from a `ch` event; `undefined` for anything that is not one. */
export function fromWire(record: unknown): ChangeRecord | undefined {
  if (Array.isArray(record)) {
    const [i, v, s, u] = record as unknown[];
    const object = s !== null && typeof s === 'object' && !Array.isArray(s);
    if (!isValidId(i) || typeof v !== 'number' || !object) return undefined;
    const diff: ChangeRecord = { k: 'u', i, v, s: s as Record<string, unknown> };
    if (Array.isArray(u)) diff.u = u as string[];
    return diff;
  }
  if (record === null || typeof record !== 'object') return undefined;
  const k = (record as { k?: unknown }).k;
  return k === 'c' || k === 'd' ? (record as ChangeRecord) : undefined;
}

/**
 * The arguments of the `ch` event: changes to one collection, in order, then the collection's name
 * (left out for the default collection).
 */
export type ChangesMessage = [records: WireRecord[], collection?: string];

/** A versioned full object, as fetch and list answer: `[version, object]`. */
export type VersionedTuple = [number, StoredObject];

// ---------------------------------------------------------------------------------------------
// Client -> server requests (all with an ack)

/** `create`: store a new object. `q` is the request's sequence number in the session. */
export interface CreateRequest {
  c: string;
  q: number;
  o: Record<string, unknown>;
}
/**
 * `update`: change properties of one object: `s` sets, `u` removes; `b` is the client's version;
 * `e`: the client left out given properties its copy at version `b` already had (see PROTOCOL.md).
 */
export interface UpdateRequest {
  c: string;
  q: number;
  i: Id;
  s: Record<string, unknown>;
  u: string[];
  b: number;
  e: boolean;
}
/** `destroy`: remove one object. */
export interface DestroyRequest {
  c: string;
  q: number;
  i: Id;
}
/** `fetch`: read objects by id. */
export interface FetchRequest {
  c: string;
  i: Id[];
}
/**
 * `list`: read the collection (the `list` handler's query is `w`), one page at a time: `k` continues
 * after that id (in `compareIds` order); absent, from the start.
 */
export interface ListRequest {
  c: string;
  w: JsonValue | undefined;
  k?: Id;
}
/**
 * `sub`: subscribe and resync one page of ids: those after `k` (exclusive; absent: from the start, and
 * the connection joins the collection's room) up to `t` (inclusive; absent: to the end). `h` lists the
 * versions the client holds of ids in that range (0: "send it whole").
 */
export interface SubscribeRequest {
  c: string;
  h: Array<[Id, number]>;
  k?: Id;
  t?: Id;
}
/** `unsub`: stop receiving a collection's changes. */
export interface UnsubscribeRequest {
  c: string;
}

/** Every request, by event name. */
export interface RequestMap {
  create: CreateRequest;
  update: UpdateRequest;
  destroy: DestroyRequest;
  fetch: FetchRequest;
  list: ListRequest;
  sub: SubscribeRequest;
  unsub: UnsubscribeRequest;
}
export type RequestEvent = keyof RequestMap;

/** Requests that change objects: they carry `q` and are applied at most once. */
export type WriteEvent = 'create' | 'update' | 'destroy';

/** Successful answers, by event name. */
export interface AnswerMap {
  /** The stored object (`k: 'c'`). */
  create: { r: ChangeRecord };
  /** The change (`u` when `b` matched the version before it, else a full `c`), or `null` with the
   *  current version when nothing changed. */
  update: { r: ChangeRecord | null; v: number };
  /** The removal (`k: 'd'`). */
  destroy: { r: ChangeRecord };
  /** One entry per requested id, in order; `null` for unknown or invisible ids. */
  fetch: { r: Array<VersionedTuple | null> };
  /** One page, in id order; `k`: more follow, ask again with `k`. */
  list: { r: VersionedTuple[]; k?: Id };
  /**
   * The changes that bring the client's copy of the page's range up to date; `k`: the page covered
   * ids only up to `k` (ask again from there), absent: up to the request's `t` (or the end).
   */
  sub: { r: ChangeRecord[]; k?: Id };
  unsub: Record<string, never>;
}

/** The ack of any request: an answer or an error. */
export type Ack<E extends RequestEvent> = AnswerMap[E] | { error: { code: string; message?: string } };

/** Events the client sends (each with an ack). */
export type ClientToServerEvents = {
  [E in RequestEvent]: (payload: RequestMap[E], ack: (answer: Ack<E>) => void) => void;
};

/** Sent once on every connection, before anything else: the server's epoch and the session id. */
export interface HelloMessage {
  /** Changes whenever versions restart (a server restart without a durable store). */
  e: string;
  /** The session id the handlers see as `sid`. */
  s: string;
  /** The server's protocol version. */
  p: number;
}

/** Events the server sends. */
export interface ServerToClientEvents {
  hi: (message: HelloMessage) => void;
  ch: (...message: ChangesMessage) => void;
}

/** Handshake `auth` fields the engine reads (the application's own fields sit beside them). */
export interface HandshakeAuth {
  /** Secret naming the session; the session id is derived from it. 16..128 url-safe characters. */
  osSession: string;
  osProtocol: number;
}

// ---------------------------------------------------------------------------------------------
// The inbound validator

/** Result of validating an inbound message. */
export type Validated<E extends RequestEvent> =
  | { ok: true; msg: RequestMap[E]; /** The payload's estimated JSON size. */ bytes: number }
  | { ok: false; code: 'invalid_message' | 'invalid_id' | 'payload_too_large' };

class Invalid extends Error {
  constructor(readonly code: 'invalid_message' | 'invalid_id' | 'payload_too_large') {
    super(code);
  }
}

/** The fields each request may carry (PROTOCOL.md's request table is checked against it). */
export const EVENT_FIELDS: { [E in RequestEvent]: ReadonlySet<string> } = {
  create: new Set(['c', 'q', 'o']),
  update: new Set(['c', 'q', 'i', 's', 'u', 'b', 'e']),
  destroy: new Set(['c', 'q', 'i']),
  fetch: new Set(['c', 'i']),
  list: new Set(['c', 'w', 'k']),
  sub: new Set(['c', 'h', 'k', 't']),
  unsub: new Set(['c']),
};

/** True for the events of this protocol. */
export function isRequestEvent(name: string): name is RequestEvent {
  return Object.prototype.hasOwnProperty.call(EVENT_FIELDS, name);
}

/**
 * Validates one inbound request payload. Nothing else in the server looks at wire data before this
 * has passed it. The returned message holds only known fields with checked types.
 */
export function validateRequest<E extends RequestEvent>(
  event: E,
  payload: unknown,
  limits: Limits,
): Validated<E> {
  try {
    const size = { bytes: 0 };
    const msg = parse(event, payload, limits, size) as RequestMap[E];
    return { ok: true, msg, bytes: size.bytes };
  } catch (err) {
    if (err instanceof Invalid) return { ok: false, code: err.code };
    throw err;
  }
}

/** The request `payload` of `event` as validated; its estimated JSON size goes to `size.bytes`. */
function parse(
  event: RequestEvent,
  payload: unknown,
  limits: Limits,
  size: { bytes: number },
): RequestMap[RequestEvent] {
  const p = plainObject(payload);
  const allowed = EVENT_FIELDS[event];
  for (const key of Object.keys(p)) if (!allowed.has(key)) throw new Invalid('invalid_message');
  size.bytes = checkJson(p, limits);
  const c = collectionName(p.c, limits);
  switch (event) {
    case 'create': {
      const o = plainObject(p.o);
      if ('id' in o) throw new Invalid('invalid_message');
      return { c, q: seq(p.q), o: withoutUndefined(o) };
    }
    case 'update': {
      const s = p.s === undefined ? {} : plainObject(p.s);
      const u = p.u === undefined ? [] : stringArray(p.u, limits);
      if ('id' in s || u.includes('id')) throw new Invalid('invalid_message');
      for (const name of u)
        if (Object.prototype.hasOwnProperty.call(s, name)) throw new Invalid('invalid_message');
      const b = p.b === undefined ? 0 : nonNegativeInteger(p.b);
      if (p.e !== undefined && p.e !== true) throw new Invalid('invalid_message');
      return { c, q: seq(p.q), i: id(p.i, limits), s: withoutUndefined(s), u, b, e: p.e === true };
    }
    case 'destroy':
      return { c, q: seq(p.q), i: id(p.i, limits) };
    case 'fetch': {
      if (!Array.isArray(p.i) || p.i.length === 0) throw new Invalid('invalid_message');
      if (p.i.length > limits.maxIdsPerRequest) throw new Invalid('payload_too_large');
      return { c, i: p.i.map((x) => id(x, limits)) };
    }
    case 'list': {
      const msg: ListRequest = { c, w: p.w as JsonValue | undefined };
      if (p.k !== undefined) msg.k = id(p.k, limits);
      return msg;
    }
    case 'sub': {
      const h = p.h === undefined ? [] : p.h;
      if (!Array.isArray(h)) throw new Invalid('invalid_message');
      if (h.length > limits.maxIdsPerRequest) throw new Invalid('payload_too_large');
      const known = h.map((pair): [Id, number] => {
        if (!Array.isArray(pair) || pair.length !== 2) throw new Invalid('invalid_message');
        return [id(pair[0], limits), nonNegativeInteger(pair[1])];
      });
      const msg: SubscribeRequest = { c, h: known };
      if (p.k !== undefined) msg.k = id(p.k, limits);
      if (p.t !== undefined) msg.t = id(p.t, limits);
      return msg;
    }
    case 'unsub':
      return { c };
  }
}

/** A plain JSON object (not an array, not a Buffer, no prototype tricks). */
function plainObject(x: unknown): Record<string, unknown> {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) throw new Invalid('invalid_message');
  const proto = Object.getPrototypeOf(x);
  if (proto !== Object.prototype && proto !== null) throw new Invalid('invalid_message');
  return x as Record<string, unknown>;
}

function seq(x: unknown): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 1) throw new Invalid('invalid_message');
  return x;
}

function nonNegativeInteger(x: unknown): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) throw new Invalid('invalid_message');
  return x;
}

/** The key of an id in maps: numbers and strings that print alike name the same object. */
export function idKey(id: Id): string {
  return typeof id === 'number' ? String(id) : id;
}

/** The order of ids in paged answers: their keys (`idKey`) compared as JS strings. */
export function compareIds(a: Id, b: Id): number {
  const x = idKey(a);
  const y = idKey(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The index of the first entry whose id comes after `k` in `sorted` (sorted by `compareIds`). */
export function indexAfter<T>(sorted: readonly T[], k: Id, idOf: (entry: T) => Id): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareIds(idOf(sorted[mid]!), k) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Checks an id: a non-empty string of bounded length that is not a forbidden key, or a safe integer >= 0. */
export function isValidId(x: unknown, maxIdLength = DEFAULT_LIMITS.maxIdLength): x is Id {
  if (typeof x === 'string') return x.length > 0 && x.length <= maxIdLength && !FORBIDDEN_KEYS.has(x);
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function id(x: unknown, limits: Limits): Id {
  if (!isValidId(x, limits.maxIdLength)) throw new Invalid('invalid_id');
  return x;
}

const COLLECTION_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:/-]*$/;

/** Checks a collection name: letters, digits and `_ . : / -`, bounded, never a forbidden key. */
export function isValidCollectionName(x: unknown, maxLength = DEFAULT_LIMITS.maxIdLength): x is string {
  return (
    typeof x === 'string' &&
    (x === DEFAULT_COLLECTION || (x.length <= maxLength && COLLECTION_NAME.test(x) && !FORBIDDEN_KEYS.has(x)))
  );
}

function collectionName(x: unknown, limits: Limits): string {
  if (x === undefined) return DEFAULT_COLLECTION;
  if (!isValidCollectionName(x, limits.maxIdLength)) throw new Invalid('invalid_message');
  return x;
}

function stringArray(x: unknown, limits: Limits): string[] {
  if (!Array.isArray(x)) throw new Invalid('invalid_message');
  for (const s of x) {
    if (typeof s !== 'string' || s.length === 0 || s.length > limits.maxIdLength || FORBIDDEN_KEYS.has(s)) {
      throw new Invalid('invalid_message');
    }
  }
  return x as string[];
}

/** Properties given as `undefined` never arrive over JSON; drop them defensively. */
function withoutUndefined(o: Record<string, unknown>): Record<string, unknown> {
  for (const key of Object.keys(o)) if (o[key] === undefined) delete o[key];
  return o;
}

/**
 * Walks a payload without recursion: only JSON types (no binary, no odd prototypes), no forbidden
 * keys at any depth, bounded depth, key counts, array and string lengths, and an estimate of the
 * JSON text size against `maxPayloadBytes`. Returns that estimate.
 */
function checkJson(root: unknown, limits: Limits): number {
  const stack: Array<[unknown, number]> = [[root, 0]];
  let bytes = 0;
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (value === null || typeof value === 'boolean') {
      bytes += 5;
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new Invalid('invalid_message');
      bytes += 8;
    } else if (typeof value === 'string') {
      if (value.length > limits.maxStringLength) throw new Invalid('payload_too_large');
      bytes += value.length + 2;
    } else if (typeof value === 'object') {
      if (depth >= limits.maxDepth) throw new Invalid('invalid_message');
      if (Array.isArray(value)) {
        if (value.length > limits.maxArrayLength) throw new Invalid('payload_too_large');
        bytes += 2 + value.length;
        for (const item of value) stack.push([item, depth + 1]);
      } else {
        const obj = plainObject(value);
        const keys = Object.keys(obj);
        if (keys.length > limits.maxKeys) throw new Invalid('payload_too_large');
        for (const key of keys) {
          if (FORBIDDEN_KEYS.has(key) || key.length > limits.maxIdLength)
            throw new Invalid('invalid_message');
          bytes += key.length + 4;
          stack.push([obj[key], depth + 1]);
        }
        bytes += 2;
      }
    } else if (value !== undefined) {
      throw new Invalid('invalid_message');
    }
    if (bytes > limits.maxPayloadBytes) throw new Invalid('payload_too_large');
  }
  return bytes;
}

/** Is this ack an error? */
export function isErrorAck(ack: unknown): ack is { error: { code: string; message?: string } } {
  return ack !== null && typeof ack === 'object' && 'error' in ack;
}
