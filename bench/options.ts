/**
 * Command-line flags of `npm run bench`, each with its default, parsed once.
 *
 * The defaults keep a full run (3 targets x 3 repetitions) under about three minutes on 2 cores.
 */
import { parseArgs } from 'node:util';

/** The servers measured side by side. */
export type TargetName = 'objectsync' | 'raw-full' | 'raw-diff';
export const ALL_TARGETS: readonly TargetName[] = ['objectsync', 'raw-full', 'raw-diff'];

export interface BenchOptions {
  /** Receivers (N): clients that get every update. */
  clients: number;
  /** Writers (W): clients that send the updates, each to its own objects. */
  writers: number;
  /** Updates (U) of the saturation phase, per run. */
  updates: number;
  /** Updates of the fixed-rate phase, per run. */
  rateUpdates: number;
  /** Updates sent before measuring (JIT warm-up), per run. */
  warmup: number;
  /** Fields (F) per object; one of them (`f3`, or the last when F < 4) changes. */
  fields: number;
  /** Objects in the collection, shared out among the writers. */
  objects: number;
  /** Offered rate of the fixed-rate phase, updates per second (all writers together). */
  rate: number;
  /** Most writes in flight (sent, not yet acknowledged) per writer. */
  window: number;
  /** Repetitions per target; figures are medians. */
  reps: number;
  /** Idle clients for the memory-per-client figure (0 skips it). */
  idle: number;
  /** Server nodes (only 1 for now). */
  nodes: number;
  targets: TargetName[];
  /** object-sync's `coalesce` option (ms; 0: one tick), when given. */
  coalesce: number | undefined;
  /** Profile the servers (`--cpu-prof`) instead of measuring. */
  profile: boolean;
  /** Where the JSON results go. */
  out: string;
}

const USAGE = `usage: npm run bench -- [flags]
  --clients N       receivers (default 50)
  --writers W       writers (default 2)
  --updates U       updates at saturation per run (default 5000)
  --rate-updates R  updates at the fixed rate per run (default 1000)
  --warmup K        warm-up updates per run (default 300)
  --fields F        fields per object (default 10)
  --objects M       objects (default 100)
  --rate R          fixed offered rate, updates/s (default 200)
  --window K        in-flight writes per writer (default 16)
  --reps K          repetitions (default 3)
  --idle K          idle clients for memory per client (default 1000; 0 skips)
  --nodes K         server nodes (only 1 supported for now)
  --targets LIST    comma-separated: objectsync,raw-full,raw-diff (default all)
  --coalesce MS     run object-sync with its coalesce option (0: one tick; default: off)
  --profile         profile the servers with --cpu-prof (writes .bench/profiles) instead of measuring
  --out FILE        JSON results (default .bench/results.json)`;

/** Parses `argv`; prints usage and exits on `--help` or a bad flag. */
export function parseOptions(argv: string[]): BenchOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        clients: { type: 'string' },
        writers: { type: 'string' },
        updates: { type: 'string' },
        'rate-updates': { type: 'string' },
        warmup: { type: 'string' },
        fields: { type: 'string' },
        objects: { type: 'string' },
        rate: { type: 'string' },
        window: { type: 'string' },
        reps: { type: 'string' },
        idle: { type: 'string' },
        nodes: { type: 'string' },
        targets: { type: 'string' },
        coalesce: { type: 'string' },
        profile: { type: 'boolean' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (name: string, fallback: number, min = 1): number => {
    const raw = values[name];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < min) {
      console.error(`--${name} must be an integer >= ${min}\n${USAGE}`);
      process.exit(2);
    }
    return n;
  };
  const targets = String(values.targets ?? ALL_TARGETS.join(','))
    .split(',')
    .map((t) => t.trim());
  for (const t of targets) {
    if (!ALL_TARGETS.includes(t as TargetName)) {
      console.error(`unknown target ${t}\n${USAGE}`);
      process.exit(2);
    }
  }
  const writers = int('writers', 2);
  return {
    clients: int('clients', 50),
    writers,
    updates: int('updates', 5000),
    rateUpdates: int('rate-updates', 1000),
    warmup: int('warmup', 300, 0),
    fields: int('fields', 10),
    objects: Math.max(int('objects', 100), writers),
    rate: int('rate', 200),
    window: int('window', 16),
    reps: int('reps', 3),
    idle: int('idle', 1000, 0),
    nodes: int('nodes', 1),
    targets: targets as TargetName[],
    coalesce: values.coalesce === undefined ? undefined : int('coalesce', 0, 0),
    profile: values.profile === true,
    out: String(values.out ?? '.bench/results.json'),
  };
}

/** The field the writers change: `f3`, or the last one when there are fewer than four. */
export function changedField(fields: number): string {
  return `f${Math.min(3, fields - 1)}`;
}
