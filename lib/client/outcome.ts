/**
 * A client request's outcome, delivered twice: to the caller's node-style callback (synchronously,
 * when the answer arrives) and to a Promise. A callback that throws does not break the client: its
 * exception is rethrown on a later turn, where it shows as uncaught, as it would in user code.
 */
import type { NodeCallback } from '../settle.js';

/** A request's outcome delivered to a callback (synchronously) and a Promise. */
export class Outcome<R> {
  readonly promise: Promise<R>;
  private resolve!: (r: R) => void;
  private reject!: (e: Error) => void;

  constructor(private readonly cb: NodeCallback<R> | undefined) {
    this.promise = new Promise<R>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // With a callback the error goes there; the promise still rejects for code that awaits it.
    if (typeof cb === 'function') this.promise.catch(() => undefined);
  }

  succeed(result: R): void {
    if (this.cb) callSafely(() => this.cb!(null, result));
    this.resolve(result);
  }

  fail(err: Error): void {
    if (this.cb) callSafely(() => this.cb!(err));
    this.reject(err);
  }
}

/** Runs a user callback; one that throws is rethrown on a later turn, not into our code. */
export function callSafely(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    setTimeout(() => {
      throw err;
    });
  }
}
