/**
 * Issue 13 item 12: the browser bundle targets ES2019 (scripts/build.mjs); its syntax is checked by
 * parsing it as ES2019, and the built-ins newer than ES2019 that esbuild cannot lower are looked for.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { parse } from 'acorn';

const BUNDLE = new URL('../../browser/object-sync.js', import.meta.url);

/** Built-ins of ES2020 and later that a syntax transform cannot lower (a method call or a global). */
const NEWER_BUILT_INS = [
  /\.at\(/,
  /\.findLast(Index)?\(/,
  /\.replaceAll\(/,
  /Object\.hasOwn\(/,
  /\bstructuredClone\(/,
  /\bnew WeakRef\(/,
  /\bnew FinalizationRegistry\(/,
  /Promise\.any\(/,
  /\bAggregateError\b/,
];

describe('browser bundle', () => {
  const code = readFileSync(BUNDLE, 'utf8');

  it('parses as ES2019', () => {
    expect(() => parse(code, { ecmaVersion: 2019, sourceType: 'script' })).to.not.throw();
  });

  it('calls no built-in newer than ES2019', () => {
    const found = NEWER_BUILT_INS.filter((pattern) => pattern.test(code)).map(String);
    expect(found).to.deep.equal([]);
  });
});
