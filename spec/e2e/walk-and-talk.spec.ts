/**
 * The walk-and-talk demo in real headless Chromium: two pages see each other, walk, talk, cannot
 * move each other, leave, and survive a server restart; no page error, no request leaves the server.
 */
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { FIELD } from '../../demo/walk-and-talk/players.js';
import { startDemo, type Demo } from '../../demo/walk-and-talk/server.js';
import { launch, openPage, type WatchedPage } from './browser.js';

/** The id of the page's own player, once it has one. */
async function myId(page: Page): Promise<string> {
  const me = page.locator('.player.me[data-id]');
  await me.waitFor();
  return (await me.getAttribute('data-id'))!;
}

/** A player's position on a page, from its style. */
async function position(page: Page, id: string): Promise<{ x: number; y: number }> {
  return page.locator(`.player_${id}`).evaluate((el: HTMLElement) => ({
    x: parseInt(el.style.left, 10),
    y: parseInt(el.style.top, 10),
  }));
}

/** Waits until a player's position on a page is `expected`. */
async function positionIs(page: Page, id: string, expected: { x: number; y: number }): Promise<void> {
  await page.waitForFunction(
    ({ id, x, y }) => {
      const el = document.querySelector<HTMLElement>(`.player_${id}`);
      return !!el && el.style.left === `${x}px` && el.style.top === `${y}px`;
    },
    { id, ...expected },
  );
}

