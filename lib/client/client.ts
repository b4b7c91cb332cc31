/**
 * The object-sync client: `new ObjectSync(options)` (Node and browsers).
 *
 * Connection: `connecting` -> `connected` (greeted by the server's `hi`) -> `reconnecting` after a
 * drop, `offline` when the application left (or reconnecting is off), `refused` when the server
 * refused the handshake (see status.ts). Only when connected does the outbox send. On every
 * connection the client first resends whatever was unanswered and sends what was queued, in order;
 * once those are answered it resyncs each subscribed collection (by version, page by page; a new
 * server epoch means every version is refreshed). A failed resync is reported and retried with backoff.
 *
 * Events: `connect()` when connected, `disconnect(reason)`, `status(status)` whenever `status`
 * changes, `create(obj)`, `update(obj, changes)`, `destroy(id)` for the default collection, and
 * `error(err)` for failures no callback or promise receives: a refused handshake (`unauthorized`,
 * `protocol_version`), a server that cannot be reached (`unreachable`: on the 1st, 2nd, 4th, 8th...
 * failed attempt in a row, not on each), a failed resync or refetch of any collection.
 */
import { io, type Socket } from 'socket.io-client';
import { logger } from '../debug.js';
import { Emitter } from '../emitter.js';
import { fromWireError, SyncError, type WireError } from '../errors.js';
import type {
  ClientToServerEvents,
  HelloMessage,
  Id,
  JsonValue,
  RequestEvent,
  ServerToClientEvents,
  StoredObject,
  SyncObject,
} from '../protocol.js';
import { DEFAULT_COLLECTION, fromWire, isValidCollectionName, PROTOCOL_VERSION } from '../protocol.js';
import type { NodeCallback } from '../settle.js';
import { ClientCollection, type CollectionEvents, type RequestSender } from './collection.js';
import { resolveClientOptions, type ClientOptions, type ResolvedClientOptions } from './options.js';
import { Outbox } from './outbox.js';
import { makeStatus, sameStatus, type ClientStatus, type StatusState } from './status.js';
import type { Stored, TypedCollection } from './typed.js';

/** Events of the client. */
export type ClientEvents = CollectionEvents & {
  connect: [];
  disconnect: [reason: string];
  status: [status: ClientStatus];
};

/** Connection state, as `state` tells it (older and coarser than `status.state`). */
export type ConnectionState = 'disconnected' | 'connecting' | 'ready';

/** The connection's story (`client:conn`), and `status` changes on their own (`client:status`). */
const log = logger('client:conn');
const statusLog = logger('client:status');

/** Handshake codes after which retrying cannot help. */
const FATAL_HANDSHAKE_CODES = new Set(['unauthorized', 'protocol_version', 'invalid_message']);

/** What the page offers for its lifecycle events (absent in Node). */
interface PageEvents {
  addEventListener?: (event: string, fn: (e: { persisted?: boolean }) => void) => void;
  removeEventListener?: (event: string, fn: (e: { persisted?: boolean }) => void) => void;
}

export class ObjectSync extends Emitter<ClientEvents> implements RequestSender {
  private readonly options: ResolvedClientOptions;
  private readonly collections = new Map<string, ClientCollection>();
  private readonly outbox: Outbox;
  private readonly defaultCollection: ClientCollection;
  private readonly secret = randomSecret();
  private socket: Socket<ServerToClientEvents, ClientToServerEvents> | undefined;
  private seq = 0;
  private epoch: string | undefined;
  private sessionId: string | undefined;
  private phase: StatusState;
  private lastError: WireError | undefined;
  private current: ClientStatus;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retries = 0;
  /** Failed connection attempts in a row (an `unreachable` error is raised on the 1st, 2nd, 4th...). */
  private failures = 0;
  /** Counts connections (greetings), so a resync scheduled for an earlier one is dropped. */
  private connections = 0;
  private everConnected = false;
  /** The client left because the page was hidden; it comes back when the page is shown again. */
  private leftWithPage = false;
  private closed = false;
  private readonly page = globalThis as PageEvents;
  private readonly onPageHide = (): void => {
    if (this.phase === 'offline' || this.phase === 'refused') return;
    log('the page is hidden: leaving until it is shown again');
    this.disconnect();
    this.leftWithPage = true;
  };
  private readonly onPageShow = (): void => {
    if (!this.leftWithPage) return;
    log('the page is shown again: connecting');
    this.leftWithPage = false;
    this.connect();
  };

