/**
 * One collection on the client: `save`, `fetch`, `destroy`, `list`, the identity map (`get`,
 * `allObjects`), and `subscribe`/`unsubscribe`.
 *
 * Invariants:
 * - A request's callback runs synchronously when its ack arrives, before the promise settles and
 *   before the request's own event (`create`/`update`/`destroy`) is raised.
 * - `save` sends only what differs from the expected state: the live object plus this client's
 *   updates still in flight, so `save(n=1)` then `save(n=0)` sends both.
 * - A subscribed collection is mirrored: subscribing (and every reconnect) resyncs it by version.
 *
 * Events: `create(obj)`, `update(obj, changes)`, `destroy(id)`, `error(err)` (a failed resync or
 * refetch), `synced()` (a resync is complete).
 */
import { logger, showCollection, since } from '../debug.js';
import { applyDiff, clone, isEmptyDiff, toJson, writeDiff } from '../diff.js';
import { Emitter } from '../emitter.js';
import { fromWireError, SyncError } from '../errors.js';
import type {
  AnswerMap,
  ChangeRecord,
  Id,
  JsonValue,
  RequestEvent,
  StoredObject,
  SyncObject,
  VersionedTuple,
} from '../protocol.js';
import { DEFAULT_COLLECTION, isErrorAck, isValidId } from '../protocol.js';
import type { NodeCallback } from '../settle.js';
import { Outcome } from './outcome.js';
import { HeldVersions } from './resync.js';
import { IdentityMap, keyOf, type Effect } from './identity-map.js';

/** Most ids in one `fetch` request (the server's `maxIdsPerRequest` is 10 000; long ids need fewer). */
export const FETCH_PER_REQUEST = 2_000;

const log = logger('client:resync');

/** What one resync did, for its log line (kept only while logging). */
interface ResyncStats {
  started: number;
  pages: number;
  records: number;
  effects: Record<Effect['type'], number>;
}

/** Events of a client collection (and of the client, for the default collection). */
export type CollectionEvents = {
  create: [obj: StoredObject];
  /** `previous`: each changed property's value before the change (`undefined`: it was absent). */
  update: [obj: StoredObject, changes: Record<string, unknown>, previous: Record<string, unknown>];
  destroy: [id: Id];
  error: [err: SyncError];
  /** A resync is complete: the collection equals the server's (as of its pages). */
  synced: [];
};

/** What a collection needs from its client. @internal */
export interface RequestSender {
  send(
    event: RequestEvent,
    payload: Record<string, unknown>,
    settle: (ack: unknown) => void,
    first?: boolean,
    late?: (ack: unknown) => void,
  ): void;
  nextSeq(): number;
  isReady(): boolean;
  /** The delay before retry number `attempt` (0-based). */
  backoff(attempt: number): number;
}

/** The line of a completed resync: pages, records, what they did, how long it took. */
function logResynced(name: string, stats: ResyncStats): void {
  const e = stats.effects;
  log(
    '%s: resynced in %d pages, %d records (%d created, %d updated, %d removed, %d refetched) in %s ms',
    showCollection(name),
    stats.pages,
    stats.records,
    e.create,
    e.update,
    e.destroy,
    e.gap,
    since(stats.started),
  );
}

/** One update of this client not answered yet: what it sets and removes, and its caller's tag. */
export interface PendingWrite {
  readonly id: Id;
  readonly set: Record<string, unknown>;
  readonly unset: readonly string[];
  readonly tag: unknown;
}

const NO_WRITES: readonly PendingWrite[] = Object.freeze([]);

/** How many times a write is sent while its outcome stays unknown (see `send`). */
const WRITE_ATTEMPTS = 3;
/** The codes after which a write may still have been applied. */
const UNKNOWN_OUTCOME: ReadonlySet<string> = new Set(['timeout', 'unavailable']);

