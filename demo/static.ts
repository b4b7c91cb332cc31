/**
 * The demos' static files: a page's public folder and the vendored libraries (jQuery, underscore,
 * Backbone from node_modules: no CDN, no outside request). Never serves outside the folder.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { extname, join, normalize, sep } from 'node:path';

const require = createRequire(import.meta.url);
const VENDOR: Record<string, string> = {
  '/vendor/jquery.js': require.resolve('jquery/dist/jquery.min.js'),
  '/vendor/underscore.js': require.resolve('underscore/underscore-umd-min.js'),
  '/vendor/backbone.js': require.resolve('backbone/backbone-min.js'),
};
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'application/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** A request listener answering the vendored libraries and the files of `publicDir`. */
export function staticFiles(publicDir: string): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    serve(publicDir, req.url ?? '/', res).catch(() => {
      res.writeHead(500);
      res.end();
    });
  };
}

async function serve(publicDir: string, url: string, res: ServerResponse): Promise<void> {
  const path = decodeURIComponent(url.split('?')[0]);
  let file = VENDOR[path];
  if (!file) {
    const relative = normalize(path === '/' ? '/index.html' : path).replace(/^([/\\])+/, '');
    file = join(publicDir, relative);
    if (!file.startsWith(publicDir) || relative.split(sep).includes('..')) file = '';
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
