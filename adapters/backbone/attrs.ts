/**
 * Attributes between Backbone and the client engine: plain copies, the id attribute, and the
 * property diffs (set/unset) one write makes against the state the server is expected to reach.
 */
import { clone, deepEqual } from '../../lib/diff.js';
import { FORBIDDEN_KEYS, type StoredObject } from '../../lib/protocol.js';
import type { Attrs } from './types.js';

/** One write's change: properties it sets and properties it removes (ids never included). */
export interface Change {
  set: Attrs;
  unset: string[];
}

const hasOwn = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);

/**
 * A plain JSON copy of attributes with the id attribute left out. A top-level `undefined` is kept
 * (it means "remove" to the client engine); functions and forbidden keys are dropped.
 */
export function plainAttrs(attrs: unknown, idAttribute: string): Attrs {
  const out: Attrs = {};
  if (attrs === null || typeof attrs !== 'object') return out;
  for (const key of Object.keys(attrs)) {
    if (key === 'id' || key === idAttribute || FORBIDDEN_KEYS.has(key)) continue;
    const value = (attrs as Attrs)[key];
    if (typeof value === 'function' || typeof value === 'symbol') continue;
    out[key] = value === undefined ? undefined : clone(value);
  }
  return out;
}

/** A server object as Backbone attributes: a plain copy, its id under the model's id attribute. */
export function attrsOf(obj: StoredObject, idAttribute: string): Attrs {
  const out = clone(obj) as Attrs;
  if (idAttribute !== 'id') {
    delete out.id;
    out[idAttribute] = obj.id;
  }
  return out;
}

/**
 * The change that turns `expected` into `wanted`: changed and added properties are set, properties
 * given as `undefined` are removed, and with `removeMissing` so is every expected property `wanted`
 * lacks (a full update).
 */
export function changeOf(expected: Attrs, wanted: Attrs, removeMissing: boolean): Change {
  const set: Attrs = {};
  const unset: string[] = [];
  for (const key of Object.keys(wanted)) {
    const value = wanted[key];
    if (value === undefined) {
      if (hasOwn(expected, key)) unset.push(key);
    } else if (!hasOwn(expected, key) || !deepEqual(expected[key], value)) {
      set[key] = value;
    }
  }
  if (removeMissing) {
    for (const key of Object.keys(expected)) if (!hasOwn(wanted, key)) unset.push(key);
  }
  return { set, unset };
}

/** Applies changes in order to `target` (in place) and returns it. */
export function applyChanges(target: Attrs, changes: readonly Change[]): Attrs {
  for (const change of changes) {
    for (const key of Object.keys(change.set)) target[key] = clone(change.set[key]);
    for (const key of change.unset) delete target[key];
  }
  return target;
}

/** The save object the client engine takes for a change: `{ id, ...set, [removed]: undefined }`. */
export function saveObjectOf(id: StoredObject['id'], change: Change): StoredObject {
  const obj: StoredObject = { id };
  for (const key of Object.keys(change.set)) obj[key] = change.set[key];
  for (const key of change.unset) obj[key] = undefined;
  return obj;
}

/** Whether a change touches a property. */
export function touches(change: Change, key: string): boolean {
  return hasOwn(change.set, key) || change.unset.includes(key);
}
