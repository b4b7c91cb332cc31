/**
 * The classic Backbone todo list (demo/todos), unmodified but for its configuration, in real headless
 * Chromium: what one page adds, toggles, edits, deletes or clears shows on the other, through the
 * usual model and collection events only; no page error, no request leaves the server. Its status
 * line follows the connection (offline, unsaved changes, connected again), and the browser bundle
 * logs through `debug` when `localStorage.debug` asks for it.
 */
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { startTodos, type Todos } from '../../demo/todos/server.js';
import { launch, openPage, type WatchedPage } from './browser.js';

/** One `<li>` as the user sees it. */
interface Item {
  title: string;
  /** The `<li>` has the `completed` class. */
  completed: boolean;
  /** Its checkbox is checked. */
  checked: boolean;
}

/** The list a page shows, top to bottom. */
function listOf(page: Page): Promise<Item[]> {
  return page.evaluate(readList);
}

/** Runs in the page: reads the list from the DOM. */
function readList(): Item[] {
  return Array.from(document.querySelectorAll('#todo-list li')).map((li) => ({
    title: li.querySelector('label')?.textContent ?? '',
    completed: li.classList.contains('completed'),
    checked: !!li.querySelector<HTMLInputElement>('.toggle')?.checked,
  }));
}

/** `[title, completed]` pairs as full items (class and checkbox agree). */
function items(...list: Array<[string, boolean]>): Item[] {
  return list.map(([title, completed]) => ({ title, completed, checked: completed }));
}

/** Waits until a page shows exactly `expected`. */
async function listIs(page: Page, expected: Item[]): Promise<void> {
  // An expression, so the page runs `readList` itself (compiled JS, nothing from this scope).
  const want = JSON.stringify(JSON.stringify(expected));
  await page
    .waitForFunction(`JSON.stringify((${readList.toString()})()) === ${want}`, undefined, { timeout: 15000 })
    .catch(() => undefined); // the assertion below then shows what the page shows instead
  expect(await listOf(page)).to.deep.equal(expected);
}

/** Waits until a page's counter says `n` items left. */
async function remainingIs(page: Page, n: number): Promise<void> {
  await page.waitForFunction(
    (n) => document.querySelector('#todo-count strong')?.textContent === String(n),
    n,
  );
}

/** A console call's arguments as the console shows them: `%s %d %o %j` filled in, `%c` (a colour) dropped. */
function printf(args: unknown[]): string {
  const [format, ...rest] = args;
  if (typeof format !== 'string') return args.map(String).join(' ');
  const line = format.replace(/%([sdifoOjc%])/g, (_, kind: string) => {
    if (kind === '%') return '%';
    const value = rest.shift();
    return kind === 'c' ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  });
  return [line, ...rest.map(String)].join(' ');
}

/** Waits until the page's status line says `text`, then checks it. */
async function statusIs(page: Page, text: string): Promise<void> {
  await page
    .waitForFunction((text) => document.querySelector('#status')?.textContent === text, text, {
      timeout: 20000,
    })
    .catch(() => undefined); // the assertion below then shows what the page shows instead
  expect(await page.locator('#status').textContent()).to.equal(text);
}

/** The `<li>` of the todo titled `title`. */
function item(page: Page, title: string) {
  return page.locator('#todo-list li').filter({ has: page.locator('label', { hasText: title }) });
}

/** Types a new todo and presses Enter, as a user does. */
async function add(page: Page, title: string): Promise<void> {
  await page.locator('#new-todo').fill(title);
  await page.locator('#new-todo').press('Enter');
}

/** Double-clicks a todo's label, types a new title and presses Enter. */
async function edit(page: Page, from: string, to: string): Promise<void> {
  const li = item(page, from);
  await li.locator('label').dblclick();
  const input = li.locator('.edit');
  await input.waitFor({ state: 'visible' });
  await input.fill(to);
  await input.press('Enter');
}

/** Deletes a todo with its × button. */
async function destroy(page: Page, title: string): Promise<void> {
  const li = item(page, title);
  await li.hover();
  await li.locator('.destroy').click();
}

