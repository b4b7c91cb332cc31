/**
 * Serves the browser bundle (`dist/browser/object-sync.js`, socket.io-client inside) from the
 * sync server's own http server, so a `<script>` tag needs no build step and no CDN.
 *
 * The bundle's path (`clientPath`, and its source map) belongs to this module: its requests never reach
 * the application's request listeners, whether they were added before `listen()` or after (a listener
 * added later would otherwise answer first, and the bundle's late answer crash the server with
 * ERR_HTTP_HEADERS_SENT). Every other request goes to the listeners as usual.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { logger } from '../debug.js';

const log = logger('server:http');

/** Where the build puts the bundle, relative to this file in dist/lib/server/. */
export const BUNDLE_URL = new URL('../../browser/object-sync.js', import.meta.url);

type Emit = (event: string | symbol, ...args: unknown[]) => boolean;

/**
 * Answers `GET clientPath` with the bundle; returns a function that undoes it. It takes the bundle's
 * requests at the server's `emit`, before any `request` listener, so no listener ever sees them.
 */
export function serveClient(server: HttpServer | HttpsServer, clientPath: string): () => void {
  let bundle: Promise<Buffer> | undefined;
  const answer = (req: IncomingMessage, res: ServerResponse, path: string): void => {
    bundle ??= readFile(BUNDLE_URL);
    const file = path === clientPath ? bundle : readFile(new URL(`${BUNDLE_URL.href}.map`));
    file.then(
      (body) => {
        if (res.headersSent || res.destroyed) return;
        res.writeHead(200, {
          'Content-Type': path === clientPath ? 'application/javascript; charset=utf-8' : 'application/json',
          'Content-Length': body.length,
          'Cache-Control': 'no-cache',
        });
        res.end(req.method === 'HEAD' ? undefined : body);
        log('%s %s: 200, %d bytes', req.method, path, body.length);
      },
      (err: unknown) => {
        log('bundle missing: %o', err);
        if (res.headersSent || res.destroyed) return;
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('object-sync browser bundle not built (npm run build)');
      },
    );
  };
  const emit = server.emit as Emit;
  const intercept: Emit = function (this: unknown, event, ...args) {
    if (event === 'request') {
      const [req, res] = args as [IncomingMessage, ServerResponse];
      const path = (req.url ?? '').split('?')[0];
      if (path === clientPath || path === `${clientPath}.map`) {
        answer(req, res, path);
        return true;
      }
    }
    return emit.call(this, event, ...args);
  };
  (server as { emit: Emit }).emit = intercept;
  log('serving the browser bundle at %s', clientPath);
  return () => {
    if ((server as { emit: Emit }).emit === intercept) (server as { emit: Emit }).emit = emit;
  };
}
