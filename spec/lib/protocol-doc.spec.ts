/**
 * PROTOCOL.md is checked against the code, so that it cannot drift again (issue 12, item 16): its
 * version, every JSON example (each fenced block is tagged with what it is: `hi`, `ch`,
 * `request:<event>`, `answer:<event>` or `answer:error`), the request table's events and fields, the
 * error-code table, and the defaults of the limits table.
 */
import { MAX_CURSOR_BYTES, MAX_CURSORS_PER_CONNECTION } from '../../lib/server/cursors.js';
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { ERROR_CODES } from '../../lib/errors.js';
import {
  DEFAULT_LIMITS,
  EVENT_FIELDS,
  fromWire,
  isValidCollectionName,
  isValidId,
  PROTOCOL_VERSION,
  validateRequest,
  type Limits,
  type RequestEvent,
} from '../../lib/protocol.js';
import { resolveOptions, type ResolvedOptions } from '../../lib/server/options.js';
import { PAGE_BYTES, PAGE_RECORDS } from '../../lib/server/reads.js';

const doc = readFileSync(new URL('../../../PROTOCOL.md', import.meta.url), 'utf8');
const events = Object.keys(EVENT_FIELDS) as RequestEvent[];

/** The text of the `## title` section (up to the next `## ` heading). */
function section(title: string): string {
  const start = doc.indexOf(`\n## ${title}\n`);
  expect(start, `section "## ${title}"`).to.be.above(-1);
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end === -1 ? undefined : end);
}

/** The markdown tables of a text, each as rows of cells (header first, separator row left out). */
function tables(text: string): string[][][] {
  const found: string[][][] = [];
  let current: string[][] | undefined;
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed.startsWith('|')) {
      current = undefined;
      continue;
    }
    const cells = trimmed
      .slice(1, trimmed.endsWith('|') ? -1 : undefined)
      .split(/(?<!\\)\|/)
      .map((cell) => cell.trim());
    if (cells.every((cell) => /^:?-+:?$/.test(cell))) continue;
    if (!current) found.push((current = []));
    current.push(cells);
  }
  return found;
}

/** The one table of a section whose header starts with `header`; its rows without the header. */
function table(text: string, header: string[]): string[][] {
  const matching = tables(text).filter((t) => header.every((name, at) => t[0]![at] === name));
  expect(matching, `one table with header ${header.join(' | ')}`).to.have.length(1);
  return matching[0]!.slice(1);
}

/** The `code` spans of a cell. */
function codes(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
}

/** Every fenced JSON block: its tag (the word after `json`) and its text. */
function jsonBlocks(): Array<{ tag: string; text: string }> {
  const blocks: Array<{ tag: string; text: string }> = [];
  for (const m of doc.matchAll(/^([ \t]*)```json([^\n]*)\n([\s\S]*?)\n\1```/gm))
    blocks.push({ tag: m[2]!.trim(), text: m[3]! });
  return blocks;
}

/** A default as the doc writes it: `1 000`, `256 KiB`, `2 MiB`, `10 s`, `10 min`. */
function parseDefault(text: string): number {
  const m = /^(\d[\d ]*)\s*(KiB|MiB|ms|s|min)?$/.exec(text);
  expect(m, `a default the spec can read: "${text}"`).to.not.equal(null);
  const n = Number(m![1]!.replace(/ /g, ''));
  const unit = { KiB: 1024, MiB: 1024 * 1024, ms: 1, s: 1000, min: 60_000 }[m![2] ?? ''] ?? 1;
  return n * unit;
}

/** Whether a value is a change record as answers carry it (objects with `k`). */
function isRecord(x: unknown): boolean {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return false;
  const r = x as Record<string, unknown>;
  if (!isValidId(r.i)) return false;
  const version = r.v === undefined || (Number.isSafeInteger(r.v) && (r.v as number) >= 0);
  switch (r.k) {
    case 'c': {
      const o = r.o as Record<string, unknown> | undefined;
      return typeof r.v === 'number' && o !== undefined && o !== null && o.id === r.i;
    }
    case 'u':
      return typeof r.v === 'number';
    case 'd':
      return version;
    default:
      return false;
  }
}

/** Whether a value is `[version, object]`, as fetch and list answer. */
function isTuple(x: unknown): boolean {
  return (
    Array.isArray(x) &&
    x.length === 2 &&
    Number.isSafeInteger(x[0]) &&
    x[1] !== null &&
    typeof x[1] === 'object' &&
    isValidId((x[1] as { id?: unknown }).id)
  );
}

