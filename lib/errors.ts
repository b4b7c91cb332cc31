/**
 * The one error type of object-sync, and the table of its stable codes.
 *
 * Invariants:
 * - Only `{ code, message }` ever crosses the wire (`toWire`); never a stack, never an exception's text.
 * - `message` is the fixed text of a known code, or a plain string a handler chose to give.
 * - Callers branch on `code`, never on `message`.
 */

/** Every code the engine itself produces, with its fixed message. Handlers may use codes of their own. */
export const ERROR_CODES = {
  invalid_message: 'The message is malformed or has fields of the wrong type.',
  invalid_id: 'The id is not a valid object id.',
  not_found: 'No object has that id.',
  forbidden: 'You may not do that.',
  unauthorized: 'The connection was not authorized.',
  timeout: 'The request took too long; its outcome is unknown.',
  payload_too_large: 'The message is larger than the server accepts.',
  handler_error: 'The server failed to handle the request.',
  unavailable: 'The server is shutting down or not reachable.',
  unknown_event: 'The server does not know that event.',
  unknown_collection: 'The server has no collection of that name.',
  unsupported: 'The collection cannot do that (its handlers have no `list`).',
  busy: 'Too many requests are in flight (on this connection, or on the server).',
  rate_limited: 'Too many requests per second on this connection.',
  protocol_version: 'The client speaks a protocol version the server does not.',
  stale: 'The update left out properties of a copy that is no longer current; nothing was applied.',
  unreachable: 'The server cannot be reached (wrong url or path, or nothing listening); retrying.',
  unsubscribed: 'unsubscribe() ended the subscription before it was in place.',
} as const;

/** A code produced by the engine. */
export type EngineErrorCode = keyof typeof ERROR_CODES;

/** An error as it travels: a stable code and an optional human-readable message. */
export interface WireError {
  code: string;
  message?: string;
}

/** Codes are lower snake case: this also keeps system codes (`ENOENT`, `SQLITE_BUSY`) from leaking. */
const CODE_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;
const MAX_MESSAGE_LENGTH = 500;

/**
 * The error type callbacks and Promises reject with. `code` is stable; `message` is for people.
 * It is an `Error` so stacks are useful locally, but only `code` and `message` are ever sent.
 */
export class SyncError extends Error implements WireError {
  readonly code: string;

  constructor(code: string, message?: string) {
    super(message ?? fixedMessage(code));
    this.name = 'SyncError';
    this.code = code;
  }

  /** The wire form: `{ code, message }`, nothing else. */
  toJSON(): WireError {
    return { code: this.code, message: this.message };
  }
}

/** The fixed text for a code, or the code itself for codes of a handler's own. */
export function fixedMessage(code: string): string {
  return Object.prototype.hasOwnProperty.call(ERROR_CODES, code)
    ? ERROR_CODES[code as EngineErrorCode]
    : code;
}

/** Makes a `SyncError` with the fixed message of an engine code. */
export function syncError(code: EngineErrorCode): SyncError {
  return new SyncError(code);
}

/**
 * Turns whatever a handler passed as its error into the wire form. A plain object (or error) with a
 * lower-snake-case string `code` keeps its code, and its `message` when that is a plain string; anything else
 * (a thrown TypeError, a string, a number) becomes `handler_error` with the fixed text, so that
 * no internal detail leaves the server.
 */
export function toWireError(err: unknown): WireError {
  if (err instanceof SyncError) return { code: err.code, message: err.message };
  if (err !== null && typeof err === 'object') {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && CODE_PATTERN.test(code)) {
      // A plain object a handler built on purpose may carry its own message; an Error's message
      // may hold internals (paths, SQL), so it is replaced by the fixed text.
      const message = (err as { message?: unknown }).message;
      const own =
        !(err instanceof Error) && typeof message === 'string' && message.length <= MAX_MESSAGE_LENGTH;
      return { code, message: own ? message : fixedMessage(code) };
    }
  }
  return { code: 'handler_error', message: ERROR_CODES.handler_error };
}

/** Rebuilds a `SyncError` from what came over the wire, tolerating junk. */
export function fromWireError(err: unknown): SyncError {
  if (err !== null && typeof err === 'object') {
    const { code, message } = err as { code?: unknown; message?: unknown };
    if (typeof code === 'string')
      return new SyncError(code, typeof message === 'string' ? message : undefined);
  }
  return new SyncError('invalid_message');
}
