/**
 * Orders the writes of a new object after its create, when the id is the backend's to choose.
 *
 * A create whose id the handler or store assigns holds no object queue: its id is known only when the
 * backend returns, and the object may exist (a handler stored it, then awaited something else) before
 * that. A write of that id in the meantime — from a client that guessed the id, or learned it through
 * a read — must not run, let alone publish, before the create has published. So:
 *
 * - every create with a backend-made id is "in flight" from its start until its backend call has
 *   really ended and its change was published (a create slower than `handlerTimeout` stays in flight
 *   until its handler returns, as an update holds its object's queue);
 * - when an update's or destroy's turn comes in its object's queue, it first waits for every create in
 *   flight that may have made its id; only then does it call the backend.
 *
 * Which creates may have made an id: a create makes an id that did not exist when it began. So an id
 * this collection saw existing (in a write's result or a read's answer) before a create began is not
 * that create's, and its writes never wait for it. The gate numbers creates in the order they begin
 * (`clock`) and remembers, for up to `SEEN_IDS` recently used ids, how many creates had begun when the
 * id was first seen; an id it does not remember (never seen, or forgotten) waits for every create in
 * flight. In the common case — writes of objects the server has read or written before, and creates
 * that end in a few milliseconds — no write waits.
 *
 * Creates whose id is known from the start (ids made by clients, to come) take their object's queue
 * like an update and need none of this. A removal forgets the id, so a later create may make it again.
 */
import type { Id } from '../protocol.js';
import { idKey } from '../protocol.js';

/** Most ids whose first sighting the gate remembers (least recently used forgotten first). */
export const SEEN_IDS = 10_000;

export class CreateGate {
  /** How many creates have begun. */
  private clock = 0;
  /** Creates in flight, by the number they began with: each settles when its create ended. */
  private readonly inFlight = new Map<number, Promise<void>>();
  /** Recently used ids, by the `clock` when first seen (least recently used first). */
  private readonly seen = new Map<string, number>();

  /** A create begins; call the returned function once, when it has ended (and published). */
  begin(): () => void {
    const n = ++this.clock;
    let end!: () => void;
    this.inFlight.set(n, new Promise<void>((resolve) => (end = resolve)));
    return () => {
      this.inFlight.delete(n);
      end();
    };
  }

  /**
   * Settles when every create in flight now that may have made `id` has ended; `undefined` when
   * there is none (the common case: the caller goes on without waiting).
   */
  before(id: Id): Promise<void> | undefined {
    if (this.inFlight.size === 0) return undefined;
    const first = this.seen.get(idKey(id)) ?? Infinity;
    const waits: Array<Promise<void>> = [];
    for (const [n, ended] of this.inFlight) if (n <= first) waits.push(ended);
    if (waits.length === 0) return undefined;
    return Promise.all(waits).then(() => undefined);
  }

  /** The collection saw `id` existing (a write's result, a read's answer). */
  saw(id: Id): void {
    const key = idKey(id);
    this.remember(key, this.seen.get(key) ?? this.clock);
  }

  /** Keeps an id's first sighting as the most recently used. */
  private remember(key: string, first: number): void {
    this.seen.delete(key);
    this.seen.set(key, first);
    if (this.seen.size > SEEN_IDS) this.seen.delete(this.seen.keys().next().value!);
  }

  /** A create made `id`: no other create made it, so no write of it waits for one (until it is removed). */
  made(id: Id): void {
    this.remember(idKey(id), 0);
  }

  /** `id` was removed: a later create may make it again. */
  gone(id: Id): void {
    this.seen.delete(idKey(id));
  }
}