/** Checks one answer example of `event` (or an error answer). */
function checkAnswer(event: string, answer: Record<string, unknown>): void {
  const keys = Object.keys(answer).sort();
  const page = (k: unknown): boolean => k === undefined || isValidId(k);
  switch (event) {
    case 'error': {
      expect(keys).to.deep.equal(['error']);
      const { code, message } = answer.error as { code: keyof typeof ERROR_CODES; message: string };
      expect(ERROR_CODES).to.have.property(code);
      expect(message, `the fixed message of ${code}`).to.equal(ERROR_CODES[code]);
      return;
    }
    case 'create':
    case 'destroy':
      expect(keys).to.deep.equal(['r']);
      expect(isRecord(answer.r), JSON.stringify(answer.r)).to.equal(true);
      if (event === 'destroy') expect(answer.r).to.include({ k: 'd' }).and.to.have.property('v');
      return;
    case 'update': {
      expect(keys).to.deep.equal(['r', 'v']);
      expect(answer.r === null || isRecord(answer.r)).to.equal(true);
      const r = answer.r as { k?: string; v?: number } | null;
      // A removal without version (the object is hidden from the writer now) answers v = 0.
      expect(answer.v).to.equal(r?.k === 'd' && r.v === undefined ? 0 : (r?.v ?? answer.v));
      return;
    }
    case 'fetch':
      expect(keys).to.deep.equal(['r']);
      for (const entry of answer.r as unknown[]) expect(entry === null || isTuple(entry)).to.equal(true);
      return;
    case 'list':
      expect(keys.filter((k) => k !== 'k')).to.deep.equal(['r']);
      for (const entry of answer.r as unknown[]) expect(isTuple(entry), JSON.stringify(entry)).to.equal(true);
      expect(page(answer.k)).to.equal(true);
      return;
    case 'sub':
      expect(keys.filter((k) => k !== 'k')).to.deep.equal(['r']);
      for (const record of answer.r as unknown[]) expect(isRecord(record)).to.equal(true);
      expect(page(answer.k)).to.equal(true);
      return;
    case 'unsub':
      expect(answer).to.deep.equal({});
      return;
    default:
      expect.fail(`an answer example of an unknown event: ${event}`);
  }
}

