/**
 * One run of one target: fresh servers (one child, or K nodes: servers.ts), N receivers and W writers
 * in this process, a warm-up, the fixed-rate phase, the saturation phase, and the servers' peak RSS;
 * then, on another fresh child, the memory of idle clients. A phase disturbed by other processes runs
 * once more. Everything it starts it closes, even on failure.
 *
 * On K nodes, receiver r connects to node r mod K and writer w to node w mod K; writer w writes only
 * objects with (id - 1) mod W = w, so every object is written through one node (route by object).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Closable, Driver, Writer } from './driver.js';
import { objectSyncDriver } from './driver-objectsync.js';
import { rawDriver } from './driver-raw.js';
import { runPhase, type Load, type PhaseFigures } from './load.js';
import { Meter } from './meter.js';
import { waitForQuiet } from './quiet.js';
import { changedField, type BenchOptions, type TargetName } from './options.js';
import type { BenchRedis } from './redis.js';
import { DISTURBED_PCT } from './report.js';
import { Servers } from './servers.js';

export interface LoadFigures {
  /** Fixed offered rate (absent when profiling). */
  rate: PhaseFigures | undefined;
  saturation: PhaseFigures;
  /** Peak RSS of the server child over the run (the largest node's), bytes. */
  peakRssBytes: number;
  /** Peak RSS of each node, bytes. */
  nodePeakRssBytes: number[];
  /** Updates sent over the whole run (warm-up and re-run phases included). */
  updatesSent: number;
}

export interface IdleFigures {
  /** Idle clients in each of the two sets. */
  clients: number;
  /**
   * Growth of the server's RSS / heap / external memory per idle client, bytes (after GC), measured
   * on a second set of clients connected next to a first: the cost of one more client, without the
   * one-time growth (compiled code, heap reservations) the first connections bring.
   */
  rssPerClient: number;
  heapPerClient: number;
  externalPerClient: number;
  /** The RSS growth per client of the first set, from a fresh server (one-time costs included). */
  rssFirstPerClient: number;
}

/** How many clients connect at once. */
const CONNECT_BATCH = 50;

function driverFor(target: TargetName, field: string): Driver {
  if (target === 'objectsync' || target === 'objectsync-nodes') return objectSyncDriver(field);
  return rawDriver(field, target === 'raw-full');
}

/**
 * Opens `count` clients (`open(i)`: client number i) into `into`, `CONNECT_BATCH` at a time; rethrows
 * the first failure (the caller closes `into`).
 */
async function openMany<T extends Closable>(
  count: number,
  open: (i: number) => Promise<T>,
  into: T[],
): Promise<void> {
  for (let i = 0; i < count; i += CONNECT_BATCH) {
    const batch = await Promise.allSettled(
      Array.from({ length: Math.min(CONNECT_BATCH, count - i) }, (_, j) => open(i + j)),
    );
    for (const r of batch) if (r.status === 'fulfilled') into.push(r.value);
    const failed = batch.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

/** A phase disturbed by more than this much CPU of other processes (% of a core) is run again. */
const NOISY_PCT = DISTURBED_PCT;
/** Most attempts per phase (a busy machine must not make the benchmark take forever). */
const ATTEMPTS = 2;

/**
 * Runs a phase; when other processes took more than `NOISY_PCT` of a core meanwhile, waits (a little)
 * for a quiet machine and runs it again, at most `ATTEMPTS` times; keeps the least disturbed attempt.
 */
async function quietPhase(
  load: Load,
  servers: Servers,
  updates: number,
  rate?: number,
): Promise<PhaseFigures> {
  let best: PhaseFigures | undefined;
  let attempts = 0;
  while (attempts < ATTEMPTS) {
    if (attempts > 0) await waitForQuiet(NOISY_PCT, 5000);
    attempts++;
    const figures = await runPhase(load, servers, updates, rate);
    if (!best || figures.otherCpuPct < best.otherCpuPct) best = figures;
    if (figures.otherCpuPct < NOISY_PCT) break;
  }
  return { ...best!, attempts };
}

/**
 * Runs the load phases on fresh servers (`redis`: for `objectsync-nodes`; `execArgv`: extra node flags
 * for the children, e.g. `--cpu-prof`).
 */
export async function runLoad(
  target: TargetName,
  options: BenchOptions,
  redis: BenchRedis | undefined,
  execArgv: string[] = [],
  withRate = true,
): Promise<LoadFigures> {
  const driver = driverFor(target, changedField(options.fields));
  const servers = await Servers.start(target, options, redis, execArgv);
  const k = servers.nodes.length;
  const meter = new Meter();
  const receivers: Closable[] = [];
  const writers: Writer[] = [];
  try {
    await openMany(options.clients, (r) => driver.receiver(servers.url(r), meter.node(r % k)), receivers);
    await openMany(options.writers, (w) => driver.writer(servers.url(w)), writers);
    const ids = writers.map((_, w) =>
      Array.from({ length: options.objects }, (_, i) => i + 1).filter(
        (id) => (id - 1) % writers.length === w,
      ),
    );
    await sleep(200);
    const load: Load = {
      writers,
      ids,
      meter,
      receivers: receivers.length,
      window: options.window,
      nextSeq: 1,
    };
    if (options.warmup > 0) await runPhase(load, servers, options.warmup);
    const rate = withRate ? await quietPhase(load, servers, options.rateUpdates, options.rate) : undefined;
    const saturation = await quietPhase(load, servers, options.updates);
    const nodePeakRssBytes = (await servers.stats()).map((s) => s.maxRss);
    const peakRssBytes = Math.max(...nodePeakRssBytes);
    return { rate, saturation, peakRssBytes, nodePeakRssBytes, updatesSent: load.nextSeq - 1 };
  } finally {
    for (const c of [...writers, ...receivers]) c.close();
    await servers.stop();
  }
}

/**
 * Connects `--idle` idle clients to a fresh server child, then `--idle` more, and measures its memory
 * growth per client over the second set (one-node targets only: a node's memory per client does not
 * depend on the other nodes).
 */
export async function measureIdle(target: TargetName, options: BenchOptions): Promise<IdleFigures> {
  const driver = driverFor(target, changedField(options.fields));
  const servers = await Servers.start(target, options, undefined);
  const server = servers.nodes[0];
  const idle: Closable[] = [];
  try {
    const before = await server.stats(true);
    await openMany(options.idle, () => driver.idle(server.url), idle);
    await sleep(500);
    const middle = await server.stats(true);
    const first = idle.length;
    await openMany(options.idle, () => driver.idle(server.url), idle);
    await sleep(500);
    const after = await server.stats(true);
    const second = idle.length - first;
    return {
      clients: second,
      rssPerClient: (after.rss - middle.rss) / second,
      heapPerClient: (after.heapUsed - middle.heapUsed) / second,
      externalPerClient: (after.external - middle.external) / second,
      rssFirstPerClient: (middle.rss - before.rss) / first,
    };
  } finally {
    for (const c of idle) c.close();
    await servers.stop();
  }
}
