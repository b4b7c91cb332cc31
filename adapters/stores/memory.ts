/**
 * The in-memory store lives in the core (`lib/server/memory-store.ts`) because the engine uses it as
 * its default and `lib/` never imports from `adapters/`; it is re-exported here beside the other stores.
 */
export { MemoryStore, type MemoryStoreOptions } from '../../lib/server/memory-store.js';
