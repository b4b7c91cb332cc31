/**
 * The server engine: `ObjectSync.listen(server, handlers?, options?)`.
 *
 * Data flows one way: transport -> validator (protocol.ts) -> dedupe (writes) -> per-object queue ->
 * backend (handlers or store) -> version + diff -> published once per audience.
 *
 * Invariants:
 * - Every inbound message that asks for an ack gets exactly one: an answer or `{ error: { code, message } }`.
 *   Unknown events get `unknown_event`. No stack or exception text is ever sent.
 * - A failed or empty write publishes nothing; a write's requester never receives its own event (it
 *   gets the change in the ack and raises the event itself, after its callback).
 * - `visible` filters every answer and every broadcast.
 *
 * Events: `connect(sid)` when a session starts, `disconnect(sid)` when it ends, `error(err)` for
 * handler exceptions (for logging; the requester got `handler_error`).
 */
import { randomBytes } from 'node:crypto';
import { Emitter } from '../emitter.js';
import { SyncError, toWireError } from '../errors.js';
import { logger } from '../debug.js';
import type {
  HelloMessage,
  Id,
  JsonValue,
  RequestEvent,
  RequestMap,
  StoredObject,
  SyncObject,
} from '../protocol.js';
import {
  DEFAULT_COLLECTION,
  isRequestEvent,
  isValidCollectionName,
  PROTOCOL_VERSION,
  validateRequest,
} from '../protocol.js';
import type { NodeCallback } from '../settle.js';
import { SocketIoTransport, type ListenTarget } from '../socketio/server-transport.js';
import type { Connection, SessionPresence, TransportListener } from '../transport.js';
import { BACKEND, isStore, type Applied, type Backend } from './backend.js';
import { ServerCollection, type Publisher } from './collection.js';
import { Broadcaster } from './broadcast.js';
import { Coalescer } from './coalescer.js';
import { HandlerBackend } from './handler-backend.js';
import { timedBackend } from './timed-backend.js';
import { isHandlers, type Handlers } from './handlers.js';
import { MemoryStore } from './memory-store.js';
import { DedupeTable } from './dedupe.js';
import { Admission } from './admission.js';
import { Writes } from './writes.js';
import { resolveOptions, type ResolvedOptions, type ServerOptions } from './options.js';
import * as answer from './requests.js';
import { serveClient } from './serve-client.js';
import { Sessions } from './sessions.js';

const log = logger('server:engine');

/** Events of the server engine. */
export type ServerEvents = {
  connect: [sid: string];
  disconnect: [sid: string];
  error: [err: unknown];
};

type AckPayload = unknown;

export class ObjectSync extends Emitter<ServerEvents> implements Publisher, TransportListener {
  /** Changes whenever this engine starts: versions from another epoch are not comparable. */
  readonly epoch: string;
  private readonly options: ResolvedOptions;
  private readonly collections = new Map<string, ServerCollection>();
  private readonly sessions: Sessions;
  private readonly dedupe: DedupeTable<AckPayload>;
  private readonly transport: SocketIoTransport;
  private readonly admission: Admission;
  private readonly writes: Writes;
  private readonly running = new Set<Promise<unknown>>();
  private readonly unserve: (() => void) | undefined;
  private readonly coalescer: Coalescer | undefined;
  private readonly broadcaster: Broadcaster;
  private closing: Promise<void> | undefined;

  /**
   * Starts a sync server on an http(s) server or a socket.io `Server`. Without handlers the default
   * collection keeps its objects in a `MemoryStore`.
   *
   * @example
   *   const server = http.createServer().listen(8080);
   *   const sync = ObjectSync.listen(server); // in-memory store
   *   sync.on('disconnect', (sid) => console.log('bye', sid));
   */
  static listen(target: ListenTarget, handlers?: Handlers | null, options?: ServerOptions): ObjectSync {
    return new ObjectSync(target, handlers ?? undefined, options);
  }

