/**
 * Client writes (`create`, `update`, `destroy`): each applied at most once per (session, sequence
 * number), answered once, and in order per object.
 *
 * Invariants:
 * - An update or destroy takes its object's queue on arrival, and looks up a durable store's record
 *   of it inside that queue: a lookup answered late never lets the client's next write of that object
 *   go first.
 * - The first attempt is answered right after its publish; a resend gets the first answer (waiting
 *   for it when still running), then the object's state now. The dedupe keeps the answer itself,
 *   errors included, so a resend is answered alike.
 * - With coalescing, answers are held until the batch with earlier changes has left.
 */
import type { ChangeRecord, RequestMap, WriteEvent } from '../protocol.js';
import { isValidId } from '../protocol.js';
import type { Connection } from '../transport.js';
import { envelope } from './broadcast.js';
import type { Coalescer } from './coalescer.js';
import { fullRecord, type ServerCollection } from './collection.js';
import type { DedupeTable } from './dedupe.js';
import * as answer from './requests.js';

export interface WriteDeps {
  dedupe: DedupeTable<unknown>;
  coalescer: Coalescer | undefined;
  visible: answer.VisibilityFilter;
  /** The wire form of a failure (reports unexpected ones). */
  wireError: (err: unknown) => { code: string; message?: string };
}

export class Writes {
  constructor(private readonly deps: WriteDeps) {}

  /** Applies a client's write once and answers it through `reply`. */
  async write(
    event: WriteEvent,
    msg: RequestMap[WriteEvent],
    coll: ServerCollection,
    conn: Connection,
    reply: answer.Reply,
  ): Promise<void> {
    let first = false;
    const record = (): Promise<unknown> =>
      new Promise<unknown>((resolve) => {
        first = true;
        const done = (payload: unknown): void => {
          resolve(payload);
          this.answer(conn, () => reply(payload));
        };
        const apply = async (): Promise<void> => {
          // After a restart the memory is empty, but a durable store still has the first answer.
          const recalled = coll.backend.recall ? await coll.backend.recall(conn.sid, msg.q) : undefined;
          if (recalled !== undefined) {
            resolve(recalled);
            return this.replay(coll, conn, recalled, reply);
          }
          if (event === 'create') await answer.answerCreate(coll, msg as RequestMap['create'], conn, done);
          else if (event === 'update')
            await answer.answerUpdate(coll, msg as RequestMap['update'], conn, done);
          else await answer.answerDestroy(coll, msg as RequestMap['destroy'], conn, done);
        };
        // Updates and destroys name their object (`i`); a create's object does not exist yet.
        const run = 'i' in msg ? coll.serial(msg.i, apply) : apply();
        run.catch((err: unknown) => done({ error: this.deps.wireError(err) }));
      });
    const outcome = this.deps.dedupe.run(conn.sid, msg.q, record);
    if (!first) await this.replay(coll, conn, await outcome, reply);
  }

  /**
   * Answers a resent write with its first answer, then tells the connection the object's state now:
   * the object may have changed or gone since, while this client was away (and it never saw the
   * broadcasts of its own write's object, being its originator).
   */
  private async replay(
    coll: ServerCollection,
    conn: Connection,
    first: unknown,
    reply: answer.Reply,
  ): Promise<void> {
    const r = (first as { r?: { i?: unknown } } | null)?.r;
    let now: ChangeRecord | undefined;
    if (r && isValidId(r.i)) {
      const [current] = await coll.read([r.i], conn.sid).catch(() => [undefined]);
      now =
        current && this.deps.visible(current, conn.sid)
          ? fullRecord(current.obj, current.v)
          : { k: 'd', i: r.i };
    }
    this.answer(conn, () => {
      reply(first);
      if (now) conn.send('ch', ...envelope(coll.name, now));
    });
  }

  /** Sends an answer now, or with coalescing after the batch with earlier changes. */
  private answer(conn: Connection, send: () => void): void {
    if (this.deps.coalescer) this.deps.coalescer.defer(conn, send);
    else send();
  }
}
