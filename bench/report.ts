/**
 * Turns the runs into what the issue asks for: per-target medians over the repetitions, a table,
 * and the object-sync / raw socket.io ratios against their targets.
 */
import type { PhaseFigures } from './load.js';
import type { TargetName } from './options.js';
import type { IdleFigures, LoadFigures } from './run.js';
import { median } from './stats.js';

export interface RunRecord {
  target: TargetName;
  rep: number;
  load: LoadFigures;
  idle: IdleFigures | undefined;
}

/** Medians over the repetitions of one target. Bytes and CPU are taken at saturation. */
export interface Summary {
  deliveriesPerSec: number;
  rateP50Ms: number;
  rateP95Ms: number;
  rateP99Ms: number;
  satP50Ms: number;
  satP95Ms: number;
  satP99Ms: number;
  bytesPerDelivery: number;
  serverCpuUsPerDelivery: number;
  /** All nodes' CPU per update (per delivery x receivers). */
  serverCpuUsPerUpdate: number;
  /** Each node's CPU per delivery to its own receivers. */
  nodeCpuUsPerDelivery: number[];
  /** Redis's CPU per delivery (NaN on one node). */
  sharedCpuUsPerDelivery: number;
  clientCpuUsPerDelivery: number;
  /** The largest node's peak RSS, and each node's. */
  peakRssMiB: number;
  nodePeakRssMiB: number[];
  idleKiBPerClient: number;
  idleHeapKiBPerClient: number;
  idleExternalKiBPerClient: number;
  idleFirstKiBPerClient: number;
  /** CPU other processes used during the saturation phases, % of one core (noise indicator). */
  otherCpuPct: number;
  /** Runs whose phases all completed, out of all runs. */
  completeRuns: string;
  /** Undisturbed runs the medians come from: fixed-rate / saturation, of all runs. */
  quietRuns: string;
}

export interface Ratio {
  metric: string;
  /** objectsync figure vs the baseline figure: `ratio` (x) or `difference` (+). */
  kind: 'ratio' | 'difference';
  baseline: TargetName;
  value: number;
  target: string;
  pass: boolean;
}

/** A phase is disturbed when other processes took this much CPU meanwhile (% of a core). */
export const DISTURBED_PCT = 25;

/**
 * Medians of one target's runs. Each phase's figures come from its undisturbed runs (all runs when
 * every one was disturbed): on a shared machine one busy moment must not decide the result.
 */
export function summarize(runs: RunRecord[], target: TargetName): Summary | undefined {
  const mine = runs.filter((r) => r.target === target);
  if (mine.length === 0) return undefined;
  const phases = (pick: (r: RunRecord) => PhaseFigures | undefined): PhaseFigures[] => {
    const all = mine.map(pick).filter((p): p is PhaseFigures => p !== undefined);
    const quiet = all.filter((p) => p.otherCpuPct < DISTURBED_PCT);
    return quiet.length > 0 ? quiet : all;
  };
  const satRuns = phases((r) => r.load.saturation);
  const rateRuns = phases((r) => r.load.rate);
  const sat = (f: (p: PhaseFigures) => number): number => median(satRuns.map(f));
  const rate = (f: (p: PhaseFigures) => number): number => median(rateRuns.map(f));
  const idle = (f: (i: IdleFigures) => number): number => median(mine.map((r) => (r.idle ? f(r.idle) : NaN)));
  const complete = mine.filter((r) => r.load.saturation.complete && (r.load.rate?.complete ?? true)).length;
  const quiet = (list: PhaseFigures[]): number => list.filter((p) => p.otherCpuPct < DISTURBED_PCT).length;
  const nodes = Array.from(
    { length: Math.max(...mine.map((r) => r.load.nodePeakRssBytes.length)) },
    (_, i) => i,
  );
  return {
    deliveriesPerSec: sat((p) => p.deliveriesPerSec),
    rateP50Ms: rate((p) => p.p50Ms),
    rateP95Ms: rate((p) => p.p95Ms),
    rateP99Ms: rate((p) => p.p99Ms),
    satP50Ms: sat((p) => p.p50Ms),
    satP95Ms: sat((p) => p.p95Ms),
    satP99Ms: sat((p) => p.p99Ms),
    bytesPerDelivery: sat((p) => p.bytesPerDelivery),
    serverCpuUsPerDelivery: sat((p) => p.serverCpuUsPerDelivery),
    serverCpuUsPerUpdate: sat((p) => p.serverCpuUsPerUpdate),
    nodeCpuUsPerDelivery: nodes.map((i) => sat((p) => p.nodeCpuUsPerDelivery[i] ?? NaN)),
    sharedCpuUsPerDelivery: sat((p) => p.sharedCpuUsPerDelivery),
    clientCpuUsPerDelivery: sat((p) => p.clientCpuUsPerDelivery),
    peakRssMiB: median(mine.map((r) => r.load.peakRssBytes / 2 ** 20)),
    nodePeakRssMiB: nodes.map((i) => median(mine.map((r) => (r.load.nodePeakRssBytes[i] ?? NaN) / 2 ** 20))),
    idleKiBPerClient: idle((i) => i.rssPerClient / 1024),
    idleHeapKiBPerClient: idle((i) => i.heapPerClient / 1024),
    idleExternalKiBPerClient: idle((i) => i.externalPerClient / 1024),
    idleFirstKiBPerClient: idle((i) => i.rssFirstPerClient / 1024),
    otherCpuPct: sat((p) => p.otherCpuPct),
    completeRuns: `${complete}/${mine.length}`,
    quietRuns: `${quiet(phases((r) => r.load.rate))}/${quiet(satRuns)} of ${mine.length}`,
  };
}

