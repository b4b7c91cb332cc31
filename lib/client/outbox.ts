/**
 * The client's outbox: every request waits here until answered.
 *
 * Rules:
 * - Requests are sent in the order they were made, at most `maxInFlight` unanswered at once.
 * - While disconnected nothing is sent; on reconnect every unanswered request is sent again, in
 *   order, with the same payload (writes keep their sequence number, so the server applies them once).
 * - Each send has a timer (`requestTimeout`); when it fires the request fails with `timeout`, and an
 *   answer that still comes later goes to the item's `late` (the write may have been applied).
 * - A request the server turned away before running it (`busy`, `rate_limited`: nothing was applied)
 *   waits and goes again, the same, with a growing delay (`retryDelay`), up to `MAX_RETRIES` times —
 *   unless it is an update or destroy and a later write of the same object was sent meanwhile (going
 *   again would apply it after that one): then its caller gets the code. A later write of an object
 *   whose earlier write waits to go again waits behind it.
 * - `afterPending(fn)` runs `fn` once every request queued before it is settled (the client resyncs
 *   only after the writes resent on reconnect are answered).
 * - The answer is delivered synchronously from the ack callback (no microtask in between), so a
 *   request's callback runs before any event that arrived after its ack.
 */
import { describeAck, describeRequest, logger, since } from '../debug.js';
import type { RequestEvent } from '../protocol.js';

const log = logger('client:request');

export interface OutboxItem {
  readonly event: RequestEvent;
  readonly payload: Record<string, unknown>;
  /** Receives the ack (an answer or `{ error }`) exactly once. */
  readonly settle: (ack: unknown) => void;
  /** Receives an answer that arrived after the request had timed out (it tells the server's state). */
  readonly late?: (ack: unknown) => void;
}

interface Slot {
  item: OutboxItem;
  sent: boolean;
  /** Failed with `timeout`: its real answer, if it ever comes, goes to `late`. */
  timedOut: boolean;
  attempt: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** When its latest attempt was sent (`performance.now()`), kept only while logging. */
  sentAt: number;
  /** Times it was turned away (`busy`, `rate_limited`) and sent again. */
  retries: number;
  /** Turned away: not sent again before this time (`performance.now()`). */
  notBefore: number;
}

/** How the outbox sends: emit one event with an ack callback. */
export type Emit = (
  event: RequestEvent,
  payload: Record<string, unknown>,
  ack: (answer: unknown) => void,
) => void;

const WRITES: ReadonlySet<RequestEvent> = new Set(['create', 'update', 'destroy']);
/** Codes of a request the server turned away without running it: it may simply go again. */
const TURNED_AWAY: ReadonlySet<string> = new Set(['busy', 'rate_limited']);
/** How many times a request turned away goes again before its caller gets the code. */
export const MAX_RETRIES = 8;

/** The object a write names (`c` and `i`), for keeping the writes of one object in order. */
function target(item: OutboxItem): string | undefined {
  if (item.event !== 'update' && item.event !== 'destroy') return undefined;
  return `${String(item.payload.c ?? '')}\u0000${String(item.payload.i)}`;
}

function turnedAway(answer: unknown): boolean {
  const error = (answer as { error?: { code?: unknown } } | null)?.error;
  return typeof error?.code === 'string' && TURNED_AWAY.has(error.code);
}

export class Outbox {
  private readonly slots: Slot[] = [];
  private sending = 0;
  private ready = false;
  private barriers: Array<{ waiting: Set<Slot>; fn: () => void }> = [];

  private writes = 0;

  constructor(
    private readonly emit: Emit,
    private readonly maxInFlight: number,
    private readonly requestTimeout: number,
    /** Told whenever the number of writes not answered changes. */
    private readonly onWritesChanged: () => void = () => undefined,
    /** The delay before sending again a request turned away for the `n`th time (0-based). */
    private readonly retryDelay: (n: number) => number = (n) => 50 * 2 ** n,
  ) {}

  private wakeUp: ReturnType<typeof setTimeout> | undefined;

  /** Writes (create, update, destroy) not answered yet. */
  get pendingWrites(): number {
    return this.writes;
  }

  private countWrite(item: OutboxItem, delta: number): void {
    if (!WRITES.has(item.event)) return;
    this.writes += delta;
    this.onWritesChanged();
  }

  /** Queues a request (`first`: ahead of everything not yet sent, for resync reads). */
  push(item: OutboxItem, first = false): void {
    const slot: Slot = {
      item,
      sent: false,
      timedOut: false,
      attempt: 0,
      timer: undefined,
      sentAt: 0,
      retries: 0,
      notBefore: 0,
    };
    if (first) {
      const at = this.slots.findIndex((s) => !s.sent);
      this.slots.splice(at < 0 ? this.slots.length : at, 0, slot);
    } else {
      this.slots.push(slot);
    }
    this.countWrite(item, 1);
    if (!this.ready && log.enabled) {
      log(
        '%s: queued, not connected (%d waiting)',
        describeRequest(item.event, item.payload),
        this.slots.length,
      );
    }
    this.pump();
  }

