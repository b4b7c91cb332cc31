/**
 * The write pipeline: the one path every write takes, from a client or from the server side.
 *
 *   dedupe (claim) -> object queue -> recall (durable record) -> exists for the writer? -> backend
 *   -> version + diff (in the backend, `versioning.ts`) -> publish (egress) -> answer -> dedupe (record)
 *
 * Invariants:
 * - A write of an object runs inside that object's queue, from its arrival (an update's or destroy's
 *   queue is taken synchronously) until its backend call has really ended: a requester answered
 *   `timeout` frees nothing; the call runs on (its `ctx.signal` is aborted, so it may stop), and what it
 *   applied is then published to everyone, the requester included. A write whose requester gave up
 *   before its turn came is not applied at all.
 * - A create whose id the backend makes holds no queue (its id is unknown until the backend returns);
 *   it is "in flight" in the collection's `CreateGate` until its backend call has really ended and its
 *   change was published. An update or destroy whose turn comes while a create that may have made its
 *   id is in flight waits for it (in its queue, before the backend): a write of a new object never
 *   runs, nor publishes, before the create that made it has published.
 * - For a session that `visible` hides an object from, the object does not exist: an update or destroy
 *   of it answers `not_found` (read in the queue, before the backend sees the write).
 * - Each change is published before the next write of its object starts, and the requester's answer
 *   leaves right after it, so the requester gets its answer before any later change of that object.
 * - A client write is applied at most once per (session, sequence number): a resend gets an answer
 *   made from the first attempt's outcome and the object's state now, read inside the object's queue
 *   and sent through the egress. Only final outcomes are recorded (see `dedupe.ts`).
 */
import { SyncError, toWireError } from '../errors.js';
import type { AnswerMap, Id } from '../protocol.js';
import type { Connection } from '../transport.js';
import type { Applied, Backend, RequestContext, Sid } from './backend.js';
import { idKey, outcomeOf } from './backend.js';
import type { CreateGate } from './create-gate.js';
import type { DedupeTable, Outcome } from './dedupe.js';
import type { Egress } from './egress.js';
import type { KeyedQueue } from './queue.js';
import { withTimeout } from './timed-backend.js';

/** A write, as validated. */
export type WriteOp =
  | { kind: 'create'; obj: Record<string, unknown> }
  | { kind: 'update'; id: Id; set: Record<string, unknown>; unset: string[]; base?: number; elided?: boolean }
  | { kind: 'destroy'; id: Id };

/** A collection as the pipeline needs it. */
export interface WriteTarget {
  name: string;
  room: string;
  backend: Backend;
  queue: KeyedQueue;
  /** Creates whose id the backend makes, which writes of a new id wait for (`create-gate.ts`). */
  creates: CreateGate;
}

/** Answers a client request; called at most once. */
export type Reply = (payload: unknown) => void;

export interface PipelineDeps {
  dedupe: DedupeTable;
  egress: Egress;
  /** `handlerTimeout`: how long a requester waits for its write. */
  timeoutMs: number;
  /** Keeps shutdown waiting for running work. */
  track: <T>(work: Promise<T>) => Promise<T>;
  /** The wire form of a failure (reports unexpected ones). */
  wireError: (err: unknown) => { code: string; message?: string };
}

/** Who waits for a write: told of its outcome once, or given up (`timeout`) before it ended. */
interface Waiter {
  origin: Connection | null;
  /** The requester was answered already (it timed out): the change goes to everyone. */
  gaveUp: boolean;
  /**
   * Aborted when the waiter gives up: passed to the backend as `ctx.signal`. Absent for an in-process
   * backend, which has no deadline (see `deadline`), so nothing could abort it: making a controller
   * costs about 3 µs a write on Node 20 (the fan-out bench's profile, one receiver).
   */
  abort: AbortController | undefined;
  applied(applied: Applied): void;
}

/** The controller of a write's `ctx.signal`, for a backend whose calls can outlive their deadline. */
function abortFor(backend: Backend): AbortController | undefined {
  return backend.inProcess ? undefined : new AbortController();
}

const TIMEOUT = (): SyncError => new SyncError('timeout');

export class WritePipeline {
  constructor(private readonly deps: PipelineDeps) {}

  /**
   * A client's write: applied at most once, answered once through `reply`. `ended` is called once,
   * when nothing of the write runs any more (after the answer when a handler outlived its timeout).
   */
  async client(
    coll: WriteTarget,
    op: WriteOp,
    seq: number,
    conn: Connection,
    reply: Reply,
    ended: () => void = () => undefined,
  ): Promise<void> {
    let handedOver = false;
    try {
      handedOver = await this.clientWrite(coll, op, seq, conn, reply, ended);
    } finally {
      if (!handedOver) ended();
    }
  }