/**
 * The issue's targets, where both sides were measured. With coalescing on (`coalescing`) two are
 * stricter: server CPU ≤ 0.5x raw diff, and at N=200 (`clients` ≥ 200) deliveries/s ≥ 2x raw full.
 */
export function ratios(s: Partial<Record<TargetName, Summary>>, coalescing = false, clients = 50): Ratio[] {
  const os = s.objectsync;
  const out: Ratio[] = [];
  if (!os) return out;
  const ratio = (
    metric: string,
    baseline: TargetName,
    pick: (x: Summary) => number,
    max?: number,
    min?: number,
  ) => {
    const base = s[baseline];
    if (!base) return;
    const value = pick(os) / pick(base);
    const target = max !== undefined ? `<= ${max}x` : `>= ${min}x`;
    const pass = max !== undefined ? value <= max : value >= min!;
    out.push({ metric, kind: 'ratio', baseline, value, target, pass });
  };
  const minDeliveries = coalescing && clients >= 200 ? 2.0 : 1.0;
  ratio('deliveries/s at saturation', 'raw-full', (x) => x.deliveriesPerSec, undefined, minDeliveries);
  ratio('server CPU us/delivery', 'raw-diff', (x) => x.serverCpuUsPerDelivery, coalescing ? 0.5 : 1.1);
  ratio('bytes/delivery (one-field change)', 'raw-diff', (x) => x.bytesPerDelivery, 1.5);
  ratio('p99 latency at fixed rate', 'raw-full', (x) => x.rateP99Ms, 1.2);
  ratio('p99 latency at fixed rate', 'raw-diff', (x) => x.rateP99Ms, 1.2);
  for (const baseline of ['raw-full', 'raw-diff'] as const) {
    const base = s[baseline];
    if (!base || !Number.isFinite(os.idleKiBPerClient)) continue;
    const value = os.idleKiBPerClient - base.idleKiBPerClient;
    out.push({
      metric: 'memory per idle client (RSS)',
      kind: 'difference',
      baseline,
      value,
      target: '<= +4 KiB',
      pass: value <= 4,
    });
  }
  return out;
}

// --- printing ---------------------------------------------------------------------------------

export const int = (x: number): string =>
  Number.isFinite(x) ? Math.round(x).toLocaleString('en-US').replace(/,/g, ' ') : '-';
export const fixed =
  (digits: number) =>
  (x: number): string =>
    Number.isFinite(x) ? x.toFixed(digits) : '-';

const ROWS: Array<[string, (s: Summary) => string]> = [
  ['deliveries/s (saturation)', (s) => int(s.deliveriesPerSec)],
  [
    'latency p50 / p95 / p99 ms, fixed rate',
    (s) => [s.rateP50Ms, s.rateP95Ms, s.rateP99Ms].map(fixed(2)).join(' / '),
  ],
  [
    'latency p50 / p95 / p99 ms, saturation',
    (s) => [s.satP50Ms, s.satP95Ms, s.satP99Ms].map(fixed(1)).join(' / '),
  ],
  ['bytes/delivery', (s) => fixed(1)(s.bytesPerDelivery)],
  ['server CPU us/delivery', (s) => fixed(2)(s.serverCpuUsPerDelivery)],
  ['client CPU us/delivery (all clients)', (s) => fixed(2)(s.clientCpuUsPerDelivery)],
  ['server peak RSS MiB', (s) => fixed(1)(s.peakRssMiB)],
  ['memory per idle client KiB (RSS)', (s) => fixed(2)(s.idleKiBPerClient)],
  ['memory per idle client KiB (heap)', (s) => fixed(2)(s.idleHeapKiBPerClient)],
  ['memory per idle client KiB (external)', (s) => fixed(2)(s.idleExternalKiBPerClient)],
  ['RSS per client of the first set KiB, fresh server', (s) => fixed(2)(s.idleFirstKiBPerClient)],
  ['other processes, % of a core (noise)', (s) => fixed(0)(s.otherCpuPct)],
  ['runs complete', (s) => s.completeRuns],
  ['undisturbed runs used, rate / saturation', (s) => s.quietRuns],
];

