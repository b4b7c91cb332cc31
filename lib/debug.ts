/**
 * Namespaced debug loggers (the `debug` package): `DEBUG=object-sync:*` in Node,
 * `localStorage.debug = 'object-sync:*'` in a page that loaded the browser bundle.
 *
 * The namespaces are a closed list (README, "Logging"), by concern rather than by file, so that one
 * can be turned on alone: `DEBUG=object-sync:server:request`.
 *
 * Rules for every log line:
 * - Ids, collection names, session ids (public hashes), error codes, counts and durations only:
 *   never an object's fields, a session secret, `auth` data or a url's query.
 * - Free when off: a line whose arguments cost anything to build is guarded by `log.enabled`, and
 *   the publish path checks `enabled` once per change, never per receiver.
 */
import createDebug from 'debug';
import { DEFAULT_COLLECTION, isValidCollectionName, isValidId } from './protocol.js';

/** Every namespace object-sync logs under, after `object-sync:` (the README's table lists each). */
export const LOG_NAMES = [
  'server:conn',
  'server:session',
  'server:request',
  'server:publish',
  'server:http',
  'client:conn',
  'client:status',
  'client:request',
  'client:resync',
  'stores:postgres',
] as const;

/** One namespace of `LOG_NAMES`. */
export type LogName = (typeof LOG_NAMES)[number];

/** A logger: call it like `console.log` (printf-style `%s %d %o`); `enabled` says whether it prints. */
export interface Logger {
  (formatter: string, ...args: unknown[]): void;
  readonly enabled: boolean;
}

/** The logger of one namespace, e.g. `logger('server:request')` -> `object-sync:server:request`. */
export function logger(name: LogName): Logger {
  return createDebug(`object-sync:${name}`);
}

const PLAIN = /^[A-Za-z0-9_.:/-]{1,64}$/;

/** An id as a log line shows it: as is when plain, else quoted (JSON) and cut to 64 characters. */
export function showId(id: unknown): string {
  if (typeof id === 'number') return String(id);
  if (typeof id !== 'string') return '?';
  return PLAIN.test(id) ? id : JSON.stringify(id.length > 64 ? `${id.slice(0, 63)}…` : id);
}

/** A collection's name as a log line shows it (`(default)` for the default collection). */
export function showCollection(name: unknown): string {
  if (name === undefined || name === DEFAULT_COLLECTION) return '(default)';
  return isValidCollectionName(name) ? showId(name) : '?';
}

/**
 * What a request names, for a log line: `update todos/7`, `create todos`, `fetch todos (3 ids)`,
 * `sub todos (2 held)`. Reads only `c`, `i`, `h` and `k` (never `o`, `s`, `u` or `w`, which hold
 * fields and queries), and checks them, so it is safe on a payload not validated yet.
 */
export function describeRequest(event: string, payload: unknown): string {
  const p = (payload !== null && typeof payload === 'object' ? payload : {}) as Record<string, unknown>;
  const name = `${PLAIN.test(event) ? event : '?'} ${showCollection(p.c)}`;
  if (Array.isArray(p.i)) return `${name} (${p.i.length} ids)`;
  if (isValidId(p.i)) return `${name}/${showId(p.i)}`;
  if (Array.isArray(p.h)) return `${name} (${p.h.length} held${p.k === undefined ? '' : ', next page'})`;
  return p.k === undefined ? name : `${name} (next page)`;
}

/**
 * An ack, for a log line: the error's code, or `ok` with what the answer says without its fields:
 * the id and version of a write (`ok 7 v3`, `ok unchanged v3`), the number of records of a read
 * (`ok 12 records, more`).
 */
export function describeAck(ack: unknown): string {
  if (ack === null || typeof ack !== 'object') return 'ok';
  const a = ack as Record<string, unknown>;
  if (a.error !== null && typeof a.error === 'object') {
    const code = (a.error as Record<string, unknown>).code;
    return typeof code === 'string' && PLAIN.test(code) ? code : 'error';
  }
  const more = a.k === undefined ? '' : ', more';
  if (Array.isArray(a.r)) return `ok ${a.r.length} records${more}`;
  if (a.r === null) return typeof a.v === 'number' ? `ok unchanged v${a.v}` : 'ok unchanged';
  if (a.r !== undefined && typeof a.r === 'object') {
    const r = a.r as Record<string, unknown>;
    const v = typeof r.v === 'number' ? ` v${r.v}` : '';
    return `ok ${isValidId(r.i) ? showId(r.i) : '?'}${v}`;
  }
  return 'ok';
}

/** Milliseconds since `start` (a `performance.now()`), to a tenth, for a log line. */
export function since(start: number): string {
  return (performance.now() - start).toFixed(1);
}
