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
import { describeAck, describeRequest, logger, since } from '../debug.js';
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
import { BACKEND, isStore, type Backend } from './backend.js';
import { roomOf, ServerCollection, type CollectionHost } from './collection.js';
import { Egress } from './egress.js';
import { Coalescer } from './coalescer.js';
import { Cursors } from './cursors.js';
import { HandlerBackend } from './handler-backend.js';
import { timedBackend } from './timed-backend.js';
import { isHandlers, type Handlers } from './handlers.js';
import { MemoryStore } from './memory-store.js';
import { DedupeTable } from './dedupe.js';
import { Admission } from './admission.js';
import { WritePipeline, type Reply, type WriteOp } from './pipeline.js';
import { resolveOptions, type ResolvedOptions, type ServerOptions } from './options.js';
import {
  answerFetch,
  answerList,
  answerSubscribe,
  answerSubscribeUnknown,
  answerUnsubscribe,
  type ReadContext,
} from './reads.js';
import { serveClient } from './serve-client.js';
import { Sessions } from './sessions.js';

const log = logger('server:request');

/** Events of the server engine. */
export type ServerEvents = {
  connect: [sid: string];
  disconnect: [sid: string];
  error: [err: unknown];
};

export class ObjectSync extends Emitter<ServerEvents> implements CollectionHost, TransportListener {
  /** Changes whenever this engine starts: versions from another epoch are not comparable. */
  readonly epoch: string;
  /** @internal */
  readonly pipeline: WritePipeline;
  private readonly options: ResolvedOptions;
  private readonly collections = new Map<string, ServerCollection>();
  /** How many collections `autoCollections` made (bounded by `maxAutoCollections`). */
  private autoMade = 0;
  /** Per connection, the names it subscribed to while no collection had them (bounded like `autoMade`). */
  private readonly unknownSubs = new WeakMap<Connection, Set<string>>();
  private readonly sessions: Sessions;
  private readonly transport: SocketIoTransport;
  private readonly admission: Admission;
  private readonly running = new Set<Promise<unknown>>();
  /** Requests still running, per session: a session's `disconnect` waits for them. */
  private readonly runningBySid = new Map<string, Set<Promise<unknown>>>();
  private readonly unserve: (() => void) | undefined;
  private readonly coalescer: Coalescer | undefined;
  private readonly egress: Egress;
  /** What reads share: the egress and the cursors of paged reads. */
  private readonly reads: ReadContext;
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
    this.sessions = new Sessions(
      this.options.sessionTimeout,
      (sid) => this.emit('connect', sid),
      (sid) => this.ended(sid),
      // On several nodes a session may live on in another node's connection.
      (sid) => this.transport.askOtherNodes(sid),
      this.options.sameUser,
      this.options.dedupeRetention,
    );
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
        maxTotalBufferedBytes: this.options.maxTotalBufferedBytes,
        authorize: this.options.authorize,
      },
      this,
    );
    const onError = (err: unknown): void => void this.emit('error', err);
    // The coalescer asks the egress what each session sees; the egress hands changes to the coalescer.
    let egress: Egress | undefined;
    if (this.options.coalesce !== false) {
      this.coalescer = new Coalescer(
        this.transport,
        this.options.coalesce,
        this.options.visible !== undefined,
        (applied, sid) => egress!.recordFor(applied, sid),
      );
    }
    this.egress = egress = new Egress(this.transport, this.options.visible, this.coalescer, onError);
    this.reads = { egress, cursors: new Cursors() };
    this.admission = new Admission(
      this.options.maxRequestsPerSecond,
      this.options.maxInFlight,
      this.options.maxInFlightBytes,
    );
    this.pipeline = new WritePipeline({
      dedupe: new DedupeTable(this.options.dedupeRetention),
      egress: this.egress,
      timeoutMs: this.options.handlerTimeout,
      track: (work) => this.track(work),
      wireError: (err) => this.wireError(err),
    });
    this.collection(DEFAULT_COLLECTION, handlers ?? new MemoryStore());
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

  /** Server-side fetch on the default collection (copies). */
  fetch(ids: Id | Id[], cb?: NodeCallback<Array<StoredObject | null>>): Promise<Array<StoredObject | null>> {
    return this.defaultCollection.fetch(ids, cb);
  }

  /** Server-side list of the default collection (copies). */
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
   * Stops cleanly: refuses new handshakes and requests (`unavailable`) from the moment it is called,
   * lets running handler calls finish (at most `handlerTimeout`), emits `disconnect(sid)` for every
   * session, then closes the connections so that clients reconnect by themselves when a server is
   * back. Closes the socket.io server it created (and with it the http server); an io `Server` passed
   * in is left open.
   */
  close(cb?: (err?: Error) => void): Promise<void> {
    this.closing ??= (async () => {
      this.transport.refuseHandshakes();
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

  /** Keeps shutdown waiting for `work`. @internal */
  track<T>(work: Promise<T>): Promise<T> {
    this.running.add(work);
    const done = (): void => {
      this.running.delete(work);
    };
    work.then(done, done);
    return work;
  }

  /** A session ended: `disconnect(sid)` fires once its requests still running have finished. */
  private ended(sid: string): void {
    const work = this.runningBySid.get(sid);
    if (!work || work.size === 0) return void this.emit('disconnect', sid);
    void Promise.allSettled([...work]).then(() => this.emit('disconnect', sid));
  }

  /** A change published on another node (only relayed with `visible`). @internal */
  relayed(message: unknown): void {
    this.egress.relayed(message, (name) => this.collections.get(name));
  }

  /**
   * Asks every client connected to this node to resync now (e.g. after the Redis adapter was down:
   * changes published meanwhile never reached other nodes' clients).
   */
  resyncClients(): void {
    for (const conn of this.transport.connections()) conn.send('hi', this.hello(conn));
  }

  // --- TransportListener ----------------------------------------------------------------------

  /**
   * A handshake passed `authorize`: refused while closing, and when its session is bound to another
   * user (a session's user is the one of its first handshake). @internal
   */
  admit(sid: string, user: unknown): 'ok' | 'unavailable' | 'unauthorized' {
    if (this.closing) return 'unavailable';
    return this.sessions.accepts(sid, user) ? 'ok' : 'unauthorized';
  }

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
    this.reads.cursors.dropAll(conn);
    this.sessions.detach(conn, deliberate);
  }

  /** Answers one inbound event; every event that asked for an ack gets exactly one. @internal */
  request(
    conn: Connection,
    event: string,
    args: unknown[],
    ack: ((answer: unknown) => void) | undefined,
  ): void {
    // Nothing of a connection outlives it: a request read after its disconnect is not run.
    if (conn.closed) return;
    if (!ack) {
      if (log.enabled) log('%s: dropped %s without ack', conn.sid, describeRequest(event, args[0]));
      return;
    }
    // One line per request, when it is answered: what it named, the outcome, how long it took.
    const started = log.enabled ? performance.now() : 0;
    const reply = (payload: unknown): void => {
      if (log.enabled) {
        const what = describeRequest(event, args[0]);
        log('%s: %s -> %s (%s ms)', conn.sid, what, describeAck(payload), since(started));
      }
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
    const coll = this.resolveCollection(checked.msg.c, event);
    if (!coll) return fail('unknown_collection');
    // The server holds at most `maxInFlightBytes` of requests being processed; past it, `busy`.
    const bytes = checked.bytes;
    if (!this.admission.holdBytes(bytes)) return fail('busy');
    let held = true;
    const ended = (): void => {
      if (!held) return;
      held = false;
      this.admission.releaseBytes(bytes);
    };
    this.admission.enter(conn);
    let answered = false;
    const answerOnce = (payload: unknown): void => {
      if (answered) return;
      answered = true;
      this.admission.release(conn);
      reply(payload);
    };
    const write = event === 'create' || event === 'update' || event === 'destroy';
    const work = this.dispatch(event, checked.msg, coll, conn, answerOnce, ended).catch((err: unknown) =>
      answerOnce({ error: this.wireError(err) }),
    );
    // A write's bytes are held until the write ended (`ended`, from the pipeline; a handler may
    // outlive its answer); a read's until it is answered. A write that never reached the pipeline
    // (an unknown collection's) ends with its answer too.
    if (!write || coll === UNKNOWN) void work.then(ended);
    this.runningFor(conn.sid, work);
  }

  /** Counts a request among its session's running ones until it ends. */
  private runningFor(sid: string, work: Promise<unknown>): void {
    let set = this.runningBySid.get(sid);
    if (!set) this.runningBySid.set(sid, (set = new Set()));
    set.add(work);
    void work.then(() => {
      set.delete(work);
      if (set.size === 0 && this.runningBySid.get(sid) === set) this.runningBySid.delete(sid);
    });
  }

  private async dispatch(
    event: RequestEvent,
    msg: RequestMap[RequestEvent],
    coll: ServerCollection | Unknown,
    conn: Connection,
    reply: Reply,
    ended: () => void,
  ): Promise<void> {
    if (coll === UNKNOWN) return reply(this.answerUnknown(event, msg, conn));
    switch (event) {
      case 'create':
      case 'update':
      case 'destroy': {
        const m = msg as RequestMap[typeof event];
        return this.pipeline.client(coll, writeOp(event, m), m.q, conn, reply, ended);
      }
      case 'fetch':
        return reply(await answerFetch(coll, msg as RequestMap['fetch'], conn.sid, this.egress));
      case 'list':
        return reply(await answerList(coll, msg as RequestMap['list'], conn, this.reads));
      case 'sub':
        return reply(await answerSubscribe(coll, msg as RequestMap['sub'], conn, this.reads));
      case 'unsub':
        this.unknownSubs.get(conn)?.delete(coll.name);
        return reply(answerUnsubscribe(coll, conn, this.reads));
    }
  }

  /**
   * The answer to a request naming a collection `autoCollections` has not made: reads answer as an
   * empty collection; a `sub` joins the collection's room (at most `maxAutoCollections` such names per
   * connection, else `unknown_collection`), so its changes arrive once a create makes it; an update or
   * destroy finds no object (`not_found`).
   */
  private answerUnknown(event: RequestEvent, msg: RequestMap[RequestEvent], conn: Connection): unknown {
    const name = msg.c;
    switch (event) {
      case 'fetch':
        return { r: (msg as RequestMap['fetch']).i.map(() => null) };
      case 'list':
        return { r: [] };
      case 'sub': {
        let names = this.unknownSubs.get(conn);
        if (!names) this.unknownSubs.set(conn, (names = new Set()));
        if (!names.has(name) && names.size >= this.options.maxAutoCollections)
          return { error: toWireError(new SyncError('unknown_collection')) };
        names.add(name);
        return answerSubscribeUnknown(roomOf(name), msg as RequestMap['sub'], conn);
      }
      case 'unsub':
        this.unknownSubs.get(conn)?.delete(name);
        conn.leave(roomOf(name));
        return {};
      default:
        return { error: toWireError(new SyncError('not_found')) };
    }
  }

  /**
   * The collection a request names. With `autoCollections` an unknown name is created by a `create`
   * (at most `maxAutoCollections` of them), never by another request: those are answered as for an
   * empty collection (see `answerUnknown`).
   */
  private resolveCollection(name: string, event: RequestEvent): ServerCollection | Unknown | undefined {
    const found = this.collections.get(name);
    if (found || !this.options.autoCollections) return found;
    if (event !== 'create') return UNKNOWN;
    if (this.autoMade >= this.options.maxAutoCollections) return undefined;
    this.autoMade++;
    log('auto collection %s (%d of %d)', name, this.autoMade, this.options.maxAutoCollections);
    return this.collection(name);
  }

  /** The wire form of a failure; unexpected exceptions are reported on `error`, never sent. */
  private wireError(err: unknown): { code: string; message?: string } {
    const wire = toWireError(err);
    if (wire.code === 'handler_error') {
      log('handler failed: %o', err);
      // Without an `error` listener the failure would go unseen: say it once on the process.
      if (!this.emit('error', err))
        process.emitWarning(`a handler failed (${describe(err)}); listen to 'error' to handle it`, {
          code: 'OBJECT_SYNC_HANDLER_ERROR',
        });
    }
    return wire;
  }
}

/** A collection `autoCollections` has not made (read requests of it answer as an empty collection). */
const UNKNOWN = Symbol('unknown collection');
type Unknown = typeof UNKNOWN;

/** A validated write request as the pipeline takes it. */
function writeOp<E extends 'create' | 'update' | 'destroy'>(event: E, msg: RequestMap[E]): WriteOp {
  if (event === 'create') return { kind: 'create', obj: (msg as RequestMap['create']).o };
  if (event === 'destroy') return { kind: 'destroy', id: (msg as RequestMap['destroy']).i };
  const m = msg as RequestMap['update'];
  return { kind: 'update', id: m.i, set: m.s, unset: m.u, base: m.b, elided: m.e };
}

/** A short description of a failure for the warning (its name and message; never sent anywhere). */
function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
