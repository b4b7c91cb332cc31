/**
 * Attributes between Backbone and the client engine: plain copies, the id attribute, and pending
 * writes laid over a state.
 */
import type Backbone from 'backbone';
import type { PendingWrite } from '../../lib/client/collection.js';
import { applyDiff, clone, forbiddenKey, toJson } from '../../lib/diff.js';
import { FORBIDDEN_KEYS, type StoredObject } from '../../lib/protocol.js';
import type { Attrs } from './types.js';

/**
 * A plain JSON copy of attributes with the id attribute left out, made as `JSON.stringify` would
 * (see `toJson`: nested models and collections through `toJSON`, a cycle throws a `TypeError`). A
 * top-level `undefined` is kept (it means "remove" to the client engine). An attribute named `id` on
 * a model with another `idAttribute` throws a `TypeError` (it cannot be synced).
 */
export function plainAttrs(attrs: unknown, idAttribute: string): Attrs {
  const out: Attrs = {};
  if (attrs === null || typeof attrs !== 'object') return out;
  if (idAttribute !== 'id' && Object.prototype.hasOwnProperty.call(attrs, 'id')) {
    // The synced object's id travels as `id`: another attribute of that name has nowhere to go, and
    // dropping it silently would lose it.
    throw new TypeError(
      `object-sync: a model whose idAttribute is ${JSON.stringify(idAttribute)} cannot save an attribute named "id" (the object's id travels as "id"); rename it`,
    );
  }
  for (const key of Object.keys(attrs)) {
    if (key === 'id' || key === idAttribute) continue;
    if (FORBIDDEN_KEYS.has(key)) throw forbiddenKey(key);
    const value = (attrs as Attrs)[key];
    if (value === undefined) {
      out[key] = undefined;
      continue;
    }
    // As JSON.stringify would: nested models and collections through their toJSON; a cycle throws.
    const json = toJson(value, key);
    if (json !== undefined) out[key] = json;
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

/** Lays pending writes over attributes, in order (in place), and returns them. */
export function layered(target: Attrs, writes: readonly PendingWrite[]): Attrs {
  for (const w of writes) applyDiff(target, w.set, w.unset);
  return target;
}

/**
 * Server attributes as the model holds them: through `model.parse`, whole (as after a fetch), with
 * `{ remote: true }`; a parse that returns no object gives none.
 */
export function parsedAttrs(model: Backbone.Model, raw: Attrs): Attrs {
  const parsed: unknown = model.parse(raw, { remote: true });
  return parsed !== null && typeof parsed === 'object' ? (parsed as Attrs) : {};
}
