/**
 * A durable embedded store on SQLite (better-sqlite3 v12): a drop-in for `MemoryStore` that keeps
 * objects, their versions and the request-dedupe records in one file, each write in one transaction
 * with its dedupe record (the request's outcome: id and version, a few dozen bytes; the column is still
 * named `answer`). A server killed at any instant and restarted on the same file loses no
 * acknowledged write (the answer leaves only after the commit) and applies no request twice (a resent
 * request finds its recorded answer).
 *
 * Several collections may share one file (`collection` names each one's rows).
 *
 * @example
 *   const players = new SqliteStore({ file: 'game.sqlite', collection: 'players' });
 *   sync.collection('players', players);
 */
import Database from 'better-sqlite3';
import { clone } from '../../lib/diff.js';
import { SyncError } from '../../lib/errors.js';
import type { Id, StoredObject } from '../../lib/protocol.js';
import type { Applied, Backend, RequestContext, Store, Versioned } from '../../lib/server/backend.js';
import { BACKEND, outcomeOf, parseOutcome } from '../../lib/server/backend.js';
import type { Outcome } from '../../lib/server/dedupe.js';
import { DURABLE_DEDUPE_RETENTION_MS, StoreHandlers } from '../../lib/server/store-handlers.js';
import { applyPatch, applyRemoval, applyState } from '../../lib/server/versioning.js';

export interface SqliteStoreOptions {
  /** Database file (default `:memory:`, which is not durable). Ignored when `db` is given. */
  file?: string;
  /** An open better-sqlite3 database to share between stores. */
  db?: Database.Database;
  /** Name of this store's collection inside the file (default `objects`). */
  collection?: string;
  /**
   * `NORMAL` (default) survives a killed process (WAL); `FULL` also survives power loss, at the cost
   * of one fsync per write.
   */
  synchronous?: 'NORMAL' | 'FULL';
  /** How long request-dedupe records are kept (ms, default 1 hour). */
  dedupeRetention?: number;
}

