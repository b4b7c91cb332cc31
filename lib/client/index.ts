/**
 * object-sync, client side (Node and browsers): `import { ObjectSync } from 'object-sync/client'`.
 */
export { ObjectSync, type ClientEvents, type ConnectionState } from './client.js';
export { ClientCollection, type CollectionEvents } from './collection.js';
export type { ClientOptions } from './options.js';
export type { ClientStatus, StatusState } from './status.js';
export type { Stored, Saved, TypedCollection, TypedCollectionEvents } from './typed.js';
export { SyncError, ERROR_CODES, type WireError } from '../errors.js';
export type { Id, SyncObject, StoredObject, JsonValue } from '../protocol.js';
export type { NodeCallback } from '../settle.js';
