/**
 * Bounds every call to a store's backend by `handlerTimeout`, as handler calls are: a store that
 * hangs gives the requester `timeout` and frees the object's queue. A write that commits after its
 * timeout was not broadcast; clients find the version gap at the object's next change and refetch it.
 * A backend that never waits on anything outside the process (`inProcess`) is used as it is.
 */
import { SyncError } from '../errors.js';
import type { Backend } from './backend.js';

/** Rejects with `timeout` when `work` takes longer than `ms`. */
export function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new SyncError('timeout')), ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** The same backend with every call bounded by `ms`. */
export function timedBackend(backend: Backend, ms: number): Backend {
  if (backend.inProcess) return backend;
  const timed: Backend = {
    create: (...args) => withTimeout(backend.create(...args), ms),
    update: (...args) => withTimeout(backend.update(...args), ms),
    destroy: (...args) => withTimeout(backend.destroy(...args), ms),
    fetch: (...args) => withTimeout(backend.fetch(...args), ms),
    list: (...args) => withTimeout(backend.list(...args), ms),
  };
  if (backend.recall) {
    const recall = backend.recall.bind(backend);
    timed.recall = (sid, seq) => withTimeout(recall(sid, seq), ms);
  }
  return timed;
}
