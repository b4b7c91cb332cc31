/**
 * Part 1 — hostile input. A server child (SQLite default collection, `things` in memory), a raw
 * socket.io client sending every hostile case one at a time, and a canary (our client) doing round
 * trips meanwhile. Afterwards: is the server alive, are the prototypes intact (asked over IPC), and
 * does the store hold exactly what was acknowledged (no garbage, no forbidden keys)?
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { StoredObject } from '../../lib/index.js';
import { Canary } from './canary.js';
import { ServerChild } from './child.js';
import { hostileCases, type HostileCase, type Sendable } from './hostile.js';
import type { Dump } from './ipc.js';
import { pollutionSince, snapshotPrototypes } from './pollution.js';
import type { Random } from './random.js';
import { RawClient, type Outcome } from './raw-client.js';
import { breakdown, jsonEqual, seconds, type Figure, type PartResult } from './report.js';

/** Codes given before a write reaches the dedupe table: its `q` stays unused. */
const REFUSED_BEFORE_DEDUPE = new Set([
  'invalid_message',
  'invalid_id',
  'payload_too_large',
  'unknown_collection',
  'unknown_event',
  'busy',
  'unavailable',
]);
/** How long an answer (or a close) may take. */
const ANSWER_TIMEOUT_MS = 5000;
/** `TORTURE_TRACE=1` prints every case and what became of it. */
const TRACE = process.env.TORTURE_TRACE === '1';
const CODE = /^[a-z][a-z0-9_]{0,63}$/;
/** What a leaked exception looks like: a stack frame, a path, an exception name, SQL. */
const LEAK = /\n|\bat .+:\d+|node:|\/work\/|\/home\/|\/tmp\/|Error:|SQLITE|TypeError|RangeError|undefined is/;

/** Objects the raw client's accepted writes left, by collection and id. */
class Tracker {
  readonly objects = new Map<string, Map<string, StoredObject>>([
    ['', new Map()],
    ['things', new Map()],
  ]);
  private readonly usedSeq = new Set<number>();

  /** Applies a success answer of a write (a resend of a used `q` is answered, not applied: skip it). */
  apply(kind: string, s: Sendable, answer: Record<string, unknown>): void {
    if (s.q !== undefined) {
      if (this.usedSeq.has(s.q)) return;
      this.usedSeq.add(s.q);
    }
    const objects = this.objects.get(s.collection)!;
    const r = answer.r as {
      k: string;
      i: string | number;
      o?: StoredObject;
      s?: Record<string, unknown>;
      u?: string[];
    } | null;
    if (!r || !['create', 'update', 'destroy'].includes(kind)) return;
    const key = String(r.i);
    if (r.k === 'c') objects.set(key, r.o!);
    else if (r.k === 'd') objects.delete(key);
    else if (r.k === 'u') {
      const obj = { ...objects.get(key)! };
      for (const [k, v] of Object.entries(r.s ?? {})) obj[k] = v;
      for (const k of r.u ?? []) delete obj[k];
      objects.set(key, obj);
    }
  }

  /** Notes a `q` the server saw, whatever its answer. */
  saw(q: number | undefined): void {
    if (q !== undefined) this.usedSeq.add(q);
  }
}

function isErrorAnswer(a: unknown): a is { error: { code: string; message: string } } {
  if (a === null || typeof a !== 'object' || Object.keys(a).length !== 1) return false;
  const e = (a as { error?: unknown }).error;
  if (e === null || typeof e !== 'object') return false;
  const { code, message } = e as { code?: unknown; message?: unknown };
  const extra = Object.keys(e).filter((k) => k !== 'code' && k !== 'message' && k !== 'data');
  return typeof code === 'string' && CODE.test(code) && typeof message === 'string' && extra.length === 0;
}

function isSuccessAnswer(a: unknown): a is Record<string, unknown> {
  return a !== null && typeof a === 'object' && !Array.isArray(a) && !('error' in a);
}

/** The outcomes of the hostile cases. */
interface Tally {
  counts: { error: number; success: number; closed: number; ignored: number };
  codes: Map<string, number>;
  unanswered: string[];
  accepted: string[];
  leaked: string[];
  crashes: string[];
}

/** One run of part 1: the server child, the raw client, what the raw client's writes left, the canary. */
class HostileRun {
  private server!: ServerChild;
  private raw!: RawClient;
  private canary!: Canary;
  private readonly tracker = new Tracker();
  private q = 1000;
  private lastCase: HostileCase | undefined;
  readonly tally: Tally = {
    counts: { error: 0, success: 0, closed: 0, ignored: 0 },
    codes: new Map(),
    unanswered: [],
    accepted: [],
    leaked: [],
    crashes: [],
  };