describe('todos, a classic Backbone app, in Chromium', function () {
  this.timeout(60000);
  let browser: Browser;
  let server: Todos;
  let pages: WatchedPage[];
  let a: WatchedPage;
  let b: WatchedPage;

  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });
  beforeEach(async () => {
    server = await startTodos(0);
    a = await openPage(browser, server.url);
    b = await openPage(browser, server.url);
    pages = [a, b];
  });
  afterEach(async () => {
    for (const p of pages) await p.page.context().close();
    await server.close();
    const errors = pages.flatMap((p) => p.errors);
    const foreign = pages.flatMap((p) => p.foreign);
    expect(errors, 'page errors').to.deep.equal([]);
    expect(foreign, 'requests leaving the todos server').to.deep.equal([]);
  });

  it('shows on page B a todo added, toggled, edited and deleted on page A', async () => {
    await add(a.page, 'buy milk');
    await listIs(a.page, items(['buy milk', false]));
    await listIs(b.page, items(['buy milk', false]));
    await remainingIs(b.page, 1);

    await add(a.page, 'walk the dog');
    await listIs(b.page, items(['buy milk', false], ['walk the dog', false]));
    await remainingIs(b.page, 2);

    // Toggle: the checkbox and the class on B.
    await item(a.page, 'buy milk').locator('.toggle').click();
    await listIs(b.page, items(['buy milk', true], ['walk the dog', false]));
    await remainingIs(b.page, 1);
    await b.page.locator('#clear-completed').waitFor();

    // Edit: double-click, type, Enter.
    await edit(a.page, 'walk the dog', 'walk the cat');
    await listIs(a.page, items(['buy milk', true], ['walk the cat', false]));
    await listIs(b.page, items(['buy milk', true], ['walk the cat', false]));

    // Delete: the view on B removes itself.
    await destroy(a.page, 'buy milk');
    await listIs(a.page, items(['walk the cat', false]));
    await listIs(b.page, items(['walk the cat', false]));
    await b.page.locator('#clear-completed').waitFor({ state: 'detached' });

    // The last one: both lists empty, the list and footer hidden again.
    await destroy(a.page, 'walk the cat');
    await listIs(b.page, []);
    await b.page.locator('#main').waitFor({ state: 'hidden' });
    await listIs(a.page, []);
  });

  it('shows on page A what page B does: add, toggle, edit, mark all, clear completed', async () => {
    await add(a.page, 'from A');
    await listIs(b.page, items(['from A', false]));
    await add(b.page, 'from B');
    await listIs(a.page, items(['from A', false], ['from B', false]));

    await item(b.page, 'from A').locator('.toggle').click();
    await listIs(a.page, items(['from A', true], ['from B', false]));
    await remainingIs(a.page, 1);

    await edit(b.page, 'from B', 'edited on B');
    await listIs(a.page, items(['from A', true], ['edited on B', false]));

    // "Mark all as complete" on B saves each todo; A sees them all done.
    await b.page.locator('#toggle-all').click();
    await listIs(a.page, items(['from A', true], ['edited on B', true]));
    await remainingIs(a.page, 0);
    await a.page.waitForFunction(() => document.querySelector<HTMLInputElement>('#toggle-all')?.checked);

    // Toggle one back on A, then clear completed on B: only the done one goes, on both pages.
    await item(a.page, 'from A').locator('.toggle').click();
    await listIs(b.page, items(['from A', false], ['edited on B', true]));
    await b.page.locator('#clear-completed').click();
    await listIs(a.page, items(['from A', false]));
    await listIs(b.page, items(['from A', false]));
    await remainingIs(a.page, 1);
  });

  it('lists existing todos on a page opened later, in order, and adds no duplicate of an own todo', async () => {
    await add(a.page, 'one');
    await add(a.page, 'two');
    await add(a.page, 'three');
    await item(a.page, 'two').locator('.toggle').click();
    const expected = items(['one', false], ['two', true], ['three', false]);
    await listIs(b.page, expected);

    const c = await openPage(browser, server.url);
    pages.push(c);
    await listIs(c.page, expected);
    await remainingIs(c.page, 2);

    // A later change has made the round trip everywhere: nothing else arrived before it.
    await add(c.page, 'four');
    const more = [...expected, ...items(['four', false])];
    for (const p of pages) await listIs(p.page, more);
  });

  it('shows offline and the unsaved changes while the server is away, and connected once it is back', async () => {
    await statusIs(a.page, 'connected');
    await statusIs(b.page, 'connected');
    const port = Number(new URL(server.url).port);
    await server.close();
    await statusIs(a.page, 'offline · reconnecting…');
    await add(a.page, 'written offline');
    await listIs(a.page, items(['written offline', false]));
    await statusIs(a.page, 'offline · reconnecting… · 1 unsaved change');
    expect(await a.page.locator('#status').getAttribute('class')).to.equal('reconnecting');

    // The same address again (a restart): both pages come back, and the todo reaches B.
    server = await startTodos(port);
    await statusIs(a.page, 'connected');
    await statusIs(b.page, 'connected');
    await listIs(b.page, items(['written offline', false]));
    expect(await a.page.locator('#status').getAttribute('class')).to.equal('connected');
  });

  it("logs the client's connection and requests to the console when localStorage.debug names them, without the todos' titles", async () => {
    // The page's console prints `debug`'s printf-style arguments (`%s`, `%c` for colours): format them.
    const reading: Array<Promise<string>> = [];
    a.page.on('console', (msg) => {
      if (msg.type() === 'debug')
        reading.push(Promise.all(msg.args().map((arg) => arg.jsonValue())).then(printf));
    });
    await a.page.evaluate(() => localStorage.setItem('debug', 'object-sync:client:*'));
    await a.page.reload({ waitUntil: 'domcontentloaded' });
    await statusIs(a.page, 'connected');
    await add(a.page, 'a private title');
    await listIs(b.page, items(['a private title', false]));
    const logged = await Promise.all(reading);
    const has = (...parts: string[]) => logged.some((line) => parts.every((p) => line.includes(p)));
    expect(has('object-sync:client:conn', 'connected: session'), logged.join('\n')).to.equal(true);
    expect(has('object-sync:client:status', 'connecting -> connected'), logged.join('\n')).to.equal(true);
    expect(has('object-sync:client:resync', 'todos: resynced'), logged.join('\n')).to.equal(true);
    expect(has('object-sync:client:request', 'create todos -> ok'), logged.join('\n')).to.equal(true);
    for (const line of logged) expect(line).not.to.include('private');
    // Page B was never asked to log.
    expect(b.errors).to.deep.equal([]);
  });

  it('abandons an edit on Escape and deletes a todo whose title is emptied', async () => {
    await add(a.page, 'keep me');
    await add(a.page, 'empty me');
    await listIs(b.page, items(['keep me', false], ['empty me', false]));

    const li = item(a.page, 'keep me');
    await li.locator('label').dblclick();
    await li.locator('.edit').fill('never saved');
    await li.locator('.edit').press('Escape');
    await li.locator('.edit').waitFor({ state: 'hidden' });

    await edit(a.page, 'empty me', '   ');
    await listIs(b.page, items(['keep me', false]));
    await listIs(a.page, items(['keep me', false]));
  });
});
