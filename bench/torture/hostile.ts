/**
 * The hostile inputs of part 1: every request kind of the protocol with each field (and each nested
 * position, key and argument) replaced by hostile values, plus unknown and reserved event names and
 * broken socket.io packets.
 *
 * A case is either emitted through socket.io-client (its encoder handles Buffers as binary
 * attachments) or written as a raw socket.io packet when socket.io-client cannot send it: reserved
 * event names, non-JSON numbers (`1e999`), nesting far deeper than its encoder's recursion allows,
 * broken frames. The values come from hostile-values.ts.
 *
 * Each case says whether a success answer would be wrong (`mustRefuse`), judged by judge.ts on what
 * the server will see. Kinds come in the protocol's order with destroys last (so the objects hostile
 * updates aim at live long); cases are shuffled within each kind.
 */
import { PROTOCOL_VERSION } from '../../lib/protocol.js';
import { FORBIDDEN, HOSTILE_KEYS, hostileValues, RAW, type HostileValue } from './hostile-values.js';
import { getAt, refuses, safeInt, setAt, wireOf, wireOfRaw, type Path } from './judge.js';
import type { Random } from './random.js';

/** One hostile input; `build` gets a fresh sequence number `q`. */
export interface HostileCase {
  /** Short description, e.g. `update.i = {"$gt":""}`. */
  label: string;
  kind: string;
  /** Builds what to send. */
  build(q: number): Sendable;
  /** A success answer would be wrong. */
  mustRefuse: boolean;
}

/**
 * What to send. `q` is the sequence number the server will see (absent when it is not a valid one),
 * `collection` the collection a success would change.
 */
export type Sendable = { ack: boolean; collection: string; q?: number } & (
  | /** `socket.emit(event, ...args, ack?)`. */ { via: 'emit'; event: string; args: unknown[] }
  | /** A raw socket.io packet for ack id `ackId`, then more frames (`after`) right behind it. */ {
      via: 'raw';
      packet: (ackId: number) => string;
      after?: Array<string | Buffer>;
    }
);

interface Template {
  kind: string;
  /** The valid request this kind starts from (`q` filled in at send time). */
  payload(q: number): Record<string, unknown>;
  /** Positions whose value is replaced. */
  fields: Path[];
  /** Objects whose keys are replaced. */
  keyed: Path[];
}

const TEMPLATES: Template[] = [
  {
    kind: 'create',
    payload: (q) => ({ q, o: { hostile: q } }),
    fields: [['c'], ['q'], ['o'], ['o', 'x']],
    keyed: [['o'], []],
  },
  {
    kind: 'update',
    payload: (q) => ({ q, i: 1, s: { x: q }, u: ['y'], b: 0 }),
    fields: [['c'], ['q'], ['i'], ['s'], ['s', 'x'], ['u'], ['u', 0], ['b']],
    keyed: [['s'], []],
  },
  {
    kind: 'fetch',
    payload: () => ({ i: [1] }),
    fields: [['c'], ['i'], ['i', 0]],
    keyed: [[]],
  },
  {
    kind: 'list',
    payload: () => ({ w: { x: 1 } }),
    fields: [['c'], ['w'], ['w', 'x']],
    keyed: [['w'], []],
  },
  {
    kind: 'sub',
    payload: () => ({ h: [[1, 0]] }),
    fields: [['c'], ['h'], ['h', 0], ['h', 0, 0], ['h', 0, 1]],
    keyed: [[]],
  },
  { kind: 'unsub', payload: () => ({}), fields: [['c']], keyed: [[]] },
  {
    kind: 'destroy',
    payload: (q) => ({ q, i: 3 }),
    fields: [['c'], ['q'], ['i']],
    keyed: [[]],
  },
];

/** Positions where heavy values go: data, not scalar fields. */
const HEAVY_AT = new Set(['o', 'o.x', 's.x', 'w', 'i']);

