/**
 * The collection a Backbone model or collection syncs with, named from its url the way Backbone
 * finds the url: `options.url`, else the `url` property or function (a model's default `url()`
 * reads `urlRoot`, else its collection's `url`). The name is the last path segment that is not the
 * model's id: `'todos'`, `'/todos'`, `'/todos/7'` and `'/api/todos/7?x=1'` all name `todos`.
 */
import { isValidCollectionName } from '../../lib/protocol.js';
import type { SyncTarget } from './types.js';

/** The error Backbone throws when no url can be found (same text, thrown synchronously). */
export function urlError(): never {
  throw new Error('A "url" property or function must be specified');
}

/** `_.result`: the property's value, or what it returns when it is a function. */
export function resultOf(target: object, key: string): unknown {
  const value = (target as Record<string, unknown>)[key];
  return typeof value === 'function' ? (value as () => unknown).call(target) : value;
}

/** Whether a sync target is a Backbone collection (duck-typed, so any copy of Backbone works). */
export function isCollection(target: SyncTarget): target is Extract<SyncTarget, { models: unknown }> {
  return Array.isArray((target as { models?: unknown }).models);
}

/**
 * The collection name for a sync call; throws Backbone's url error when there is no url, and a
 * `TypeError` when the url holds no usable name.
 */
export function collectionNameOf(target: SyncTarget, options: { url?: unknown }): string {
  const url = options.url || resultOf(target, 'url') || urlError();
  const id = isCollection(target) ? undefined : target.id;
  return nameFromUrl(String(url), id);
}

/** The collection name in a url: its last path segment, skipping a final segment equal to `id`. */
export function nameFromUrl(url: string, id?: unknown): string {
  const path = url.split(/[?#]/)[0];
  const segments = path
    .split('/')
    .filter((s) => s.length > 0)
    .map(decodeSegment);
  if (
    segments.length > 1 &&
    id !== undefined &&
    id !== null &&
    segments[segments.length - 1] === String(id)
  ) {
    segments.pop();
  }
  // Not `.at(-1)`: the browser bundle targets ES2019.
  const name = segments[segments.length - 1];
  if (name === undefined || !isValidCollectionName(name)) {
    throw new TypeError(`object-sync: no collection name in url ${JSON.stringify(url)}`);
  }
  return name;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