  /** `client`; true when `ended` was handed over (to a running write, or a second attempt). */
  private async clientWrite(
    coll: WriteTarget,
    op: WriteOp,
    seq: number,
    conn: Connection,
    reply: Reply,
    ended: () => void,
  ): Promise<boolean> {
    const { dedupe, egress } = this.deps;
    const claim = dedupe.claim(conn.sid, seq);
    const send = (payload: unknown): void => egress.answer(conn, () => reply(payload));
    if (claim.state === 'done') {
      await this.replay(coll, op, claim.outcome, conn, send);
      return false;
    }
    if (claim.state === 'running') {
      const outcome = await withTimeout(claim.done, this.deps.timeoutMs).catch(() => null);
      if (outcome === null) {
        send({ error: this.deps.wireError(TIMEOUT()) });
        return false;
      }
      // The first attempt ended without a final outcome (timeout, store failure): try again.
      if (outcome === undefined) {
        await this.client(coll, op, seq, conn, reply, ended);
        return true;
      }
      await this.replay(coll, op, outcome, conn, send);
      return false;
    }
    const request = { sid: conn.sid, seq, kind: op.kind };
    let answered = false;
    const answer = (payload: unknown): void => {
      if (answered) return;
      answered = true;
      send(payload);
    };
    const waiter: Waiter = {
      origin: conn,
      gaveUp: false,
      abort: abortFor(coll.backend),
      applied: (applied) => answer(this.answerOf(op, applied, conn.sid)),
    };
    const work = this.start(coll, op, waiter, request, (recalled) =>
      this.replayNow(coll, op, recalled, conn.sid).then(answer),
    );
    // The record is settled when the write really ended, not at the requester's deadline: a resend
    // meanwhile waits for it instead of applying it a second time.
    void work
      .then(
        (outcome) => dedupe.settle(conn.sid, seq, outcome),
        (err: unknown) => dedupe.settle(conn.sid, seq, { ok: false, ...toWireError(err) }),
      )
      .finally(ended);
    try {
      await this.deadline(work, waiter, coll);
    } catch (err) {
      answer({ error: this.deps.wireError(err) });
    }
    return true;
  }

  /** A server-side write (`sid` null): resolves with what was applied, or rejects. */
  async server(coll: WriteTarget, op: WriteOp): Promise<Applied> {
    let result: Applied | undefined;
    const waiter: Waiter = {
      origin: null,
      gaveUp: false,
      abort: abortFor(coll.backend),
      applied: (applied) => (result = applied),
    };
    await this.deadline(
      this.start(coll, op, waiter, undefined, async () => undefined),
      waiter,
      coll,
    );
    return result!;
  }

  /**
   * Starts a write in its object's queue. The queue is held until the backend call ends; the returned
   * Promise settles then, with the write's final outcome (or its failure).
   */
  private start(
    coll: WriteTarget,
    op: WriteOp,
    waiter: Waiter,
    request: RequestContext['request'],
    onRecalled: (outcome: Outcome) => Promise<unknown>,
  ): Promise<Outcome> {
    const signal = waiter.abort?.signal;
    const task = async (): Promise<Outcome> => {
      if (waiter.gaveUp) throw TIMEOUT(); // its requester gave up before its turn: not applied
      if (request && coll.backend.recall) {
        const recalled = await coll.backend.recall(request.sid, request.seq);
        if (recalled) {
          await onRecalled(recalled);
          return recalled;
        }
      }
      if (op.kind !== 'create' && waiter.origin) await this.checkCurrent(coll, op, waiter.origin.sid);
      const applied = await this.apply(coll.backend, op, waiter.origin?.sid ?? null, {
        ...(request ? { request } : {}),
        ...(signal ? { signal } : {}),
      });
      const outcome = outcomeOf(op.kind, applied);
      if (applied.replayed) {
        await onRecalled(outcome);
        return outcome;
      }
      this.deps.egress.publish(coll, applied, waiter.gaveUp ? undefined : (waiter.origin ?? undefined));
      if (op.kind === 'create') coll.creates.made(applied.next?.id ?? applied.id);
      else if (applied.next) coll.creates.saw(op.id);
      else coll.creates.gone(op.id);
      if (!waiter.gaveUp) waiter.applied(applied);
      return outcome;
    };
    if (op.kind === 'create') {
      const end = coll.creates.begin();
      const work = task();
      void work.then(end, end);
      return this.deps.track(work);
    }
    const id = op.id;
    return this.deps.track(
      coll.queue.run(idKey(id), async () => {
        // A create that may have made this id is still in flight: it publishes first.
        const creating = coll.creates.before(id);
        if (creating) await creating;
        return task();
      }),
    );
  }

