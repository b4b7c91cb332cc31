/**
 * The small interface between the engine and the network. The engine never touches socket.io;
 * `lib/socketio/server-transport.ts` binds this to it.
 */
import type { ChangesMessage, ServerToClientEvents } from './protocol.js';

/**
 * A node's answer about a session: `live` (it has a connection of it), `released` (it had the session,
 * waiting for its client to come back, and has now let it go to the asking node), `none`.
 */
export type SessionPresence = 'live' | 'released' | 'none';

/** One client connection, as the engine sees it. */
export interface Connection {
  /** Unique per connection (changes on reconnect). */
  readonly id: string;
  /** The session id: stable across the reconnects of one client. */
  readonly sid: string;
  /** What `authorize(handshake)` answered for this connection (`true` without `authorize`). */
  readonly user: unknown;
  /** Set once the connection is gone: nothing more is run for it. */
  readonly closed: boolean;
  /** Sends one event to this connection only. */
  send<E extends keyof ServerToClientEvents>(event: E, ...args: Parameters<ServerToClientEvents[E]>): void;
  join(room: string): void;
  leave(room: string): void;
  /** Whether this connection is in `room` (subscribed, for a collection's room). */
  isIn(room: string): boolean;
  /** Ends the connection in a way that lets the client reconnect by itself. */
  drop(): void;
}

/** What the engine can ask of the transport. */
export interface ServerTransport {
  /** Sends one message to every connection in `room` but `except`, encoded once for all of them. */
  publish(room: string, message: ChangesMessage, except?: Connection | Connection[]): void;
  /** The connections of this node in `room`. */
  members(room: string): Iterable<Connection>;
  /** Every connection of this node. */
  connections(): Iterable<Connection>;
  /** Stops accepting connections and closes what the transport created (see `close()` in SPEC). */
  close(): Promise<void>;
  /** Whether several nodes share fan-out (a socket.io adapter was given). */
  readonly clustered: boolean;
  /** Sends a message to the engines of the other nodes (they get it as `relayed`). */
  relay(message: unknown): void;
  /** What the other nodes answer about a session (see `sessionQuery`; none on a single node). */
  askOtherNodes(sid: string): Promise<SessionPresence[]>;
}

/** What the transport tells the engine. */
export interface TransportListener {
  /** A handshake passed `authorize`: `ok`, or the code it is refused with. */
  admit(sid: string, user: unknown): 'ok' | 'unavailable' | 'unauthorized';
  connected(conn: Connection): void;
  /** `deliberate`: the client left on purpose (it will not come back under this session). */
  disconnected(conn: Connection, deliberate: boolean): void;
  /** An inbound event; `ack` is absent when the client asked for no acknowledgement. */
  request(
    conn: Connection,
    event: string,
    payload: unknown,
    ack: ((answer: unknown) => void) | undefined,
  ): void;
  /** A message another node's engine relayed. */
  relayed(message: unknown): void;
  /** Another node asks about a session it has just been given or is about to end (see `Sessions`). */
  sessionQuery(sid: string): SessionPresence;
}
