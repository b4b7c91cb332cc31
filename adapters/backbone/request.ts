/**
 * One Backbone sync request: its thenable (what `sync` returns and stores as `options.xhr`) and the
 * one outcome it delivers: `options.success(resp)` or `options.error(err)`, exactly once, then the
 * thenable settles.
 *
 * Rules:
 * - The thenable is a jQuery Deferred's promise when `Backbone.$` has `Deferred` (as `$.ajax`
 *   returns), else a native Promise; it never surfaces as an unhandled rejection (failures go
 *   through `options.error` and the model's `error` event).
 * - An outcome known while the sync call is still running (a synchronous failure) is delivered a
 *   microtask later, so that callbacks never run before `sync` has returned; an outcome from an
 *   acknowledgement is delivered at once, before the events that follow it.
 */
import Backbone from 'backbone';
import type { SyncError } from '../../lib/errors.js';
import { callSafely } from '../../lib/client/outcome.js';
import type { SyncOptions } from './types.js';

/** The thenable of a request and how it settles. */
interface Settler {
  promise: PromiseLike<unknown>;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

interface JQueryDeferredLike {
  promise(): PromiseLike<unknown>;
  resolve(value: unknown): unknown;
  reject(err: unknown): unknown;
}

export class SyncRequest {
  readonly promise: PromiseLike<unknown>;
  private readonly settler: Settler;
  private done = false;
  private held = true;
  private late: (() => void) | undefined;

  constructor(private readonly options: SyncOptions) {
    this.settler = makeSettler();
    this.promise = this.settler.promise;
  }

  /** Calls `options.success(resp)` (once), then resolves the thenable. */
  succeed(resp: unknown): void {
    this.deliver(() => {
      callSafely(() => this.options.success?.(resp));
      this.settler.resolve(resp);
    });
  }

  /** Calls `options.error(err)` (once), then rejects the thenable. */
  fail(err: SyncError): void {
    this.deliver(() => {
      callSafely(() => this.options.error?.(err));
      this.settler.reject(err);
    });
  }

  /** The sync call has returned: an outcome held back until now is delivered a microtask later. */
  release(): void {
    this.held = false;
    const late = this.late;
    this.late = undefined;
    if (late) queueMicrotask(late);
  }

  private deliver(outcome: () => void): void {
    if (this.done) return;
    this.done = true;
    if (this.held) this.late = outcome;
    else outcome();
  }
}

function makeSettler(): Settler {
  // `Backbone` is the page's global in the browser bundle (possibly absent).
  const $ = (Backbone as unknown as { $?: { Deferred?: () => JQueryDeferredLike } } | undefined)?.$;
  if ($ && typeof $.Deferred === 'function') {
    const deferred = $.Deferred();
    return {
      promise: deferred.promise(),
      resolve: (value) => deferred.resolve(value),
      reject: (err) => deferred.reject(err),
    };
  }
  let resolve!: (value: unknown) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<unknown>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Marked handled: whoever awaits it still sees the rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}
