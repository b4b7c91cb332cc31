/**
 * Entry of the browser bundle (`/object-sync.js`): defines `window.ObjectSync` (the client class) and
 * `window.ObjectSync.Backbone = { backboneSync, SyncedCollection }`, built on the page's own global
 * `Backbone` (load it before this bundle). socket.io-client is bundled inside; nothing else is
 * assigned on load (in particular not `Backbone.sync`: the page writes `Backbone.sync = ...`).
 */
import { ObjectSync } from '../lib/client/index.js';
import { backboneSync, SyncedCollection } from './backbone/index.js';

(ObjectSync as unknown as { Backbone: unknown }).Backbone = { backboneSync, SyncedCollection };
(globalThis as unknown as { ObjectSync: unknown }).ObjectSync = ObjectSync;