export class ClientCollection extends Emitter<CollectionEvents> {
  /** @internal */
  readonly map = new IdentityMap();
  private subscribed = false;
  /** `subscribe()` calls not ended by `unsubscribe()`. */
  private subscribers = 0;
  /** Whether the collection was resynced since the client last connected (see `knowsServerState`). */
  private mirrored = false;
  /** Counts resyncs, so the pages and retries of a superseded one stop. */
  private resyncRun = 0;
  private resyncFailures = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** This client's updates not answered yet, per object key, oldest first. */
  private readonly pending = new Map<string, PendingWrite[]>();
  private readonly refetching = new Set<string>();
  /** Writes answered `unavailable` (their server was shutting down): sent again once it is gone. */
  private readonly parked: Array<{ retry: () => void; fail: () => void }> = [];
  private readonly waiters: Array<Outcome<void>> = [];
  /** The `subscribe()` calls the resync running now settles. */
  private readonly resyncing: Array<Outcome<void>> = [];

  /** @internal */
  constructor(
    readonly name: string,
    private readonly sender: RequestSender,
  ) {
    super();
  }

  /** The live object of an id, or `undefined`. */
  get(id: Id): StoredObject | undefined {
    return this.map.get(id);
  }

  /** Every live object, keyed by id (a null-prototype object). */
  allObjects(): Record<string, StoredObject> {
    return this.map.all();
  }

  /** Whether this collection's changes are delivered. */
  isSubscribed(): boolean {
    return this.subscribed;
  }

