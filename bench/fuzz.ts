/**
 * `npm run fuzz -- --runs N [--seed S] [--path P] [--commands M] [--no-shrink] [--survey] [--only KIND,...] [--unless KIND,...] [--list yes|no] [--no-live-edits] [--backbone [--no-tags]] [--time-limit SECONDS]`:
 * long runs of the model-based randomized test (spec/fuzz/). Prints the seed first, the generators'
 * coverage (runs with a cut, a restart, a hidden object touched, a slow handler) and, on failure, the
 * shrunk counterexample with the seed and path that replay it. Exit code 1 on failure. `--survey`
 * does every run without stopping at a failure, and prints each failing run with its path; `--only`
 * fails (and shrinks) a run only for failures of the kinds named (one defect at a time); `--unless`
 * passes a run that also has a failure of the kinds named (to look past a known defect); `--list`
 * fixes whether the default collection's handlers have `list`; `--no-live-edits` generates no edits of
 * live objects; `--backbone` runs the Backbone variant
 * (spec/fuzz/backbone.ts) instead, `--no-tags` without the attribute its model parses.
 *
 * `npm run fuzz -- [--backbone] --case '<json>' [--repeat N]` runs one case as printed by `--survey`
 * (`case: {...}`) N times: the commands are exact, the network's timing is not, so a race may need a
 * few repeats.
 */
import { check } from '../spec/fuzz/checks.js';
import { runBackbone } from '../spec/fuzz/backbone.js';
import { fuzz, fuzzBackbone, report, Tally } from '../spec/fuzz/property.js';
import { runOnce } from '../spec/fuzz/runner.js';

function arg(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

const runs = Number(arg('runs') ?? 50);
const seed = Number(arg('seed') ?? Date.now() % 2 ** 31);
const path = arg('path');
const maxCommands = Number(arg('commands') ?? 40);
const shrink = !process.argv.includes('--no-shrink');
const timeLimit = arg('time-limit');
const survey = process.argv.includes('--survey');
const only = arg('only')?.split(',');
const unless = arg('unless')?.split(',');
const list = arg('list');
const tally = new Tally();

const exact = arg('case');
if (exact) {
  const { config, commands } = JSON.parse(exact);
  const repeat = Number(arg('repeat') ?? 5);
  let failed = 0;
  for (let i = 1; i <= repeat; i++) {
    const failures = process.argv.includes('--backbone')
      ? await runBackbone(config, commands)
      : check(await runOnce(config, commands)).failures;
    if (failures.length) failed++;
    console.log(`repeat ${i}: ${failures.length ? '' : 'ok'}`);
    for (const f of failures) console.log(`  ${f.kind}: ${f.detail}`);
  }
  console.log(`${failed} of ${repeat} failed`);
  process.exit(failed ? 1 : 0);
}
console.log(
  `fuzz: seed ${seed}${path ? ` path ${path}` : ''}, ${runs} run(s), up to ${maxCommands} commands each`,
);
const started = Date.now();
let done = 0;
const backbone = process.argv.includes('--backbone');
const run = backbone ? fuzzBackbone : fuzz;
const details = (await run({
  runs,
  seed,
  path,
  maxCommands,
  shrink,
  timeLimitMs: timeLimit ? Number(timeLimit) * 1000 : undefined,
  tally,
  survey,
  only,
  unless,
  defaultHasList: list === undefined ? undefined : list === 'yes',
  noLiveEdits: process.argv.includes('--no-live-edits'),
  tags: process.argv.includes('--no-tags') ? false : undefined,
  onRun: (config, commands, failures) => {
    done++;
    // Before shrinking starts, run k (from 1) is replayed by --seed <seed> --path <k-1>.
    if (process.env.FUZZ_VERBOSE || failures.length)
      console.log(
        `run ${done} (path ${done - 1}): ${commands.length} commands, ${failures.length ? failures.map((f) => f.kind).join(',') : 'ok'}`,
      );
    if (survey && failures.length) {
      for (const f of failures) console.log(`    ${f.kind}: ${f.detail.slice(0, 400)}`);
      console.log(`    case: ${JSON.stringify({ config, commands })}`);
    }
  },
})) as Parameters<typeof report>[0];
console.log(`\n${tally.summary()}`);
// The replay line names every flag that changes what is generated.
const flags = [
  backbone ? '--backbone' : '',
  arg('commands') ? `--commands ${maxCommands}` : '',
  list ? `--list ${list}` : '',
  process.argv.includes('--no-live-edits') ? '--no-live-edits' : '',
  process.argv.includes('--no-tags') ? '--no-tags' : '',
]
  .filter(Boolean)
  .map((f) => `${f} `)
  .join('');
console.log(`\n${report(details, flags)}`);
console.log(`(${((Date.now() - started) / 1000).toFixed(0)} s)`);
process.exit(details.failed ? 1 : 0);
