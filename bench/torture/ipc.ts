/**
 * The messages between the torture orchestrator and its server child (over the IPC channel of
 * `fork`). The child reports `ready` with its port once it listens; every request carries an `id`
 * and gets exactly one `reply` with that id.
 */
import type { StoredObject } from '../../lib/index.js';

/** Requests of the orchestrator. */
export type ToServer =
  /** Is any built-in prototype changed since the child started? */
  | { type: 'pollution'; id: number }
  /** Every stored object of every collection, and the forbidden keys found in them. */
  | { type: 'dump'; id: number }
  /** A server-initiated create (broadcast to every subscriber), e.g. a barrier. */
  | { type: 'save'; id: number; collection: string; obj: Record<string, unknown> }
  /** Part 3 (memory-server.ts): the heap after a full garbage collection, and now. */
  | { type: 'heap'; id: number }
  /** Part 3: how many collections the engine holds. */
  | { type: 'collections'; id: number }
  /** Part 3: loads collection `big` with `count` objects of `bytes` each. */
  | { type: 'fill'; id: number; count: number; bytes: number }
  /** Part 3: destroys every object of `collection` (server-side); answers their JSON bytes. */
  | { type: 'clear'; id: number; collection: string }
  /** Close cleanly and exit. */
  | { type: 'stop' };

/** What the child sends. */
export type FromServer =
  { type: 'ready'; port: number } | { type: 'reply'; id: number; result?: unknown; error?: string };

/** The answer to `dump`. */
export interface Dump {
  /** Collection name ('' is the default) -> its objects. */
  collections: Record<string, StoredObject[]>;
  /** Paths of `__proto__`/`constructor`/`prototype` keys found in stored objects. */
  forbidden: string[];
  /** `error` events the engine emitted (handler failures: logged, never sent). */
  errors: number;
}