  constructor(private readonly file: string) {}

  /** Starts the server and the raw client, makes the target objects, then starts the canary. */
  async start(): Promise<void> {
    this.server = await ServerChild.start({ file: this.file });
    const url = `http://127.0.0.1:${this.server.port}`;
    this.raw = new RawClient(url, `torture-raw-${randomBytes(12).toString('base64url')}`);
    await this.raw.connect();
    await this.createTargets();
    this.canary = new Canary(url);
    await this.canary.start();
  }

  /** Objects hostile updates aim at: ids 1..3 in each collection, before the canary makes any. */
  private async createTargets(): Promise<void> {
    for (const collection of ['', 'things']) {
      for (let k = 1; k <= 3; k++) {
        const q = ++this.q;
        const args = [{ ...(collection ? { c: collection } : {}), q, o: { target: k } }];
        const s: Sendable = { via: 'emit', event: 'create', args, ack: true, collection, q };
        const outcome = await this.raw.send(s, ANSWER_TIMEOUT_MS);
        if (outcome.kind !== 'answer' || !isSuccessAnswer(outcome.answer))
          throw new Error(`could not create target objects: ${JSON.stringify(outcome)}`);
        this.tracker.apply('create', s, outcome.answer);
      }
    }
  }

  /**
   * A server that died is a crash: notes the input sent last, and starts it again on its file and
   * port (waiting a moment first, since a close may be seen before the exit). True if it had died.
   */
  private async revive(): Promise<boolean> {
    await Promise.race([this.server.exited, new Promise((resolve) => setTimeout(resolve, 50))]);
    if (this.server.alive) return false;
    this.tally.crashes.push(`after ${this.lastCase?.label ?? '(start)'}: ${this.server.crash ?? 'gone'}`);
    this.server = await ServerChild.start({ file: this.file, port: this.server.port });
    return true;
  }

  /** Sends one case and counts what became of it. */
  async send(c: HostileCase, log: (line: string) => void): Promise<void> {
    if (!this.server.alive) await this.revive();
    this.lastCase = c;
    const s = c.build(++this.q);
    let outcome: Outcome;
    try {
      outcome = await this.raw.send(s, ANSWER_TIMEOUT_MS);
    } catch (err) {
      // Could not reconnect: the server is gone (or refuses us).
      if (!(await this.revive())) throw err;
      outcome = { kind: 'closed', reason: 'server died' };
    }
    if (outcome.kind === 'closed') await this.revive();
    if (TRACE) log(`    ${c.label.slice(0, 90)} -> ${JSON.stringify(outcome).slice(0, 160)}`);
    this.count(c, s, outcome);
  }

  private count(c: HostileCase, s: Sendable, outcome: Outcome): void {
    const t = this.tally;
    if (outcome.kind === 'closed') t.counts.closed++;
    else if (outcome.kind === 'ignored') t.counts.ignored++;
    else if (outcome.kind === 'timeout')
      t.unanswered.push(
        `${c.label}: no answer in ${ANSWER_TIMEOUT_MS / 1000} s and the connection stayed open`,
      );
    else if (isErrorAnswer(outcome.answer)) {
      const error = outcome.answer.error;
      t.counts.error++;
      t.codes.set(error.code, (t.codes.get(error.code) ?? 0) + 1);
      if (LEAK.test(error.message) || error.message.length > 500)
        t.leaked.push(`${c.label}: ${JSON.stringify(error).slice(0, 200)}`);
      if (!REFUSED_BEFORE_DEDUPE.has(error.code)) this.tracker.saw(s.q);
    } else if (isSuccessAnswer(outcome.answer)) {
      t.counts.success++;
      if (c.mustRefuse) t.accepted.push(`${c.label}: ${JSON.stringify(outcome.answer).slice(0, 200)}`);
      this.tracker.apply(c.kind, s, outcome.answer);
    } else {
      t.unanswered.push(`${c.label}: malformed answer ${JSON.stringify(outcome.answer).slice(0, 200)}`);
    }
  }

  /** Stops the canary; then the server's prototypes and store are examined, and everything closed. */
  async finish(): Promise<{ pollution: string[]; store: StoreCheck; errors: number; canary: Canary }> {
    if (!this.server.alive) await this.revive();
    await this.canary.stop();
    const pollution = (await this.server.request<string[]>({ type: 'pollution' })).map((p) => `server: ${p}`);
    const dump = await this.server.request<Dump>({ type: 'dump' });
    const store = checkStore(dump, [this.tracker.objects, this.canary.expected]);
    this.canary.client.disconnect();
    this.raw.close();
    await this.server.stop();
    return { pollution, store, errors: dump.errors, canary: this.canary };
  }
}

