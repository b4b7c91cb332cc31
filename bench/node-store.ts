/**
 * The store of one object-sync benchmark node: the engine's default `MemoryStore` (each node its own,
 * seeded identically: route by object), or with `--pg URL` a `PostgresStore` in the schema that URL's
 * `search_path` names (one schema shared by every node of a run, seeded by one of them).
 */
import { PostgresStore } from '../adapters/stores/postgres.js';

export interface NodeStore {
  /** What `ObjectSync.listen` gets as the default collection's handlers (null: a MemoryStore). */
  handlers: PostgresStore | null;
  close(): Promise<void>;
}

/** The store for `pgUrl` ('' for memory); a PostgreSQL one is connected and has its tables. */
export async function nodeStore(pgUrl: string): Promise<NodeStore> {
  if (pgUrl === '') return { handlers: null, close: () => Promise.resolve() };
  const store = new PostgresStore({ connectionString: pgUrl, collection: 'bench' });
  await store.init();
  return { handlers: store, close: () => store.close() };
}
