/**
 * Judging a hostile case: what the server sees of a payload, and whether the protocol (PROTOCOL.md,
 * written out again here, independently of lib/protocol.ts) must refuse a value at a position.
 */
import { FORBIDDEN, RAW } from './hostile-values.js';

/** A position inside a payload. */
export type Path = Array<string | number>;

/** What the server sees of an emitted payload: JSON, parsed again (Buffers stay as they are). */
export function wireOf(payload: unknown): unknown {
  if (payload === undefined) return undefined;
  try {
    return JSON.parse(JSON.stringify(payload));
  } catch {
    return payload; // too deep to stringify: judged by `bad`
  }
}

export function wireOfRaw(payload: unknown, raw: string): unknown {
  const text = JSON.stringify(payload).replace(`"${RAW}"`, raw);
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function setAt(root: Record<string, unknown>, path: Path, value: unknown): void {
  let node: Record<string | number, unknown> = root;
  for (const step of path.slice(0, -1)) node = node[step] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (value === undefined && !Array.isArray(node)) delete node[last];
  else node[last] = value;
}

export function getAt(root: unknown, path: Path): unknown {
  let node = root;
  for (const step of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[step];
  }
  return node;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return (
    x !== null && typeof x === 'object' && !Array.isArray(x) && Object.getPrototypeOf(x) === Object.prototype
  );
}

function validId(x: unknown): boolean {
  if (typeof x === 'string') return x.length > 0 && x.length <= 256 && !FORBIDDEN.has(x);
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function validName(x: unknown): boolean {
  return typeof x === 'string' && x.length > 0 && x.length <= 256 && !FORBIDDEN.has(x);
}

function validUnset(x: unknown, setKeys: string[]): boolean {
  return validName(x) && x !== 'id' && !setKeys.includes(x as string);
}

export const safeInt = (x: unknown, min: number): boolean =>
  typeof x === 'number' && Number.isSafeInteger(x) && x >= min;

/** Would the protocol refuse `value` (as the server sees it) at position `where` of a `kind` request? */
export function refuses(kind: string, where: string, value: unknown, payload: unknown): boolean {
  const setKeys = isPlainObject(payload) && isPlainObject(payload.s) ? Object.keys(payload.s) : [];
  switch (where) {
    case '(payload)':
      return !(
        ['list', 'sub', 'unsub'].includes(kind) &&
        isPlainObject(value) &&
        Object.keys(value).length === 0
      );
    case 'c':
      return !(value === undefined || value === '' || value === 'things');
    case 'q':
      return !safeInt(value, 1);
    case 'b':
      return !(value === undefined || safeInt(value, 0));
    case 'i':
      if (kind !== 'fetch') return !validId(value);
      return !(Array.isArray(value) && value.length > 0 && value.length <= 10_000 && value.every(validId));
    case 'i.0':
      return !validId(value);
    case 'o':
      return !(isPlainObject(value) && !Object.prototype.hasOwnProperty.call(value, 'id'));
    case 's':
      return !(
        value === undefined ||
        (isPlainObject(value) && !Object.prototype.hasOwnProperty.call(value, 'id'))
      );
    case 'u':
      return !(value === undefined || (Array.isArray(value) && value.every((n) => validUnset(n, setKeys))));
    case 'u.0':
      return !validUnset(value, setKeys);
    case 'h':
      return !(
        value === undefined ||
        (Array.isArray(value) &&
          value.length <= 10_000 &&
          value.every((p) => Array.isArray(p) && p.length === 2 && validId(p[0]) && safeInt(p[1], 0)))
      );
    case 'h.0':
      return !(Array.isArray(value) && value.length === 2 && validId(value[0]) && safeInt(value[1], 0));
    case 'h.0.0':
      return !validId(value);
    case 'h.0.1':
      return !safeInt(value, 0);
    default:
      // Nested data (o.x, s.x, w, w.x): any JSON within the limits.
      return false;
  }
}
