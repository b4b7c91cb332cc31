/**
 * The randomized test extended to Backbone (issue 13): several pages, each a client (own session,
 * behind its own tap proxy) with a `SyncedCollection` on `/docs` whose model parses a `tags` string
 * into an array (and `toJSON` joins it back), run random model and collection operations — `create`
 * (with and without `wait`), `save` full and `patch` (with and without `wait`), `destroy`, `fetch` of
 * the collection and of a model — while the server changes objects itself (remote changes, visibility)
 * and connections are cut, clients leave and come back, handlers are slow and the server restarts.
 *
 * After quiescence: no collection holds two models of one id; every collection equals the server's
 * state seen through `visible` for its page's session; every model went through `parse` (its `tags`
 * is an array); every write called exactly one of `success`/`error`, and every write that succeeded
 * reached the store with the values it named.
 */
import Backbone from 'backbone';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SyncedCollection } from '../../adapters/backbone/index.js';
import { ObjectSync as Client } from '../../lib/client/index.js';
import type { Failure } from './checks.js';
import { Instrument } from './instrument.js';
import { HANDLER_TIMEOUT, LONG_CLIENT_TIMEOUT, SHORT_CLIENT_TIMEOUT, SLOW_DELAY } from './runner.js';
import { TapProxy } from './tap.js';
import { isVisible, World } from './world.js';

export type BbCommand =
  | { t: 'create'; p: number; pub: boolean; wait: boolean }
  | { t: 'save'; p: number; pick: number; patch: boolean; wait: boolean; tags: boolean }
  | { t: 'destroy'; p: number; pick: number; wait: boolean }
  | { t: 'fetch'; p: number; pick: number; whole: boolean }
  | { t: 'remote'; pick: number; how: 'pub' | 'owner' | 's' | 'destroy'; to: number }
  | { t: 'cut'; p: number }
  | { t: 'leave'; p: number }
  | { t: 'rejoin'; p: number }
  | { t: 'slow'; n: number }
  | { t: 'restart' }
  | { t: 'pause'; ms: number };

export interface BbConfig {
  pages: number;
  /** Whether objects carry `tags` (which the model parses); off, to look past issue 13 item 6. */
  tags: boolean;
  shortClientTimeout: boolean;
  initial: boolean[];
}

export function bbArbitrary(
  maxCommands: number,
  fixed: { tags?: boolean } = {},
): fc.Arbitrary<{ config: BbConfig; commands: BbCommand[] }> {
  const p = fc.nat({ max: 2 });
  const pick = fc.nat({ max: 40 });
  const command: fc.Arbitrary<BbCommand> = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({ t: fc.constant('create' as const), p, pub: fc.boolean(), wait: fc.boolean() }),
    },
    {
      weight: 8,
      arbitrary: fc.record({
        t: fc.constant('save' as const),
        p,
        pick,
        patch: fc.boolean(),
        wait: fc.boolean(),
        tags: fc.boolean(),
      }),
    },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('destroy' as const), p, pick, wait: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('fetch' as const), p, pick, whole: fc.boolean() }) },
    {
      weight: 4,
      arbitrary: fc.record({
        t: fc.constant('remote' as const),
        pick,
        how: fc.constantFrom(
          'pub' as const,
          'owner' as const,
          's' as const,
          's' as const,
          'destroy' as const,
        ),
        to: p,
      }),
    },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('cut' as const), p }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('leave' as const), p }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('rejoin' as const), p }) },
    {
      weight: 2,
      arbitrary: fc.record({ t: fc.constant('slow' as const), n: fc.integer({ min: 1, max: 2 }) }),
    },
    { weight: 1, arbitrary: fc.constant({ t: 'restart' as const }) },
    {
      weight: 3,
      arbitrary: fc.record({ t: fc.constant('pause' as const), ms: fc.integer({ min: 1, max: 40 }) }),
    },
  );
  return fc.record({
    config: fc.record({
      pages: fc.integer({ min: 2, max: 3 }),
      tags: fixed.tags === undefined ? fc.boolean() : fc.constant(fixed.tags),
      shortClientTimeout: fc.boolean(),
      initial: fc.array(fc.boolean(), { minLength: 1, maxLength: 3 }),
    }),
    commands: fc.array(command, { minLength: 4, maxLength: maxCommands }),
  });
}

