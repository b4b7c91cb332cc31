/**
 * Makes docs/demo.png: two pages of the demo side by side, after a little walking and talking.
 *   npm run screenshot
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { launch, openPage } from '../../spec/e2e/browser.js';
import { startDemo } from './server.js';

const out = fileURLToPath(new URL('../../../docs/demo.png', import.meta.url));
const demo = await startDemo(0);
const browser = await launch();
try {
  const size = { width: 860, height: 780 };
  const pages = [await openPage(browser, demo.url, size), await openPage(browser, demo.url, size)];
  for (const { page } of pages) await page.locator('.player.me[data-id]').waitFor();
  await pages[0].page.waitForFunction(() => document.querySelectorAll('.player').length === 2);
  const [a, b] = pages.map((p) => p.page);
  for (const key of ['ArrowRight', 'ArrowRight', 'ArrowDown', 'ArrowRight', 'ArrowDown'])
    await a.keyboard.press(key);
  await a.keyboard.press('h');
  await a.locator('#talk input').fill('hi there! walk over here');
  await a.keyboard.press('Enter');
  for (const key of ['ArrowLeft', 'ArrowUp', 'ArrowUp']) await b.keyboard.press(key);
  await b.keyboard.press('y');
  await b.locator('#talk input').fill('on my way :)');
  await b.keyboard.press('Enter');
  await a.waitForFunction(() =>
    [...document.querySelectorAll('.says')].some((el) => el.textContent === 'on my way :)'),
  );
  await b.waitForFunction(() =>
    [...document.querySelectorAll('.says')].some((el) => el.textContent?.startsWith('hi there')),
  );
  await new Promise((resolve) => setTimeout(resolve, 400)); // let the bubble animation end
  const shots = await Promise.all(pages.map((p) => p.page.screenshot()));
  const sheet = await browser.newPage({ viewport: { width: 1740, height: 800 } });
  await sheet.setContent(
    `<body style="margin:0;background:#111;display:flex;gap:20px;padding:10px">${shots
      .map((png) => `<img src="data:image/png;base64,${png.toString('base64')}">`)
      .join('')}</body>`,
  );
  writeFileSync(out, await sheet.screenshot({ fullPage: true }));
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await demo.close();
}
