/**
 * The README's first example runs as written: its `server.mjs` and `index.html`, copied from the
 * README into a new project where the packed package is installed (with backbone and underscore),
 * serve a page on which two windows in real Chromium see each other's notes come and go.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { installPacked, ROOT } from '../package/packed.js';
import { launch, openPage, type WatchedPage } from './browser.js';

/** The README's fenced code block whose first line is `firstLine`. */
function readmeBlock(firstLine: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = [...readme.matchAll(/```[a-z]*\n([\s\S]*?)```/g)]
    .map((m) => m[1])
    .find((code) => code.startsWith(firstLine));
  if (!block) throw new Error(`README.md has no code block starting with ${firstLine}`);
  return block;
}

/** Starts `node server.mjs` in `dir` on a free port; resolves with the child and the url it prints. */
function startServer(dir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['server.mjs'], { cwd: dir, env: { ...process.env, PORT: '0' } });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (data: Buffer) => {
      out += data.toString();
      const url = /http:\/\/localhost:\d+/.exec(out)?.[0];
      if (url) resolve({ child, url: url.replace('localhost', '127.0.0.1') });
    });
    child.stderr!.on('data', (data: Buffer) => (out += data.toString()));
    child.once('exit', (code) => reject(new Error(`server.mjs exited (${code}): ${out}`)));
  });
}

describe("the README's Backbone example, as written", function () {
  this.timeout(180_000);
  let browser: Browser | undefined;
  let server: ChildProcess | undefined;
  const pages: WatchedPage[] = [];

  after(async () => {
    await browser?.close();
    server?.kill();
  });

  it('serves a page where notes made in one window appear in another, and leave both when clicked', async () => {
    const project = installPacked(true).dir;
    writeFileSync(join(project, 'server.mjs'), readmeBlock('// server.mjs'));
    writeFileSync(join(project, 'index.html'), readmeBlock('<!-- index.html -->'));
    const started = await startServer(project);
    server = started.child;
    browser = await launch();
    const [a, b] = [await openPage(browser, started.url), await openPage(browser, started.url)];
    pages.push(a, b);
    await a.page.locator('#text').fill('hello from A');
    await a.page.keyboard.press('Enter');
    const note = b.page.locator('#list li', { hasText: 'hello from A' });
    await note.waitFor();
    expect(await a.page.locator('#text').inputValue()).to.equal('');
    await note.click();
    await a.page.locator('#list li').waitFor({ state: 'detached' });
    expect(await b.page.locator('#list li').count()).to.equal(0);
    const errors = pages.flatMap((p) => p.errors).filter((e) => !e.includes('/favicon.ico'));
    expect(errors, 'page errors').to.deep.equal([]);
    expect(pages.flatMap((p) => p.foreign)).to.deep.equal([]);
  });
});
