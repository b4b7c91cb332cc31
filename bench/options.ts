/**
 * Command-line flags of `npm run bench`, each with its default, parsed once.
 *
 * The defaults keep a full run (3 targets x 3 repetitions) under about three minutes on 2 cores.
 */
import { parseArgs } from 'node:util';

/**
 * The servers measured side by side. `objectsync-nodes` is object-sync on `--nodes` nodes joined by the
 * Redis streams adapter (see servers.ts); the others run on one node.
 */
export type TargetName = 'objectsync' | 'objectsync-nodes' | 'raw-full' | 'raw-diff';
/** The targets of a one-node run (the default with `--nodes 1`). */
export const ALL_TARGETS: readonly TargetName[] = ['objectsync', 'raw-full', 'raw-diff'];
/** The targets of a several-node run (the default with `--nodes 2` or more): one node against K. */
export const NODE_TARGETS: readonly TargetName[] = ['objectsync', 'objectsync-nodes'];
const KNOWN_TARGETS: readonly TargetName[] = [...ALL_TARGETS, 'objectsync-nodes'];

/** Where object-sync keeps its objects: a `MemoryStore` per node, or one shared PostgreSQL schema. */
export type StoreName = 'memory' | 'postgres';

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
  /** Server nodes of the `objectsync-nodes` target (1: that target is not run). */
  nodes: number;
  /** object-sync's store (the raw targets always keep a `Map`). */
  store: StoreName;
  targets: TargetName[];
  /** object-sync's `coalesce` option (ms; 0: one tick; 'off': false), when given (else the engine's default: one tick). */
  coalesce: number | 'off' | undefined;
  /** Profile the servers (`--cpu-prof`) instead of measuring. */
  profile: boolean;
  /** Where the JSON results go. */
  out: string;
}

const USAGE = `usage: npm run bench -- [flags]
  --clients N       receivers (default 50)
  --writers W       writers (default 2)
  --updates U       updates at saturation per run (default 5000)
  --rate-updates R  updates at the fixed rate per run (default 3000: 15 s at 200/s, so one hiccup does not make the p99)
  --warmup K        warm-up updates per run (default 300)
  --fields F        fields per object (default 10)
  --objects M       objects (default 100)
  --rate R          fixed offered rate, updates/s (default 200)
  --window K        in-flight writes per writer (default 16)
  --reps K          repetitions (default 3)
  --idle K          idle clients for memory per client: K, then K more, measured on the second K (default 1000; 0 skips)
  --nodes K         also run object-sync on K nodes over Redis (default 1; from 2 the default
                    targets are objectsync,objectsync-nodes)
  --store S         object-sync's store: memory (one per node, route by object) or postgres
                    (one shared schema at OBJECT_SYNC_PG_URL, default postgres://postgres@127.0.0.1:5432/test)
  --targets LIST    comma-separated: objectsync,objectsync-nodes,raw-full,raw-diff
                    (default objectsync,raw-full,raw-diff; with --nodes K >= 2 objectsync,objectsync-nodes)
  --coalesce MS|off run object-sync with its coalesce option (0: one tick, the engine's default; off: one frame per change)
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
        store: { type: 'string' },
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
  const nodes = int('nodes', 1);
  const targets = String(values.targets ?? (nodes > 1 ? NODE_TARGETS : ALL_TARGETS).join(','))
    .split(',')
    .map((t) => t.trim());
  for (const t of targets) {
    if (!KNOWN_TARGETS.includes(t as TargetName)) {
      console.error(`unknown target ${t}\n${USAGE}`);
      process.exit(2);
    }
  }
  if (targets.includes('objectsync-nodes') && nodes < 2) {
    console.error(`the target objectsync-nodes needs --nodes 2 or more\n${USAGE}`);
    process.exit(2);
  }
  const store = String(values.store ?? 'memory');
  if (store !== 'memory' && store !== 'postgres') {
    console.error(`--store must be memory or postgres\n${USAGE}`);
    process.exit(2);
  }
  const writers = int('writers', 2);
  return {
    clients: int('clients', 50),
    writers,
    updates: int('updates', 5000),
    rateUpdates: int('rate-updates', 3000),
    warmup: int('warmup', 300, 0),
    fields: int('fields', 10),
    objects: Math.max(int('objects', 100), writers),
    rate: int('rate', 200),
    window: int('window', 16),
    reps: int('reps', 3),
    idle: int('idle', 1000, 0),
    nodes,
    store: store as StoreName,
    targets: targets as TargetName[],
    coalesce:
      values.coalesce === undefined ? undefined : values.coalesce === 'off' ? 'off' : int('coalesce', 0, 0),
    profile: values.profile === true,
    out: String(values.out ?? '.bench/results.json'),
  };
}

/** The field the writers change: `f3`, or the last one when there are fewer than four. */
export function changedField(fields: number): string {
  return `f${Math.min(3, fields - 1)}`;
}
