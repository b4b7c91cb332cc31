/**
 * A shared store on PostgreSQL (pg 8): several server nodes use one database at once, each with its own
 * `PostgresStore` on the same collection. Objects, their versions, the id counters and the
 * request-dedupe records live in three tables (`os_objects`, `os_counters`, `os_requests`), created on
 * first use.
 *
 * Invariants, across every node:
 * - A write reads the object under a row lock (`SELECT ... FOR UPDATE`) and commits against the version
 *   it read, so writes of one object are applied one at a time: two nodes never lose each other's change,
 *   and versions go up by exactly one per change.
 * - A client request is claimed first in its write's transaction (`INSERT INTO os_requests ... ON
 *   CONFLICT DO NOTHING`) and its answer recorded in the same transaction. A duplicate — the same request
 *   resent to another node after a failover, even while the first attempt is still running — waits for
 *   the first attempt's commit, finds the claim, and changes nothing: it is answered from the object's
 *   state now (an `Applied` marked `replayed`, so nothing is broadcast twice). The record is the
 *   request's outcome (id and version, a few dozen bytes), never the object or the wire answer.
 * - A write whose requester was answered `timeout` (`ctx.signal`) is cancelled in PostgreSQL.
 * - Numeric ids come from one counter row per collection, taken outside the write's transaction (so
 *   concurrent creates do not queue behind each other's commits); ids are unique, not gapless.
 * - A pg failure (a server restart, a dropped connection) rejects the call that met it and never crashes
 *   the process: the pool and every client in use have `error` listeners.
 *
 * @example
 *   const players = new PostgresStore({ connectionString: process.env.DATABASE_URL, collection: 'players' });
 *   sync.collection('players', players);
 */
import pg from 'pg';
import { logger } from '../../lib/debug.js';
import { clone } from '../../lib/diff.js';
import { SyncError } from '../../lib/errors.js';
import type { Id, StoredObject } from '../../lib/protocol.js';
import type { Applied, Backend, RequestContext, Store, Versioned } from '../../lib/server/backend.js';
import { BACKEND, outcomeOf, parseOutcome } from '../../lib/server/backend.js';
import type { Outcome } from '../../lib/server/dedupe.js';
import { DURABLE_DEDUPE_RETENTION_MS, StoreHandlers } from '../../lib/server/store-handlers.js';
import { applyPatch, applyRemoval, applyState } from '../../lib/server/versioning.js';

const log = logger('stores:postgres');

/**
 * What the store uses of a pg `Pool`: a `pg.Pool` fits. Declared here so that the store's types need no
 * `@types/pg` (an application that only passes a `connectionString` never has to install it).
 */
export interface PostgresPool {
  connect(): Promise<unknown>;
  query(text: string, values?: unknown[]): Promise<unknown>;
  on(event: 'error', listener: (err: Error) => void): unknown;
  removeListener(event: 'error', listener: (err: Error) => void): unknown;
  end(): Promise<void>;
}

/** Options of `PostgresStore`. */
export interface PostgresStoreOptions {
  /** A pool (`new pg.Pool(...)`) to share between stores; the store never ends it. */
  pool?: PostgresPool;
  /** Where to connect when no `pool` is given (default: pg's `PG*` environment variables). */
  connectionString?: string;
  /** Name of this store's collection inside the tables (default `objects`). */
  collection?: string;
  /** How long request-dedupe records are kept (ms, default 1 hour). */
  dedupeRetention?: number;
}

/**
 * The tables, created in the first schema of the connection's `search_path`. Data is kept as JSON text
 * (not JSONB), so objects come back exactly as stored: key order, `\u0000` and all. `num` is the id as a
 * number (null for string ids), for listing in id order.
 */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS os_objects (
    collection TEXT NOT NULL, id TEXT NOT NULL, num BIGINT, v BIGINT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (collection, id));
  CREATE TABLE IF NOT EXISTS os_counters (collection TEXT PRIMARY KEY, next BIGINT NOT NULL);
  CREATE TABLE IF NOT EXISTS os_requests (
    sid TEXT NOT NULL, seq BIGINT NOT NULL, answer TEXT, state TEXT, at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (sid, seq));
  CREATE INDEX IF NOT EXISTS os_requests_at ON os_requests (at);
