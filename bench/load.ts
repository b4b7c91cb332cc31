/**
 * One measured phase of a run: the writers send `updates` updates — as fast as the window allows
 * (saturation) or at a fixed offered rate — and the phase ends when every receiver got every update
 * (or at a timeout, then marked incomplete). Figures: deliveries/s, latency percentiles, bytes per
 * delivery, and CPU per delivery of the server children (all nodes together, and each node per
 * delivery to its own receivers), of what the nodes share (Redis), and of this (client) process.
 */
import { performance } from 'node:perf_hooks';
import type { Writer } from './driver.js';
import { collectGarbage } from './gc.js';
import type { Meter } from './meter.js';
import { encodeValue } from './objects.js';
import { machineBusyUs } from './quiet.js';
import type { Servers } from './servers.js';
import { percentiles } from './stats.js';

/** The clients of a run and the state shared by its phases. */
export interface Load {
  writers: Writer[];
  /** The objects each writer changes, in turn. */
  ids: number[][];
  meter: Meter;
  receivers: number;
  /** Most writes in flight per writer. */
  window: number;
  /** Sequence number of the next update (unique over the whole run). */
  nextSeq: number;
}

export interface PhaseFigures {
  updates: number;
  /** Deliveries expected (updates x receivers) and counted. */
  expected: number;
  deliveries: number;
  complete: boolean;
  /** Writes that failed (refused or timed out), by error code. */
  errors: number;
  errorCodes: Record<string, number>;
  seconds: number;
  deliveriesPerSec: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  bytesPerDelivery: number;
  /** CPU of every server node together, per delivery and per update. */
  serverCpuUsPerDelivery: number;
  serverCpuUsPerUpdate: number;
  /** Each node's CPU per delivery to its own receivers (one entry with one node). */
  nodeCpuUsPerDelivery: number[];
  /** Deliveries to each node's receivers. */
  nodeDeliveries: number[];
  /** CPU of what the nodes share (Redis) per delivery; NaN with one node or where unreadable. */
  sharedCpuUsPerDelivery: number;
  clientCpuUsPerDelivery: number;
  /** CPU used meanwhile by processes other than the servers, Redis and this one, in % of one core (noise). */
  otherCpuPct: number;
  /** Times the phase was run (again when disturbed, see run.ts); the figures are the quietest's. */
  attempts: number;
}

/** Runs one phase; `rate` (updates/s) makes it a fixed-rate phase, else it runs at saturation. */
export async function runPhase(
  load: Load,
  servers: Servers,
  updates: number,
  rate?: number,
): Promise<PhaseFigures> {
  const { meter, receivers } = load;
  const base = load.nextSeq;
  load.nextSeq += updates;
  meter.begin(base, updates, receivers);
  collectGarbage();
  const before = await servers.stats(true);
  const shared0 = servers.sharedCpuUs();
  const cpu0 = process.cpuUsage();
  const machine0 = machineBusyUs();
  const t0 = performance.now();
  const sending = send(load, base, updates, t0, rate);
  const expected = updates * receivers;
  const timeoutMs = rate ? (updates / rate) * 1000 + 20_000 : 30_000 + expected / 5;
  const complete = await meter.whenComplete(timeoutMs);
  sending.stop();
  const end = complete ? meter.lastAt : performance.now();
  const clientCpu = process.cpuUsage(cpu0);
  const machineUs = machineBusyUs() - machine0;
  const sharedUs = servers.sharedCpuUs() - shared0;
  const after = await servers.stats();
  const deliveries = meter.deliveries;
  const seconds = (end - t0) / 1000;
  const [p50Ms, p95Ms, p99Ms] = percentiles(meter.latencies(), [50, 95, 99]);
  const nodeCpuUs = after.map((a, i) => a.userUs + a.systemUs - before[i].userUs - before[i].systemUs);
  const nodeDeliveries = nodeCpuUs.map((_, i) => meter.nodeDeliveries[i] ?? 0);
  const serverCpuUs = nodeCpuUs.reduce((a, b) => a + b, 0);
  const clientCpuUs = clientCpu.user + clientCpu.system;
  const ownUs = serverCpuUs + clientCpuUs + (Number.isFinite(sharedUs) ? sharedUs : 0);
  const otherUs = Math.max(0, machineUs - ownUs);
  return {
    updates,
    expected,
    deliveries,
    complete,
    errors: Object.values(sending.errorCodes).reduce((a, b) => a + b, 0),
    errorCodes: sending.errorCodes,
    seconds,
    deliveriesPerSec: deliveries / seconds,
    p50Ms,
    p95Ms,
    p99Ms,
    bytesPerDelivery: meter.bytes / deliveries,
    serverCpuUsPerDelivery: serverCpuUs / deliveries,
    serverCpuUsPerUpdate: serverCpuUs / updates,
    nodeCpuUsPerDelivery: nodeCpuUs.map((us, i) => us / nodeDeliveries[i]),
    nodeDeliveries,
    sharedCpuUsPerDelivery: sharedUs / deliveries,
    clientCpuUsPerDelivery: clientCpuUs / deliveries,
    otherCpuPct: (100 * otherUs) / ((performance.now() - t0) * 1000),
    attempts: 1,
  };
}

/**
 * Sends updates `base .. base + updates - 1`. At saturation each writer keeps `window` writes in
 * flight, its share of the updates going round its objects; at a fixed rate update k is due at
 * `t0 + k / rate` and goes to writer k mod W (held back while that writer's window is full).
 */
function send(
  load: Load,
  base: number,
  updates: number,
  t0: number,
  rate: number | undefined,
): { stop(): void; errorCodes: Record<string, number> } {
  const { writers, ids, meter, window } = load;
  const inFlight = writers.map(() => 0);
  const turn = writers.map(() => 0);
  const quota = writers.map(
    (_, w) => Math.floor(updates / writers.length) + (w < updates % writers.length ? 1 : 0),
  );
  let next = 0;
  const errorCodes: Record<string, number> = {};
  let stopped = false;

  const sendOne = (w: number, dueAt: number): void => {
    const seq = base + next++;
    const mine = ids[w];
    const id = mine[turn[w]++ % mine.length];
    meter.sent(seq, dueAt);
    inFlight[w]++;
    writers[w].write(id, encodeValue(seq)).then(
      () => done(w),
      (err: unknown) => {
        const code = String((err as { code?: unknown } | null)?.code ?? 'error');
        errorCodes[code] = (errorCodes[code] ?? 0) + 1;
        done(w);
      },
    );
  };
  const done = (w: number): void => {
    inFlight[w]--;
    if (!rate) pump(w);
  };
  const pump = (w: number): void => {
    while (!stopped && inFlight[w] < window && quota[w] > 0) {
      quota[w]--;
      sendOne(w, performance.now());
    }
  };

  let timer: ReturnType<typeof setInterval> | undefined;
  if (rate) {
    const tick = (): void => {
      const due = Math.min(updates, Math.floor(((performance.now() - t0) * rate) / 1000) + 1);
      while (!stopped && next < due) {
        const w = next % writers.length;
        if (inFlight[w] >= window) break;
        sendOne(w, t0 + (next * 1000) / rate);
      }
      if (next >= updates) clearInterval(timer);
    };
    timer = setInterval(tick, 1);
    tick();
  } else {
    writers.forEach((_, w) => pump(w));
  }
  return {
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
    errorCodes,
  };
}
