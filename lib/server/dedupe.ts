/**
 * Request dedupe: the answer of each recent write request, by session and sequence number.
 *
 * A request resent after a dropped connection carries the same sequence number; it gets the first
 * answer — also when the first is still running (it then waits for it) — and is never applied twice.
 * A client has at most a few dozen requests unanswered at a time, so keeping the last `perSession`
 * answers of a session covers every resend. Records outlive the session by `retentionMs`, so a client
 * that comes back late (after its session ended) is still answered, not applied again. Records are
 * scoped to the session, so one client can neither replay nor read another's results.
 */
interface SessionRecords<A> {
  answers: Map<number, Promise<A>>;
  touched: number;
}

export class DedupeTable<A> {
  private readonly sessions = new Map<string, SessionRecords<A>>();
  private lastSweep = Date.now();

  constructor(
    private readonly retentionMs: number,
    private readonly perSession = 1024,
  ) {}

  /** Runs `apply` for a new (sid, seq); for a known one returns its first answer. */
  run(sid: string, seq: number, apply: () => Promise<A>): Promise<A> {
    const now = Date.now();
    this.sweep(now);
    let records = this.sessions.get(sid);
    if (!records) {
      records = { answers: new Map(), touched: now };
      this.sessions.set(sid, records);
    }
    records.touched = now;
    const known = records.answers.get(seq);
    if (known) return known;
    const answer = apply();
    records.answers.set(seq, answer);
    if (records.answers.size > this.perSession) {
      // Maps iterate in insertion order: the first key is the oldest answer.
      records.answers.delete(records.answers.keys().next().value as number);
    }
    return answer;
  }

  /** Drops the records of sessions idle for longer than the retention (at most once per retention/4). */
  private sweep(now: number): void {
    if (now - this.lastSweep < this.retentionMs / 4) return;
    this.lastSweep = now;
    for (const [sid, records] of this.sessions)
      if (now - records.touched > this.retentionMs) this.sessions.delete(sid);
  }
}
