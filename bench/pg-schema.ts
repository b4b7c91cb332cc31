/**
 * PostgreSQL for `--store postgres`: a fresh schema for every server start (so each run begins from
 * the same seeded objects and runs never see each other's rows), dropped with everything in it when
 * the run's servers stop. The database is `OBJECT_SYNC_PG_URL`, by default the local test database
 * the specs use.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_URL = process.env.OBJECT_SYNC_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface Schema {
  /** A connection string whose connections work in the schema. */
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** Runs one statement on a connection of its own. */
async function run(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query(sql);
  } catch (err) {
    throw new Error(`--store postgres needs PostgreSQL at ${PG_URL}: ${(err as Error).message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function freshSchema(): Promise<Schema> {
  const name = `os_bench_${process.pid}_${randomBytes(4).toString('hex')}`;
  await run(`CREATE SCHEMA ${name}`);
  const url = new URL(PG_URL);
  url.searchParams.set('options', `-c search_path=${name}`);
  return { url: url.toString(), name, drop: () => run(`DROP SCHEMA IF EXISTS ${name} CASCADE`) };
}