  /** Connected (and greeted) or not: on `false` every sent request waits to be sent again. */
  setReady(ready: boolean): void {
    this.ready = ready;
    if (!ready) {
      for (const slot of this.slots) {
        slot.sent = false;
        clearTimeout(slot.timer);
        slot.timer = undefined;
      }
      this.sending = 0;
    } else if (this.slots.length > 0) {
      log('connected: sending %d waiting requests (at most %d at once)', this.slots.length, this.maxInFlight);
    }
    this.pump();
  }

  /**
   * Runs `fn` once every request queued now has settled (at once when none is). Each waits for its
   * own slots only, so requests queued later do not delay it.
   */
  afterPending(fn: () => void): void {
    const waiting = new Set(this.slots);
    if (waiting.size === 0) return fn();
    this.barriers.push({ waiting, fn });
  }

  /** Requests not yet answered. */
  get pending(): number {
    return this.slots.length;
  }

  /** Fails every request (the client is being thrown away). */
  failAll(ack: unknown): void {
    clearTimeout(this.wakeUp);
    this.wakeUp = undefined;
    if (this.slots.length > 0 && log.enabled)
      log('failing %d requests: %s', this.slots.length, describeAck(ack));
    for (const slot of this.slots.splice(0)) {
      clearTimeout(slot.timer);
      this.countWrite(slot.item, -1);
      slot.item.settle(ack);
      this.passed(slot);
    }
    this.sending = 0;
  }

  private pump(): void {
    if (!this.ready) return;
    let now = 0;
    let next = Infinity;
    // Objects with a write waiting to go again (made only when there is one: the common case sends).
    let waiting: Set<string> | undefined;
    for (const slot of this.slots) {
      if (this.sending >= this.maxInFlight) return;
      if (slot.sent) continue;
      if (slot.notBefore > 0 && slot.notBefore > (now ||= performance.now())) {
        next = Math.min(next, slot.notBefore);
        const of = target(slot.item);
        if (of !== undefined) (waiting ??= new Set()).add(of);
      } else if (waiting === undefined || !waiting.has(target(slot.item) ?? '')) {
        this.send(slot);
      }
    }
    // Requests turned away wait for their time: pump again then.
    if (next !== Infinity && this.wakeUp === undefined) {
      this.wakeUp = setTimeout(() => {
        this.wakeUp = undefined;
        this.pump();
      }, next - now);
    }
  }

  private send(slot: Slot): void {
    slot.sent = true;
    const attempt = ++slot.attempt;
    this.sending++;
    if (log.enabled) slot.sentAt = performance.now();
    slot.timer = setTimeout(() => {
      slot.timedOut = true;
      this.finish(slot, attempt, { error: { code: 'timeout' } });
    }, this.requestTimeout);
    this.emit(slot.item.event, slot.item.payload, (answer) => {
      if (slot.timedOut && slot.attempt === attempt) {
        if (log.enabled)
          log(
            '%s: late answer -> %s',
            describeRequest(slot.item.event, slot.item.payload),
            describeAck(answer),
          );
        return slot.item.late?.(answer);
      }
      this.finish(slot, attempt, answer);
    });
  }

  private finish(slot: Slot, attempt: number, answer: unknown): void {
    // An ack or timer of an earlier attempt (before a reconnect) is stale.
    if (slot.attempt !== attempt || !slot.sent) return;
    const at = this.slots.indexOf(slot);
    if (at < 0) return;
    if (turnedAway(answer) && slot.retries < MAX_RETRIES && !this.overtaken(slot, at)) {
      clearTimeout(slot.timer);
      slot.timer = undefined;
      slot.sent = false;
      this.sending--;
      slot.notBefore = performance.now() + this.retryDelay(slot.retries++);
      return this.pump();
    }
    this.slots.splice(at, 1);
    clearTimeout(slot.timer);
    this.sending--;
    this.countWrite(slot.item, -1);
    if (log.enabled) {
      const what = describeRequest(slot.item.event, slot.item.payload);
      const again = slot.attempt > 1 ? `, attempt ${slot.attempt}` : '';
      log('%s -> %s (%s ms%s)', what, describeAck(answer), since(slot.sentAt), again);
    }
    slot.item.settle(answer);
    this.passed(slot);
    this.pump();
  }

  /** Whether a write of the same object, queued after the slot at `at`, was sent already. */
  private overtaken(slot: Slot, at: number): boolean {
    const of = target(slot.item);
    if (of === undefined) return false;
    return this.slots.slice(at + 1).some((s) => s.sent && target(s.item) === of);
  }

  /** A slot settled: runs the barriers that waited for it alone. */
  private passed(slot: Slot): void {
    if (this.barriers.length === 0) return;
    const due: Array<() => void> = [];
    this.barriers = this.barriers.filter((b) => {
      b.waiting.delete(slot);
      if (b.waiting.size > 0) return true;
      due.push(b.fn);
      return false;
    });
    for (const fn of due) fn();
  }
}
