/**
 * The walk-and-talk demo on two nodes (demo/walk-and-talk/cluster.ts: Redis adapter, players in
 * PostgreSQL), in Chromium: a page on each node sees both players, and a move on one shows on the other.
 */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import type { Browser, Page } from 'playwright-core';
import { createClient } from 'redis';
import { clearPlayers, REDIS_URL, startNode } from '../../demo/walk-and-talk/cluster.js';
import { endAdmin } from '../adapters/stores/postgres-fixture.js';
import { launch, openPage, type WatchedPage } from '../e2e/browser.js';
import { freePort, killChild, pgSchema } from './cluster-support.js';

/** Fails, naming Redis, when it is not there. */
async function needRedis(): Promise<void> {
  const client = createClient({ url: REDIS_URL, socket: { reconnectStrategy: false, connectTimeout: 3000 } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    throw new Error(`the cluster demo spec needs Redis at ${REDIS_URL}: ${(err as Error).message}`);
  } finally {
    await client.disconnect().catch(() => undefined);
  }
}

async function myId(page: Page): Promise<string> {
  const me = page.locator('.player.me[data-id]');
  await me.waitFor();
  return (await me.getAttribute('data-id'))!;
}

describe('walk and talk on two nodes, in Chromium', function () {
  this.timeout(30000);
  let browser: Browser | undefined;
  const nodes: ChildProcess[] = [];
  const pages: WatchedPage[] = [];
  let drop: (() => Promise<void>) | undefined;

  afterEach(async () => {
    for (const p of pages.splice(0)) await p.page.context().close();
    await browser?.close();
    browser = undefined;
    await Promise.all(nodes.splice(0).map(killChild));
    await drop?.();
    drop = undefined;
  });
  after(endAdmin);

  it('shows both players on both pages, and a move on one node shows on the other', async () => {
    await needRedis();
    const schema = await pgSchema();
    drop = schema.drop;
    await clearPlayers(schema.url);
    const ports = [await freePort(), await freePort()];
    for (const port of ports) nodes.push(await startNode(port, { OBJECT_SYNC_PG_URL: schema.url }, 'pipe'));
    browser = await launch();
    const [a, b] = [
      await openPage(browser, `http://localhost:${ports[0]}/`),
      await openPage(browser, `http://localhost:${ports[1]}/`),
    ] as [WatchedPage, WatchedPage];
    pages.push(a, b);
    const idA = await myId(a.page);
    const idB = await myId(b.page);
    await a.page.locator(`.player_${idB}`).waitFor();
    await b.page.locator(`.player_${idA}`).waitFor();
    expect(await a.page.locator('.player').count()).to.equal(2);
    expect(await b.page.locator('.player').count()).to.equal(2);

    const left = (page: Page): Promise<number> =>
      page.locator(`.player_${idA}`).evaluate((el: HTMLElement) => parseInt(el.style.left, 10));
    const x = await left(a.page);
    await b.page.waitForFunction(
      ({ id, x }) => document.querySelector<HTMLElement>(`.player_${id}`)?.style.left === `${x}px`,
      { id: idA, x },
    );
    await a.page.keyboard.press('ArrowRight');
    await b.page.waitForFunction(
      ({ id, x }) => document.querySelector<HTMLElement>(`.player_${id}`)?.style.left === `${x}px`,
      { id: idA, x: x + 10 },
    );
    expect(a.errors.concat(b.errors), 'page errors').to.deep.equal([]);
    expect(a.foreign.concat(b.foreign), 'requests leaving the demo').to.deep.equal([]);
  });
});
