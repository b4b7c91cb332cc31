/**
 * Entry of the browser bundle (`/object-sync.js`): defines `window.ObjectSync` (the client class) and
 * `window.ObjectSync.Backbone = { backboneSync, SyncedCollection }`, built on the page's own global
 * `Backbone` (load it before this bundle). socket.io-client is bundled inside; nothing else is
 * assigned on load (in particular not `Backbone.sync`: the page writes `Backbone.sync = ...`).
 *
 * On a page that loaded this bundle before Backbone (or has none), the client still works and loads
 * quietly; any use of `ObjectSync.Backbone` then throws an error that says what to change.
 */
import { ObjectSync } from '../lib/client/index.js';
import { backboneSync, SyncedCollection } from './backbone/index.js';

const BEFORE_BACKBONE =
  'object-sync: /object-sync.js was loaded before Backbone, so ObjectSync.Backbone cannot work: ' +
  'load Backbone (backbone.js, after underscore.js and jQuery) with a <script> tag before /object-sync.js';

/** `ObjectSync.Backbone` when the page has no Backbone: the same names, each throwing what to do. */
function withoutBackbone(): Record<string, unknown> {
  const fail = (): never => {
    throw new Error(BEFORE_BACKBONE);
  };
  return Object.defineProperties({} as Record<string, unknown>, {
    backboneSync: { get: fail, enumerable: true },
    SyncedCollection: { get: fail, enumerable: true },
  });
}

const pageBackbone = (globalThis as { Backbone?: { Collection?: unknown } }).Backbone;
(ObjectSync as unknown as { Backbone: unknown }).Backbone = pageBackbone?.Collection
  ? { backboneSync, SyncedCollection }
  : withoutBackbone();
(globalThis as unknown as { ObjectSync: unknown }).ObjectSync = ObjectSync;
