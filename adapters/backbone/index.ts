/**
 * object-sync's Backbone adapter: `import { backboneSync, SyncedCollection } from 'object-sync/backbone'`.
 *
 * Nothing is assigned on import; the application writes `Backbone.sync = backboneSync(client)`.
 */
export { backboneSync } from './sync.js';
export {
  SyncedCollection,
  type SyncedCollectionConstructor,
  type SyncedCollectionOptions,
} from './synced-collection.js';
export type { BackboneSync, SyncMethod, SyncOptions, SyncTarget } from './types.js';
