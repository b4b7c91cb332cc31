/**
 * One run of one target: a fresh server child, N receivers and W writers in this process, a
 * warm-up, the fixed-rate phase, the saturation phase, and the server's peak RSS; then, on another
 * fresh child, the memory of idle clients. A phase disturbed by other processes runs once more.
 * Everything it starts it closes, even on failure.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ServerChild } from './child.js';
import type { Closable, Driver, Writer } from './driver.js';
import { objectSyncDriver } from './driver-objectsync.js';
import { rawDriver } from './driver-raw.js';
import { runPhase, type Load, type PhaseFigures } from './load.js';
import { Meter } from './meter.js';
import { waitForQuiet } from './quiet.js';
import { changedField, type BenchOptions, type TargetName } from './options.js';
import { DISTURBED_PCT } from './report.js';

export interface LoadFigures {
  /** Fixed offered rate (absent when profiling). */
  rate: PhaseFigures | undefined;
  saturation: PhaseFigures;
  /** Peak RSS of the server child over the run, bytes. */
  peakRssBytes: number;
  /** Updates sent over the whole run (warm-up and re-run phases included). */
  updatesSent: number;
}

export interface IdleFigures {
  clients: number;
  /** Growth of the server's RSS / heap per idle client, bytes (after GC). */
  rssPerClient: number;
  heapPerClient: number;
  externalPerClient: number;
}

/** How many clients connect at once. */
const CONNECT_BATCH = 50;

function driverFor(target: TargetName, field: string): Driver {
  if (target === 'objectsync') return objectSyncDriver(field);
  return rawDriver(field, target === 'raw-full');
}

/** Opens `count` clients into `into`, `CONNECT_BATCH` at a time; rethrows the first failure (the caller closes `into`). */
async function openMany<T extends Closable>(count: number, open: () => Promise<T>, into: T[]): Promise<void> {
  for (let i = 0; i < count; i += CONNECT_BATCH) {
    const batch = await Promise.allSettled(
      Array.from({ length: Math.min(CONNECT_BATCH, count - i) }, () => open()),
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
  server: ServerChild,
  updates: number,
  rate?: number,
): Promise<PhaseFigures> {
  let best: PhaseFigures | undefined;
  let attempts = 0;
  while (attempts < ATTEMPTS) {
    if (attempts > 0) await waitForQuiet(NOISY_PCT, 5000);
    attempts++;
    const figures = await runPhase(load, server, updates, rate);
    if (!best || figures.otherCpuPct < best.otherCpuPct) best = figures;
    if (figures.otherCpuPct < NOISY_PCT) break;
  }
  return { ...best!, attempts };
}

/** Runs the load phases on a fresh server child (`execArgv`: extra node flags for it, e.g. `--cpu-prof`). */
export async function runLoad(
  target: TargetName,
  options: BenchOptions,
  execArgv: string[] = [],
  withRate = true,
): Promise<LoadFigures> {
  const driver = driverFor(target, changedField(options.fields));
  const server = await ServerChild.start(target, {
    fields: options.fields,
    objects: options.objects,
    coalesce: options.coalesce,
    execArgv,
  });
  const meter = new Meter();
  const receivers: Closable[] = [];
  const writers: Writer[] = [];
  try {
    await openMany(options.clients, () => driver.receiver(server.url, meter), receivers);
    await openMany(options.writers, () => driver.writer(server.url), writers);
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
    if (options.warmup > 0) await runPhase(load, server, options.warmup);
    const rate = withRate ? await quietPhase(load, server, options.rateUpdates, options.rate) : undefined;
    const saturation = await quietPhase(load, server, options.updates);
    const peakRssBytes = (await server.stats()).maxRss;
    return { rate, saturation, peakRssBytes, updatesSent: load.nextSeq - 1 };
  } finally {
    for (const c of [...writers, ...receivers]) c.close();
    await server.stop();
  }
}

/** Connects `count` idle clients to a fresh server child and measures its memory growth per client. */
export async function measureIdle(target: TargetName, options: BenchOptions): Promise<IdleFigures> {
  const driver = driverFor(target, changedField(options.fields));
  const server = await ServerChild.start(target, {
    fields: options.fields,
    objects: options.objects,
    coalesce: options.coalesce,
  });
  const idle: Closable[] = [];
  try {
    const before = await server.stats(true);
    await openMany(options.idle, () => driver.idle(server.url), idle);
    await sleep(500);
    const after = await server.stats(true);
    return {
      clients: idle.length,
      rssPerClient: (after.rss - before.rss) / idle.length,
      heapPerClient: (after.heapUsed - before.heapUsed) / idle.length,
      externalPerClient: (after.external - before.external) / idle.length,
    };
  } finally {
    for (const c of idle) c.close();
    await server.stop();
  }
}
