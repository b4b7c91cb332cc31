/**
 * The todos demo server: the classic Backbone todo list, unmodified but for its configuration
 * (`Backbone.sync = ObjectSync.Backbone.backboneSync(client)`, a collection `url` and
 * `SyncedCollection` as the collection's base), persisted and shared live by object-sync.
 *
 * Serves the page, its vendored libraries (jQuery, underscore, Backbone from node_modules: no CDN,
 * no outside request) and, through object-sync's `serveClient`, the object-sync browser bundle; runs
 * the `todos` collection on a `MemoryStore` (todos last as long as the server).
 *
 *   npm run todos        # http://localhost:8088/ (PORT to change it)
 *
 * SIGTERM/SIGINT close it gracefully: running requests finish, sessions end, connections close.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { staticFiles } from '../static.js';
import { ObjectSync, type ServerOptions } from '../../lib/index.js';

/** The page's files live beside the sources (demo/todos/public), not in dist/. */
const PUBLIC = fileURLToPath(new URL('../../../demo/todos/public/', import.meta.url));

/** A running todos server. */
export interface Todos {
  http: Server;
  sync: ObjectSync;
  /** The page's address, e.g. `http://localhost:8088/`. */
  url: string;
  /** Closes the sync server and the http server it is attached to. */
  close(): Promise<void>;
}

/** Starts the todos server on `port` (0: any free port); resolves once it listens. */
export async function startTodos(port: number, options: ServerOptions = {}): Promise<Todos> {
  const http = createServer(staticFiles(PUBLIC));
  const sync = ObjectSync.listen(http, null, options);
  // The page's collection has `url: '/todos'`: it names this collection. No handlers: a MemoryStore.
  sync.collection('todos');
  await new Promise<void>((resolve) => http.listen(port, resolve));
  const url = `http://localhost:${(http.address() as AddressInfo).port}/`;
  return { http, sync, url, close: () => sync.close() };
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const todos = await startTodos(Number(process.env.PORT ?? 8088));
  console.log(`todos: ${todos.url} (open it in two windows)`);
  const stop = (): void => {
    console.log('closing...');
    todos.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