`;

/** Serialises schema creation between nodes (concurrent `CREATE TABLE IF NOT EXISTS` can fail). */
const SCHEMA_LOCK = 0x6f735f73; // 'os_s'

/** How often a timed-out write's cancel is repeated until its transaction has ended. */
const RECANCEL_MS = 200;

const SQL = {
  get: 'SELECT v, data FROM os_objects WHERE collection = $1 AND id = $2 FOR UPDATE',
  many: 'SELECT id, v, data FROM os_objects WHERE collection = $1 AND id = ANY($2::text[])',
  all: 'SELECT v, data FROM os_objects WHERE collection = $1 ORDER BY num, id COLLATE "C"',
  insert: 'INSERT INTO os_objects (collection, id, num, v, data) VALUES ($1, $2, $3, $4, $5)',
  put: 'UPDATE os_objects SET v = $4, data = $5 WHERE collection = $1 AND id = $2 AND v = $3',
  del: 'DELETE FROM os_objects WHERE collection = $1 AND id = $2 RETURNING v, data',
  nextId:
    'INSERT INTO os_counters (collection, next) VALUES ($1, 1) ' +
    'ON CONFLICT (collection) DO UPDATE SET next = os_counters.next + 1 RETURNING next',
  claim: 'INSERT INTO os_requests (sid, seq) VALUES ($1, $2) ON CONFLICT DO NOTHING',
  remember: 'UPDATE os_requests SET state = $3 WHERE sid = $1 AND seq = $2',
  recorded: 'SELECT state FROM os_requests WHERE sid = $1 AND seq = $2',
  recall: 'SELECT state, answer FROM os_requests WHERE sid = $1 AND seq = $2',
  cancel: 'SELECT pg_cancel_backend($1)',
  prune: "DELETE FROM os_requests WHERE at < now() - $1 * interval '1 millisecond'",
};

interface ObjectRow {
  id?: string;
  v: string;
  data: string;
}

/** Thrown inside a write's transaction when its request was already applied (rolls the transaction back). */
class AlreadyApplied extends Error {
  constructor(readonly applied: Applied) {
    super('request already applied');
  }
}

/** The versioned backend: every write is one transaction holding the object's row lock and its request. */
class PostgresBackend implements Backend {
  private schema: Promise<void> | undefined;
  private writes = 0;
  private pruning: Promise<void> = Promise.resolve();

  constructor(
    private readonly pool: pg.Pool,
    private readonly collection: string,
    private readonly retentionMs: number,
  ) {}

  async create(obj: Record<string, unknown>, _sid: unknown, ctx: RequestContext): Promise<Applied> {
    await this.ready();
    const id = await this.nextId();
    const next = { ...clone(obj), id } as StoredObject;
    return this.write(ctx, async (tx) => {
      const applied = applyState(id, undefined, next, true);
      await tx.query(SQL.insert, [this.collection, String(id), id, applied.v, JSON.stringify(next)]);
      return applied;
    });
  }

  async update(
    id: Id,
    set: Record<string, unknown>,
    unset: string[],
    _sid: unknown,
    ctx: RequestContext,
  ): Promise<Applied> {
    return this.write(ctx, async (tx) => {
      const found = await tx.query<ObjectRow>(SQL.get, [this.collection, String(id)]);
      if (found.rows.length === 0) throw new SyncError('not_found');
      const prev = toVersioned(found.rows[0]!);
      const applied = applyPatch(id, prev, set, unset);
      if (applied.record) {
        const params = [this.collection, String(id), prev.v, applied.v, JSON.stringify(applied.next)];
        // The row lock makes this always match; the version check states what the write is based on.
        const put = await tx.query(SQL.put, params);
        if (put.rowCount !== 1) throw new Error(`os_objects: version ${prev.v} of ${String(id)} is gone`);
      }
      return applied;
    });
  }

  async destroy(id: Id, _sid: unknown, ctx: RequestContext): Promise<Applied> {
    return this.write(ctx, async (tx) => {
      const gone = await tx.query<ObjectRow>(SQL.del, [this.collection, String(id)]);
      if (gone.rows.length === 0) throw new SyncError('not_found');
      return applyRemoval(id, toVersioned(gone.rows[0]!));
    });
  }

  async fetch(ids: Id[]): Promise<Array<Versioned | null>> {
    if (ids.length === 0) return [];
    await this.ready();
    const keys = ids.map((id) => String(id));
    const found = await this.pool.query<ObjectRow>(SQL.many, [this.collection, [...new Set(keys)]]);
    const byId = new Map<string, ObjectRow>();
    for (const row of found.rows) byId.set(row.id!, row);
    // Each entry parsed on its own: an id asked twice gets two objects, as copies are expected to be.
    return keys.map((key) => {
      const row = byId.get(key);
      return row ? toVersioned(row) : null;
    });
  }

  async list(): Promise<Versioned[]> {
    await this.ready();
    return (await this.pool.query<ObjectRow>(SQL.all, [this.collection])).rows.map(toVersioned);
  }

  async recall(sid: string, seq: number): Promise<Outcome | undefined> {
    await this.ready();
    const found = await this.pool.query<{ state: string | null; answer: string | null }>(SQL.recall, [
      sid,
      seq,
    ]);
    const row = found.rows[0];
    // Rows of object-sync 0.1 kept the wire answer (`answer`) and the object (`state`).
    return parseOutcome(row?.state) ?? parseOutcome(row?.answer);
  }

  /** Creates the tables once (every call waits for it; a failed attempt is retried by the next call). */
  ready(): Promise<void> {
    this.schema ??= this.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
      await tx.query(SCHEMA);
    }).catch((err: unknown) => {
      this.schema = undefined;
      throw err;
    });
    return this.schema;
  }

  /** Waits for a running prune, so the pool can be ended. */
  async settle(): Promise<void> {
    await this.pruning;
  }

  /** A fresh id for this collection, in its own statement (the counter row is locked only for it). */
  private async nextId(): Promise<number> {
    const row = await this.pool.query<{ next: string }>(SQL.nextId, [this.collection]);
    return Number(row.rows[0]!.next);
  }

  /**
   * Runs one write in a transaction with its request: claims the request first (a concurrent
   * duplicate blocks on the claim until this commits, then finds it), applies, records the answer.
   * A duplicate rolls back and is answered from the state its first attempt recorded.
   */
  private async write(ctx: RequestContext, apply: (tx: pg.PoolClient) => Promise<Applied>): Promise<Applied> {
    await this.ready();
    const request = ctx.request;
    let applied: Applied;
    try {
      applied = await this.transaction(async (tx) => {
        if (request) {
          const claim = await tx.query(SQL.claim, [request.sid, request.seq]);
          if (claim.rowCount === 0) throw new AlreadyApplied(await this.recorded(tx, request));
        }
        const done = await apply(tx);
        if (request) {
          const outcome = JSON.stringify(outcomeOf(request.kind, done));
          await tx.query(SQL.remember, [request.sid, request.seq, outcome]);
        }
        return done;
      }, ctx.signal);
    } catch (err) {
      if (err instanceof AlreadyApplied) return err.applied;
      throw err;
    }
    if (++this.writes % 1000 === 0) this.prune();
    return applied;
  }

  /** The outcome of an already applied request, as a write that changed nothing now (`replayed`). */
  private async recorded(tx: pg.PoolClient, request: { sid: string; seq: number }): Promise<Applied> {
    const found = await tx.query<{ state: string | null }>(SQL.recorded, [request.sid, request.seq]);
    const outcome = parseOutcome(found.rows[0]?.state);
    if (!outcome?.ok) throw new Error(`os_requests: no recorded outcome for ${request.sid}/${request.seq}`);
    return { id: outcome.id, v: outcome.v, prev: undefined, next: undefined, record: null, replayed: true };
  }

  /** Drops dedupe records older than the retention, in the background. */
  private prune(): void {
    this.pruning = this.pruning
      .then(() => this.pool.query(SQL.prune, [this.retentionMs]))
      .then(
        () => undefined,
        (err: unknown) => log('pruning dedupe records failed: %o', err),
      );
  }

  /**
   * Runs `work` in one transaction on one pooled connection: commits when it resolves, rolls back when
   * it throws. A connection that failed is destroyed rather than given back to the pool.
   */
  private async transaction<T>(work: (tx: pg.PoolClient) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    // A write whose requester timed out is cancelled (its statement fails, the transaction rolls
    // back), so a stuck transaction cannot hold a pooled connection for ever.
    const pid = (client as unknown as { processID?: number }).processID;
    // A cancel reaches only the statement running at that moment (none between two statements, or
    // while the query is still on its way), so it is repeated until the transaction has ended.
    let recancel: ReturnType<typeof setInterval> | undefined;
    const cancelOnce = (): void => {
      this.pool.query(SQL.cancel, [pid]).catch((err: unknown) => log('cancel failed: %o', err));
    };
    const cancel = (): void => {
      log('cancelling a timed-out write (backend %d)', pid);
      cancelOnce();
      recancel = setInterval(cancelOnce, RECANCEL_MS);
    };
    if (signal?.aborted) {
      client.release();
      throw new SyncError('timeout');
    }
    signal?.addEventListener('abort', cancel, { once: true });
    // The pool listens for errors only on idle clients; one in use would crash the process without this.
    const onError = (err: Error): void => {
      log('connection failed during a transaction: %o', err);
      broken = err;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackErr: Error) => (broken ??= rollbackErr));
      throw err;
    } finally {
      clearInterval(recancel);
      signal?.removeEventListener('abort', cancel);
      client.removeListener('error', onError);
      client.release(broken);
    }
  }
}

function toVersioned(row: ObjectRow): Versioned {
  return { obj: JSON.parse(row.data) as StoredObject, v: Number(row.v) };
}

export class PostgresStore extends StoreHandlers implements Store {
  /** The pool (shared with other stores when `pool` was given): a `pg.Pool`. */
  readonly pool: PostgresPool;
  private readonly backend: PostgresBackend;
  private readonly ownsPool: boolean;
  private closing: Promise<void> | undefined;

  constructor(options: PostgresStoreOptions = {}) {
    super();
    this.ownsPool = !options.pool;
    const pool =
      (options.pool as pg.Pool | undefined) ?? new pg.Pool({ connectionString: options.connectionString });
    this.pool = pool;
    this.pool.on('error', this.onPoolError);
    this.backend = new PostgresBackend(
      pool,
      options.collection ?? 'objects',
      options.dedupeRetention ?? DURABLE_DEDUPE_RETENTION_MS,
    );
  }

  /** @internal */
  [BACKEND](): Backend {
    return this.backend;
  }

  /**
   * Connects and creates the tables if they do not exist. Optional (the first call does it too), but a
   * server that awaits it at startup finds a wrong connection string at once.
   */
  init(): Promise<void> {
    return this.backend.ready();
  }

  /** Ends the pool if this store created it (after running work finishes); stays quiet when called again. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.backend.settle();
      if (this.ownsPool) await this.pool.end();
      this.pool.removeListener('error', this.onPoolError);
    })();
    return this.closing;
  }

  /** An idle connection failed (e.g. the database restarted): the pool drops it and makes a new one. */
  private readonly onPoolError = (err: Error): void => {
    log('idle connection failed: %o', err);
  };
}
