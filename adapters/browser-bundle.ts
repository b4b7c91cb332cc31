/**
 * Entry of the browser bundle (`/object-sync.js`): defines `window.ObjectSync` (the client class).
 * socket.io-client is bundled inside; nothing else is assigned on load.
 */
import { ObjectSync } from '../lib/client/index.js';

(globalThis as unknown as { ObjectSync: unknown }).ObjectSync = ObjectSync;