describe('PROTOCOL.md says what the code does', () => {
  it('names the protocol version of the code in its title, its handshake and its hi examples', () => {
    expect(/^# object-sync wire protocol, version (\d+)$/m.exec(doc)?.[1]).to.equal(String(PROTOCOL_VERSION));
    const auth = table(section('Handshake'), ['field', 'type', 'meaning']);
    const osProtocol = auth.find((row) => row[0] === '`osProtocol`');
    expect(osProtocol?.[2]).to.equal(`\`${PROTOCOL_VERSION}\``);
    const hellos = jsonBlocks().filter((b) => b.tag === 'hi');
    expect(hellos).to.not.have.length(0);
    for (const { text } of hellos) {
      const hello = JSON.parse(text) as Record<string, unknown>;
      expect(Object.keys(hello).sort()).to.deep.equal(['e', 'p', 's']);
      expect(hello.p).to.equal(PROTOCOL_VERSION);
      expect(hello.s).to.be.a('string').with.length(22);
    }
  });

  it('tags every JSON example, and each one parses and is what its tag says', () => {
    const blocks = jsonBlocks();
    expect(blocks.length).to.be.above(10);
    const known = new Set([
      'hi',
      'ch',
      'answer:error',
      ...events.flatMap((e) => [`request:${e}`, `answer:${e}`]),
    ]);
    for (const { tag, text } of blocks) {
      expect(known, `the tag of \`\`\`json ${tag}`).to.include(tag);
      let value: unknown;
      expect(() => (value = JSON.parse(text)), text).to.not.throw();
      const [kind, event] = tag.split(':') as [string, string | undefined];
      if (kind === 'request') {
        const checked = validateRequest(event as RequestEvent, value, DEFAULT_LIMITS);
        expect(checked, `${event} ${text}`).to.deep.include({ ok: true });
      } else if (kind === 'answer') {
        checkAnswer(event!, value as Record<string, unknown>);
      } else if (kind === 'ch') {
        const [name, records, collection, ...rest] = value as unknown[];
        expect(name).to.equal('ch');
        expect(rest).to.deep.equal([]);
        expect(collection === undefined || isValidCollectionName(collection)).to.equal(true);
        for (const record of records as unknown[])
          expect(fromWire(record), JSON.stringify(record)).to.not.equal(undefined);
      }
    }
  });

  it('lists exactly the request events and, per event, exactly the fields the validator accepts', () => {
    const rows = table(section('Client → server requests'), ['event', 'payload fields', 'success answer']);
    const examples = new Map(
      jsonBlocks()
        .filter((b) => b.tag.startsWith('request:'))
        .map((b) => [b.tag.slice('request:'.length), JSON.parse(b.text) as Record<string, unknown>]),
    );
    expect(rows.map((row) => codes(row[0]!)[0]))
      .to.have.members(events)
      .and.to.have.length(events.length);
    for (const row of rows) {
      const event = codes(row[0]!)[0] as RequestEvent;
      const fields = codes(row[1]!);
      const names = fields.map((f) => f.replace(/\?$/, ''));
      expect(names, event)
        .to.have.members([...EVENT_FIELDS[event]])
        .and.to.have.length(EVENT_FIELDS[event].size);
      // The example of each event names every field; leaving one out is refused exactly when it has no `?`.
      const example = examples.get(event);
      expect(example, `a request:${event} example`).to.not.equal(undefined);
      expect(Object.keys(example!)).to.have.members(names);
      for (const field of fields) {
        const name = field.replace(/\?$/, '');
        const without = { ...example! };
        delete without[name];
        const ok = validateRequest(event, without, DEFAULT_LIMITS).ok;
        expect(ok, `${event} without ${name} (the doc says ${field})`).to.equal(field.endsWith('?'));
      }
      // A field the validator does not know is refused.
      expect(validateRequest(event, { ...example!, zz: 1 }, DEFAULT_LIMITS)).to.deep.equal({
        ok: false,
        code: 'invalid_message',
      });
    }
  });

  it('describes in its field table exactly the fields of every request', () => {
    const rows = table(section('Client → server requests'), ['field', 'in', 'type']);
    const all = new Set(events.flatMap((event) => [...EVENT_FIELDS[event]]));
    expect(new Set(rows.map((row) => codes(row[0]!)[0]))).to.deep.equal(all);
  });

  it('lists exactly the error codes of ERROR_CODES', () => {
    const rows = table(section('Error codes'), ['code', 'when']);
    const listed = rows.map((row) => codes(row[0]!)[0]);
    expect(listed)
      .to.have.members(Object.keys(ERROR_CODES))
      .and.to.have.length(Object.keys(ERROR_CODES).length);
    // The handshake refusals (a numbered list, one code each) are codes of the table too.
    const refusals = [...section('Handshake').matchAll(/^\d+\. `([a-z_]+)`/gm)].map((m) => m[1]!);
    expect(refusals).to.have.length(4);
    for (const code of refusals) expect(ERROR_CODES, code).to.have.property(code);
  });

  it('states the defaults of the code in its limits table (DEFAULT_LIMITS, server options, page and cursor bounds)', () => {
    const rows = table(section('Limits (server defaults, configurable)'), ['limit', 'setting', 'default']);
    const options = resolveOptions({});
    const pages: Record<string, number> = {
      PAGE_RECORDS,
      PAGE_BYTES,
      MAX_CURSORS_PER_CONNECTION,
      MAX_CURSOR_BYTES,
    };
    const limitNames: string[] = [];
    for (const row of rows) {
      const [setting] = codes(row[1]!);
      const stated = parseDefault(row[2]!);
      let actual: unknown;
      if (setting!.startsWith('limits.')) {
        const name = setting!.slice('limits.'.length) as keyof Limits;
        limitNames.push(name);
        actual = DEFAULT_LIMITS[name];
      } else if (setting! in pages) {
        actual = pages[setting!];
      } else {
        expect(options, `a server option named ${setting}`).to.have.property(setting!);
        actual = options[setting as keyof ResolvedOptions];
      }
      expect(stated, `the default of ${setting}`).to.equal(actual);
    }
    expect(limitNames)
      .to.have.members(Object.keys(DEFAULT_LIMITS))
      .and.to.have.length(Object.keys(DEFAULT_LIMITS).length);
  });
});
