/**
 * Command-line flags of `npm run torture`, each with its default, parsed once.
 *
 * The defaults keep a full run (three parts) under about six minutes on 2 cores; `--quick` is a
 * smoke run of a few seconds per part.
 */
import { parseArgs } from 'node:util';

export interface TortureOptions {
  /** Seed of every random choice (hostile-input order, workload, fault plan). */
  seed: number;
  /** Writes of part 2, all clients together. */
  writes: number;
  /** Clients of part 2, each behind its own fault proxy. */
  clients: number;
  /** Proxy cuts of part 2 (every kind together). */
  cuts: number;
  /** Server SIGKILLs (and restarts on the same file) of part 2. */
  kills: number;
  /** Server SIGSTOPs past the ping timeout of part 2. */
  stops: number;
  /** Clients paused (not reading) while broadcasts flow, in part 2. */
  pauses: number;
  /** Outages of every client longer than the server's session timeout, in part 2. */
  outages: number;
  /** Sessions of part 3's first section (each writes a 1 MB object 50 times). */
  sessions: number;
  /** Which parts run. */
  parts: Array<1 | 2 | 3>;
  /** A small run for a smoke test. */
  quick: boolean;
  /** Whole-run deadline (ms): past it the run stops, kills its children and fails. */
  deadlineMs: number;
}

const USAGE = `usage: npm run torture -- [flags]
  --seed N      seed of every random choice (default: random, printed)
  --writes N    writes of part 2, all clients together (default 6000; --quick 600)
  --clients N   clients of part 2 (default 4)
  --cuts N      proxy cuts of part 2 (default 240; --quick 30)
  --kills N     server SIGKILLs + restarts of part 2 (default 5; --quick 1)
  --stops N     server SIGSTOPs past the ping timeout (default 2; --quick 1)
  --pauses N    client pauses while broadcasts flow (default 4; --quick 1)
  --outages N   outages longer than the session timeout (default 1)
  --sessions N  part 3: sessions writing a 1 MB object 50 times each (default 100)
  --part 1|2|3  run only one part (3: memory)
  --quick       a small run (smoke test)`;

/** Parses `argv`; prints usage and exits on `--help` or a bad flag. */
export function parseOptions(argv: string[]): TortureOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        seed: { type: 'string' },
        writes: { type: 'string' },
        clients: { type: 'string' },
        cuts: { type: 'string' },
        kills: { type: 'string' },
        stops: { type: 'string' },
        pauses: { type: 'string' },
        outages: { type: 'string' },
        sessions: { type: 'string' },
        part: { type: 'string' },
        quick: { type: 'boolean' },
        help: { type: 'boolean' },
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
  const quick = values.quick === true;
  const int = (name: string, fallback: number, min: number): number => {
    const raw = values[name];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < min) {
      console.error(`--${name} must be an integer >= ${min}\n${USAGE}`);
      process.exit(2);
    }
    return n;
  };
  const part = values.part === undefined ? undefined : int('part', 1, 1);
  if (part !== undefined && part > 3) {
    console.error(`--part must be 1, 2 or 3\n${USAGE}`);
    process.exit(2);
  }
  return {
    seed: int('seed', Math.floor(Math.random() * 2 ** 31), 0),
    writes: int('writes', quick ? 600 : 6000, 1),
    clients: int('clients', 4, 1),
    cuts: int('cuts', quick ? 30 : 240, 0),
    kills: int('kills', quick ? 1 : 5, 0),
    stops: int('stops', quick ? 1 : 2, 0),
    pauses: int('pauses', quick ? 1 : 4, 0),
    outages: int('outages', 1, 0),
    sessions: int('sessions', 100, 1),
    parts: part === undefined ? [1, 2, 3] : [part as 1 | 2 | 3],
    quick,
    deadlineMs: quick ? 300_000 : 600_000,
  };
}
