/**
 * The client's status for people (`client.status`, the `status` event): the connection state, the
 * writes not answered yet, and the last connection error.
 *
 * - `connecting`: the first connection is being made (or retried).
 * - `connected`: greeted by the server; requests go out at once.
 * - `reconnecting`: was connected, lost the connection, and is trying again by itself.
 * - `offline`: not connected and not trying (`disconnect()`, `close()`, `autoConnect: false` before
 *   `connect()`, or a drop with `autoReconnect: false`). Requests wait for `connect()`.
 * - `refused`: the server refused the handshake (`unauthorized`, `protocol_version`...); requests
 *   fail with that code until `connect()` tries again.
 */
import type { WireError } from '../errors.js';

/** The connection state of `client.status`. */
export type StatusState = 'connecting' | 'connected' | 'reconnecting' | 'offline' | 'refused';

/** What `client.status` holds and the `status` event carries (a fresh frozen object per change). */
export interface ClientStatus {
  readonly state: StatusState;
  /** Writes (create, update, destroy) not answered yet: queued while offline, or in flight. */
  readonly pending: number;
  /** The last connection error (cleared when connected). */
  readonly error?: WireError;
}

/** A status object, frozen; `error` only when there is one. */
export function makeStatus(state: StatusState, pending: number, error: WireError | undefined): ClientStatus {
  return Object.freeze(error ? { state, pending, error: Object.freeze({ ...error }) } : { state, pending });
}

/** Whether two statuses say the same. */
export function sameStatus(a: ClientStatus, b: ClientStatus): boolean {
  return (
    a.state === b.state &&
    a.pending === b.pending &&
    a.error?.code === b.error?.code &&
    a.error?.message === b.error?.message
  );
}