/** What the store holds against what was acknowledged. */
interface StoreCheck {
  stored: number;
  garbage: string[];
  missing: string[];
}

/**
 * The store must hold exactly what was acknowledged (by collection and id, from every source): no
 * object nobody was told about, no object that differs, no forbidden key, nothing missing.
 */
function checkStore(dump: Dump, sources: Array<Map<string, Map<string, StoredObject>>>): StoreCheck {
  const check: StoreCheck = {
    stored: 0,
    garbage: dump.forbidden.map((path) => `forbidden key stored at ${path}`),
    missing: [],
  };
  for (const name of ['', 'things']) {
    const expected = new Map(sources.flatMap((source) => [...source.get(name)!]));
    const label = name || 'default';
    const seen = new Set<string>();
    for (const obj of dump.collections[name]) {
      check.stored++;
      const key = String(obj.id);
      seen.add(key);
      const want = expected.get(key);
      const text = JSON.stringify(obj).slice(0, 160);
      if (!want) check.garbage.push(`${label}[${key}] was never acknowledged: ${text}`);
      else if (!jsonEqual(obj, want))
        check.garbage.push(
          `${label}[${key}] differs: stored ${text}, acknowledged ${JSON.stringify(want).slice(0, 160)}`,
        );
    }
    for (const key of expected.keys())
      if (!seen.has(key)) check.missing.push(`${label}[${key}] acknowledged but not stored`);
  }
  return check;
}

export async function runPart1(rng: Random, dir: string, log: (line: string) => void): Promise<PartResult> {
  const started = performance.now();
  // This process reads every answer: its prototypes are checked too.
  const ownPrototypes = snapshotPrototypes();
  const run = new HostileRun(join(dir, 'part1.sqlite'));
  await run.start();
  const cases = hostileCases(rng);
  log(`  part 1: ${cases.length} hostile inputs, canary running`);
  for (const c of cases) await run.send(c, log);
  const end = await run.finish();
  const pollution = [...end.pollution, ...pollutionSince(ownPrototypes).map((p) => `orchestrator: ${p}`)];
  const { counts, codes, unanswered, accepted, leaked, crashes } = run.tally;
  const { store, canary } = end;
  const rate = canary.tried === 0 ? 0 : (100 * canary.ok) / canary.tried;
  const figures: Figure[] = [
    { label: 'inputs tried', value: cases.length },
    { label: 'answered with an error code', value: counts.error, sub: true, note: breakdown(codes) },
    { label: 'answered with a success (legit input)', value: counts.success, sub: true },
    { label: 'connection closed by the server', value: counts.closed, sub: true },
    { label: 'no ack asked, connection still serves', value: counts.ignored, sub: true },
    { label: 'crashes', value: crashes.length, mustBeZero: true },
    { label: 'prototype pollution', value: pollution.length, mustBeZero: true },
    {
      label: 'garbage stored',
      value: store.garbage.length,
      mustBeZero: true,
      note: `${store.stored} objects stored`,
    },
    { label: 'acknowledged objects missing', value: store.missing.length, mustBeZero: true },
    { label: 'neither answered with a code nor closed', value: unanswered.length, mustBeZero: true },
    { label: 'hostile inputs accepted', value: accepted.length, mustBeZero: true },
    { label: 'error details leaked', value: leaked.length, mustBeZero: true },
    { label: 'canary round trips', value: canary.tried, note: `${rate.toFixed(2)} % succeeded` },
    { label: 'canary failures', value: canary.tried - canary.ok, mustBeZero: true },
    { label: 'server error events (handler failures)', value: end.errors },
    { label: 'time', value: seconds(performance.now() - started) },
  ];
  const notes = [
    ...crashes.map((x) => `crash ${x}`),
    ...pollution.map((x) => `pollution ${x}`),
    ...store.garbage.slice(0, 20).map((x) => `garbage ${x}`),
    ...store.missing.slice(0, 20).map((x) => `missing ${x}`),
    ...unanswered.slice(0, 20).map((x) => `unanswered ${x}`),
    ...accepted.slice(0, 20).map((x) => `accepted ${x}`),
    ...leaked.slice(0, 20).map((x) => `leaked ${x}`),
    ...canary.failures.map((x) => `canary ${x}`),
  ];
  if (canary.tried === 0) notes.push('canary made no round trip');
  return { figures, notes };
}
