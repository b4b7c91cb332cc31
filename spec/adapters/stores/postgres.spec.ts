/**
 * `PostgresStore` runs the shared store conformance suite, durable: a reopened store (a restarted node)
 * finds the objects, versions, ids and dedupe records. Each store gets a fresh schema in the database
 * at `OBJECT_SYNC_PG_URL`; the spec fails when PostgreSQL is not reachable there.
 */
import { PostgresStore } from '../../../adapters/stores/postgres.js';
import { describeStoreConformance } from './conformance.js';
import { dropSchema, endAdmin, newSchema, storeIn } from './postgres-fixture.js';

/** The schema of each open store, so that the last one closed drops it. */
const schemas = new Map<PostgresStore, string>();

describeStoreConformance('PostgresStore', {
  async create() {
    const schema = await newSchema();
    const store = storeIn(schema, { collection: 'things' });
    schemas.set(store, schema);
    return store;
  },
  async reopen(store) {
    const schema = schemas.get(store as PostgresStore)!;
    await (store as PostgresStore).close();
    const again = storeIn(schema, { collection: 'things' });
    schemas.set(again, schema);
    return again;
  },
  async close(store) {
    const schema = schemas.get(store as PostgresStore);
    schemas.delete(store as PostgresStore);
    await (store as PostgresStore).close();
    if (schema && ![...schemas.values()].includes(schema)) await dropSchema(schema);
  },
});

after(endAdmin);
