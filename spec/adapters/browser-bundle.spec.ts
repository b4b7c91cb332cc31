/**
 * The browser bundle (`/object-sync.js`) on a page that loaded it before Backbone, or without it: the
 * client works, and any use of `ObjectSync.Backbone` says what to do instead of failing obscurely.
 */
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import vm from 'node:vm';

/** Runs the bundle in a fresh page-like context without Backbone; the context. */
async function pageWithoutBackbone(): Promise<Record<string, any>> {
  const bundle = await readFile(new URL('../../browser/object-sync.js', import.meta.url), 'utf8');
  const page: Record<string, unknown> = { queueMicrotask, setTimeout, clearTimeout };
  vm.runInNewContext(bundle, vm.createContext(page));
  return page;
}

describe('the browser bundle loaded before Backbone', () => {
  const MESSAGE = /object-sync\.js was loaded before Backbone.*load Backbone .*before \/object-sync\.js/s;

  it('SyncedCollection.extend names the fix (not "extend is not a function")', async () => {
    const { ObjectSync } = await pageWithoutBackbone();
    expect(ObjectSync).to.be.a('function');
    expect(() => ObjectSync.Backbone.SyncedCollection.extend({ url: '/todos' })).to.throw(MESSAGE);
  });

  it('backboneSync and new SyncedCollection name it too', async () => {
    const { ObjectSync } = await pageWithoutBackbone();
    expect(() => ObjectSync.Backbone.backboneSync({})).to.throw(MESSAGE);
    expect(() => new ObjectSync.Backbone.SyncedCollection()).to.throw(MESSAGE);
  });
});
