/**
 * Issue 13 item 9 in real headless Chromium: a page left for another and brought back with
 * Back (from the back/forward cache) reconnects by itself; a closed client leaves no page listener.
 */
import { expect } from 'chai';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { ObjectSync } from '../../lib/index.js';
import { launch, openPage } from './browser.js';

const PAGE = `<!doctype html><meta charset="utf-8"><title>a</title>
<script src="/object-sync.js"></script>
<script>
  window.marker = Math.random();
  window.client = new ObjectSync();
  window.states = [];
  client.on('status', function (s) { states.push(s.state); });
  // Runs after the client's own pageshow listener: what it did is done.
  window.shown = [];
  addEventListener('pageshow', function (e) { shown.push({ persisted: e.persisted, state: client.status.state }); });
</script>`;

/** Goes Back and waits for the page to be shown from the back/forward cache (no `load` then). */
async function backFromCache(page: Page): Promise<void> {
  await page.goBack({ waitUntil: 'commit' });
  await page.waitForFunction(() => (window as any).shown?.some((s: { persisted: boolean }) => s.persisted));
}

describe('client in Chromium: back/forward', () => {
  let browser: Browser | undefined;
  let http: HttpServer | undefined;
  let sync: ObjectSync | undefined;
  let url = '';

  before(async () => {
    browser = await launch({ bfcache: true });
  });
  after(async () => {
    await browser?.close();
  });
  beforeEach(async () => {
    http = createServer((req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(req.url === '/other' ? '<!doctype html><title>b</title><p>other' : PAGE);
    });
    sync = ObjectSync.listen(http);
    await new Promise<void>((resolve) => http!.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/`;
  });
  /** The pages of the test, closed (with their clients) before its server. */
  const opened: Page[] = [];
  afterEach(async () => {
    for (const page of opened.splice(0)) await page.context().close();
    await sync?.close();
  });

  it('reconnects when the page comes back from the back/forward cache', async () => {
    const { page, errors } = await openPage(browser!, url);
    opened.push(page);
    await page.waitForFunction(() => (window as any).client.status.state === 'connected');
    const marker = await page.evaluate(() => (window as any).marker);
    await page.goto(`${url}other`);
    await backFromCache(page);
    // The same document (not a reload): it came from the back/forward cache.
    expect(await page.evaluate(() => (window as any).marker)).to.equal(marker);
    await page.waitForFunction(() => (window as any).client.status.state === 'connected');
    const states: string[] = await page.evaluate(() => (window as any).states);
    expect(states).to.deep.equal(['connected', 'offline', 'reconnecting', 'connected']);
    // And it works: a save goes through.
    const saved = await page.evaluate(() => (window as any).client.save({ back: true }));
    expect(saved).to.deep.include({ back: true });
    expect(errors).to.deep.equal([]);
  });

  it('a closed client does not come back on pageshow', async () => {
    const { page } = await openPage(browser!, url);
    opened.push(page);
    await page.waitForFunction(() => (window as any).client.status.state === 'connected');
    await page.evaluate(() => (window as any).client.close());
    await page.goto(`${url}other`);
    await backFromCache(page);
    const shown = await page.evaluate(() => (window as any).shown);
    expect(shown).to.deep.equal([
      { persisted: false, state: 'connecting' },
      { persisted: true, state: 'offline' },
    ]);
  });
});
