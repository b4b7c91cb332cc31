/**
 * object-sync, server side: `import { ObjectSync, MemoryStore } from 'object-sync'`.
 */
export { ObjectSync, type ServerEvents } from './server/engine.js';
export { ServerCollection } from './server/collection.js';
export { MemoryStore, type MemoryStoreOptions } from './server/memory-store.js';
export { guardStore, type StoreGuard } from './server/guard.js';
export type { Store } from './server/backend.js';
export type { ServerOptions } from './server/options.js';
export type {
  Handlers,
  Patch,
  Sid,
  ObjectCallback,
  DestroyCallback,
  FetchCallback,
  ListCallback,
} from './server/handlers.js';
export type { Handshake } from './socketio/server-transport.js';
export { SyncError, ERROR_CODES, type WireError, type EngineErrorCode } from './errors.js';
export {
  PROTOCOL_VERSION,
  DEFAULT_PATH,
  DEFAULT_CLIENT_PATH,
  DEFAULT_LIMITS,
  type Id,
  type SyncObject,
  type StoredObject,
  type JsonValue,
  type Limits,
  type ClientToServerEvents,
  type ServerToClientEvents,
  type ChangeRecord,
} from './protocol.js';
export type { NodeCallback } from './settle.js';
