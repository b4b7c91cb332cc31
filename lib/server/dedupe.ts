/**
 * Request dedupe: the outcome of each recent write request, by session and sequence number.
 *
 * A request resent after a dropped connection carries the same sequence number; it is never applied
 * twice. A resend while the first attempt still runs (even after that attempt's requester was told
 * `timeout`) waits for its end; a resend of a finished one gets an answer made from the recorded
 * outcome and the object's state now.
 *
 * Only final outcomes are kept: an attempt that ended in `timeout`, `unavailable` or a store failure
 * may or may not have been applied elsewhere (a durable store recalls it), so its record is dropped and
 * a resend runs again — the object's queue and the durable store's own record keep it from applying
 * twice.
 *
 * Memory is bounded at the moment of recording: an outcome is an id, a version and a code (about
 * `OUTCOME_BYTES`), never an object, and a session holding outcomes costs about `SESSION_BYTES` more. A
 * session keeps its last `perSession` outcomes (1 024: about 100 KiB); all sessions together at most
 * `maxTotal` (65 536), the sessions idle the longest dropped first: at most about 40 MiB, when each
 * outcome is in a session of its own (measured by spec/lib/server/dedupe-memory.spec.ts, which checks
 * PROTOCOL.md's figure). Records outlive their session by `retentionMs`.
 */
import type { Id, WriteEvent } from '../protocol.js';

/** What a write request came to: applied (with the object's id and version after it) or refused. */
export type Outcome =
  { ok: true; kind: WriteEvent; id: Id; v: number } | { ok: false; code: string; message?: string };

/** About one recorded outcome's memory (Map entry, object, small strings); measured ~75. */
export const OUTCOME_BYTES = 80;

/** About the memory of one session's records beside its outcomes (two Maps, the sid); measured ~400-460. */
export const SESSION_BYTES = 450;

/** Codes that say nothing final about a write: its request may be tried again. */
const TRANSIENT = new Set(['timeout', 'unavailable', 'handler_error', 'busy', 'rate_limited']);

/** Whether an outcome is final (kept, and given to resends) rather than transient (forgotten). */
export function isFinal(outcome: Outcome): boolean {
  return outcome.ok || !TRANSIENT.has(outcome.code);
}

/** A claimed request: new (`run` it, then `settle` it), or one already known. */
export type Claim =
  | { state: 'new' }
  | { state: 'running'; done: Promise<Outcome | undefined> }
  | { state: 'done'; outcome: Outcome };

interface Running {
  done: Promise<Outcome | undefined>;
  settle: (outcome: Outcome | undefined) => void;
}

interface SessionRecords {
  outcomes: Map<number, Outcome>;
  running: Map<number, Running>;
  touched: number;
}

export class DedupeTable {
  /** Sessions in least-recently-touched order (a Map iterates in insertion order; touching re-inserts). */
  private readonly sessions = new Map<string, SessionRecords>();
  private total = 0;
  private lastSweep = Date.now();

  constructor(
    private readonly retentionMs: number,
    private readonly perSession = 1024,
    private readonly maxTotal = 65_536,
  ) {}

  /** Claims (sid, seq): a new request is marked running until `settle`. */
  claim(sid: string, seq: number): Claim {
    const now = Date.now();
    this.sweep(now);
    const records = this.touch(sid, now);
    const outcome = records.outcomes.get(seq);
    if (outcome) return { state: 'done', outcome };
    const running = records.running.get(seq);
    if (running) return { state: 'running', done: running.done };
    let settle!: Running['settle'];
    const done = new Promise<Outcome | undefined>((resolve) => (settle = resolve));
    records.running.set(seq, { done, settle });
    return { state: 'new' };
  }

  /** Ends a claimed request: keeps a final outcome, forgets a transient one (`undefined` or not final). */
  settle(sid: string, seq: number, outcome: Outcome | undefined): void {
    const records = this.sessions.get(sid);
    const running = records?.running.get(seq);
    if (!records || !running) return;
    records.running.delete(seq);
    const final = outcome && isFinal(outcome) ? outcome : undefined;
    if (final) {
      records.outcomes.set(seq, final);
      this.total++;
      if (records.outcomes.size > this.perSession) {
        records.outcomes.delete(records.outcomes.keys().next().value as number);
        this.total--;
      }
      this.bound(sid);
    }
    running.settle(final);
  }

  /** How many outcomes are kept (for the memory bound's spec). */
  get size(): number {
    return this.total;
  }

  private touch(sid: string, now: number): SessionRecords {
    let records = this.sessions.get(sid);
    if (records) this.sessions.delete(sid);
    else records = { outcomes: new Map(), running: new Map(), touched: now };
    records.touched = now;
    this.sessions.set(sid, records);
    return records;
  }

  /** Drops the least recently touched sessions' outcomes while the total is over its bound. */
  private bound(keep: string): void {
    for (const [sid, records] of this.sessions) {
      if (this.total <= this.maxTotal) return;
      if (sid === keep || records.running.size > 0) continue;
      this.total -= records.outcomes.size;
      this.sessions.delete(sid);
    }
  }

  /** Drops the records of sessions idle for longer than the retention (at most once per retention/4). */
  private sweep(now: number): void {
    if (now - this.lastSweep < this.retentionMs / 4) return;
    this.lastSweep = now;
    for (const [sid, records] of this.sessions) {
      if (now - records.touched <= this.retentionMs) break; // the rest were touched later
      if (records.running.size > 0) continue;
      this.total -= records.outcomes.size;
      this.sessions.delete(sid);
    }
  }
}