interface Row {
  id: string;
  num: number;
  v: number;
  data: string;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS os_objects (
    collection TEXT NOT NULL, id TEXT NOT NULL, num INTEGER NOT NULL, v INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (collection, id)) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS os_counters (collection TEXT PRIMARY KEY, next INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS os_requests (
    sid TEXT NOT NULL, seq INTEGER NOT NULL, answer TEXT NOT NULL, at INTEGER NOT NULL,
    PRIMARY KEY (sid, seq)) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS os_requests_at ON os_requests (at);
`;

/** The versioned backend: every write is one transaction with its dedupe record. */
class SqliteBackend implements Backend {
  private readonly stmt;
  private writes = 0;

  constructor(
    private readonly db: Database.Database,
    private readonly collection: string,
    private readonly retentionMs: number,
  ) {
    db.exec(SCHEMA);
    this.stmt = {
      get: db.prepare<[string, string], Row>(
        'SELECT id, num, v, data FROM os_objects WHERE collection = ? AND id = ?',
      ),
      all: db.prepare<[string], Row>(
        'SELECT id, num, v, data FROM os_objects WHERE collection = ? ORDER BY num DESC, CAST(id AS INTEGER), id',
      ),
      put: db.prepare(
        'INSERT OR REPLACE INTO os_objects (collection, id, num, v, data) VALUES (?, ?, ?, ?, ?)',
      ),
      del: db.prepare('DELETE FROM os_objects WHERE collection = ? AND id = ?'),
      nextId: db.prepare<[string], { next: number }>(
        'INSERT INTO os_counters (collection, next) VALUES (?, 1) ON CONFLICT (collection) DO UPDATE SET next = next + 1 RETURNING next',
      ),
      remember: db.prepare('INSERT OR IGNORE INTO os_requests (sid, seq, answer, at) VALUES (?, ?, ?, ?)'),
      recall: db.prepare<[string, number], { answer: string }>(
        'SELECT answer FROM os_requests WHERE sid = ? AND seq = ?',
      ),
      prune: db.prepare('DELETE FROM os_requests WHERE at < ?'),
    };
  }

  async create(obj: Record<string, unknown>, _sid: unknown, ctx: RequestContext): Promise<Applied> {
    return this.transaction(ctx, () => {
      const id = this.stmt.nextId.get(this.collection)!.next;
      const next = { ...clone(obj), id } as StoredObject;
      return this.keep(applyState(id, undefined, next, true));
    });
  }

  async update(
    id: Id,
    set: Record<string, unknown>,
    unset: string[],
    _sid: unknown,
    ctx: RequestContext,
  ): Promise<Applied> {
    return this.transaction(ctx, () => {
      const prev = this.read(id);
      if (!prev) throw new SyncError('not_found');
      return this.keep(applyPatch(id, prev, set, unset));
    });
  }

  async destroy(id: Id, _sid: unknown, ctx: RequestContext): Promise<Applied> {
    return this.transaction(ctx, () => {
      const prev = this.read(id);
      if (!prev) throw new SyncError('not_found');
      this.stmt.del.run(this.collection, String(id));
      return applyRemoval(id, prev);
    });
  }

  async fetch(ids: Id[]): Promise<Array<Versioned | null>> {
    return ids.map((id) => this.read(id) ?? null);
  }

  async list(): Promise<Versioned[]> {
    return this.stmt.all.all(this.collection).map(toVersioned);
  }

  async recall(sid: string, seq: number): Promise<Outcome | undefined> {
    return parseOutcome(this.stmt.recall.get(sid, seq)?.answer);
  }

  private read(id: Id): Versioned | undefined {
    const row = this.stmt.get.get(this.collection, String(id));
    return row ? toVersioned(row) : undefined;
  }

  private keep(applied: Applied): Applied {
    const next = applied.next;
    if (applied.record && next) {
      this.stmt.put.run(
        this.collection,
        String(next.id),
        typeof next.id === 'number' ? 1 : 0,
        applied.v,
        JSON.stringify(next),
      );
    }
    return applied;
  }

  /**
   * Runs one write and records its request's outcome (id, version: a few dozen bytes, never the
   * object) in the same transaction.
   */
  private transaction(ctx: RequestContext, write: () => Applied): Applied {
    const run = this.db.transaction((): Applied => {
      const applied = write();
      const request = ctx.request;
      if (request) {
        const outcome = JSON.stringify(outcomeOf(request.kind, applied));
        this.stmt.remember.run(request.sid, request.seq, outcome, Date.now());
      }
      return applied;
    });
    const applied = run();
    if (++this.writes % 1000 === 0) this.stmt.prune.run(Date.now() - this.retentionMs);
    return applied;
  }
}

function toVersioned(row: Row): Versioned {
  const obj = JSON.parse(row.data) as StoredObject;
  return { obj, v: row.v };
}

export class SqliteStore extends StoreHandlers implements Store {
  /** The database (shared with other stores when `db` was given). */
  readonly db: Database.Database;
  private readonly backend: SqliteBackend;
  private readonly ownsDb: boolean;

  constructor(options: SqliteStoreOptions = {}) {
    super();
    this.ownsDb = !options.db;
    this.db = options.db ?? new Database(options.file ?? ':memory:');
    if (this.ownsDb) {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${options.synchronous === 'FULL' ? 'FULL' : 'NORMAL'}`);
    }
    this.backend = new SqliteBackend(
      this.db,
      options.collection ?? 'objects',
      options.dedupeRetention ?? DURABLE_DEDUPE_RETENTION_MS,
    );
  }

  /** @internal */
  [BACKEND](): Backend {
    return this.backend;
  }

  /** Closes the database if this store opened it. */
  close(): void {
    if (this.ownsDb && this.db.open) this.db.close();
  }
}