/** Every hostile case (see the header for the order). */
export function hostileCases(rng: Random): HostileCase[] {
  const catalogue = hostileValues();
  const cases: HostileCase[] = [];
  for (const t of TEMPLATES) {
    const own: HostileCase[] = [];
    // Each case alternates between the default collection and `things`.
    let flip = 0;
    const collection = (): string => (flip++ % 2 === 0 ? '' : 'things');
    for (const path of t.fields) {
      for (const value of catalogue) {
        if (value.heavy && !HEAVY_AT.has(path.join('.'))) continue;
        own.push(fieldCase(t, path, value, collection()));
      }
    }
    for (const at of t.keyed) for (const key of HOSTILE_KEYS) own.push(keyCase(t, at, key, collection()));
    // The whole payload replaced.
    for (const value of catalogue) if (!value.heavy) own.push(fieldCase(t, [], value, ''));
    own.push(...shapeCases(t));
    cases.push(...rng.shuffle(own));
  }
  cases.push(...rng.shuffle(eventCases()), ...rng.shuffle(packetCases()));
  return cases;
}

/** A request with the value at `path` replaced (the whole payload when `path` is empty). */
function fieldCase(t: Template, path: Path, value: HostileValue, collection: string): HostileCase {
  const where = path.length === 0 ? '(payload)' : path.join('.');
  const label = `${t.kind}.${where} = ${value.label}`;
  const build = (q: number): { payload: unknown } => {
    let payload: unknown = t.payload(q);
    if (collection) (payload as Record<string, unknown>).c = collection;
    const replacement = value.raw !== undefined ? RAW : value.value;
    if (path.length === 0) payload = replacement;
    else setAt(payload as Record<string, unknown>, path, replacement);
    return { payload };
  };
  // Judge on what the server will see: the JSON text of the payload, parsed again.
  const sample = build(1000);
  const wire = value.raw !== undefined ? wireOfRaw(sample.payload, value.raw) : wireOf(sample.payload);
  const wireAt = path.length === 0 ? wire : getAt(wire, path);
  const mustRefuse = value.bad || refuses(t.kind, where, wireAt, wire);
  // The collection a success changes, as the server sees it.
  const seenCollection = where === 'c' ? (wireAt === 'things' ? 'things' : '') : collection;
  // A hostile `q` that is a valid sequence number is the one the server sees.
  const fixedQ = where === 'q' ? (safeInt(wireAt, 1) ? (wireAt as number) : undefined) : null;
  return {
    label,
    kind: t.kind,
    mustRefuse,
    build(q) {
      const { payload } = build(q);
      const used = fixedQ === null ? q : fixedQ;
      const common = { ack: true, collection: seenCollection, q: used };
      if (value.raw === undefined) return { via: 'emit', event: t.kind, args: [payload], ...common };
      const text = JSON.stringify([t.kind, payload]).replace(`"${RAW}"`, value.raw);
      return { via: 'raw', packet: (id) => `2${id}${text}`, ...common };
    },
  };
}

/** A request whose object at `at` gets a hostile key (an own property, whatever its name). */
function keyCase(t: Template, at: Path, key: string, collection: string): HostileCase {
  const where = at.length === 0 ? '(payload)' : at.join('.');
  const label = `${t.kind}.${where} key ${JSON.stringify(key.length > 20 ? `${key.slice(0, 8)}…(${key.length})` : key)}`;
  let mustRefuse: boolean;
  if (FORBIDDEN.has(key) || key.length > 256) mustRefuse = true;
  else if (at.length === 0)
    mustRefuse = true; // an unknown field
  else if (key === 'id') mustRefuse = where === 'o' || where === 's';
  else mustRefuse = false;
  return {
    label,
    kind: t.kind,
    mustRefuse,
    build(q) {
      const payload = t.payload(q);
      if (collection) payload.c = collection;
      const target = at.length === 0 ? payload : (getAt(payload, at) as Record<string, unknown>);
      Object.defineProperty(target, key, {
        value: { k: q },
        enumerable: true,
        writable: true,
        configurable: true,
      });
      return { via: 'emit', event: t.kind, args: [payload], ack: true, collection, q };
    },
  };
}

/** Missing, extra and binary arguments, and requests without an ack. */
function shapeCases(t: Template): HostileCase[] {
  const kind = t.kind;
  const c = '';
  const emit = (
    label: string,
    args: (q: number) => unknown[],
    ack: boolean,
    mustRefuse = true,
  ): HostileCase => ({
    label: `${kind} ${label}`,
    kind,
    mustRefuse,
    build: (q) => ({ via: 'emit', event: kind, args: args(q), ack, collection: c, q }),
  });
  return [
    emit('with no argument', () => [], true),
    emit('with an extra argument', (q) => [t.payload(q), 'extra'], true),
    emit('with three extra arguments', (q) => [t.payload(q), 1, { a: 1 }, [2]], true),
    emit('with a Buffer payload', () => [Buffer.from('{"q":1}')], true),
    emit('with a Buffer extra argument', (q) => [t.payload(q), Buffer.alloc(8)], true),
    emit('with undefined payload', () => [undefined], true),
    emit('without ack (valid)', (q) => [t.payload(q)], false, false),
    emit(
      'without ack (hostile)',
      (q) => [{ ...t.payload(q), ...JSON.parse('{"__proto__":{"polluted":"noack"}}') }],
      false,
    ),
    emit('without ack, no argument', () => [], false),
  ];
}