  /** `options` may be the server url alone: `new ObjectSync('http://localhost:8080')`. */
  constructor(options: ClientOptions | string = {}) {
    super();
    this.options = resolveClientOptions(options);
    this.outbox = new Outbox(
      (event, payload, ack) => this.socket!.emit(event, payload as never, ack as never),
      this.options.maxInFlight,
      this.options.requestTimeout,
      () => this.updateStatus(),
    );
    this.phase = 'offline';
    this.current = makeStatus('offline', 0, undefined);
    this.defaultCollection = this.collection(DEFAULT_COLLECTION);
    // The default collection's events are the client's own (node-object-sync's API).
    const own = this.defaultCollection;
    own.on('create', (obj) => this.emit('create', obj));
    own.on('update', (obj, changes, previous) => this.emit('update', obj, changes, previous));
    own.on('destroy', (id) => this.emit('destroy', id));
    this.defaultCollection.subscribe().catch(() => undefined); // a failure is raised as `error`
    // Leaving the page is leaving on purpose (the server ends the session at once); a page shown
    // again from the back/forward cache comes back.
    this.page.addEventListener?.('pagehide', this.onPageHide);
    this.page.addEventListener?.('pageshow', this.onPageShow);
    if (this.options.autoConnect) this.connect();
  }

  /** Connects (again); requests made meanwhile wait in the outbox. Idempotent. Fires `status`. */
  connect(): this {
    if (this.closed) throw new Error('object-sync: this client was closed');
    this.leftWithPage = false;
    if (!this.socket) this.socket = this.createSocket();
    if (!this.socket.connected && !this.socket.active) {
      if (log.enabled) log('connecting to %s (path %s)', safeUrl(this.options.url), this.options.path);
      this.setPhase(this.everConnected ? 'reconnecting' : 'connecting');
      this.socket.connect();
    }
    return this;
  }

  /** Leaves on purpose: the server ends the session at once. Queued requests wait for `connect()`. */
  disconnect(): this {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.leftWithPage = false;
    if (this.socket && (this.socket.connected || this.socket.active)) {
      log('disconnect(): leaving');
      this.socket.disconnect();
    }
    this.setNotReady('io client disconnect');
    if (this.phase !== 'refused') this.setPhase('offline');
    return this;
  }

  /**
   * Disconnects and releases everything: the page listeners, the socket, every collection's objects
   * and listeners. Requests not answered fail with `unavailable`. The client cannot connect again.
   */
  close(): void {
    if (this.closed) return;
    log('close()');
    this.disconnect();
    this.closed = true;
    this.page.removeEventListener?.('pagehide', this.onPageHide);
    this.page.removeEventListener?.('pageshow', this.onPageShow);
    this.outbox.failAll({ error: new SyncError('unavailable').toJSON() });
    this.socket?.removeAllListeners();
    this.socket = undefined;
    for (const coll of this.collections.values()) coll.release();
    this.collections.clear();
    this.setPhase('offline');
  }

  /** Whether the client is connected and greeted (requests go out at once). */
  isConnected(): boolean {
    return this.phase === 'connected';
  }

  /** The connection state: `ready` (connected), `connecting` (or reconnecting), `disconnected`. */
  get state(): ConnectionState {
    if (this.phase === 'connected') return 'ready';
    return this.phase === 'connecting' || this.phase === 'reconnecting' ? 'connecting' : 'disconnected';
  }

  /** The status for people: `{ state, pending, error? }` (see status.ts); `status` fires on each change. */
  get status(): ClientStatus {
    return this.current;
  }

  /** This client's session id (what server handlers see as `sid`), once connected. */
  get sid(): string | undefined {
    return this.sessionId;
  }

  /** Requests not answered yet (reads included; queued while offline, or in flight). */
  get pendingRequests(): number {
    return this.outbox.pending;
  }

  /**
   * The named collection (created on first use). Subscribe to receive its changes.
   * `collection<Player>('players')` types its objects as `Player`s (lib/client/typed.ts).
   */
  collection(name: string): ClientCollection;
  collection<T extends object>(name: string): TypedCollection<T>;
  collection(name: string): ClientCollection {
    if (!isValidCollectionName(name)) throw new TypeError(`invalid collection name: ${String(name)}`);
    let coll = this.collections.get(name);
    if (!coll) {
      if (this.closed) throw new Error('object-sync: this client was closed');
      coll = new ClientCollection(name, this);
      // What no callback receives (a failed resync or refetch) is the client's `error` too.
      coll.on('error', (err) => this.emit('error', err));
      this.collections.set(name, coll);
    }
    return coll;
  }

  /** Creates (no id) or updates an object of the default collection. See `ClientCollection#save`. */
  save(obj: SyncObject, cb?: NodeCallback<StoredObject>): Promise<StoredObject>;
  save<T extends { id?: Id }>(obj: T, cb?: NodeCallback<Stored<T>>): Promise<Stored<T>>;
  save(obj: SyncObject, cb?: NodeCallback<StoredObject>): Promise<StoredObject> {
    return this.defaultCollection.save(obj, cb);
  }

