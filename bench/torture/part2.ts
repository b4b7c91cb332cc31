/**
 * Part 2 — faults, randomized. A server child on a SQLite file (restartable on the same file and
 * port), several of our clients in this process, each through its own gate (pause) and fault proxy
 * (drop, cut), writing under the fault plan of chaos.ts. Afterwards, once every client is connected
 * with nothing pending and has seen a barrier object the server created last: every replica must
 * equal the store, and the store must hold every acknowledged write exactly once (verify.ts).
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { StoredObject } from '../../lib/index.js';
import { Chaos, planFaults, type ChaosCounts } from './chaos.js';
import { unexplained } from './explain.js';
import type { Dump } from './ipc.js';
import type { TortureOptions } from './options.js';
import type { Random } from './random.js';
import { breakdown, jsonEqual, seconds, type Figure, type PartResult } from './report.js';
import { Rig } from './rig.js';
import { verify, type Verdict } from './verify.js';
import { Writer, type WriterOptions } from './writer.js';

/** socket.io ping interval and ping timeout of the server, ms. */
const PING_MS = 1000;
/** The engine's session timeout, ms (shorter than the outage). */
const SESSION_TIMEOUT_MS = 1500;
/** Objects every writer writes a field of. */
const SHARED_OBJECTS = 3;
/** Writes in flight per writer. */
const WINDOW = 8;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Wakes everyone waiting whenever something moved. */
class Signal {
  private waiters: Array<() => void> = [];
  wait(): Promise<void> {
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }
  notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** Polls `done` every 50 ms until it holds or `ms` pass; resolves with whether it held. */
async function until(done: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** Starts the writers, runs them and the fault plan together; resolves when every write settled. */
async function writeUnderFaults(
  options: TortureOptions,
  rig: Rig,
  shared: Array<StoredObject['id']>,
  rng: Random,
  log: (line: string) => void,
): Promise<{ writers: Writer[]; chaos: Chaos; writeTime: number }> {
  const plan = planFaults(options, rng.fork());
  const progress = new Signal();
  let settled = 0;
  const writers: Writer[] = [];
  const chaos = new Chaos(
    plan,
    {
      proxies: rig.proxies,
      gates: rig.gates,
      get clients() {
        return writers.map((w) => w.client);
      },
      restart: () => rig.restart(),
      signal: (s) => rig.server.signal(s),
      pingMs: PING_MS,
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
    },
    rng.fork(),
  );
  // Writers may run ahead of the next fault by this many writes.
  const slack = options.clients * WINDOW;
  const sentTotal = (): number => writers.reduce((n, w) => n + w.sent, 0);
  for (let i = 0; i < options.clients; i++) {
    const share = Math.floor(options.writes / options.clients);
    const writerOptions: WriterOptions = {
      index: i,
      url: rig.url(i),
      quota: share + (i < options.writes % options.clients ? 1 : 0),
      window: WINDOW,
      shared,
      // The last client starts on long-polling and upgrades, as browsers do; the others use websocket.
      polling: options.clients > 1 && i === options.clients - 1,
      allowance: async () => {
        while (sentTotal() >= chaos.limit(slack)) await progress.wait();
      },
      settled: () => {
        settled++;
        progress.notify();
      },
    };
    writers.push(new Writer(writerOptions, rng.fork()));
  }
  await Promise.all(writers.map((w) => w.ready()));
  log(`  part 2: ${options.clients} clients, ${options.writes} writes, ${plan.length} faults planned`);
  const writing = performance.now();
  await Promise.all([
    ...writers.map((w) => w.run()),
    chaos.run(
      () => settled,
      () => progress.wait(),
      () => progress.notify(),
    ),
  ]);
  return { writers, chaos, writeTime: performance.now() - writing };
}

/** Where the clients ended up: who never settled, whose replica differs from the store. */
interface Settled {
  unsettled: string[];
  differing: string[];
  /** How long the replicas took to equal the store after the barrier. */
  convergeTime: number;
  barrier: string;
  listed: number;
}

/**
 * Waits until every client is connected with nothing pending, then for a barrier (an object the
 * server creates last) to reach every client, then compares every replica with the store (giving
 * stragglers, e.g. a gap being refetched, up to 10 s).
 */
async function settle(writers: Writer[], rig: Rig): Promise<Settled> {
  const unsettled: string[] = [];
  const calm = (w: Writer): boolean => w.client.isConnected() && w.client.pendingRequests === 0;
  if (!(await until(() => writers.every(calm), 60_000)))
    for (const [i, w] of writers.entries())
      if (!calm(w))
        unsettled.push(
          `client ${i}: ${w.client.state}, ${w.client.pendingRequests} requests pending after 60 s`,
        );
  const barrier = await rig.save({ barrier: true });
  if (!(await until(() => writers.every((w) => w.client.get(barrier.id) !== undefined), 20_000)))
    for (const [i, w] of writers.entries())
      if (!w.client.get(barrier.id)) unsettled.push(`client ${i} did not see the barrier in 20 s`);

  let store = (await rig.server.request<Dump>({ type: 'dump' })).collections[''];
  const converging = performance.now();
  for (let tries = 0; tries < 50 && writers.some((w) => replicaDiff(w, store)); tries++) {
    await sleep(200);
    store = (await rig.server.request<Dump>({ type: 'dump' })).collections[''];
  }
  const differing = writers
    .map((w, i) => [i, replicaDiff(w, store)] as const)
    .filter(([, diff]) => diff !== undefined)
    .map(([i, diff]) => `replica of client ${i} differs from the store: ${diff}`);
  return {
    unsettled,
    differing,
    convergeTime: performance.now() - converging,
    barrier: String(barrier.id),
    listed: store.length,
  };
}

/** How a client's replica differs from the store's objects, or `undefined` when it equals them. */
function replicaDiff(w: Writer, store: StoredObject[]): string | undefined {
  const mine = w.client.allObjects();
  const theirs = new Map(store.map((o) => [String(o.id), o]));
  const extra = Object.keys(mine).filter((k) => !theirs.has(k));
  const missing = [...theirs.keys()].filter((k) => !(k in mine));
  const changed = [...theirs.keys()].filter((k) => k in mine && !jsonEqual(mine[k], theirs.get(k)));
  if (extra.length + missing.length + changed.length === 0) return undefined;
  const list = (ids: string[]): string => ids.slice(0, 10).join(',') || '-';
  return `extra ${list(extra)}, missing ${list(missing)}, changed ${list(changed)}`;
}

/** The figures of part 2. */
function figuresOf(
  writers: Writer[],
  c: ChaosCounts,
  verdict: Verdict,
  end: Settled & { crashes: number; rows: number; writeTime: number; started: number; unexplained: number },
): Figure[] {
  const sum = (f: (w: Writer) => number): number => writers.reduce((n, w) => n + f(w), 0);
  const failedCodes = new Map<string, number>();
  for (const w of writers)
    for (const [code, n] of w.failed) failedCodes.set(code, (failedCodes.get(code) ?? 0) + n);
  const sent = sum((w) => w.sent);
  return [
    { label: 'writes attempted', value: sent },
    { label: 'acknowledged', value: sum((w) => w.acked), sub: true },
    {
      label: 'failed (answered with an error)',
      value: [...failedCodes.values()].reduce((a, b) => a + b, 0),
      sub: true,
      note: breakdown(failedCodes),
    },
    { label: 'failed without a fault to explain it', value: end.unexplained, sub: true, mustBeZero: true },
    { label: 'proxy cuts', value: c.cuts },
    { label: 'disconnects seen by clients', value: sum((w) => w.disconnects), sub: true },
    { label: 'server kills (SIGKILL + restart)', value: c.kills },
    { label: 'server stops (SIGSTOP > ping timeout)', value: c.stops },
    { label: 'client pauses (not reading)', value: c.pauses },
    { label: 'outages (> session timeout)', value: c.outages },
    { label: 'server crashes', value: end.crashes, mustBeZero: true },
    { label: 'acknowledged writes lost', value: verdict.lost, mustBeZero: true },
    { label: 'acknowledged writes not in history', value: verdict.notInHistory, mustBeZero: true },
    { label: 'writes applied twice', value: verdict.twice, mustBeZero: true },
    { label: 'values corrupted', value: verdict.corrupt, mustBeZero: true },
    { label: 'objects stored that nobody made', value: verdict.unknown, mustBeZero: true },
    {
      label: 'answers not holding their own write',
      value: sum((w) => w.wrongAnswers.length),
      mustBeZero: true,
    },
    {
      label: 'replicas differing from the store',
      value: end.differing.length,
      mustBeZero: true,
      note: end.convergeTime >= 100 ? `(waited ${seconds(end.convergeTime)} after the barrier)` : '',
    },
    { label: 'clients not settled (hang)', value: end.unsettled.length, mustBeZero: true },
    { label: 'objects in the store', value: end.rows },
    {
      label: 'write phase',
      value: seconds(end.writeTime),
      note: `${Math.round((sent * 1000) / end.writeTime)} writes/s`,
    },
    { label: 'time', value: seconds(performance.now() - end.started) },
  ];
}

export async function runPart2(
  options: TortureOptions,
  rng: Random,
  dir: string,
  log: (line: string) => void,
): Promise<PartResult> {
  const started = performance.now();
  const rig = new Rig({ file: join(dir, 'part2.sqlite'), ping: PING_MS, sessionTimeout: SESSION_TIMEOUT_MS });
  await rig.start(options.clients);
  const shared: Array<StoredObject['id']> = [];
  for (let k = 0; k < SHARED_OBJECTS; k++) shared.push((await rig.save({ shared: k })).id);

  const { writers, chaos, writeTime } = await writeUnderFaults(options, rig, shared, rng, log);
  const end = await settle(writers, rig);
  for (const w of writers) w.client.disconnect();
  await rig.close();
  const rows = rig.rows();
  const history = rig.history();
  const verdict = verify(writers, rows, new Set(shared.map(String)), end.barrier, history);
  // Tokens some committed state ended with: a failed update whose token is there was applied.
  const applied = new Set<unknown>();
  for (const states of history.values())
    for (const obj of states)
      for (const value of Object.values(obj)) if (Array.isArray(value)) applied.add(value.at(-1));
  const unexplainedFailures = writers
    .flatMap((w, i) => unexplained(i, w.failures, chaos.windows))
    .map((note) => {
      const token = / adding (\S+) failed/.exec(note)?.[1];
      if (token === undefined) return note;
      return `${note} (${applied.has(token) ? 'yet it was applied: a state ending with it was committed' : 'it was never applied'})`;
    });

  const figures = figuresOf(writers, chaos.counts, verdict, {
    ...end,
    unexplained: unexplainedFailures.length,
    crashes: rig.crashes.length,
    rows: rows.length,
    writeTime,
    started,
  });
  const clientErrors = new Map<string, number>();
  for (const w of writers)
    for (const code of w.clientErrors) clientErrors.set(code, (clientErrors.get(code) ?? 0) + 1);
  const notes = [
    ...rig.crashes.map((x) => `crash: ${x}`),
    ...verdict.notes,
    ...unexplainedFailures.slice(0, 10),
    ...writers.flatMap((w) => w.wrongAnswers).slice(0, 10),
    ...end.differing,
    ...end.unsettled,
  ];
  if (clientErrors.size > 0) notes.push(`client error events: ${breakdown(clientErrors)}`);
  if (rows.length !== end.listed)
    notes.push(`the file holds ${rows.length} objects, the server listed ${end.listed}`);
  return { figures, notes };
}