  /**
   * Creates (no id) or updates (with id) an object; sends only the properties that differ from the
   * expected state, `undefined` removing one. Resolves with the live object.
   */
  save(obj: SyncObject, cb?: NodeCallback<StoredObject>): Promise<StoredObject> {
    // A programming mistake, not a runtime failure: it throws at once.
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      throw new TypeError(`object-sync: save() takes an object, not ${describe(obj)}`);
    }
    const out = new Outcome<StoredObject>(cb);
    if (obj.id === undefined || obj.id === null) {
      this.create(obj, out);
    } else if (!isValidId(obj.id)) {
      out.fail(new SyncError('invalid_id'));
    } else {
      this.update(obj as StoredObject, out);
    }
    return out.promise;
  }

  /** Reads objects by id; always resolves with an array of live objects, `null` for unknown ids. */
  fetch(
    idOrIds: Id | Id[],
    cb?: NodeCallback<Array<StoredObject | null>>,
  ): Promise<Array<StoredObject | null>> {
    const out = new Outcome<Array<StoredObject | null>>(cb);
    const ids = Array.isArray(idOrIds) ? idOrIds.slice() : [idOrIds];
    if (ids.length === 0) out.succeed([]);
    else if (!ids.every((id) => isValidId(id))) out.fail(new SyncError('invalid_id'));
    else if (ids.length > FETCH_PER_REQUEST) {
      // Within the server's request limits (ids per request, payload): one request per chunk, in turn.
      const chunks = async (): Promise<Array<StoredObject | null>> => {
        for (let at = 0; at < ids.length; at += FETCH_PER_REQUEST)
          await this.fetch(ids.slice(at, at + FETCH_PER_REQUEST));
        return ids.map((id) => this.map.get(id) ?? null);
      };
      chunks().then(
        (found) => out.succeed(found),
        (err: SyncError) => out.fail(err),
      );
    } else {
      this.read<'fetch'>('fetch', { i: ids }, out, (ack, tick) => {
        const effects = ack.r.map((found, at) =>
          found ? this.map.apply(tupleRecord(found), tick) : this.map.removeUnlessNewer(ids[at], tick),
        );
        return { result: ids.map((id) => this.map.get(id) ?? null), effects };
      });
    }
    return out.promise;
  }

  /** Lists the collection (the server's `list` handler gets `query`); resolves with live objects. */
  list(query?: JsonValue, cb?: NodeCallback<StoredObject[]>): Promise<StoredObject[]> {
    const out = new Outcome<StoredObject[]>(cb);
    this.listPage(query, undefined, [], out);
    return out.promise;
  }

  /** Reads one page of a list (after id `cursor`), then the next, until the server says no more. */
  private listPage(
    query: JsonValue | undefined,
    cursor: Id | undefined,
    ids: Id[],
    out: Outcome<StoredObject[]>,
  ): void {
    const payload: Record<string, unknown> = query === undefined ? {} : { w: query };
    if (cursor !== undefined) payload.k = cursor;
    const page = new Outcome<Id | undefined>((err, next) => {
      if (err) return out.fail(err as SyncError);
      if (next !== undefined) return this.listPage(query, next, ids, out);
      out.succeed(ids.map((id) => this.map.get(id)).filter((o): o is StoredObject => o !== undefined));
    });
    page.promise.catch(() => undefined);
    this.read<'list'>('list', payload, page, (ack, tick) => {
      const effects = ack.r.map((found) => this.map.apply(tupleRecord(found), tick));
      for (const [, obj] of ack.r) ids.push(obj.id);
      return { result: ack.k, effects };
    });
  }

  /** Destroys an object by id. */
  destroy(id: Id, cb?: NodeCallback<void>): Promise<void> {
    const out = new Outcome<void>(cb);
    if (!isValidId(id)) {
      out.fail(new SyncError('invalid_id'));
      return out.promise;
    }
    this.send<'destroy'>(
      'destroy',
      { i: id },
      out,
      (ack) => ({ result: undefined, effect: this.map.apply(ack.r) }),
      undefined,
      id,
      undefined,
      () => !this.pending.has(keyOf(id)),
    );
    return out.promise;
  }

  /**
   * Starts receiving this collection's changes and mirrors it: resolves once the local copy equals the
   * server's. Resubscribed automatically after every reconnect.
   */
  subscribe(cb?: NodeCallback<void>): Promise<void> {
    this.subscribers++;
    this.subscribed = true;
    const out = new Outcome<void>(cb);
    // When offline, the subscription goes out (and this settles) with the resync on connect.
    this.waiters.push(out);
    if (this.sender.isReady()) this.resync();
    return out.promise;
  }

  /**
   * Ends one `subscribe()`: subscriptions are counted, and the last one to end stops the collection's
   * changes and releases its objects (those with writes pending stay until answered; live objects
   * the application holds stay valid, no longer updated).
   */
  unsubscribe(cb?: NodeCallback<void>): Promise<void> {
    const out = new Outcome<void>(cb);
    if (this.subscribers > 0) this.subscribers--;
    if (this.subscribers > 0) {
      out.succeed(undefined);
      return out.promise;
    }
    this.subscribed = false;
    this.mirrored = false;
    this.resyncRun++;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.map.retainOnly((key) => this.pending.has(key));
    // The subscribe() calls still waiting for their resync will never get one.
    const ended = new SyncError('unsubscribed');
    for (const w of [...this.waiters.splice(0), ...this.resyncing.splice(0)]) w.fail(ended);
    // Offline, the server holds no subscription of this client's (a new connection starts without).
    if (!this.sender.isReady()) {
      out.succeed(undefined);
      return out.promise;
    }
    this.sender.send('unsub', this.envelope({}), (ack) => {
      if (isErrorAck(ack)) out.fail(fromWireError(ack.error));
      else out.succeed(undefined);
    });
    return out.promise;
  }

  /**
   * Resends the subscription with the versions held, page by page (see resync.ts), applying each
   * answer. When all pages are in, fires `synced` and settles the `subscribe()` calls waiting. A
   * failure fails them, fires `error`, and is retried with backoff while subscribed and connected.
   * A newer resync (a reconnect) supersedes one still running. @internal
   */
  resync(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const run = ++this.resyncRun;
    this.resyncing.push(...this.waiters.splice(0));
    let stats: ResyncStats | undefined;
    if (log.enabled) {
      log('%s: resync, %d objects held', showCollection(this.name), this.map.versions().length);
      const effects = { create: 0, update: 0, destroy: 0, gap: 0, none: 0 };
      stats = { started: performance.now(), pages: 0, records: 0, effects };
    }
    this.resyncPage(run, new HeldVersions(this.map.versions()), undefined, stats);
  }

  private resyncPage(
    run: number,
    held: HeldVersions,
    cursor: Id | undefined,
    stats: ResyncStats | undefined,
  ): void {
    const page = held.page(cursor);
    const done = new Outcome<Id | undefined>((err, next) => {
      if (run !== this.resyncRun) return;
      if (err) return this.resyncFailed(run, err as SyncError, stats);
      if (next !== undefined) return this.resyncPage(run, held, next, stats);
      if (stats) logResynced(this.name, stats);
      this.resyncFailures = 0;
      this.mirrored = this.subscribed && this.sender.isReady();
      this.emit('synced');
      this.resyncing.splice(0).forEach((w) => w.succeed(undefined));
    });
    done.promise.catch(() => undefined);
    this.read<'sub'>(
      'sub',
      { ...page },
      done,
      (ack, tick) => {
        const effects = ack.r.map((record) => this.map.apply(record, tick));
        if (stats) {
          stats.pages++;
          stats.records += ack.r.length;
          for (const effect of effects) stats.effects[effect.type]++;
        }
        return { result: ack.k ?? page.t, effects };
      },
      true,
    );
  }

  private resyncFailed(run: number, err: SyncError, stats: ResyncStats | undefined): void {
    const attempt = this.resyncFailures++;
    const delay = this.sender.backoff(attempt);
    if (stats) {
      const name = showCollection(this.name);
      log(
        '%s: resync failed after %d pages: %s; retry %d in %d ms',
        name,
        stats.pages,
        err.code,
        attempt + 1,
        Math.round(delay),
      );
    }
    // Reported on the 1st, 2nd, 4th, 8th... failure in a row: a long outage without a flood.
    if ((attempt & (attempt + 1)) === 0) this.emit('error', err);
    this.resyncing.splice(0).forEach((w) => w.fail(err));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      const retry = run === this.resyncRun && this.subscribed && this.sender.isReady();
      if (retry) return this.resync();
      if (log.enabled)
        log('%s: no retry (unsubscribed, disconnected or superseded)', showCollection(this.name));
    }, delay);
  }

  /** Forgets everything (the client is closed): objects, pending writes, listeners, timers. @internal */
  release(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.resyncRun++;
    this.subscribed = false;
    this.mirrored = false;
    this.map.clear();
    this.pending.clear();
    this.waiters.splice(0);
    this.resyncing.splice(0);
    for (const parked of this.parked.splice(0)) parked.fail();
    for (const event of ['create', 'update', 'destroy', 'error', 'synced'] as const) this.off(event);
  }

  /**
   * The connection dropped: changes may be missed until the next resync; the writes parked until
   * then are queued for the next connection. @internal
   */
  connectionLost(): void {
    this.mirrored = false;
    for (const parked of this.parked.splice(0)) parked.retry();
  }

  /** Applies a change pushed by the server. @internal */
  receive(record: ChangeRecord): void {
    if (this.subscribed) this.raise(this.map.apply(record));
  }

  /**
   * The state the server is expected to reach for an id: what it last confirmed plus this client's
   * writes still pending, in order. `undefined` for an object the client does not hold. @internal
   */
  expected(id: Id): Record<string, unknown> | undefined {
    const state = this.map.confirmed(id) as Record<string, unknown> | undefined;
    if (!state) return undefined;
    for (const w of this.pending.get(keyOf(id)) ?? []) applyDiff(state, w.set, w.unset);
    return state;
  }

  /** A copy of what the server last confirmed for an id. @internal */
  confirmed(id: Id): StoredObject | undefined {
    return this.map.confirmed(id);
  }

  /** This client's writes to an id not answered yet, oldest first. @internal */
  pendingWrites(id: Id): readonly PendingWrite[] {
    return this.pending.get(keyOf(id)) ?? NO_WRITES;
  }

  /**
   * Whether the client knows the server's current state of an object, so that a write may leave out
   * what is already there: the collection is subscribed, connected, resynced since it connected, and
   * holds the object at a known version. Otherwise (a copy fetched once, possibly stale) every given
   * key travels, so that a save is never lost against a stale copy.
   */
  private knowsServerState(id: Id): boolean {
    return this.mirrored && this.sender.isReady() && (this.map.entry(id)?.v ?? 0) > 0;
  }

  private create(obj: SyncObject, out: Outcome<StoredObject>): void {
    const o = toJson(obj) as Record<string, unknown>;
    delete o.id;
    this.send<'create'>('create', { o }, out, (ack) => {
      const effect = this.map.apply(ack.r);
      // A removal: the create was applied, but its object is gone since (or hidden from this client):
      // it resolves with what was created as this client knows it, outside the identity map.
      return { result: this.map.get(ack.r.i) ?? { ...o, id: ack.r.i }, effect };
    });
  }

  /**
   * Sends an update of `given` (`undefined` removes a key), diffed against the expected state when the
   * client knows it (see `knowsServerState`), and records it as pending until answered; `tag` is kept
   * with the pending write for whoever asks (the Backbone adapter marks its optimistic writes).
   * Returns the pending write (what was sent). @internal
   */
  change(obj: StoredObject, tag: unknown, cb?: NodeCallback<StoredObject>): PendingWrite {
    const out = new Outcome<StoredObject>(cb);
    return this.update(obj, out, tag);
  }

  private update(obj: StoredObject, out: Outcome<StoredObject>, tag?: unknown, whole = false): PendingWrite {
    const id = obj.id;
    // Against the confirmed state; a key a pending write names always travels: that write may yet be
    // refused, and then this one must still say what it wants (`save(n=1)` then `save(n=0)` sends both).
    const pending = this.pending.get(keyOf(id)) ?? NO_WRITES;
    const named = (key: string): boolean =>
      pending.some((w) => Object.prototype.hasOwnProperty.call(w.set, key) || w.unset.includes(key));
    const base = !whole && this.knowsServerState(id) ? this.map.confirmed(id) : undefined;
    const given = this.withRemovals(obj);
    const d = writeDiff(base, given, named);
    // Given properties left out because the copy already has them: the server checks that the copy
    // is still current (`e`), else answers `stale` and the write goes again with all of them.
    const elided =
      base !== undefined &&
      Object.keys(obj).some(
        (k) => k !== 'id' && !Object.prototype.hasOwnProperty.call(d.set, k) && !d.unset.includes(k),
      );
    const write: PendingWrite = { id, set: d.set, unset: d.unset, tag };
    const key = keyOf(id);
    const list = this.pending.get(key) ?? [];
    list.push(write);
    this.pending.set(key, list);
    const payload: Record<string, unknown> = { i: id, b: this.map.entry(id)?.v ?? 0 };
    if (elided) payload.e = true;
    if (!isEmptyDiff(d)) {
      if (Object.keys(d.set).length > 0) payload.s = d.set;
      if (d.unset.length > 0) payload.u = d.unset;
    }
    // Settled before the answer is applied, so the expected state never counts it twice.
    const release = (): void => {
      const at = list.indexOf(write);
      if (at >= 0) list.splice(at, 1);
      if (list.length === 0 && this.pending.get(key) === list) this.pending.delete(key);
    };
    // Whether this is still the latest write of its object (none sent after it).
    const isLast = (): boolean => {
      const now = this.pending.get(key);
      return !now || now[now.length - 1] === write;
    };
    // Once a write is answered, what it named is, on the live object too, the expected state: the
    // application may have edited the live object before saving it, and a key whose confirmed value
    // did not change (the write failed, or a later write undid it) would otherwise keep the edit.
    const keys = [...Object.keys(d.set), ...d.unset];
    const fail = (): void => {
      release();
      this.restore(id, keys);
    };
    this.send<'update'>(
      'update',
      payload,
      out,
      (ack) => {
        release();
        const effect = ack.r ? this.map.apply(ack.r) : NO_EFFECT;
        this.restore(id, keys);
        const live = this.map.get(id);
        if (!live) {
          // A removal in the answer: the write was applied (a resend is answered with the object's
          // state now), but the object is gone since or hidden from this client. It resolves with what
          // it set, outside the identity map, and the removal is still raised.
          if (ack.r?.k === 'd') {
            const sent = (payload as { s?: Record<string, unknown> }).s ?? {};
            return { result: { ...sent, id }, effect };
          }
          return { result: undefined, effect, failure: new SyncError('not_found') };
        }
        return { result: live, effect };
      },
      fail,
      id,
      (failure) => {
        // Again with every given property — unless a later write of the object was sent already
        // (this one would then land after it): the caller gets `stale` (nothing was applied).
        if (failure.code !== 'stale' || !elided || !isLast()) return false;
        release();
        this.update(given as StoredObject, out, tag, true);
        return true;
      },
      isLast,
    );
    return write;
  }

  /**
   * What a save of `obj` gives: `obj` itself, and when it is the live object, also the properties the
   * application deleted from it (those of the expected state it lacks), as removals.
   */
  private withRemovals(obj: StoredObject): Record<string, unknown> {
    if (this.map.get(obj.id) !== obj) return obj;
    const given: Record<string, unknown> = { ...obj };
    for (const key of Object.keys(this.expected(obj.id) ?? {})) if (!(key in given)) given[key] = undefined;
    return given;
  }

  /** Sets `keys` of an id's live object to the expected state (silently: it is not a change). */
  private restore(id: Id, keys: readonly string[]): void {
    const live = this.map.get(id) as Record<string, unknown> | undefined;
    const expected = this.expected(id);
    if (!live || !expected) return;
    for (const key of keys) {
      if (Object.prototype.hasOwnProperty.call(expected, key)) live[key] = clone(expected[key]);
      else delete live[key];
    }
  }

  /**
   * Sends a write (it gets a sequence number) and settles `out` from its ack. A write that timed out
   * (or met a server shutting down) is sent again, the same, up to `WRITE_ATTEMPTS` times in all, to
   * learn its outcome; if it still times out, a write to `id` reads the object back, so the caller
   * (and a rollback) settles on the server's state, then fails with `timeout`.
   */
  private send<E extends 'create' | 'update' | 'destroy'>(
    event: E,
    payload: Record<string, unknown>,
    out: Outcome<never> | Outcome<StoredObject> | Outcome<void>,
    onAnswer: (ack: AnswerMap[E]) => { result: unknown; effect: Effect; failure?: SyncError },
    onError?: () => void,
    id?: Id,
    /** Sees a failure first; `true`: it took the write over (nothing else happens). */
    intercept?: (failure: SyncError) => boolean,
    /**
     * Whether an update or destroy may go again after a timeout: not once a later write of its object
     * was sent (it would be applied after that one).
     */
    last: () => boolean = () => true,
  ): void {
    const body = this.envelope({ ...payload, q: this.sender.nextSeq() });
    const late = (ack: unknown): void => {
      if (isErrorAck(ack)) return;
      try {
        const effect = onAnswer(ack as AnswerMap[E]).effect;
        this.raise(effect);
      } catch {
        // A late answer that no longer fits (the object is gone) tells nothing more.
      }
    };
    let attempts = 0;
    const attempt = (): void => {
      attempts++;
      this.sender.send(event, body, settle, false, late);
    };
    const settle = (ack: unknown): void => {
      if (isErrorAck(ack)) {
        const failure = fromWireError(ack.error);
        if (intercept?.(failure)) return;
        // A write that timed out (or whose server was shutting down while it ran) may yet be applied:
        // it is sent again as it was (same sequence number), so the server answers its first
        // attempt's outcome once that attempt has ended (after a restart, from a durable store's
        // record) — for a create the only way to learn its id, for any write the server's state
        // after it (a plain read could come before the write lands).
        if (UNKNOWN_OUTCOME.has(failure.code) && attempts < WRITE_ATTEMPTS && last()) {
          if (failure.code === 'timeout') return attempt();
          // A server shutting down answers at once: the next attempt goes on the next connection.
          return void this.parked.push({
            retry: attempt,
            fail: () => (out as Outcome<unknown>).fail(failure),
          });
        }
        onError?.();
        if (failure.code === 'timeout' && id !== undefined) {
          return this.refetch(id, () => (out as Outcome<unknown>).fail(failure), true);
        }
        return (out as Outcome<unknown>).fail(failure);
      }
      let answered: { result: unknown; effect: Effect; failure?: SyncError };
      try {
        answered = onAnswer(ack as AnswerMap[E]);
      } catch (err) {
        return (out as Outcome<unknown>).fail(
          err instanceof SyncError ? err : new SyncError('invalid_message'),
        );
      }
      const effect = answered.effect;
      if (answered.failure) {
        (out as Outcome<unknown>).fail(answered.failure);
        return this.raise(effect);
      }
      if (effect.type === 'gap') {
        // The answer does not follow the version held (e.g. versions were forgotten after a server
        // restart): the write settles once the object was read whole, never with a stale object.
        this.refetch(effect.id, () => {
          const live = this.map.get(effect.id);
          if (live) (out as Outcome<unknown>).succeed(live);
          else (out as Outcome<unknown>).fail(new SyncError('not_found'));
        });
        return;
      }
      (out as Outcome<unknown>).succeed(answered.result);
      this.raise(effect);
    };
    attempt();
  }

  /** Sends a read; its records are applied as of the moment it was sent (see IdentityMap). */
  private read<E extends 'fetch' | 'list' | 'sub'>(
    event: E,
    payload: Record<string, unknown>,
    out:
      | Outcome<never>
      | Outcome<Array<StoredObject | null>>
      | Outcome<StoredObject[]>
      | Outcome<void>
      | Outcome<Id | undefined>,
    onAnswer: (ack: AnswerMap[E], tick: number) => { result: unknown; effects: Effect[] },
    first = false,
  ): void {
    const tick = this.map.beginRead();
    this.sender.send(
      event,
      this.envelope(payload),
      (ack) => {
        let answered: { result: unknown; effects: Effect[] } | undefined;
        let failure: SyncError | undefined;
        if (isErrorAck(ack)) failure = fromWireError(ack.error);
        else {
          try {
            answered = onAnswer(ack as AnswerMap[E], tick);
          } catch {
            failure = new SyncError('invalid_message');
          }
        }
        this.map.endRead(tick);
        if (failure) return (out as Outcome<unknown>).fail(failure);
        (out as Outcome<unknown>).succeed(answered!.result);
        for (const effect of answered!.effects) this.raise(effect);
      },
      first,
    );
  }

  /** Raises the event of an effect; a gap refetches the object. */
  private raise(effect: Effect): void {
    switch (effect.type) {
      case 'create':
        this.emit('create', effect.obj);
        break;
      case 'update':
        this.emit('update', effect.obj, effect.changes, effect.previous);
        break;
      case 'destroy':
        this.emit('destroy', effect.id);
        break;
      case 'gap':
        this.refetch(effect.id);
        break;
      case 'none':
        break;
    }
  }

  /**
   * Heals a version gap: reads the object whole (once at a time per object). `refresh` (after a write
   * timed out) takes the object read even at the version held: a write still running on the server
   * may have changed it before its new version is counted.
   */
  private refetch(id: Id, then?: () => void, refresh = false): void {
    const key = keyOf(id);
    // A write waiting for the object reads it anew: a read already on its way may predate the write.
    if (!then && this.refetching.has(key)) return;
    if (!then) this.refetching.add(key);
    const done = (): void => {
      if (!then) this.refetching.delete(key);
      then?.();
    };
    // `done` runs as the read's callback: before the events of what the read brought.
    const out = new Outcome<Array<StoredObject | null>>((err) => {
      done();
      if (err && !then) this.emit('error', err as SyncError);
    });
    this.read<'fetch'>('fetch', { i: [id] }, out, (ack, tick) => {
      const found = ack.r[0];
      const effect = found
        ? this.map.apply(tupleRecord(found), tick, refresh)
        : this.map.removeUnlessNewer(id, tick);
      return { result: [this.map.get(id) ?? null], effects: [effect] };
    });
  }

  private envelope(payload: Record<string, unknown>): Record<string, unknown> {
    return this.name === DEFAULT_COLLECTION ? payload : { c: this.name, ...payload };
  }
}

const NO_EFFECT: Effect = { type: 'none' };

/** How a wrong argument is named in an error message. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? 'a string' : `${typeof value} ${String(value)}`;
}

function tupleRecord([v, obj]: VersionedTuple): ChangeRecord {
  return { k: 'c', i: obj.id, v, o: obj };
}
