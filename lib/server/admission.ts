/**
 * Request admission: per connection, the `maxRequestsPerSecond` token bucket (bursts of 2×) and the
 * `maxInFlight` count (state made on a connection's first request and dropped when it goes); for the
 * whole server, the bytes of the requests being processed (`maxInFlightBytes`: their payloads, as
 * estimated by the validator, from admission until their work ended).
 */
import type { Connection } from '../transport.js';

interface Counters {
  /** Tokens left in the bucket, and when it was last filled. */
  tokens: number;
  at: number;
  inFlight: number;
}

export class Admission {
  private readonly counters = new Map<Connection, Counters>();
  private bytesHeld = 0;

  constructor(
    private readonly ratePerSecond: number,
    private readonly maxInFlight: number,
    private readonly maxInFlightBytes = Infinity,
  ) {}

  /**
   * Counts a request's payload bytes among those being processed by the server; false (nothing
   * counted) when they would pass `maxInFlightBytes`. Each `true` must be `releaseBytes`d once.
   */
  holdBytes(bytes: number): boolean {
    if (this.bytesHeld + bytes > this.maxInFlightBytes) return false;
    this.bytesHeld += bytes;
    return true;
  }

  /** The work of a request whose bytes were held ended. */
  releaseBytes(bytes: number): void {
    this.bytesHeld -= bytes;
  }

  /** The payload bytes of the requests being processed now. */
  get heldBytes(): number {
    return this.bytesHeld;
  }

  /** Takes one request's token from the connection's bucket; false when it is empty. */
  takeToken(conn: Connection): boolean {
    const now = Date.now();
    const rate = this.ratePerSecond;
    let c = this.counters.get(conn);
    if (!c) this.counters.set(conn, (c = { tokens: rate * 2, at: now, inFlight: 0 }));
    c.tokens = Math.min(rate * 2, c.tokens + ((now - c.at) * rate) / 1000);
    c.at = now;
    if (c.tokens < 1) return false;
    c.tokens -= 1;
    return true;
  }

  /** Whether the connection has `maxInFlight` requests unanswered. */
  isBusy(conn: Connection): boolean {
    return (this.counters.get(conn)?.inFlight ?? 0) >= this.maxInFlight;
  }

  /** Counts one more request in flight (after `takeToken`); it must be `release`d once. */
  enter(conn: Connection): void {
    const c = this.counters.get(conn);
    if (c) c.inFlight++;
  }

  /** A request `enter`ed on `conn` was answered. */
  release(conn: Connection): void {
    const c = this.counters.get(conn);
    if (c) c.inFlight--;
  }

  /** Forgets a connection that went away. */
  forget(conn: Connection): void {
    this.counters.delete(conn);
  }
}
