/**
 * The browser bundle served by the sync server (`serveClient`, at `clientPath`) next to the
 * application's own request listeners, whenever they were added.
 */
import { expect } from 'chai';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ObjectSync } from '../../../lib/index.js';
import { cleanup, startServer } from '../../support/harness.js';

/** An application's catch-all listener: answers every request it gets with 404 `app`. */
function appListener(req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end(`app: ${req.url}`);
}

describe('serving the browser bundle', () => {
  const crashes: unknown[] = [];
  const record = (err: unknown): void => {
    crashes.push(err);
  };

  beforeEach(() => {
    crashes.length = 0;
    process.on('unhandledRejection', record);
    process.on('uncaughtException', record);
  });

  afterEach(async () => {
    process.off('unhandledRejection', record);
    process.off('uncaughtException', record);
    await cleanup();
  });

  it('answers its path even when the app adds a request listener after listen() (no ERR_HTTP_HEADERS_SENT)', async () => {
    const server = await startServer();
    server.http.on('request', appListener); // added after ObjectSync.listen, as apps often do
    const bundle = await fetch(`${server.url}/object-sync.js`);
    expect(bundle.status).to.equal(200);
    expect(await bundle.text()).to.contain('ObjectSync');
    const other = await fetch(`${server.url}/other`);
    expect(other.status).to.equal(404);
    expect(await other.text()).to.equal('app: /other');
    // The bundle's file read settles after the answer: give a late writeHead the chance to throw.
    const late = await fetch(`${server.url}/object-sync.js`, { method: 'HEAD' });
    expect(late.status).to.equal(200);
    await new Promise((resolve) => setImmediate(resolve));
    expect(crashes.map(String)).to.deep.equal([]);
  });

  it('gives an app listener added before listen() every other request', async () => {
    const http = createServer(appListener);
    const sync = ObjectSync.listen(http);
    try {
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
      expect((await fetch(`${url}/object-sync.js`)).status).to.equal(200);
      expect(await (await fetch(`${url}/page`)).text()).to.equal('app: /page');
    } finally {
      await sync.close();
    }
    expect(crashes.map(String)).to.deep.equal([]);
  });
});
