/**
 * Issue 13 item 4 in real headless Chromium, with the todos demo: page A adds a todo and loses its
 * connection before the answer arrives; after it reconnects, both pages show the todo once (no ghost
 * copy beside the page's own model).
 */
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { startTodos, type Todos } from '../../demo/todos/server.js';
import { FaultProxy } from '../support/proxy.js';
import { launch, openPage, type WatchedPage } from './browser.js';

/** The titles a page lists, top to bottom. */
function titles(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll('#todo-list li label')).map((l) => l.textContent ?? ''),
  );
}

/** Waits until a page lists exactly `expected`, then checks it. */
async function listIs(page: Page, expected: string[]): Promise<void> {
  const want = JSON.stringify(expected);
  await page
    .waitForFunction(
      (want) =>
        JSON.stringify(
          Array.from(document.querySelectorAll('#todo-list li label')).map((l) => l.textContent ?? ''),
        ) === want,
      want,
      { timeout: 15000 },
    )
    .catch(() => undefined);
  expect(await titles(page)).to.deep.equal(expected);
}

describe('todos in Chromium: a reconnect while a create is in flight', function () {
  this.timeout(60000);
  let browser: Browser;
  let server: Todos;
  let proxy: FaultProxy;
  let pages: WatchedPage[] = [];

  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    for (const p of pages) await p.page.context().close();
    pages = [];
    await proxy.close();
    await server.close();
  });

  it('shows the new todo once on both pages', async () => {
    server = await startTodos(0);
    proxy = await new FaultProxy(Number(new URL(server.url).port)).start();
    const a = await openPage(browser, `${proxy.url}/`);
    const b = await openPage(browser, server.url);
    pages = [a, b];
    await a.page.locator('#new-todo').waitFor();
    await b.page.locator('#new-todo').waitFor();
    await a.page.waitForFunction(() => !!document.querySelector('#todo-list'));
    // A's create reaches the server, its answer does not.
    proxy.dropDownstream();
    await a.page.locator('#new-todo').fill('buy milk');
    await a.page.locator('#new-todo').press('Enter');
    await listIs(b.page, ['buy milk']);
    proxy.cut();
    await listIs(a.page, ['buy milk']);
    // Settled: a round trip later A still lists it once, B too.
    await a.page.locator('#new-todo').fill('walk the dog');
    await a.page.locator('#new-todo').press('Enter');
    await listIs(b.page, ['buy milk', 'walk the dog']);
    await listIs(a.page, ['buy milk', 'walk the dog']);
    expect(pages.flatMap((p) => p.errors)).to.deep.equal([]);
  });
});
