/**
 * The object-sync client: `new ObjectSync(options)` (Node and browsers).
 *
 * Connection states: `disconnected` -> `connecting` -> `ready` (greeted by the server's `hi`) and
 * back. Only in `ready` does the outbox send. On every `ready` the client first resyncs each
 * subscribed collection (by version; a new server epoch means every version is refreshed), then
 * resends whatever was unanswered and sends what was queued, in order.
 *
 * Events: `connect()` when ready, `disconnect(reason)`, `create(obj)`, `update(obj, changes)`,
 * `destroy(id)` for the default collection, and `error(err)` for failures no callback or promise
 * receives (a refused handshake: `unauthorized`, `protocol_version`; a failed resync).
 */
import { io, type Socket } from 'socket.io-client';
import { Emitter } from '../emitter.js';
import { fromWireError, SyncError } from '../errors.js';
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
import type { Stored, TypedCollection } from './typed.js';

/** Events of the client. */
export type ClientEvents = CollectionEvents & {
  connect: [];
  disconnect: [reason: string];
};

/** Connection state, as `state` tells it. */
export type ConnectionState = 'disconnected' | 'connecting' | 'ready';

/** Handshake codes after which retrying cannot help. */
const FATAL_HANDSHAKE_CODES = new Set(['unauthorized', 'protocol_version', 'invalid_message']);

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
  private connectionState: ConnectionState = 'disconnected';
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retries = 0;

  constructor(options: ClientOptions = {}) {
    super();
    this.options = resolveClientOptions(options);
    this.outbox = new Outbox(
      (event, payload, ack) => this.socket!.emit(event, payload as never, ack as never),
      this.options.maxInFlight,
      this.options.requestTimeout,
    );
    this.defaultCollection = this.collection(DEFAULT_COLLECTION);
    // The default collection's events are the client's own (node-object-sync's API).
    const own = this.defaultCollection;
    own.on('create', (obj) => this.emit('create', obj));
    own.on('update', (obj, changes) => this.emit('update', obj, changes));
    own.on('destroy', (id) => this.emit('destroy', id));
    own.on('error', (err) => this.emit('error', err));
    this.defaultCollection.subscribe().catch((err: SyncError) => this.emit('error', err));
    if (this.options.autoConnect) this.connect();
  }

  /** Connects (again); requests made meanwhile wait in the outbox. Idempotent. */
  connect(): this {
    if (!this.socket) this.socket = this.createSocket();
    if (!this.socket.connected && !this.socket.active) {
      this.connectionState = 'connecting';
      this.socket.connect();
    }
    return this;
  }

  /** Leaves on purpose: the server ends the session at once. Queued requests wait for `connect()`. */
  disconnect(): this {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.socket && (this.socket.connected || this.socket.active)) this.socket.disconnect();
    this.setNotReady('io client disconnect');
    return this;
  }

  /** Whether the client is connected and greeted (requests go out at once). */
  isConnected(): boolean {
    return this.connectionState === 'ready';
  }

  /** The connection state. */
  get state(): ConnectionState {
    return this.connectionState;
  }

  /** This client's session id (what server handlers see as `sid`), once connected. */
  get sid(): string | undefined {
    return this.sessionId;
  }

  /** Requests not answered yet (queued while offline, or in flight). */
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
      coll = new ClientCollection(name, this);
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
  ): void {
    this.outbox.push({ event, payload, settle }, first);
  }

  /** @internal */
  nextSeq(): number {
    return ++this.seq;
  }

  /** @internal */
  isReady(): boolean {
    return this.connectionState === 'ready';
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
    socket.on('disconnect', (reason) => this.setNotReady(reason));
    const page = globalThis as { addEventListener?: (event: string, fn: () => void) => void };
    // Leaving the page is leaving on purpose: the server ends the session at once.
    page.addEventListener?.('pagehide', () => this.disconnect());
    socket.on('connect_error', (err: Error & { data?: unknown }) => {
      const failure = err.data ? fromWireError(err.data) : undefined;
      if (!failure) return; // a network error: socket.io retries by itself
      if (FATAL_HANDSHAKE_CODES.has(failure.code)) {
        // What waits would wait forever, so it fails with the same error.
        this.connectionState = 'disconnected';
        this.outbox.failAll({ error: failure.toJSON() });
        this.emit('error', failure);
      } else {
        // socket.io never retries a handshake its server's middleware refused; a server that is
        // shutting down (`unavailable`) will be back, so retry with the same backoff.
        this.retryLater();
      }
    });
    return socket;
  }

  /** Schedules one reconnect after an exponential, jittered delay (unless the app disconnected). */
  private retryLater(): void {
    const o = this.options;
    if (!o.autoReconnect || this.retryTimer) return;
    const base = Math.min(o.reconnectionDelayMax, o.reconnectionDelay * 2 ** this.retries++);
    const delay = base * (1 + o.randomizationFactor * (Math.random() * 2 - 1));
    this.connectionState = 'connecting';
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.socket && !this.socket.active && this.connectionState === 'connecting') this.socket.connect();
    }, delay);
  }

  /** The server greets every connection first: resync, then let the outbox go. */
  private onHello(hello: HelloMessage): void {
    if (!hello || typeof hello.e !== 'string' || typeof hello.s !== 'string') {
      this.emit('error', new SyncError('invalid_message'));
      return;
    }
    if (this.epoch !== undefined && hello.e !== this.epoch) {
      for (const coll of this.collections.values()) coll.map.forgetVersions();
    }
    this.epoch = hello.e;
    this.sessionId = hello.s;
    this.retries = 0;
    const wasReady = this.connectionState === 'ready';
    this.connectionState = 'ready';
    // Resync reads go ahead of queued writes; collections are walked in reverse so the default one is first.
    for (const coll of [...this.collections.values()].reverse()) if (coll.isSubscribed()) coll.resync();
    this.outbox.setReady(true);
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

  private setNotReady(reason: string): void {
    const wasReady = this.connectionState === 'ready';
    this.connectionState = this.socket?.active ? 'connecting' : 'disconnected';
    this.outbox.setReady(false);
    if (wasReady) this.emit('disconnect', reason);
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
