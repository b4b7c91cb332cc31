/**
 * Property diffs between JSON objects: what travels instead of whole objects.
 *
 * A diff is top-level only: `set` maps each changed or added property to its new value (nested
 * values are replaced whole), `unset` names removed properties. `id` is never part of a diff.
 */

import { FORBIDDEN_KEYS } from './protocol.js';

/** A top-level property diff. */
export interface Diff {
  set: Record<string, unknown>;
  unset: string[];
}

const hasOwn = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);

/** Structural equality of JSON values (key order ignored). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    if (a.length !== other.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], other[i])) return false;
    return true;
  }
  const ak = Object.keys(a);
  if (ak.length !== Object.keys(b).length) return false;
  for (const key of ak) {
    if (
      !hasOwn(b, key) ||
      !deepEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])
    ) {
      return false;
    }
  }
  return true;
}

/**
 * A deep copy of JSON data as plain objects. `undefined` properties are dropped, like JSON does;
 * non-JSON values (functions, symbols) are dropped too. Used wherever data crosses an ownership
 * boundary (a handler's result, a caller's argument) so nobody mutates someone else's object.
 * Forbidden keys (`__proto__`...) are dropped, so a copy can never change a prototype.
 */
export function clone<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => (item === undefined ? null : clone(item))) as T;
  if (value instanceof Date) return value.toJSON() as T;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
    if (FORBIDDEN_KEYS.has(key)) continue;
    out[key] = clone(item);
  }
  return out as T;
}

/**
 * A value as JSON data, the way `JSON.stringify` sees it: `toJSON()` is called where there is one
 * (dates, Backbone models and collections nested in attributes), functions, symbols and `undefined`
 * properties are dropped (`null` in arrays), non-finite numbers become `null`. A cyclic value, or a
 * property named `__proto__`, `constructor` or `prototype` (no server accepts them), throws a
 * `TypeError` at once, naming where.
 */
export function toJson(value: unknown, key = '', stack: object[] = []): unknown {
  if (value !== null && typeof value === 'object') {
    // `toJSON` may return a fresh object each time (Backbone's does): the cycle check is on the
    // original objects, and on what their `toJSON` returns.
    const original = value;
    if (stack.includes(original)) throw cyclic(key);
    const withToJson = value as { toJSON?: (key: string) => unknown };
    if (typeof withToJson.toJSON !== 'function') return plainJson(original, stack);
    stack.push(original);
    try {
      return toJson(withToJson.toJSON(key), key, stack);
    } finally {
      stack.pop();
    }
  }
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'bigint') throw new TypeError(`object-sync: a BigInt cannot be saved (at "${key}")`);
  return typeof value === 'function' || typeof value === 'symbol' ? undefined : value;
}

/** The JSON data of an object without `toJSON` (see `toJson`). */
function plainJson(value: object, stack: object[]): unknown {
  stack.push(value);
  try {
    if (Array.isArray(value)) return value.map((item, at) => toJson(item, String(at), stack) ?? null);
    const obj: Record<string, unknown> = {};
    for (const k of Object.keys(value)) {
      if (FORBIDDEN_KEYS.has(k)) throw forbiddenKey(k);
      const item = toJson((value as Record<string, unknown>)[k], k, stack);
      if (item !== undefined) obj[k] = item;
    }
    return obj;
  } finally {
    stack.pop();
  }
}

/** The error for a property name the protocol refuses (saving it would be dropped or refused later). */
export function forbiddenKey(key: string): TypeError {
  return new TypeError(`object-sync: a property named "${key}" cannot be saved`);
}

function cyclic(key: string): TypeError {
  return new TypeError(`object-sync: cannot save a cyclic object (it refers back to itself at "${key}")`);
}