  /** Reads objects of the default collection; always an array. */
  fetch(
    idOrIds: Id | Id[],
    cb?: NodeCallback<Array<StoredObject | null>>,
  ): Promise<Array<StoredObject | null>> {
    return this.defaultCollection.fetch(idOrIds, cb);
  }

  /** Destroys an object of the default collection. */
  destroy(id: Id, cb?: NodeCallback<void>): Promise<void> {
    return this.defaultCollection.destroy(id, cb);
  }

  /** Lists the default collection. */
  list(query?: JsonValue, cb?: NodeCallback<StoredObject[]>): Promise<StoredObject[]> {
    return this.defaultCollection.list(query, cb);
  }

  /** The live object of an id in the default collection, or `undefined`. */
  get(id: Id): StoredObject | undefined {
    return this.defaultCollection.get(id);
  }

  /** Every live object of the default collection, keyed by id. */
  allObjects(): Record<string, StoredObject> {
    return this.defaultCollection.allObjects();
  }

  // --- RequestSender --------------------------------------------------------------------------

  /** @internal */
  send(
    event: RequestEvent,
    payload: Record<string, unknown>,
    settle: (ack: unknown) => void,
    first?: boolean,
    late?: (ack: unknown) => void,
  ): void {
    // After a refused handshake a request would wait forever: it fails with the same error.
    if (this.phase === 'refused' && this.lastError) return settle({ error: this.lastError });
    if (this.closed) return settle({ error: new SyncError('unavailable').toJSON() });
    this.outbox.push({ event, payload, settle, late }, first);
  }

  /** @internal */
  nextSeq(): number {
    return ++this.seq;
  }

  /** @internal */
  isReady(): boolean {
    return this.phase === 'connected';
  }

  /** The delay before retry number `attempt` (0-based): exponential, capped, jittered. @internal */
  backoff(attempt: number): number {
    const o = this.options;
    const base = Math.min(o.reconnectionDelayMax, o.reconnectionDelay * 2 ** Math.min(attempt, 30));
    return base * (1 + o.randomizationFactor * (Math.random() * 2 - 1));
  }

  // --- connection -----------------------------------------------------------------------------

  private createSocket(): Socket<ServerToClientEvents, ClientToServerEvents> {
    const o = this.options;
    const socketOptions = {
      path: o.path,
      autoConnect: false,
      reconnection: o.autoReconnect,
      reconnectionDelay: o.reconnectionDelay,
      reconnectionDelayMax: o.reconnectionDelayMax,
      randomizationFactor: o.randomizationFactor,
      transports: o.transports,
      auth: (cb: (auth: Record<string, unknown>) => void) => {
        const own = typeof o.auth === 'function' ? o.auth() : o.auth;
        cb({ ...own, osSession: this.secret, osProtocol: PROTOCOL_VERSION });
      },
    };
    const socket: Socket<ServerToClientEvents, ClientToServerEvents> =
      o.url === undefined ? io(socketOptions) : io(o.url, socketOptions);
    socket.on('hi', (hello) => this.onHello(hello));
    socket.on('ch', (records, collection) => this.onChanges(records, collection));
    socket.on('disconnect', (reason) => this.onDisconnect(reason));
    socket.io.on('reconnect_attempt', (n) => log('reconnecting: attempt %d', n));
    socket.on('connect_error', (err: Error & { data?: unknown }) => {
      const failure = err.data ? fromWireError(err.data) : undefined;
      if (!failure) return this.unreachable(err);
      this.lastError = failure.toJSON();
      log('handshake refused: %s', failure.code);
      if (FATAL_HANDSHAKE_CODES.has(failure.code)) {
        // What waits would wait forever, so it fails with the same error, and so will later requests.
        this.setPhase('refused');
        this.outbox.failAll({ error: failure.toJSON() });
        this.emit('error', failure);
      } else {
        // socket.io never retries a handshake its server's middleware refused; a server that is
        // shutting down (`unavailable`) will be back, so retry with the same backoff.
        this.retryLater();
        this.updateStatus();
      }
    });
    return socket;
  }

  /**
   * A connection attempt failed on the network (wrong url or path, nothing listening, a proxy): the
   * requests stay queued and socket.io retries by itself; `error` (`unreachable`) is raised on the
   * 1st, 2nd, 4th, 8th... failure in a row, so a long outage is reported without a flood.
   */
  private unreachable(err: Error): void {
    const n = ++this.failures;
    log('cannot reach the server (%d in a row): %s', n, err.message);
    const failure = new SyncError('unreachable', `cannot reach the server: ${String(err.message)}`);
    this.lastError = failure.toJSON();
    if (!this.socket?.active) this.setPhase('offline');
    else this.updateStatus();
    if ((n & (n - 1)) === 0) this.emit('error', failure);
  }