/** The page's model: `tags` travels as "a,b" and lives as an array (so a skipped `parse` shows). */
const Doc = Backbone.Model.extend({
  parse(resp: Record<string, unknown>) {
    const out = { ...resp };
    if (typeof out.tags === 'string') out.tags = out.tags === '' ? [] : out.tags.split(',');
    return out;
  },
  toJSON() {
    const out = { ...(this as Backbone.Model).attributes };
    if (Array.isArray(out.tags)) out.tags = out.tags.join(',');
    return out;
  },
});
const Docs = SyncedCollection.extend({ url: '/docs', model: Doc });

interface Page {
  i: number;
  client: Client;
  tap: TapProxy;
  sid: string;
  docs: Backbone.Collection;
  left: boolean;
}

interface BbOp {
  n: number;
  page: number;
  kind: 'create' | 'save' | 'destroy' | 'fetch';
  id?: string;
  fields?: Record<string, unknown>;
  patch?: boolean;
  t0: number;
  t1?: number;
  outcome?: 'success' | 'error';
  calls: number;
  code?: string;
  /** Resolves at the first callback. */
  done?: Promise<void>;
}

/** Runs one Backbone run and checks it; returns the broken properties. */
export async function runBackbone(
  config: BbConfig,
  commands: BbCommand[],
  quiescenceMs = 15_000,
): Promise<Failure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'os-fuzz-bb-'));
  const instrument = new Instrument(SLOW_DELAY);
  const world = new World({
    file: join(dir, 'fuzz.sqlite'),
    handlerTimeout: HANDLER_TIMEOUT,
    defaultHasList: true,
    instrument,
    knownIds: () => ({}),
  });
  const pages: Page[] = [];
  const ops: BbOp[] = [];
  const remote: Array<{ t0: number; t1: number; id: string; how: string }> = [];
  const failures: Failure[] = [];
  const fail = (kind: string, detail: string): void => {
    if (failures.filter((f) => f.kind === kind).length < 3) failures.push({ kind, detail });
  };
  let tokens = 0;
  try {
    await world.start();
    for (let i = 0; i < config.pages; i++) {
      const tap = await new TapProxy(world.port).start();
      const client = new Client({
        url: tap.url,
        transports: ['websocket'],
        reconnectionDelay: 10,
        reconnectionDelayMax: 60,
        requestTimeout: config.shortClientTimeout ? SHORT_CLIENT_TIMEOUT : LONG_CLIENT_TIMEOUT,
      });
      await new Promise<void>((resolve) => client.once('connect', () => resolve()));
      const hi = tap.packets.find((p) => p.dir === 'down' && p.data?.[0] === 'hi');
      const docs = new Docs([], { client });
      pages.push({ i, client, tap, sid: hi?.data?.[1]?.s ?? '', docs, left: false });
    }
    /** Starts one write or read through Backbone, recording which callbacks it called. */
    const track = (page: Page, op: BbOp, start: (options: Backbone.ModelSaveOptions) => unknown): void => {
      ops.push(op);
      let called!: () => void;
      op.done = new Promise<void>((resolve) => (called = resolve));
      const options = {
        success: () => {
          called();
          op.calls++;
          op.outcome ??= 'success';
          op.t1 ??= performance.now();
        },
        error: (_m: unknown, err: { code?: string } | undefined) => {
          called();
          op.calls++;
          op.outcome ??= 'error';
          op.code ??= err?.code ?? 'unknown';
          op.t1 ??= performance.now();
        },
      };
      try {
        const result = start(options as Backbone.ModelSaveOptions);
        // Backbone answers `false` when validation refuses; nothing is sent then.
        if (result === false) ops.splice(ops.indexOf(op), 1);
      } catch (err) {
        called();
        op.calls++;
        op.outcome = 'error';
        op.code = `threw ${String((err as Error)?.message ?? err)}`;
      }
      void page;
    };
    const pageOf = (p: number): Page => pages[p % pages.length]!;
    const modelOf = (page: Page, pick: number): Backbone.Model | undefined =>
      page.docs.length ? page.docs.at(pick % page.docs.length) : undefined;
    const create = (page: Page, pub: boolean, wait: boolean): void => {
      const tok = `b${++tokens}`;
      const fields: Record<string, unknown> = { tok, owner: page.sid, pub, [`f${page.i}`]: tok };
      if (config.tags) fields.tags = ['x', tok];
      const op: BbOp = {
        n: ops.length,
        page: page.i,
        kind: 'create',
        fields,
        t0: performance.now(),
        calls: 0,
      };
      track(page, op, (options) => page.docs.create(fields, { ...options, wait }));
    };
    for (const pub of config.initial) for (const page of pages) create(page, pub, true);
    await settleAll(ops, quiescenceMs);

    for (const cmd of commands) {
      const now = performance.now();
      switch (cmd.t) {
        case 'create':
          create(pageOf(cmd.p), cmd.pub, cmd.wait);
          break;
        case 'save': {
          const page = pageOf(cmd.p);
          const m = modelOf(page, cmd.pick);
          if (!m) break;
          const tok = `b${++tokens}`;
          const fields: Record<string, unknown> = { [`f${page.i}`]: tok };
          if (cmd.tags && config.tags) fields.tags = ['y', tok];
          const op: BbOp = {
            n: ops.length,
            page: page.i,
            kind: 'save',
            id: m.id === undefined ? undefined : String(m.id),
            fields,
            patch: cmd.patch,
            t0: now,
            calls: 0,
          };
          track(page, op, (options) => m.save(fields, { ...options, patch: cmd.patch, wait: cmd.wait }));
          if (op.id === undefined) void m.once('sync', () => (op.id = String(m.id)));
          break;
        }
        case 'destroy': {
          const page = pageOf(cmd.p);
          const m = modelOf(page, cmd.pick);
          if (!m) break;
          const op: BbOp = {
            n: ops.length,
            page: page.i,
            kind: 'destroy',
            id: m.id === undefined ? undefined : String(m.id),
            t0: now,
            calls: 0,
          };
          track(page, op, (options) => m.destroy({ ...options, wait: cmd.wait }) as unknown);
          break;
        }
        case 'fetch': {
          const page = pageOf(cmd.p);
          const m = modelOf(page, cmd.pick);
          const op: BbOp = { n: ops.length, page: page.i, kind: 'fetch', t0: now, calls: 0 };
          if (cmd.whole || !m || m.isNew()) track(page, op, (options) => page.docs.fetch(options as never));
          else track(page, op, (options) => m.fetch(options as never));
          break;
        }
        case 'remote': {
          const ids = (await world.readTruth()).docs.map((o) => o.id);
          if (!ids.length) break;
          const id = ids[cmd.pick % ids.length]!;
          const entry = { t0: now, t1: now, id: String(id), how: cmd.how };
          remote.push(entry);
          const sync = world.sync.collection('docs');
          const set =
            cmd.how === 'pub'
              ? { pub: cmd.to % 2 === 0 }
              : cmd.how === 'owner'
                ? { owner: pageOf(cmd.to).sid }
                : config.tags
                  ? { s: `r${++tokens}`, tags: `z,r${tokens}` }
                  : { s: `r${++tokens}` };
          await (cmd.how === 'destroy' ? sync.destroy(id) : sync.save({ id, ...set })).catch(() => {});
          entry.t1 = performance.now();
          break;
        }
        case 'cut':
          pageOf(cmd.p).tap.cut();
          break;
        case 'leave':
          pageOf(cmd.p).left = true;
          pageOf(cmd.p).client.disconnect();
          break;
        case 'rejoin':
          pageOf(cmd.p).left = false;
          pageOf(cmd.p).client.connect();
          break;
        case 'slow':
          instrument.makeSlow('docs', cmd.n);
          break;
        case 'restart':
          await world.restart();
          for (const page of pages) {
            page.tap.retarget(world.port);
            page.tap.cut();
          }
          break;
        case 'pause':
          await new Promise((resolve) => setTimeout(resolve, cmd.ms));
          break;
      }
    }
    // Quiescence: everyone back, every callback called, every handler returned, then round trips
    // until nothing changes in any collection.
    instrument.clearSlow();
    for (const page of pages) if (page.left) page.client.connect();
    const deadline = performance.now() + quiescenceMs;
    await settleAll(ops, quiescenceMs);
    await Promise.race([instrument.idle(), delay(Math.max(1, deadline - performance.now()))]);
    let quiet = false;
    for (let round = 0; round < 20 && performance.now() < deadline && !quiet; round++) {
      const before = pages.map((p) => JSON.stringify(p.docs.toJSON()));
      await Promise.race([
        Promise.all(
          pages.map((p) =>
            p.client.isConnected()
              ? undefined
              : new Promise((r) => p.client.once('connect', () => r(undefined))),
          ),
        ),
        delay(Math.max(1, deadline - performance.now())),
      ]);
      await Promise.allSettled(pages.map((p) => p.client.collection('docs').fetch('never-an-id')));
      quiet = pages.every(
        (p, k) =>
          p.client.isConnected() &&
          p.client.pendingRequests === 0 &&
          JSON.stringify(p.docs.toJSON()) === before[k],
      );
    }
    if (!quiet) fail('no-quiescence', 'the pages never came to rest');

    // Checks.
    const truth = (await world.readTruth()).docs;
    for (const op of ops) {
      if (op.calls === 0) fail('hung', `page ${op.page}'s ${op.kind} #${op.n} never called success or error`);
      if (op.calls > 1)
        fail('callbacks', `page ${op.page}'s ${op.kind} #${op.n} called success/error ${op.calls} times`);
    }
    for (const page of pages) {
      const ids = page.docs
        .pluck('id')
        .filter((id) => id !== undefined)
        .map(String);
      const dupes = ids.filter((id, k) => ids.indexOf(id) !== k);
      if (dupes.length) fail('duplicate-id', `page ${page.i}'s collection holds ids ${JSON.stringify(ids)}`);
      for (const m of page.docs.models)
        if (m.has('tags') && !Array.isArray(m.get('tags')))
          fail(
            'parse-skipped',
            `page ${page.i}: model ${String(m.id)} holds tags ${JSON.stringify(m.get('tags'))} (parse was skipped)`,
          );
      // What the page must hold: the store's object as its model parses it (Backbone sends a patch's
      // attributes raw, a full save through toJSON, so the store may hold either form of `tags`).
      const parse = (Doc.prototype as unknown as { parse(r: object): object }).parse;
      const expected = new Map(
        truth
          .filter((o) => isVisible(o, page.sid, world.observerSid))
          .map((o) => [String(o.id), canon(parse(o))]),
      );
      const actual = new Map(
        // Parsed again, so a skipped `parse` counts once, as parse-skipped, not here too.
        page.docs.models.filter((m) => !m.isNew()).map((m) => [String(m.id), canon(parse(m.attributes))]),
      );
      const diffs: string[] = [];
      for (const [id, o] of expected)
        if (actual.get(id) !== o) diffs.push(`${id}: page ${actual.get(id) ?? 'missing'}, store ${o}`);
      for (const [id, o] of actual) if (!expected.has(id)) diffs.push(`extra ${id} ${o}`);
      if (diffs.length) fail('diverged', `page ${page.i}: ${diffs.slice(0, 3).join('; ')}`);
      const unsaved = page.docs.models.filter((m) => m.isNew());
      for (const m of unsaved) {
        const made = ops.find((o) => o.kind === 'create' && o.fields?.tok === m.get('tok'));
        if (!made || made.outcome !== 'error')
          fail(
            'lost-write',
            `page ${page.i} holds a model never created on the server and no error said so: ${canon(m.toJSON())}`,
          );
      }
    }
    // One page's create is one object on the server (an orphan or a double is a duplicate).
    const toks = truth.map((o) => String(o.tok));
    const doubled = [...new Set(toks.filter((t, k) => toks.indexOf(t) !== k))];
    if (doubled.length)
      fail(
        'duplicate-create',
        `the store holds several objects made by one create: ${doubled.map((t) => canon(truth.filter((o) => o.tok === t))).join('; ')}`,
      );
    // Writes that succeeded reached the store with what they named.
    for (const op of ops) {
      if (op.outcome !== 'success' || !op.fields) continue;
      const sid = pages[op.page]!.sid;
      const own = `f${op.page}`;
      const hit = instrument.applied.some(
        (e) =>
          e.coll === 'docs' &&
          e.sid === sid &&
          e.set[own] === op.fields![own] &&
          (op.kind === 'create' || e.kind === 'create' || e.id === op.id),
      );
      if (!hit)
        fail(
          'lost-write',
          `page ${op.page}'s successful ${op.kind} #${op.n} of ${op.id ?? 'a new model'} ${JSON.stringify(op.fields)} never reached the store (ops: ${ops.map((o) => `#${o.n} ${o.kind} ${o.outcome}${o.code ? '/' + o.code : ''}`).join(', ')})`,
        );
    }
    // Failures with no fault to explain them.
    const unexplained = ops.filter((op) => {
      if (op.outcome !== 'error') return false;
      const t1 = op.t1 ?? performance.now();
      const during = (s: number, e: number): boolean => s <= t1 && e >= op.t0;
      if (op.code === 'timeout' || op.code === 'unavailable')
        return !(
          instrument.slowCalls.some((s) => during(s.start, s.end)) ||
          world.restarts.some((r) => during(r.start, r.end)) ||
          (config.shortClientTimeout && op.code === 'timeout')
        );
      if (op.code === 'not_found')
        return !remote.some((r) => r.t0 <= t1) && !ops.some((o) => o.kind === 'destroy' && o.t0 <= t1);
      // A save that left out what its copy had, overtaken by a later write of the same model from
      // the same page (README, "What a save sends").
      if (op.code === 'stale')
        return !ops.some(
          (o) => o.page === op.page && o.kind === 'save' && o.id === op.id && o.n > op.n && o.t0 <= t1,
        );
      return true;
    });
    if (unexplained.length)
      fail(
        'unexplained-failure',
        unexplained
          .slice(0, 4)
          .map((o) => `page ${o.page} ${o.kind} #${o.n} -> ${o.code}`)
          .join('; '),
      );
    for (const o of instrument.overlaps.slice(0, 2))
      fail('overlap', `two handler calls of docs/${o.id} ran at once`);
    return failures;
  } finally {
    for (const page of pages) {
      (page.docs as unknown as { dispose?: () => void; detach?: () => void }).dispose?.();
      page.client.disconnect();
    }
    await world.stop().catch(() => {});
    await Promise.all(pages.map((p) => p.tap.close()));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Bounds a wait (never used to wait for an outcome). */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Waits until every op called a callback, or `ms` passed (then the checks report it as hung). */
async function settleAll(ops: BbOp[], ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([Promise.all(ops.map((o) => o.done)), limit]);
  clearTimeout(timer);
}

/** Canonical JSON (sorted keys). */
function canon(x: unknown): string {
  return JSON.stringify(x, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}
