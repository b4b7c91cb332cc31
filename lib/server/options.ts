/**
 * Options of the server engine, each with its default, merged once.
 */
import type { Namespace, Server, ServerOptions as IoServerOptions } from 'socket.io';
import type { Limits, StoredObject } from '../protocol.js';
import { DEFAULT_CLIENT_PATH, DEFAULT_LIMITS, DEFAULT_PATH } from '../protocol.js';
import type { Handshake } from '../socketio/server-transport.js';
import { sameUser } from './sessions.js';

export interface ServerOptions {
  /** socket.io path (default `/object-sync`). */
  path?: string;
  /** An existing socket.io `Server` to run on (it is left open by `close()`). */
  io?: Server;
  /** The namespace the engine owns (a name or a `Namespace`; default the root namespace `/`). */
  namespace?: string | Namespace;
  /**
   * Runs at the handshake: return (or resolve) the user to accept, throw / reject / return a falsy
   * value to refuse with `unauthorized`. The connection's `user` is what it returned.
   */
  authorize?: (handshake: Handshake) => unknown;
  /**
   * Whether two answers of `authorize` name the same user: a session is bound to the user of its
   * first handshake, and a later handshake of it is accepted only for the same user. Default: identical;
   * else equal `id` (string or number) when both are objects with one; else equal `sub` when both have
   * one (a decoded token); else equal JSON text.
   */
  sameUser?: (a: unknown, b: unknown) => boolean;
  /**
   * Per-client visibility: `false` hides the object from that session in fetch and list answers and
   * in broadcasts; an object that stops being visible is removed from that client. Must be synchronous.
   */
  visible?: (obj: StoredObject, sid: string) => boolean;
  /** Longest a handler may take before the requester gets `timeout` (ms, default 10 000). */
  handlerTimeout?: number;
  /** Largest inbound payload (bytes, default 1 MiB). Shortcut for `limits.maxPayloadBytes`. */
  maxPayloadBytes?: number;
  /** Other inbound limits (see `Limits`). */
  limits?: Partial<Limits>;
  /** Serve the browser bundle from this server (default true). */
  serveClient?: boolean;
  /** URL path of the browser bundle (default `/object-sync.js`). */
  clientPath?: string;
  /** A socket.io adapter (e.g. Redis) for several nodes. */
  adapter?: IoServerOptions['adapter'];
  /** socket.io CORS settings, for pages served from another origin. */
  cors?: IoServerOptions['cors'];
  /** socket.io's `allowRequest` hook, run after `allowedOrigins`. */
  allowRequest?: IoServerOptions['allowRequest'];
  /**
   * Exact origins (`https://game.example`) browsers may connect from; a request from any other origin
   * is refused at the HTTP level. Clients that send no `Origin` (Node) are not affected. Default: any.
   */
  allowedOrigins?: string[];
  /** Requests per second per connection before `rate_limited` (token bucket; default 1 000, bursts of 2×). */
  maxRequestsPerSecond?: number;
  /**
   * Bytes waiting to be written to one connection before the server drops it (default 2 MiB): a client
   * that stops reading cannot make the server's memory grow without bound; it resyncs when it returns.
   * Checked when an answer or event is queued for that connection alone, and every 250 ms for
   * broadcasts. Listings and resyncs travel in pages of about 256 KiB, one at a time per request.
   */
  maxBufferedBytes?: number;
  /**
   * Bytes waiting to be written to all connections together before the server drops the connections
   * holding the most (default 64 MiB; checked every 250 ms).
   */
  maxTotalBufferedBytes?: number;
  /** How long a session outlives its last dropped connection (ms, default 5 000). */
  sessionTimeout?: number;
  /**
   * Create unknown collections on their first `create`, with a `MemoryStore` (default false:
   * `unknown_collection`). Other requests never create one (they answer as an empty collection; a
   * subscribe gets the changes once a create makes it).
   */
  autoCollections?: boolean;
  /**
   * Most collections `autoCollections` creates, and most names not created yet one connection
   * subscribes to; beyond, `unknown_collection` (default 1 000).
   */
  maxAutoCollections?: number;
  /** Most unanswered requests per connection before `busy` (default 64; clients send at most 32). */
  maxInFlight?: number;
  /**
   * Most bytes of requests being processed by the whole server (their payloads' estimated JSON size,
   * from admission until their work ended); past it a new request is answered `busy` at once
   * (default 64 MiB).
   */
  maxInFlightBytes?: number;
  /**
   * Coalesce broadcasts: the changes of one tick leave as one frame per connection (default, `true`
   * or `0`); a number waits that many ms to gather more; `false` sends one frame per change. With
   * `visible` each connection gets its batch as it may see it.
   */
  coalesce?: boolean | number;
  /**
   * The epoch clients compare versions by (default: new at every start). Several nodes on one shared,
   * durable store should share one (e.g. a name of the deployment), so a client that moves between
   * them keeps its versions; never share one with a non-durable store, whose versions restart.
   */
  epoch?: string;
  /** How long request-dedupe records outlive their session's last request (ms, default 10 minutes). */
  dedupeRetention?: number;
}

