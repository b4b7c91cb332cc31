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
 * Events: `create(obj)`, `update(obj, changes)`, `destroy(id)`, `error(err)`.
 */
import { applyDiff, clone, deepEqual } from '../diff.js';
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
import { IdentityMap, keyOf, type Effect } from './identity-map.js';

/** Events of a client collection (and of the client, for the default collection). */
export type CollectionEvents = {
  create: [obj: StoredObject];
  update: [obj: StoredObject, changes: Record<string, unknown>];
  destroy: [id: Id];
  error: [err: SyncError];
};

/** What a collection needs from its client. @internal */
export interface RequestSender {
  send(
    event: RequestEvent,
    payload: Record<string, unknown>,
    settle: (ack: unknown) => void,
    first?: boolean,
  ): void;
  nextSeq(): number;
  isReady(): boolean;
}

export class ClientCollection extends Emitter<CollectionEvents> {
  /** @internal */
  readonly map = new IdentityMap();
  private subscribed = false;
  private readonly pendingPatches = new Map<
    string,
    Array<{ set: Record<string, unknown>; unset: string[] }>
  >();
  private readonly refetching = new Set<string>();
  private readonly waiters: Array<Outcome<void>> = [];

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
    const out = new Outcome<StoredObject>(cb);
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      out.fail(new SyncError('invalid_message'));
    } else if (obj.id === undefined || obj.id === null) {
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
    else {
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
    this.read<'list'>('list', query === undefined ? {} : { w: query }, out, (ack, tick) => {
      const effects = ack.r.map((found) => this.map.apply(tupleRecord(found), tick));
      const result = ack.r
        .map(([, obj]) => this.map.get(obj.id))
        .filter((o): o is StoredObject => o !== undefined);
      return { result, effects };
    });
    return out.promise;
  }

  /** Destroys an object by id. */
  destroy(id: Id, cb?: NodeCallback<void>): Promise<void> {
    const out = new Outcome<void>(cb);
    if (!isValidId(id)) {
      out.fail(new SyncError('invalid_id'));
      return out.promise;
    }
    this.write<'destroy'>('destroy', { i: id }, out, (ack) => ({
      result: undefined,
      effect: this.map.apply(ack.r),
    }));
    return out.promise;
  }

  /**
   * Starts receiving this collection's changes and mirrors it: resolves once the local copy equals the
   * server's. Resubscribed automatically after every reconnect.
   */
  subscribe(cb?: NodeCallback<void>): Promise<void> {
    this.subscribed = true;
    const out = new Outcome<void>(cb);
    // When offline, the subscription goes out (and this settles) with the resync on connect.
    this.waiters.push(out);
    if (this.sender.isReady()) this.resync();
    return out.promise;
  }

  /** Stops receiving this collection's changes (the live objects stay, no longer updated). */
  unsubscribe(cb?: NodeCallback<void>): Promise<void> {
    this.subscribed = false;
    const out = new Outcome<void>(cb);
    this.sender.send('unsub', this.envelope({}), (ack) => {
      if (isErrorAck(ack)) out.fail(fromWireError(ack.error));
      else out.succeed(undefined);
    });
    return out.promise;
  }

  /** Resends the subscription with the versions held, and applies the answer. @internal */
  resync(): void {
    const waiting = this.waiters.splice(0);
    const done = new Outcome<void>(undefined);
    done.promise.then(
      () => waiting.forEach((w) => w.succeed(undefined)),
      (err: SyncError) => {
        if (waiting.length === 0) this.emit('error', err);
        waiting.forEach((w) => w.fail(err));
      },
    );
    this.read<'sub'>(
      'sub',
      { h: this.map.versions() },
      done,
      (ack, tick) => ({ result: undefined, effects: ack.r.map((record) => this.map.apply(record, tick)) }),
      true,
    );
  }

  /** Applies a change pushed by the server. @internal */
  receive(record: ChangeRecord): void {
    if (this.subscribed) this.raise(this.map.apply(record));
  }

  /** The expected state of an object: the live one plus this client's updates still in flight. */
  private expected(id: Id): Record<string, unknown> | undefined {
    const live = this.map.get(id);
    const patches = this.pendingPatches.get(keyOf(id));
    if (!live) return undefined;
    if (!patches) return live;
    const state = clone(live) as Record<string, unknown>;
    for (const p of patches) applyDiff(state, p.set, p.unset);
    return state;
  }

  private create(obj: SyncObject, out: Outcome<StoredObject>): void {
    const o = clone(obj) as Record<string, unknown>;
    delete o.id;
    this.write<'create'>('create', { o }, out, (ack) => {
      const effect = this.map.apply(ack.r);
      // A removal: the create was applied, but its object is gone since (or hidden from this client):
      // it resolves with what was created as this client knows it, outside the identity map.
      return { result: this.map.get(ack.r.i) ?? { ...o, id: ack.r.i }, effect };
    });
  }

  private update(obj: StoredObject, out: Outcome<StoredObject>): void {
    const base = this.expected(obj.id);
    const set: Record<string, unknown> = {};
    const unset: string[] = [];
    for (const key of Object.keys(obj)) {
      if (key === 'id') continue;
      const value = obj[key];
      if (value === undefined) {
        if (!base || Object.prototype.hasOwnProperty.call(base, key)) unset.push(key);
      } else if (!base || !deepEqual(base[key], value)) {
        set[key] = clone(value);
      }
    }
    const key = keyOf(obj.id);
    const patch = { set, unset };
    const patches = this.pendingPatches.get(key) ?? [];
    patches.push(patch);
    this.pendingPatches.set(key, patches);
    const payload: Record<string, unknown> = { i: obj.id, b: this.map.entry(obj.id)?.v ?? 0 };
    if (Object.keys(set).length > 0) payload.s = set;
    if (unset.length > 0) payload.u = unset;
    const release = (): void => {
      const list = this.pendingPatches.get(key);
      if (!list) return;
      list.splice(list.indexOf(patch), 1);
      if (list.length === 0) this.pendingPatches.delete(key);
    };
    this.write<'update'>(
      'update',
      payload,
      out,
      (ack) => {
        release();
        const effect = ack.r ? this.map.apply(ack.r) : NO_EFFECT;
        const live = this.map.get(obj.id);
        if (!live) throw new SyncError('not_found');
        return { result: live, effect };
      },
      release,
    );
  }

  /** Sends a write (it gets a sequence number) and settles `out` from its ack. */
  private write<E extends 'create' | 'update' | 'destroy'>(
    event: E,
    payload: Record<string, unknown>,
    out: Outcome<never> | Outcome<StoredObject> | Outcome<void>,
    onAnswer: (ack: AnswerMap[E]) => { result: unknown; effect: Effect },
    onError?: () => void,
  ): void {
    const body = this.envelope({ ...payload, q: this.sender.nextSeq() });
    this.sender.send(event, body, (ack) => {
      if (isErrorAck(ack)) {
        onError?.();
        return (out as Outcome<unknown>).fail(fromWireError(ack.error));
      }
      let answered: { result: unknown; effect: Effect };
      try {
        answered = onAnswer(ack as AnswerMap[E]);
      } catch (err) {
        return (out as Outcome<unknown>).fail(
          err instanceof SyncError ? err : new SyncError('invalid_message'),
        );
      }
      const effect = answered.effect;
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
    });
  }

  /** Sends a read; its records are applied as of the moment it was sent (see IdentityMap). */
  private read<E extends 'fetch' | 'list' | 'sub'>(
    event: E,
    payload: Record<string, unknown>,
    out: Outcome<never> | Outcome<Array<StoredObject | null>> | Outcome<StoredObject[]> | Outcome<void>,
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
        this.emit('update', effect.obj, effect.changes);
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

  /** Heals a version gap: reads the object whole (once at a time per object). */
  private refetch(id: Id, then?: () => void): void {
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
      const effect = found ? this.map.apply(tupleRecord(found), tick) : this.map.removeUnlessNewer(id, tick);
      return { result: [this.map.get(id) ?? null], effects: [effect] };
    });
  }

  private envelope(payload: Record<string, unknown>): Record<string, unknown> {
    return this.name === DEFAULT_COLLECTION ? payload : { c: this.name, ...payload };
  }
}

const NO_EFFECT: Effect = { type: 'none' };

function tupleRecord([v, obj]: VersionedTuple): ChangeRecord {
  return { k: 'c', i: obj.id, v, o: obj };
}
