/**
 * The callback-and-Promise convention of every public call (SPEC, "Callbacks and Promises"): the
 * call returns a Promise; when a node-style callback is given it gets the outcome too, and the
 * Promise is marked handled, so ignoring it never causes an `unhandledRejection`.
 */

/** A node-style callback: `(err, result)`. */
export type NodeCallback<R> = (err: Error | null, result?: R) => void;

/** Attaches an optional callback to a Promise and returns the Promise. */
export function settle<R>(promise: Promise<R>, cb: NodeCallback<R> | undefined): Promise<R> {
  if (typeof cb === 'function') {
    promise.then(
      (result) => cb(null, result),
      (err: Error) => cb(err),
    );
  }
  return promise;
}
