/**
 * Types of the Backbone adapter: the `sync(method, model, options)` signature Backbone calls, and
 * the options it reads and writes.
 */
import type Backbone from 'backbone';
import type { SyncError } from '../../lib/errors.js';

/** What Backbone syncs: a model or a collection. */
export type SyncTarget = Backbone.Model | Backbone.Collection;

/** The five methods of `Backbone.sync`. */
export type SyncMethod = 'create' | 'read' | 'update' | 'patch' | 'delete';

/**
 * The options of a sync call as Backbone passes them. The adapter reads `url`, `attrs`, `wait`,
 * `data` (the `list` query of a collection fetch), calls `success`/`error`, and stores `xhr`.
 */
export interface SyncOptions {
  url?: unknown;
  attrs?: Record<string, unknown>;
  wait?: boolean;
  data?: unknown;
  success?: (resp: unknown) => void;
  error?: (err: SyncError) => void;
  xhr?: PromiseLike<unknown>;
  [option: string]: unknown;
}

/**
 * A replacement for `Backbone.sync`: returns a thenable settled after the callbacks. `method` is a
 * `SyncMethod` and `options` `SyncOptions`; they are typed as loosely as @types/backbone types them
 * (`string`, its jQuery settings), so that `Backbone.sync = backboneSync(client)` type-checks. It is
 * declared as a method, whose parameters TypeScript compares both ways, so that the implementation
 * may still take a `SyncMethod` and `SyncOptions`.
 */
export type BackboneSync = {
  sync(method: string, model: SyncTarget, options?: object): PromiseLike<unknown>;
}['sync'];

/** Attributes as Backbone holds them. */
export type Attrs = Record<string, unknown>;
