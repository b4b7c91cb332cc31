/**
 * Real headless Chromium (Debian's `chromium`, driven by playwright-core) for end-to-end specs.
 * Every page records its errors and every request that would leave the server under test.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Chromium: CHROMIUM_PATH, else the first of the usual places (scripts/test-setup.mjs looks in the same). */
export const CHROMIUM =
  process.env.CHROMIUM_PATH ??
  [
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome-stable',
    '/usr/bin/google-chrome',
  ].find((path) => existsSync(path)) ??
  '/usr/bin/chromium';

/**
 * How Chromium reports network failures in the console. They are expected while a spec restarts its
 * server (refused connections, engine.io answering 400 to a session it forgot); failed responses of
 * the page's own files are recorded separately (`response` below).
 */
const NETWORK_DOWN = /^Failed to load resource: |^WebSocket connection to .* failed/;

/** A page with what went wrong on it. */
export interface WatchedPage {
  page: Page;
  /** Uncaught exceptions and console errors (network failures while a server is down excepted). */
  errors: string[];
  /** Requests to any origin other than the allowed one. */
  foreign: string[];
}

/**
 * Launches Chromium, or fails with a message that says what to install. `bfcache`: keep Chromium's
 * back/forward cache on (playwright turns it off by default).
 */
export async function launch(options: { bfcache?: boolean } = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `browser specs need Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH); npm test installs it`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    ...(options.bfcache ? { ignoreDefaultArgs: ['--disable-back-forward-cache'] } : {}),
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Opens `url` in a fresh context (its own storage, like a separate window) and watches it. */
export async function openPage(
  browser: Browser,
  url: string,
  size = { width: 860, height: 680 },
): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: size });
  const page = await context.newPage();
  const origin = new URL(url).origin;
  const watched: WatchedPage = { page, errors: [], foreign: [] };
  page.on('pageerror', (err) => watched.errors.push(String(err)));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !NETWORK_DOWN.test(msg.text())) watched.errors.push(msg.text());
  });
  page.on('response', (res) => {
    const path = new URL(res.url()).pathname;
    if (res.status() >= 400 && !path.startsWith('/object-sync/'))
      watched.errors.push(`${res.status()} ${res.url()}`);
  });
  page.on('request', (req) => {
    const u = req.url();
    if (!u.startsWith(origin) && !u.startsWith('data:')) watched.foreign.push(u);
  });
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  return watched;
}