/** Options with every default applied. */
export interface ResolvedOptions {
  path: string;
  namespace: string | Namespace | undefined;
  authorize: ServerOptions['authorize'];
  sameUser: (a: unknown, b: unknown) => boolean;
  visible: ServerOptions['visible'];
  handlerTimeout: number;
  limits: Limits;
  serveClient: boolean;
  clientPath: string;
  adapter: ServerOptions['adapter'];
  cors: ServerOptions['cors'];
  allowRequest: ServerOptions['allowRequest'];
  allowedOrigins: string[] | undefined;
  maxRequestsPerSecond: number;
  maxBufferedBytes: number;
  maxTotalBufferedBytes: number;
  sessionTimeout: number;
  autoCollections: boolean;
  maxAutoCollections: number;
  maxInFlight: number;
  maxInFlightBytes: number;
  dedupeRetention: number;
  /** Coalescing window in ms (0: one tick), or `false`. */
  coalesce: number | false;
  epoch: string | undefined;
}

/** Applies defaults to a copy; throws at once on a configuration mistake. */
export function resolveOptions(options: ServerOptions = {}): ResolvedOptions {
  const limits: Limits = { ...DEFAULT_LIMITS, ...options.limits };
  if (options.maxPayloadBytes !== undefined) limits.maxPayloadBytes = options.maxPayloadBytes;
  for (const [name, value] of Object.entries(limits)) positive(`limits.${name}`, value);
  const resolved: ResolvedOptions = {
    path: options.path ?? DEFAULT_PATH,
    namespace: options.namespace,
    authorize: options.authorize,
    sameUser: options.sameUser ?? sameUser,
    visible: options.visible,
    handlerTimeout: positive('handlerTimeout', options.handlerTimeout ?? 10_000),
    limits,
    serveClient: options.serveClient ?? true,
    clientPath: options.clientPath ?? DEFAULT_CLIENT_PATH,
    adapter: options.adapter,
    cors: options.cors,
    allowRequest: options.allowRequest,
    allowedOrigins: options.allowedOrigins ? [...options.allowedOrigins] : undefined,
    maxRequestsPerSecond: positive('maxRequestsPerSecond', options.maxRequestsPerSecond ?? 1000),
    maxBufferedBytes: positive('maxBufferedBytes', options.maxBufferedBytes ?? 2 * 1024 * 1024),
    maxTotalBufferedBytes: positive(
      'maxTotalBufferedBytes',
      options.maxTotalBufferedBytes ?? 64 * 1024 * 1024,
    ),
    sessionTimeout: positive('sessionTimeout', options.sessionTimeout ?? 5_000),
    autoCollections: options.autoCollections ?? false,
    maxAutoCollections: positive('maxAutoCollections', options.maxAutoCollections ?? 1000),
    maxInFlight: positive('maxInFlight', options.maxInFlight ?? 64),
    maxInFlightBytes: positive('maxInFlightBytes', options.maxInFlightBytes ?? 64 * 1024 * 1024),
    dedupeRetention: positive('dedupeRetention', options.dedupeRetention ?? 10 * 60_000),
    epoch: options.epoch,
    coalesce:
      options.coalesce === false
        ? false
        : typeof options.coalesce === 'number' && options.coalesce >= 0
          ? options.coalesce
          : 0,
  };
  if (resolved.clientPath.startsWith(`${resolved.path}/`) || resolved.clientPath === resolved.path) {
    throw new TypeError(`clientPath must lie outside the socket.io path ${resolved.path}`);
  }
  for (const fn of ['authorize', 'sameUser', 'visible'] as const) {
    if (resolved[fn] !== undefined && typeof resolved[fn] !== 'function')
      throw new TypeError(`${fn} must be a function`);
  }
  return resolved;
}

function positive(name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value > 0)) throw new TypeError(`${name} must be a positive number`);
  return value;
}
