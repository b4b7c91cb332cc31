/**
 * Serves the browser bundle (`dist/browser/object-sync.js`, socket.io-client inside) from the
 * sync server's own http server, so a `<script>` tag needs no build step and no CDN.
 *
 * The bundle answers at `clientPath`; every other request goes to the listeners the http server
 * already had, as socket.io itself does for its path.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { logger } from '../debug.js';

const log = logger('server:serve-client');

/** Where the build puts the bundle, relative to this file in dist/lib/server/. */
export const BUNDLE_URL = new URL('../../browser/object-sync.js', import.meta.url);

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** Answers `GET clientPath` with the bundle; returns a function that undoes it. */
export function serveClient(server: HttpServer | HttpsServer, clientPath: string): () => void {
  let bundle: Promise<Buffer> | undefined;
  const previous = server.listeners('request').slice(0) as RequestListener[];
  server.removeAllListeners('request');
  const listener: RequestListener = (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== clientPath && path !== `${clientPath}.map`) {
      for (const l of previous) l.call(server, req, res);
      return;
    }
    bundle ??= readFile(BUNDLE_URL);
    const file = path === clientPath ? bundle : readFile(new URL(`${BUNDLE_URL.href}.map`));
    file.then(
      (body) => {
        res.writeHead(200, {
          'Content-Type': path === clientPath ? 'application/javascript; charset=utf-8' : 'application/json',
          'Content-Length': body.length,
          'Cache-Control': 'no-cache',
        });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        log('bundle missing: %o', err);
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('object-sync browser bundle not built (npm run build)');
      },
    );
  };
  server.on('request', listener);
  return () => {
    server.removeListener('request', listener);
    for (const l of previous) server.on('request', l);
  };
}