  constructor(target: ListenTarget, handlers?: Handlers, options?: ServerOptions) {
    super();
    this.options = resolveOptions(options);
    this.epoch = this.options.epoch ?? randomBytes(9).toString('base64url');
    const ioTarget = options?.io ?? target;
    this.dedupe = new DedupeTable<AckPayload>(this.options.dedupeRetention);
    this.sessions = new Sessions(
      this.options.sessionTimeout,
      (sid) => this.emit('connect', sid),
      (sid) => this.emit('disconnect', sid),
      // On several nodes a session may live on in another node's connection.
      (sid) => this.transport.askOtherNodes(sid),
    );
    this.collection(DEFAULT_COLLECTION, handlers ?? new MemoryStore());
    this.transport = new SocketIoTransport(
      ioTarget,
      {
        path: this.options.path,
        maxPayloadBytes: this.options.limits.maxPayloadBytes,
        namespace: this.options.namespace,
        adapter: this.options.adapter,
        cors: this.options.cors,
        allowRequest: this.options.allowRequest,
        allowedOrigins: this.options.allowedOrigins,
        maxBufferedBytes: this.options.maxBufferedBytes,
        authorize: this.options.authorize,
      },
      this,
    );
    if (this.options.coalesce !== false && !this.options.visible) {
      this.coalescer = new Coalescer(this.transport, this.options.coalesce);
    }
    this.broadcaster = new Broadcaster(this.transport, this.options.visible, this.coalescer, (err) =>
      this.emit('error', err),
    );
    this.admission = new Admission(this.options.maxRequestsPerSecond, this.options.maxInFlight);
    this.writes = new Writes({
      dedupe: this.dedupe,
      coalescer: this.coalescer,
      visible: this.broadcaster.visibleEntry,
      wireError: (err) => this.wireError(err),
    });
    const http = this.transport.httpServer;
    this.unserve = this.options.serveClient && http ? serveClient(http, this.options.clientPath) : undefined;
  }

  /**
   * Registers a named collection with its own handlers (or store), or returns the one registered
   * under that name. Without handlers a new name gets a `MemoryStore`.
   */
  collection(name: string, handlers?: Handlers): ServerCollection {
    if (!isValidCollectionName(name)) throw new TypeError(`invalid collection name: ${String(name)}`);
    const existing = this.collections.get(name);
    if (existing) {
      if (handlers) throw new TypeError(`collection ${JSON.stringify(name)} is already registered`);
      return existing;
    }
    const h = handlers ?? new MemoryStore();
    let backend: Backend;
    if (isStore(h)) backend = timedBackend(h[BACKEND](), this.options.handlerTimeout);
    else if (isHandlers(h)) backend = new HandlerBackend(h, this.options.handlerTimeout);
    else throw new TypeError('handlers need create, update, destroy and fetch functions');
    const coll = new ServerCollection(name, backend, this);
    this.collections.set(name, coll);
    return coll;
  }

  /** Server-side save on the default collection (see `ServerCollection#save`). */
  save(obj: SyncObject, cb?: NodeCallback<StoredObject>): Promise<StoredObject> {
    return this.defaultCollection.save(obj, cb);
  }

  /** Server-side destroy on the default collection. */
  destroy(id: Id, cb?: NodeCallback<void>): Promise<void> {
    return this.defaultCollection.destroy(id, cb);
  }

  /** Server-side fetch on the default collection. */
  fetch(ids: Id | Id[], cb?: NodeCallback<Array<StoredObject | null>>): Promise<Array<StoredObject | null>> {
    return this.defaultCollection.fetch(ids, cb);
  }

  /** Server-side list of the default collection. */
  list(query?: JsonValue, cb?: NodeCallback<StoredObject[]>): Promise<StoredObject[]> {
    return this.defaultCollection.list(query, cb);
  }

  /**
   * What `authorize` answered for a session (`true` without `authorize`), so handlers can map the
   * `sid` they get to a user; `undefined` for an unknown or ended session.
   */
  user(sid: string): unknown {
    return this.sessions.get(sid)?.user;
  }

  /** The socket.io server the engine runs on. */
  get io(): SocketIoTransport['io'] {
    return this.transport.io;
  }

  /**
   * Stops cleanly: refuses new requests (`unavailable`), lets running handler calls finish (at most
   * `handlerTimeout`), emits `disconnect(sid)` for every session, then closes the connections so that
   * clients reconnect by themselves when a server is back. Closes the socket.io server it created
   * (and with it the http server); an io `Server` passed in is left open.
   */
  close(cb?: (err?: Error) => void): Promise<void> {
    this.closing ??= (async () => {
      await this.drain();
      this.sessions.endAll();
      await this.drain();
      this.coalescer?.flush();
      this.unserve?.();
      await this.transport.close();
    })();
    if (cb) this.closing.then(() => cb(), cb);
    return this.closing;
  }

  private get defaultCollection(): ServerCollection {
    return this.collections.get(DEFAULT_COLLECTION)!;
  }

