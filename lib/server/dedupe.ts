/**
 * Request dedupe for one session: the answer of each recent write request, by sequence number.
 *
 * A request resent after a dropped connection carries the same sequence number; it gets the first
 * answer — also when the first is still running (it then waits for it) — and is never applied twice.
 * A client has at most `maxInFlight` requests unanswered at a time, so keeping the last `capacity`
 * answers (far more) covers every resend. Records are scoped to the session, so one client can
 * neither replay nor read another's results.
 */
export class Dedupe<A> {
  private readonly answers = new Map<number, Promise<A>>();

  constructor(private readonly capacity = 1024) {}

  /** Runs `apply` for a new sequence number; for a known one returns its first answer. */
  run(seq: number, apply: () => Promise<A>): Promise<A> {
    const known = this.answers.get(seq);
    if (known) return known;
    const answer = apply();
    this.answers.set(seq, answer);
    if (this.answers.size > this.capacity) {
      // Maps iterate in insertion order: the first key is the oldest answer.
      const oldest = this.answers.keys().next().value as number;
      this.answers.delete(oldest);
    }
    return answer;
  }

  /** How many answers are kept. */
  get size(): number {
    return this.answers.size;
  }
}
