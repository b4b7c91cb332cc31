/**
 * Bounds a store's reads (`fetch`, `list`, `recall`) by `handlerTimeout`, as handler reads are: a store
 * that hangs gives the reader `timeout`. Writes are bounded by the write pipeline instead, which answers
 * the requester `timeout`, aborts `ctx.signal`, and holds the object's queue until the store returns.
 * A backend that never waits on anything outside the process (`inProcess`) is used as it is.
 */
import { SyncError } from '../errors.js';
import type { Backend } from './backend.js';

/** Rejects with `timeout` when `work` takes longer than `ms` (calling `onTimeout` first). */
export function withTimeout<T>(work: Promise<T>, ms: number, onTimeout?: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout?.();
      reject(new SyncError('timeout'));
    }, ms);
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

/** The same backend with every read bounded by `ms`. */
export function timedBackend(backend: Backend, ms: number): Backend {
  if (backend.inProcess) return backend;
  const timed: Backend = {
    create: (...args) => backend.create(...args),
    update: (...args) => backend.update(...args),
    destroy: (...args) => backend.destroy(...args),
    fetch: (...args) => withTimeout(backend.fetch(...args), ms),
  };
  if (backend.list) {
    const list = backend.list.bind(backend);
    timed.list = (...args) => withTimeout(list(...args), ms);
  }
  if (backend.recall) {
    const recall = backend.recall.bind(backend);
    timed.recall = (sid, seq) => withTimeout(recall(sid, seq), ms);
  }
  return timed;
}