  /**
   * Waits for a write at most `handlerTimeout`: past it the waiter gives up (`timeout`) and the
   * write's signal aborts, while the write runs on and holds its object's queue until it ends.
   */
  private deadline(work: Promise<Outcome>, waiter: Waiter, coll: WriteTarget): Promise<Outcome> {
    // A backend that never waits outside the process (the MemoryStore) cannot hang: no timer.
    if (coll.backend.inProcess) return work;
    return withTimeout(work, this.deps.timeoutMs, () => {
      waiter.gaveUp = true;
      waiter.abort?.abort(TIMEOUT());
    });
  }

  /** Calls the backend's write. */
  private apply(backend: Backend, op: WriteOp, sid: Sid, ctx: RequestContext): Promise<Applied> {
    switch (op.kind) {
      case 'create':
        return backend.create(op.obj, sid, ctx);
      case 'update':
        return backend.update(op.id, op.set, op.unset, sid, ctx);
      case 'destroy':
        return backend.destroy(op.id, sid, ctx);
    }
  }

  /**
   * What a client's update or destroy needs of the object as it is now, read once in its queue:
   * - with `visible`, an object hidden from the writer does not exist for it (`not_found`, as a
   *   missing id);
   * - an update that left out properties its sender's copy already had (`e`) holds only if that copy
   *   is the object's state now (version `b`); else nothing is applied (`stale`) and the client sends
   *   them.
   */
  private async checkCurrent(
    coll: WriteTarget,
    op: Exclude<WriteOp, { kind: 'create' }>,
    sid: string,
  ): Promise<void> {
    const filters = this.deps.egress.filters;
    const elided = op.kind === 'update' && op.elided === true;
    if (!filters && !elided) return;
    const [entry] = await coll.backend.fetch([op.id], sid);
    if (filters && (!entry || !this.deps.egress.sees(entry.obj, sid))) throw new SyncError('not_found');
    if (elided && entry && entry.v !== op.base) throw new SyncError('stale');
  }

  /** A fresh write's answer, as the requester may see it. */
  private answerOf(op: WriteOp, applied: Applied, sid: string): unknown {
    const egress = this.deps.egress;
    switch (op.kind) {
      case 'create':
        return { r: egress.answerRecord(applied, sid, undefined)! } satisfies AnswerMap['create'];
      case 'update': {
        const r = egress.answerRecord(applied, sid, op.base ?? 0);
        return { r, v: r?.k === 'd' && r.v === undefined ? 0 : applied.v } satisfies AnswerMap['update'];
      }
      case 'destroy':
        return { r: { k: 'd', i: op.id, v: applied.v } } satisfies AnswerMap['destroy'];
    }
  }

  /** Answers a resend of a finished write, reading the object's state inside its queue. */
  private async replay(
    coll: WriteTarget,
    op: WriteOp,
    outcome: Outcome,
    conn: Connection,
    send: Reply,
  ): Promise<void> {
    if (!outcome.ok) return send({ error: { code: outcome.code, message: outcome.message } });
    const read = (): Promise<unknown> => this.replayNow(coll, op, outcome, conn.sid);
    try {
      send(await this.deps.track(coll.queue.run(idKey(outcome.id), read)));
    } catch (err) {
      send({ error: this.deps.wireError(err) });
    }
  }

  /**
   * The answer to a write applied before (recorded in memory or by a durable store): the object's
   * state now as the session may see it — the first answer's change is part of it. Called inside the
   * object's queue.
   */
  private async replayNow(coll: WriteTarget, op: WriteOp, outcome: Outcome, sid: string): Promise<unknown> {
    if (!outcome.ok) return { error: { code: outcome.code, message: outcome.message } };
    const egress = this.deps.egress;
    const [entry] = await coll.backend.fetch([outcome.id], sid);
    if (op.kind === 'destroy' && !entry) return { r: { k: 'd', i: outcome.id, v: outcome.v } };
    const r = egress.stateRecord(outcome.id, entry, sid);
    if (op.kind === 'update') return { r, v: r.k === 'd' ? 0 : r.v };
    return { r };
  }
}
