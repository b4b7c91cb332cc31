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
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ObjectSync, type ServerOptions } from '../../lib/index.js';

const require = createRequire(import.meta.url);
/** The page's files live beside the sources (demo/todos/public), not in dist/. */
const PUBLIC = fileURLToPath(new URL('../../../demo/todos/public/', import.meta.url));
const VENDOR: Record<string, string> = {
  '/vendor/jquery.js': require.resolve('jquery/dist/jquery.min.js'),
  '/vendor/underscore.js': require.resolve('underscore/underscore-umd-min.js'),
  '/vendor/backbone.js': require.resolve('backbone/backbone-min.js'),
};
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'application/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** A running todos server. */
export interface Todos {
  http: Server;
  sync: ObjectSync;
  /** The page's address, e.g. `http://localhost:8088/`. */
  url: string;
  /** Closes the sync server and the http server it is attached to. */
  close(): Promise<void>;
}

/** Answers static files: the vendored libraries and the public folder (never outside it). */
async function serveStatic(url: string, res: ServerResponse): Promise<void> {
  const path = decodeURIComponent(url.split('?')[0]);
  let file = VENDOR[path];
  if (!file) {
    const relative = normalize(path === '/' ? '/index.html' : path).replace(/^([/\\])+/, '');
    file = join(PUBLIC, relative);
    if (!file.startsWith(PUBLIC) || relative.split(sep).includes('..')) file = '';
  }
  const info = file ? await stat(file).catch(() => undefined) : undefined;
  if (!info?.isFile()) {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found');
    return;
  }
  res.writeHead(200, {
    'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
    'Content-Length': info.size,
  });
  createReadStream(file).pipe(res);
}

/** Starts the todos server on `port` (0: any free port); resolves once it listens. */
export async function startTodos(port: number, options: ServerOptions = {}): Promise<Todos> {
  const http = createServer((req, res) => {
    serveStatic(req.url ?? '/', res).catch(() => {
      res.writeHead(500);
      res.end();
    });
  });
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