/** Lays out rows as a Markdown table with padded columns (readable in a terminal too). */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((cell, c) => cell.padEnd(widths[c])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

export function summaryTable(s: Partial<Record<TargetName, Summary>>, targets: TargetName[]): string {
  const present = targets.filter((t) => s[t]);
  return table(
    ['median of runs', ...present],
    ROWS.map(([label, f]) => [label, ...present.map((t) => f(s[t]!))]),
  );
}

/** Two decimals, three near a threshold (so 0.996 does not read as a failing 1.00). */
function ratioText(x: number): string {
  const two = x.toFixed(2);
  return [0.5, 1.0, 1.1, 1.2, 1.5, 2.0].includes(Number(two)) ? x.toFixed(3) : two;
}

export function ratioTable(list: Ratio[]): string {
  return table(
    ['objectsync vs', 'baseline', 'measured', 'target', ''],
    list.map((r) => [
      r.metric,
      r.baseline,
      r.kind === 'ratio' ? `${ratioText(r.value)}x` : `${r.value >= 0 ? '+' : ''}${r.value.toFixed(2)} KiB`,
      r.target,
      r.pass ? 'PASS' : 'FAIL',
    ]),
  );
}

/** One line per run, printed as it ends. */
export function runLine(r: RunRecord, seconds: number): string {
  const sat = r.load.saturation;
  const rate = r.load.rate;
  const parts = [
    `${int(sat.deliveriesPerSec)} deliveries/s`,
    `${sat.bytesPerDelivery.toFixed(1)} B`,
    `server ${sat.serverCpuUsPerDelivery.toFixed(2)} us`,
    `client ${sat.clientCpuUsPerDelivery.toFixed(2)} us`,
    `sat p99 ${sat.p99Ms.toFixed(1)} ms`,
  ];
  if (rate) parts.push(`rate p99 ${rate.p99Ms.toFixed(2)} ms`);
  if (sat.nodeCpuUsPerDelivery.length > 1) {
    const each = sat.nodeCpuUsPerDelivery.map((us) => us.toFixed(2)).join(' / ');
    parts.push(`nodes ${each} us, redis ${sat.sharedCpuUsPerDelivery.toFixed(2)} us`);
  }
  const peaks = r.load.nodePeakRssBytes.map((b) => (b / 2 ** 20).toFixed(0)).join(' / ');
  parts.push(`peak ${peaks} MiB`);
  if (r.idle) parts.push(`idle ${(r.idle.rssPerClient / 1024).toFixed(1)} KiB/client`);
  const failed = [rate, sat]
    .flatMap((p) => (p ? Object.entries(p.errorCodes) : []))
    .map(([code, n]) => `${code} x${n}`)
    .join(', ');
  const flags = [sat, rate].some((p) => p && (!p.complete || p.errors > 0))
    ? `  INCOMPLETE (${sat.deliveries}/${sat.expected} delivered; failed writes: ${failed || 'none'})`
    : '';
  const noisy = [rate, sat].filter((p): p is PhaseFigures => p !== undefined && p.otherCpuPct >= 10);
  const disturbed = noisy.some((p) => p.otherCpuPct >= DISTURBED_PCT) ? ' DISTURBED' : '';
  const retried = [rate, sat].some((p) => p && p.attempts > 1);
  const noise =
    noisy.length > 0 || retried
      ? `  (other processes: ${[rate, sat].map((p) => (p ? `${p.otherCpuPct.toFixed(0)}%` : '-')).join(' / ')} of a core` +
        `${retried ? `; phases run ${[rate, sat].map((p) => p?.attempts ?? '-').join(' / ')} times` : ''})${disturbed}`
      : '';
  return `  rep ${r.rep} ${r.target.padEnd(16)} ${parts.join(', ')}  [${seconds.toFixed(1)} s]${flags}${noise}`;
}