/** The diff that turns `prev` into `next`, ignoring `id`. Empty when they are equal. */
export function diff(prev: Record<string, unknown>, next: Record<string, unknown>): Diff {
  const set: Record<string, unknown> = {};
  const unset: string[] = [];
  for (const key of Object.keys(next)) {
    if (key === 'id' || next[key] === undefined) continue;
    if (!hasOwn(prev, key) || !deepEqual(prev[key], next[key])) set[key] = next[key];
  }
  for (const key of Object.keys(prev)) {
    if (key === 'id') continue;
    if (!hasOwn(next, key) || next[key] === undefined) unset.push(key);
  }
  return { set, unset };
}

/**
 * The diff that setting `set` and removing `unset` makes to `prev` (removal wins for a key named in
 * both; `id` is never part of it). Equal to `diff(prev, patched)` but looks only at the keys named.
 */
export function diffPatch(
  prev: Record<string, unknown>,
  set: Record<string, unknown>,
  unset: readonly string[],
): Diff {
  const out: Diff = { set: {}, unset: [] };
  // A Set, so a patch with many keys stays linear (up to the message limits: 1000 keys each).
  const removed = new Set(unset);
  for (const key of Object.keys(set)) {
    if (key === 'id' || set[key] === undefined || removed.has(key)) continue;
    if (!hasOwn(prev, key) || !deepEqual(prev[key], set[key])) out.set[key] = set[key];
  }
  for (const key of removed) if (key !== 'id' && hasOwn(prev, key)) out.unset.push(key);
  return out;
}

/**
 * The write that brings `base` to what `given` names, the one diff a client computes: a key given
 * as `undefined` is removed, any other given key is set; keys `given` does not name are left alone.
 * With `base` (the state the server is known to have) a key already at its value is elided, unless
 * `unsure(key)` (a write still pending names it: it may yet be refused); without `base` (the client
 * cannot know the server's state) every given key travels.
 */
export function writeDiff(
  base: Record<string, unknown> | undefined,
  given: Record<string, unknown>,
  unsure: (key: string) => boolean = () => false,
): Diff {
  const out: Diff = { set: {}, unset: [] };
  for (const key of Object.keys(given)) {
    if (key === 'id') continue;
    if (FORBIDDEN_KEYS.has(key)) throw forbiddenKey(key);
    const value = given[key];
    const known = base !== undefined && !unsure(key);
    if (value === undefined) {
      if (!known || hasOwn(base, key)) out.unset.push(key);
    } else {
      const json = toJson(value, key);
      if (json === undefined) continue; // a function: nothing JSON would keep
      if (!known || !hasOwn(base, key) || !deepEqual(base[key], json)) out.set[key] = json;
    }
  }
  return out;
}

/** True when a diff changes nothing. */
export function isEmptyDiff(d: Diff): boolean {
  return d.unset.length === 0 && Object.keys(d.set).length === 0;
}

/**
 * Applies a diff to `target` in place (so holders of the reference see it) and returns the
 * changes it really made: property -> new value, `undefined` for removed ones. `id` and forbidden
 * keys are never written.
 */
export function applyDiff(
  target: Record<string, unknown>,
  set: Record<string, unknown> | undefined,
  unset: readonly string[] | undefined,
): Record<string, unknown> {
  const changes: Record<string, unknown> = {};
  if (set) {
    for (const key of Object.keys(set)) {
      if (key === 'id' || FORBIDDEN_KEYS.has(key)) continue;
      if (hasOwn(target, key) && deepEqual(target[key], set[key])) continue;
      target[key] = clone(set[key]);
      changes[key] = set[key];
    }
  }
  if (unset) {
    for (const key of unset) {
      if (key === 'id' || !hasOwn(target, key)) continue;
      delete target[key];
      changes[key] = undefined;
    }
  }
  return changes;
}

/** Replaces the contents of `target` with `source` in place; returns the changes, like `applyDiff`. */
export function replaceContents(
  target: Record<string, unknown>,
  source: Record<string, unknown>,
): Record<string, unknown> {
  const d = diff(target, source);
  return applyDiff(target, d.set, d.unset);
}
