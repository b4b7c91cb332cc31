/**
 * PostgreSQL for the specs: the database at `OBJECT_SYNC_PG_URL` (default the local test database),
 * and a fresh schema per test, so that runs sharing the database never see each other's rows (dedupe
 * records included) and leave nothing behind. Without a reachable PostgreSQL the specs fail, saying so.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PostgresStore, type PostgresStoreOptions } from '../../../adapters/stores/postgres.js';

export const PG_URL = process.env.OBJECT_SYNC_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let admin: pg.Pool | undefined;
let reachable: Promise<void> | undefined;

/** A pool for setting up and dropping schemas; fails clearly when PostgreSQL is not there. */
async function adminPool(): Promise<pg.Pool> {
  if (!admin) {
    admin = new pg.Pool({ connectionString: PG_URL, max: 2, connectionTimeoutMillis: 5000 });
    admin.on('error', () => undefined);
  }
  const pool = admin;
  reachable ??= pool.query('SELECT 1').then(
    () => undefined,
    (err: Error) => {
      throw new Error(
        `These specs need PostgreSQL at ${PG_URL} (set OBJECT_SYNC_PG_URL to use another): ${err.message}`,
      );
    },
  );
  await reachable;
  return pool;
}

/** A new, empty schema; its name. */
export async function newSchema(): Promise<string> {
  const pool = await adminPool();
  const schema = `os_test_${process.pid}_${randomBytes(6).toString('hex')}`;
  await pool.query(`CREATE SCHEMA ${schema}`);
  return schema;
}

/** Drops a schema made by `newSchema` with everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  await (await adminPool()).query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
}

/** A pool whose connections use `schema` (one node's connections). */
export function schemaPool(schema: string): pg.Pool {
  return new pg.Pool({
    connectionString: PG_URL,
    options: `-c search_path=${schema}`,
    connectionTimeoutMillis: 5000,
  });
}

/**
 * A store working in `schema`, on a pool of its own (`connectionString` plus the schema's search path),
 * which its `close()` ends, as a server node's store would. Its connections are named `schema` in
 * `pg_stat_activity` (see `waiters`).
 */
export function storeIn(schema: string, options: PostgresStoreOptions = {}): PostgresStore {
  const url = new URL(PG_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  url.searchParams.set('application_name', schema);
  return new PostgresStore({ connectionString: url.toString(), ...options });
}

/** How many connections of the stores in `schema` wait for a lock. */
export async function waiters(schema: string): Promise<number> {
  const found = await (
    await adminPool()
  ).query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
    [schema],
  );
  return found.rows[0]!.n;
}

/** Resolves once `n` connections of the stores in `schema` wait for a lock. */
export async function untilWaiting(schema: string, n: number): Promise<void> {
  // The database has no event for it: poll briefly.
  while ((await waiters(schema)) < n) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** Terminates the connections of the stores in `schema` (as a database restart would); how many. */
export async function terminate(schema: string, onlyWaiting = false): Promise<number> {
  const found = await (
    await adminPool()
  ).query(
    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1' +
      (onlyWaiting ? " AND wait_event_type = 'Lock'" : ''),
    [schema],
  );
  return found.rowCount ?? 0;
}

/**
 * Holds the row lock of an object in `schema` from a connection of its own (a write stuck on another
 * node); resolves with the function that lets it go.
 */
export async function lockObject(
  schema: string,
  collection: string,
  id: unknown,
): Promise<() => Promise<void>> {
  const pool = schemaPool(schema);
  pool.on('error', () => undefined);
  const client = await pool.connect();
  await client.query('BEGIN');
  await client.query('SELECT 1 FROM os_objects WHERE collection = $1 AND id = $2 FOR UPDATE', [
    collection,
    String(id),
  ]);
  return async () => {
    await client.query('COMMIT');
    client.release();
    await pool.end();
  };
}

/** Ends the admin pool (after every spec). */
export async function endAdmin(): Promise<void> {
  const pool = admin;
  admin = undefined;
  reachable = undefined;
  await pool?.end();
}