  /** Waits for running handler calls, at most `handlerTimeout`. */
  private async drain(): Promise<void> {
    if (this.running.size === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const limit = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.handlerTimeout);
    });
    await Promise.race([Promise.allSettled([...this.running]), limit]);
    clearTimeout(timer);
  }

  // --- Publisher ------------------------------------------------------------------------------

  /** @internal */
  track<T>(work: Promise<T>): Promise<T> {
    this.running.add(work);
    const done = (): void => {
      this.running.delete(work);
    };
    work.then(done, done);
    return work;
  }

  /** Sends a write's change to its audience (see `broadcast.ts`). @internal */
  publish(coll: ServerCollection, applied: Applied, origin: Connection | undefined): void {
    this.broadcaster.publish(coll, applied, origin);
  }

  /** A change published on another node (only relayed with `visible`). @internal */
  relayed(message: unknown): void {
    this.broadcaster.relayed(message, (name) => this.collections.get(name));
  }

  /**
   * Asks every client connected to this node to resync now (e.g. after the Redis adapter was down:
   * changes published meanwhile never reached other nodes' clients).
   */
  resyncClients(): void {
    for (const conn of this.transport.connections()) conn.send('hi', this.hello(conn));
  }

  private get visibleEntry(): Broadcaster['visibleEntry'] {
    return this.broadcaster.visibleEntry;
  }

  // --- TransportListener ----------------------------------------------------------------------

  /** @internal */
  connected(conn: Connection): void {
    this.sessions.attach(conn);
    conn.send('hi', this.hello(conn));
  }

  private hello(conn: Connection): HelloMessage {
    return { e: this.epoch, s: conn.sid, p: PROTOCOL_VERSION };
  }

  /** @internal */
  sessionQuery(sid: string): SessionPresence {
    return this.sessions.query(sid);
  }

  /** @internal */
  disconnected(conn: Connection, deliberate: boolean): void {
    this.admission.forget(conn);
    this.sessions.detach(conn, deliberate);
  }

  /** Answers one inbound event; every event that asked for an ack gets exactly one. @internal */
  request(
    conn: Connection,
    event: string,
    args: unknown[],
    ack: ((answer: unknown) => void) | undefined,
  ): void {
    if (!ack) {
      log('dropped %s without ack from %s', event, conn.id);
      return;
    }
    const reply = (payload: unknown): void => {
      try {
        ack(payload);
      } catch (err) {
        log('ack failed: %o', err);
      }
    };
    const fail = (code: string): void => reply({ error: toWireError(new SyncError(code)) });
    if (!this.admission.takeToken(conn)) return fail('rate_limited');
    if (!isRequestEvent(event)) return fail('unknown_event');
    if (this.closing) return fail('unavailable');
    if (args.length !== 1) return fail('invalid_message');
    if (this.admission.isBusy(conn)) return fail('busy');
    const checked = validateRequest(event, args[0], this.options.limits);
    if (!checked.ok) return fail(checked.code);
    const coll = this.resolveCollection(checked.msg.c);
    if (!coll) return fail('unknown_collection');
    this.admission.enter(conn);
    let answered = false;
    const answerOnce = (payload: unknown): void => {
      if (answered) return;
      answered = true;
      this.admission.release(conn);
      reply(payload);
    };
    this.dispatch(event, checked.msg, coll, conn, answerOnce).catch((err: unknown) =>
      answerOnce({ error: this.wireError(err) }),
    );
  }

  private async dispatch(
    event: RequestEvent,
    msg: RequestMap[RequestEvent],
    coll: ServerCollection,
    conn: Connection,
    reply: answer.Reply,
  ): Promise<void> {
    switch (event) {
      case 'create':
      case 'update':
      case 'destroy':
        return this.writes.write(event, msg as RequestMap[typeof event], coll, conn, reply);
      case 'fetch':
        return reply(await answer.answerFetch(coll, msg as RequestMap['fetch'], conn, this.visibleEntry));
      case 'list':
        return reply(await answer.answerList(coll, msg as RequestMap['list'], conn, this.visibleEntry));
      case 'sub':
        return reply(await answer.answerSubscribe(coll, msg as RequestMap['sub'], conn, this.visibleEntry));
      case 'unsub':
        return reply(answer.answerUnsubscribe(coll, conn));
    }
  }

  private resolveCollection(name: string): ServerCollection | undefined {
    const found = this.collections.get(name);
    if (found || !this.options.autoCollections) return found;
    return this.collection(name);
  }

  /** The wire form of a failure; unexpected exceptions are reported on `error`, never sent. */
  private wireError(err: unknown): { code: string; message?: string } {
    const wire = toWireError(err);
    if (wire.code === 'handler_error') {
      log('handler failed: %o', err);
      this.emit('error', err);
    }
    return wire;
  }
}