/** Unknown and reserved event names (raw packets: socket.io-client refuses to emit reserved names). */
function eventCases(): HostileCase[] {
  const names: unknown[] = [
    'connect',
    'connect_error',
    'disconnect',
    'disconnecting',
    'error',
    'newListener',
    'removeListener',
    '__proto__',
    'constructor',
    'prototype',
    'hasOwnProperty',
    'toString',
    'valueOf',
    'hi',
    'ch',
    '',
    'CREATE',
    'create ',
    'x'.repeat(10_000),
    0,
    42,
    -1,
    1.5,
  ];
  return names.map((name) => ({
    label: `event ${JSON.stringify(typeof name === 'string' && name.length > 20 ? `${name.slice(0, 8)}…(${name.length})` : name)}`,
    kind: 'event',
    mustRefuse: true,
    build: (q) => ({
      via: 'raw',
      packet: (id) => `2${id}${JSON.stringify([name, { q, o: { a: 1 } }])}`,
      ack: true,
      collection: '',
      q,
    }),
  }));
}

/**
 * Broken socket.io packets: the server cannot answer them; it must close the connection. Packets
 * that ask for no answer (`ack: false`) may also be ignored.
 */
function packetCases(): HostileCase[] {
  const packet = (
    label: string,
    make: (ackId: number, q: number) => string,
    options: { ack?: boolean; after?: (q: number) => Array<string | Buffer> } = {},
  ): HostileCase => ({
    label: `packet ${label}`,
    kind: 'packet',
    mustRefuse: true,
    build: (q) => ({
      via: 'raw',
      packet: (ackId) => make(ackId, q),
      after: options.after?.(q),
      ack: options.ack ?? true,
      collection: '',
      q,
    }),
  });
  const ok = (q: number): string => JSON.stringify(['create', { q, o: { a: 1 } }]);
  // A valid request right behind a packet that leaves the decoder waiting for attachments.
  const probe = (q: number): string[] => [`2${JSON.stringify(['list', {}])}`, `2${ok(q)}`];
  return [
    packet('EVENT without data', (id) => `2${id}`),
    packet('EVENT with broken JSON', (id) => `2${id}["create",{"q":1`),
    packet('EVENT with a string', (id) => `2${id}"create"`),
    packet('EVENT with an empty array', (id) => `2${id}[]`),
    packet('EVENT with an object', (id) => `2${id}{"0":"create"}`),
    packet('EVENT with null', (id) => `2${id}null`),
    packet('EVENT with trailing garbage', (id, q) => `2${id}${ok(q)}garbage`),
    packet('EVENT with NaN', (id) => `2${id}["create",{"q":NaN,"o":{}}]`),
    packet('EVENT to an unknown namespace', (id, q) => `2/nope,${id}${ok(q)}`),
    packet(
      'BINARY_EVENT with a missing attachment',
      (id, q) => `51-${id}${JSON.stringify(['create', { q, o: { b: { _placeholder: true, num: 0 } } }])}`,
      { after: probe },
    ),
    packet(
      'BINARY_EVENT with a placeholder out of range',
      (id, q) => `51-${id}${JSON.stringify(['create', { q, o: { b: { _placeholder: true, num: 7 } } }])}`,
      { after: () => [Buffer.from('attachment')] },
    ),
    packet('BINARY_EVENT announcing 10^9 attachments', (id, q) => `51000000000-${id}${ok(q)}`, {
      after: (q) => [Buffer.alloc(4), ...probe(q)],
    }),
    packet('unknown packet type 9', (id, q) => `9${id}${ok(q)}`),
    packet('ACK nobody asked for', (id) => `3${id}[{"r":1}]`, { ack: false }),
    packet('CONNECT again', () => `0{"osSession":"xxxxxxxxxxxxxxxxxxxx","osProtocol":${PROTOCOL_VERSION}}`, {
      ack: false,
    }),
  ];
}