  /** Schedules one reconnect after an exponential, jittered delay (unless the app disconnected). */
  private retryLater(): void {
    if (!this.options.autoReconnect || this.retryTimer) {
      if (!this.options.autoReconnect) this.setPhase('offline');
      return;
    }
    this.setPhase(this.everConnected ? 'reconnecting' : 'connecting');
    const delay = this.backoff(this.retries++);
    log('connecting again in %d ms', Math.round(delay));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      const waiting = this.phase === 'connecting' || this.phase === 'reconnecting';
      if (this.socket && !this.socket.active && waiting) this.socket.connect();
    }, delay);
  }

  /** The server greets every connection first: let the outbox go, then resync once it is answered. */
  private onHello(hello: HelloMessage): void {
    if (!hello || typeof hello.e !== 'string' || typeof hello.s !== 'string') {
      this.emit('error', new SyncError('invalid_message'));
      return;
    }
    const restarted = this.epoch !== undefined && hello.e !== this.epoch;
    if (restarted) {
      for (const coll of this.collections.values()) coll.map.forgetVersions();
    }
    this.epoch = hello.e;
    this.sessionId = hello.s;
    this.retries = 0;
    this.failures = 0;
    this.lastError = undefined;
    const wasReady = this.phase === 'connected';
    if (wasReady) log('the server asks for a resync');
    else log('connected: session %s%s', hello.s, restarted ? ', a new server (versions forgotten)' : '');
    this.everConnected = true;
    this.setPhase('connected');
    const connection = ++this.connections;
    this.outbox.setReady(true);
    // Writes resent (or queued) go first and are answered before the resync, so a resync never
    // announces an object this client's own create in flight made (no duplicate, no orphan model).
    this.outbox.afterPending(() => {
      if (connection !== this.connections || this.phase !== 'connected') return;
      // Collections are walked in reverse so the default one is first.
      for (const coll of [...this.collections.values()].reverse()) if (coll.isSubscribed()) coll.resync();
    });
    // A `hi` on a ready connection only asks for a resync (the server's `resyncClients()`).
    if (!wasReady) this.emit('connect');
  }

  private onChanges(records: unknown, collection: unknown): void {
    if (!Array.isArray(records)) return;
    const coll = this.collections.get(typeof collection === 'string' ? collection : DEFAULT_COLLECTION);
    if (!coll) return;
    for (const wire of records) {
      const record = fromWire(wire);
      if (record) coll.receive(record);
    }
  }

  /** The connection dropped: socket.io reconnects by itself unless the server or the app ended it. */
  private onDisconnect(reason: string): void {
    log('disconnected: %s', reason);
    this.setNotReady(reason);
    if (reason === 'io client disconnect') return;
    if (this.socket?.active) this.setPhase('reconnecting');
    else this.retryLater();
  }

  private setNotReady(reason: string): void {
    const wasReady = this.phase === 'connected';
    this.outbox.setReady(false);
    for (const coll of this.collections.values()) coll.connectionLost();
    if (wasReady) {
      this.setPhase(this.socket?.active ? 'reconnecting' : 'offline');
      this.emit('disconnect', reason);
    }
  }

  private setPhase(phase: StatusState): void {
    this.phase = phase;
    this.updateStatus();
  }

  /** Recomputes `status`; fires `status` when anything in it changed. */
  private updateStatus(): void {
    if (!this.outbox) return;
    const next = makeStatus(this.phase, this.outbox.pendingWrites, this.lastError);
    if (sameStatus(next, this.current)) return;
    if (statusLog.enabled) {
      const error = next.error ? `, last error ${next.error.code}` : '';
      statusLog('%s -> %s, %d pending writes%s', this.current.state, next.state, next.pending, error);
    }
    this.current = next;
    this.emit('status', next);
  }
}

/** A url for a log line: its origin and path, never its user, password, query or fragment. */
function safeUrl(url: string | undefined): string {
  if (url === undefined) return 'this page';
  try {
    const u = new URL(url);
    return u.origin + u.pathname;
  } catch {
    return 'the given url';
  }
}

/** A random session secret: 22 url-safe characters (132 bits of entropy). */
function randomSecret(): string {
  const bytes = new Uint8Array(22); // 22 characters of 6 bits: 132 bits
  globalThis.crypto.getRandomValues(bytes);
  let out = '';
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  for (const b of bytes) out += alphabet[b & 63];
  return out;
}
