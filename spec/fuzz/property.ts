/**
 * The randomized test as a fast-check property, shared by the short run in `npm test`
 * (spec/fuzz/model.spec.ts, in `npm test`; `npm run fuzz:short`) and long runs (`npm run fuzz -- --runs N [--seed S] [--path P]`).
 *
 * A run fails with the list of broken properties (see checks.ts); fast-check then reports its seed
 * and path, which replay it (the commands are the same; the network's timing is not, so a failure
 * that depends on a race may need a few replays).
 */
import fc from 'fast-check';
import { check, type Failure, type Reached } from './checks.js';
import { runArbitrary, type Command, type RunConfig } from './commands.js';
import { runOnce } from './runner.js';
import { bbArbitrary, runBackbone, type BbCommand, type BbConfig } from './backbone.js';

/** What the generators reached over the runs so far, and the failures seen (by kind). */
export class Tally {
  runs = 0;
  cut = 0;
  restart = 0;
  hiddenTouched = 0;
  slowHandler = 0;
  visibilityChanged = 0;
  unverifiedRecords = 0;
  allowedDuplicates = 0;
  failedRuns = 0;
  readonly failureKinds = new Map<string, { count: number; example: string }>();

  add(reached: Reached, failures: Failure[]): void {
    this.runs++;
    if (reached.cut) this.cut++;
    if (reached.restart) this.restart++;
    if (reached.hiddenTouched) this.hiddenTouched++;
    if (reached.slowHandler) this.slowHandler++;
    if (reached.visibilityChanged) this.visibilityChanged++;
    this.unverifiedRecords += reached.unverifiedRecords;
    this.allowedDuplicates += reached.allowedDuplicates;
    if (failures.length) this.failedRuns++;
    for (const f of failures) {
      const k = this.failureKinds.get(f.kind);
      if (k) k.count++;
      else this.failureKinds.set(f.kind, { count: 1, example: f.detail });
    }
  }

  /** One paragraph for people. */
  summary(): string {
    const lines = [
      `runs ${this.runs}: with a cut ${this.cut}, a restart ${this.restart}, a hidden object touched ${this.hiddenTouched}, ` +
        `a slow handler ${this.slowHandler}, a visibility change ${this.visibilityChanged}; records not checkable ${this.unverifiedRecords}; writes applied once per server generation (handler collection, allowed) ${this.allowedDuplicates}; failed runs ${this.failedRuns}`,
    ];
    for (const [kind, { count, example }] of this.failureKinds) lines.push(`  ${kind} x${count}: ${example}`);
    return lines.join('\n');
  }
}

export interface FuzzOptions {
  runs: number;
  seed: number;
  path?: string;
  maxCommands: number;
  /** Shrink a failure (long runs); the short run in `npm test` stops at the first failure. */
  shrink: boolean;
  /** Stop (runs and shrinking) after this long (ms). */
  timeLimitMs?: number;
  tally: Tally;
  /** Survey: never fail, only tally (each failing run is printed with the path that replays it). */
  survey?: boolean;
  /** Only failures of these kinds fail a run (to shrink a counterexample for one kind). */
  only?: string[];
  /** A run that also has a failure of these kinds counts as passing (to look past a known defect). */
  unless?: string[];
  /** Longest wait for quiescence per run (ms) before it counts as hung. */
  quiescenceMs?: number;
  /** Fix whether the default collection's handlers have `list` (else random). */
  defaultHasList?: boolean;
  /** Backbone: whether objects carry `tags` for the model's `parse` (else random). */
  tags?: boolean;
  /** Generate no edits of live objects (to look past issue 13 item 2). */
  noLiveEdits?: boolean;
  onRun?: (config: RunConfig | BbConfig, commands: Array<Command | BbCommand>, failures: Failure[]) => void;
}

/** Runs the property; resolves with fast-check's details (`failed`, `seed`, `counterexample`...). */
export async function fuzz(
  options: FuzzOptions,
): Promise<fc.RunDetails<[{ config: RunConfig; commands: Command[] }]>> {
  const property = fc.asyncProperty(
    runArbitrary(options.maxCommands, {
      defaultHasList: options.defaultHasList,
      noLiveEdits: options.noLiveEdits,
    }),
    async ({ config, commands }) => {
      const rec = await runOnce(config, commands, options.quiescenceMs);
      const { failures, reached } = check(rec);
      options.tally.add(reached, failures);
      options.onRun?.(config, commands, failures);
      failIfCounted(options, failures);
    },
  );
  return fc.check(property, checkParameters(options));
}

/** Throws (the run fails) when a failure counts: not masked by `unless`, kept by `only`, no survey. */
function failIfCounted(options: FuzzOptions, failures: Failure[]): void {
  const masked = options.unless && failures.some((f) => options.unless!.includes(f.kind));
  const counted = masked
    ? []
    : options.only
      ? failures.filter((f) => options.only!.includes(f.kind))
      : failures;
  if (counted.length > 0 && !options.survey)
    throw new Error(counted.map((f) => `${f.kind}: ${f.detail}`).join('\n'));
}

/** fast-check's parameters for a run of these options. */
function checkParameters(options: FuzzOptions): fc.Parameters<any> {
  return {
    numRuns: options.runs,
    seed: options.seed,
    path: options.path,
    endOnFailure: !options.shrink,
    interruptAfterTimeLimit: options.timeLimitMs,
    markInterruptAsFailure: false,
  };
}

/** A failing run as people read it: the seed and path to replay it, the commands, what broke. */
export function report(details: fc.RunDetails<[any]>, flags = ''): string {
  if (!details.failed) return `passed (seed ${details.seed})`;
  const example = details.counterexample?.[0];
  const error =
    details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  return [
    `FAILED — replay: npm run fuzz -- ${flags}--seed ${details.seed} --path "${details.counterexamplePath}"`,
    `after ${details.numRuns} run(s), ${details.numShrinks} shrink(s)`,
    example ? `config ${JSON.stringify(example.config)}` : '',
    example
      ? `commands (${example.commands.length}):\n  ${example.commands.map((c: unknown) => JSON.stringify(c)).join('\n  ')}`
      : '',
    `broken:\n  ${error.split('\n').join('\n  ')}`,
  ].join('\n');
}

/** The Backbone run (see backbone.ts) as a property: same options, its failures tallied by kind. */
export async function fuzzBackbone(
  options: FuzzOptions,
): Promise<fc.RunDetails<[{ config: BbConfig; commands: BbCommand[] }]>> {
  const property = fc.asyncProperty(
    bbArbitrary(options.maxCommands, { tags: options.tags }),
    async ({ config, commands }) => {
      const failures = await runBackbone(config, commands, options.quiescenceMs);
      // What the run's commands asked for (the Backbone run does not measure what took effect).
      const has = (t: BbCommand['t']): boolean => commands.some((c) => c.t === t);
      const visibility = commands.some((c) => c.t === 'remote' && (c.how === 'pub' || c.how === 'owner'));
      options.tally.add(
        {
          cut: has('cut') || has('leave'),
          restart: has('restart'),
          hiddenTouched: visibility,
          slowHandler: has('slow'),
          visibilityChanged: visibility,
          unverifiedRecords: 0,
          allowedDuplicates: 0,
        },
        failures,
      );
      options.onRun?.(config, commands, failures);
      failIfCounted(options, failures);
    },
  );
  return fc.check(property, checkParameters(options));
}