describe('walk and talk, in Chromium', function () {
  this.timeout(60000);
  let browser: Browser;
  let demo: Demo;
  let a: WatchedPage;
  let b: WatchedPage;

  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });
  beforeEach(async () => {
    demo = await startDemo(0);
    a = await openPage(browser, demo.url);
    b = await openPage(browser, demo.url);
  });
  afterEach(async () => {
    for (const p of [a, b]) await p?.page.context().close();
    await demo.close();
    expect(a.errors.concat(b.errors), 'page errors').to.deep.equal([]);
    expect(a.foreign.concat(b.foreign), 'requests leaving the demo server').to.deep.equal([]);
  });

  it('shows both players on both pages, walks 10 px a step, and a diagonal burst arrives whole', async () => {
    const idA = await myId(a.page);
    const idB = await myId(b.page);
    await b.page.locator(`.player_${idA}`).waitFor();
    await a.page.locator(`.player_${idB}`).waitFor();
    expect(await a.page.locator('.player').count()).to.equal(2);
    expect(await b.page.locator('.player').count()).to.equal(2);
    expect(await b.page.locator('.player.me').count()).to.equal(1);

    // Players start within 40..700 x 60..400 on a 760 x 460 field: these steps are never clamped.
    const from = await position(a.page, idA);
    await positionIs(b.page, idA, from);

    await a.page.keyboard.press('ArrowRight');
    await positionIs(b.page, idA, { x: from.x + 10, y: from.y });
    await a.page.keyboard.press('ArrowDown');
    await positionIs(b.page, idA, { x: from.x + 10, y: from.y + 10 });

    // A diagonal burst, as fast as keys come: every step of both axes arrives.
    const burst = [
      'ArrowRight',
      'ArrowDown',
      'ArrowRight',
      'ArrowDown',
      'ArrowRight',
      'ArrowDown',
      'ArrowLeft',
      'ArrowUp',
    ];
    for (const key of burst) await a.page.keyboard.down(key).then(() => a.page.keyboard.up(key));
    const end = { x: from.x + 10 + 20, y: from.y + 10 + 20 };
    await positionIs(a.page, idA, end);
    await positionIs(b.page, idA, end);
    expect(await position(b.page, idA)).to.deep.equal(end);
  });

  it('marks your own player clearly ("you" tag and ring), and no other', async () => {
    const idA = await myId(a.page);
    const idB = await myId(b.page);
    await a.page.locator(`.player_${idB}`).waitFor();
    /** The "you" tag's text and the avatar's outline style of a player on page A. */
    const marks = (id: string) =>
      a.page.locator(`.player_${id}`).evaluate((el) => ({
        tag: getComputedStyle(el, '::before').content,
        ring: getComputedStyle(el.querySelector('.avatar')!).outlineStyle,
      }));
    expect(await marks(idA)).to.deep.equal({ tag: '"you"', ring: 'solid' });
    expect(await marks(idB)).to.deep.equal({ tag: 'none', ring: 'none' });
  });

  it('the talk box never covers the field, even for a player at its bottom edge', async () => {
    const idA = await myId(a.page);
    for (let i = 0; i < 50; i++) await a.page.keyboard.press('ArrowDown'); // to the bottom edge
    await positionIs(a.page, idA, { x: (await position(a.page, idA)).x, y: 460 });
    await a.page.keyboard.press('h');
    await a.page.locator('#talk input').waitFor({ state: 'visible' });
    const field = (await a.page.locator('#field').boundingBox())!;
    const talk = (await a.page.locator('#talk').boundingBox())!;
    expect(talk.y, 'talk box top vs field bottom').to.be.at.least(field.y + field.height);
    await a.page.keyboard.press('Escape');
  });

  it('talks: a bubble on page A shows on page B', async () => {
    const idA = await myId(a.page);
    await b.page.locator(`.player_${idA} .says`).waitFor();
    expect(await b.page.locator(`.player_${idA} .says`).textContent()).to.equal("I'm new here, talk to me");
    await a.page.keyboard.press('h'); // any other key opens the talk box
    await a.page.locator('#talk input').waitFor({ state: 'visible' });
    await a.page.locator('#talk input').fill('hello from A');
    await a.page.keyboard.press('Enter');
    await b.page.waitForFunction(
      (id) => document.querySelector(`.player_${id} .says`)?.textContent === 'hello from A',
      idA,
    );
    expect(await a.page.locator('#talk').isHidden()).to.equal(true);
    // Esc cancels without saying anything.
    await a.page.keyboard.press('x');
    await a.page.locator('#talk input').fill('never said');
    await a.page.keyboard.press('Escape');
    expect(await a.page.locator('#talk').isHidden()).to.equal(true);
    // A later change proves nothing else travelled before it.
    const from = await position(a.page, idA);
    await a.page.keyboard.press('ArrowDown');
    await positionIs(b.page, idA, { x: from.x, y: from.y + 10 });
    expect(await b.page.locator(`.player_${idA} .says`).textContent()).to.equal('hello from A');
  });

  it('refuses to let page A move page B’s player (forbidden)', async () => {
    const idB = await myId(b.page);
    await a.page.locator(`.player_${idB}`).waitFor();
    const before = await position(b.page, idB);
    const code = await a.page.evaluate(
      (id) =>
        (window as any).sync
          .collection('players')
          .save({ id: Number(id), x: 0, y: 0 })
          .then(
            () => 'saved',
            (err: { code: string }) => err.code,
          ),
      idB,
    );
    expect(code).to.equal('forbidden');
    // B moves itself (away from the nearer edge, so the step is never clamped): A sees B's own move,
    // and nothing of A's attempt.
    const left = before.x > FIELD.width / 2;
    await b.page.keyboard.press(left ? 'ArrowLeft' : 'ArrowRight');
    const next = { x: before.x + (left ? -10 : 10), y: before.y };
    await positionIs(a.page, idB, next);
    await positionIs(b.page, idB, next);
    expect(await position(a.page, idB)).to.deep.equal(next);
  });

  it('removes a player from every page when its page closes', async () => {
    const idA = await myId(a.page);
    await b.page.locator(`.player_${idA}`).waitFor();
    await a.page.close();
    await b.page.locator(`.player_${idA}`).waitFor({ state: 'detached' });
    expect(await b.page.locator('.player').count()).to.equal(1);
  });

  it('recovers both pages when the server restarts mid-game', async () => {
    await myId(a.page);
    await myId(b.page);
    const port = Number(new URL(demo.url).port);
    await demo.close();
    await a.page.waitForFunction(() => document.querySelector('#status')?.className !== 'ready');
    // Changes made while the server is down wait in the outbox.
    await a.page.keyboard.press('ArrowRight');
    await a.page.waitForFunction(() =>
      /1 queued change/.test(document.querySelector('#count')?.textContent ?? ''),
    );
    demo = await startDemo(port);
    for (const p of [a.page, b.page]) {
      await p.waitForFunction(() => document.querySelector('#status')?.className === 'ready');
      await p.waitForFunction(
        () =>
          document.querySelectorAll('.player').length === 2 &&
          !!document.querySelector('.player.me[data-id]'),
      );
    }
    // The new server forgot the old players; each page joined again and they see each other.
    const newA = await myId(a.page);
    const newB = await myId(b.page);
    await b.page.locator(`.player_${newA}`).waitFor();
    await a.page.locator(`.player_${newB}`).waitFor();
    const before = await position(b.page, newA);
    await a.page.keyboard.press(before.x > 100 ? 'ArrowLeft' : 'ArrowRight');
    await positionIs(b.page, newA, { x: before.x + (before.x > 100 ? -10 : 10), y: before.y });
  });
});
