/**
 * How a write turns one versioned state into the next: the one place that decides versions, diffs
 * and change records, shared by the handler backend and by every store.
 *
 * - A create (or a write to an object the writer did not know) is a full `c` record at the next version.
 * - An update is a `u` record with the diff from the previous state at version + 1; an empty diff is
 *   no change at all (same version, no record).
 * - A destroy is a `d` record at version + 1.
 */
import { clone, diff, diffPatch, isEmptyDiff, type Diff } from '../diff.js';
import type { ChangeRecord, Id, StoredObject } from '../protocol.js';
import type { Applied, Versioned } from './backend.js';

/** The outcome of storing `next` (the new full state) over `prev`; `full` forces a `c` record. */
export function applyState(id: Id, prev: Versioned | undefined, next: StoredObject, full = false): Applied {
  if (!prev || full) {
    const v = (prev?.v ?? 0) + 1;
    return { id, v, prev: prev?.obj, next, record: { k: 'c', i: next.id, v, o: next } };
  }
  const d = diff(prev.obj, next);
  return isEmptyDiff(d) ? unchanged(id, prev) : changed(id, prev, next, d);
}

/** The `u` outcome of a non-empty diff `d` from `prev` to `next`. */
function changed(id: Id, prev: Versioned, next: StoredObject, d: Diff): Applied {
  const v = prev.v + 1;
  const record: ChangeRecord = { k: 'u', i: next.id, v };
  if (Object.keys(d.set).length > 0) record.s = d.set;
  if (d.unset.length > 0) record.u = d.unset;
  return { id, v, prev: prev.obj, next, record };
}

/** The outcome of removing an object at `prev`. */
export function applyRemoval(id: Id, prev: Versioned | undefined): Applied {
  const v = (prev?.v ?? 0) + 1;
  return { id, v, prev: prev?.obj, next: undefined, record: { k: 'd', i: id, v } };
}

/** A write that changed nothing. */
export function unchanged(id: Id, prev: Versioned | undefined): Applied {
  return { id, v: prev?.v ?? 0, prev: prev?.obj, next: prev?.obj, record: null };
}

/**
 * The outcome of setting `set` and removing `unset` on `prev` (what a store's `update` does): only the
 * keys named are compared; `set` is copied, so the new state shares nothing with the caller.
 */
export function applyPatch(
  id: Id,
  prev: Versioned,
  set: Record<string, unknown>,
  unset: readonly string[],
): Applied {
  const d = diffPatch(prev.obj, clone(set), unset);
  if (isEmptyDiff(d)) return unchanged(id, prev);
  const next: StoredObject = { ...prev.obj, ...d.set };
  for (const key of d.unset) delete next[key];
  return changed(id, prev, next, d);
}
