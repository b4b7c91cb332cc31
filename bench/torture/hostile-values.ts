/**
 * The hostile values and property names of part 1. Each value is sent as data (`value`, through
 * socket.io-client's encoder, which turns Buffers into binary attachments) or spliced into the JSON
 * text of a raw packet (`raw`) when the encoder cannot produce it: non-JSON numbers (`1e999`), raw
 * `__proto__` keys, nesting far deeper than its recursion allows.
 */

/** `RAW` in a payload marks where a raw value's text goes. */
export const RAW = '@@RAW-VALUE@@';

/** Keys refused everywhere by the protocol. */
export const FORBIDDEN: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
const KiB = 1024;
const MiB = 1024 * 1024;

/** A hostile value: sent as data (`value`) or spliced into the JSON text (`raw`). */
export interface HostileValue {
  label: string;
  value?: unknown;
  raw?: string;
  /** Invalid wherever it appears (forbidden keys, binary, too deep, too large, non-finite). */
  bad: boolean;
  /** Only placed where data goes (not in every field), to keep the run short. */
  heavy?: boolean;
}

function deepObject(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

function deepArray(depth: number): unknown {
  let v: unknown = [];
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

function manyKeys(n: number): Record<string, number> {
  const o: Record<string, number> = {};
  for (let i = 0; i < n; i++) o[`k${i}`] = i;
  return o;
}

/** The value catalogue. Objects with forbidden keys are made by JSON.parse so the keys are own keys. */
export function hostileValues(): HostileValue[] {
  const v = (label: string, value: unknown, bad = false, heavy = false): HostileValue => ({
    label,
    value,
    bad,
    heavy,
  });
  const raw = (label: string, text: string, bad: boolean, heavy = false): HostileValue => ({
    label,
    raw: text,
    bad,
    heavy,
  });
  return [
    v('(missing)', undefined),
    v('null', null),
    v('true', true),
    v('false', false),
    v('0', 0),
    v('1', 1),
    v('-1', -1),
    v('1.5', 1.5),
    v('NaN', NaN),
    v('Infinity', Infinity),
    v('2^53', 2 ** 53),
    v('2^53-1', 2 ** 53 - 1),
    v('1e21', 1e21),
    v('-1e21', -1e21),
    v('""', ''),
    v('"1"', '1'),
    v('"x"', 'x'),
    v('"things"', 'things'),
    v('"__proto__"', '__proto__'),
    v('"constructor"', 'constructor'),
    v('"prototype"', 'prototype'),
    v('"hasOwnProperty"', 'hasOwnProperty'),
    v('"toString"', 'toString'),
    v('"valueOf"', 'valueOf'),
    v('"__defineGetter__"', '__defineGetter__'),
    v('"NaN"', 'NaN'),
    v('"-1"', '-1'),
    v('"../../etc/passwd"', '../../etc/passwd'),
    v('"\\u0000"', '\u0000'),
    v('lone surrogate', '\ud800'),
    v('"x"*256', 'x'.repeat(256)),
    v('"x"*257', 'x'.repeat(257)),
    v('"x"*256KiB', 'x'.repeat(256 * KiB), false, true),
    v('"x"*(256KiB+1)', 'x'.repeat(256 * KiB + 1), true, true),
    v('"x"*1.5MiB', 'x'.repeat(1.5 * MiB), true, true),
    v('"x"*2.5MiB', 'x'.repeat(2.5 * MiB), true, true),
    v('{}', {}),
    v('[]', []),
    v('[[]]', [[]]),
    v('[null]', [null]),
    v('["x"]', ['x']),
    v('[1,2,3]', [1, 2, 3]),
    v('{"a":1}', { a: 1 }),
    v('{"":1}', { '': 1 }),
    v('{"id":1}', { id: 1 }),
    v('{"$gt":""}', { $gt: '' }),
    v('{"toString":..,"valueOf":..,"hasOwnProperty":..}', {
      toString: 'x',
      valueOf: 1,
      hasOwnProperty: 2,
      isPrototypeOf: 3,
      __defineGetter__: 4,
    }),
    v('{"__proto__":{"polluted":..}}', JSON.parse('{"__proto__":{"polluted":"p1"}}'), true),
    v(
      '{"constructor":{"prototype":{"polluted":..}}}',
      JSON.parse('{"constructor":{"prototype":{"polluted":"p2"}}}'),
      true,
    ),
    v('{"a":{"b":[{"__proto__":..}]}}', JSON.parse('{"a":{"b":[{"__proto__":{"polluted":"p3"}}]}}'), true),
    v('{"prototype":{"polluted":..}}', JSON.parse('{"prototype":{"polluted":"p4"}}'), true),
    v('{"a":{"constructor":1}}', JSON.parse('{"a":{"constructor":1}}'), true),
    v('10-deep object', deepObject(10)),
    v('40-deep object', deepObject(40), true),
    v('1000-deep array', deepArray(1000), true),
    v('Buffer', Buffer.from('binary!'), true),
    v('{"b":Buffer}', { b: Buffer.from([0, 1, 2]) }, true),
    v('[Buffer]', [Buffer.alloc(16)], true),
    v('array of 10 001', new Array(10_001).fill(0), true, true),
    v('array of 1e6', new Array(1_000_000).fill(0), true, true),
    v('1 001 keys', manyKeys(1001), true, true),
    v('100 000 keys', manyKeys(100_000), true, true),
    v('Date', new Date(0)),
    raw('1e999 (Infinity)', '1e999', true),
    raw('-1e999', '-1e999', true),
    raw('1e400 as digits', `1${'0'.repeat(400)}`, true),
    raw('-0', '-0', false),
    raw('9007199254740993', '9007199254740993', false),
    raw('100 000-deep array', `${'['.repeat(100_000)}${']'.repeat(100_000)}`, true, true),
    raw('100 000-deep object', `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`, true, true),
    raw('raw {"__proto__":{"polluted":..}}', '{"__proto__":{"polluted":"raw"}}', true),
    raw('duplicate keys {"a":1,"a":{"__proto__":..}}', '{"a":1,"a":{"__proto__":{"polluted":"dup"}}}', true),
    raw('escaped "\\ud800\\udfff\\u0000"', '"\\ud800\\udfff\\u0000"', false),
  ];
}

/** Hostile property names, placed as keys of the objects a request carries. */
export const HOSTILE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'id',
  '',
  'x'.repeat(256),
  'x'.repeat(257),
  'hasOwnProperty',
  'toString',
  'valueOf',
  '__defineSetter__',
  'isPrototypeOf',
  '\u0000',
  'a.b',
  '$where',
  '__proto__ ',
];
