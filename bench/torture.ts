/**
 * `npm run torture`: reliability and security figures for object-sync (issue 4). Not a test: it
 * prints figures, and exits non-zero when one that must be 0 is not.
 *
 * Part 1 — hostile input: a raw socket.io client sends every request kind with every field replaced
 * by hostile values, while a canary client does round trips; then the server must be alive, its
 * prototypes intact and its store free of garbage. See torture/part1.ts.
 *
 * Part 2 — faults: clients behind fault proxies write under cuts, server kills and stops, pauses and
 * an outage; afterwards nothing acknowledged may be lost, nothing applied twice, and every replica
 * must equal the store. See torture/part2.ts.
 *
 * Part 3 — memory: what the server keeps of sessions that wrote large objects and left, of clients
 * that ask for a large collection and never read, and of requests naming unknown collections; each
 * figure under a stated bound. See torture/part3.ts.
 *
 * Everything runs on 127.0.0.1; every child process is killed on exit; the run stops by itself
 * (a deadline fails it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseOptions } from './torture/options.js';
import { runPart1 } from './torture/part1.js';
import { runPart2 } from './torture/part2.js';
import { runPart3 } from './torture/part3.js';
import { Random } from './torture/random.js';
import { failures, figureLines, seconds, type PartResult } from './torture/report.js';

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'object-sync-torture-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const deadline = setTimeout(() => {
    console.error(`\ntorture: still running after ${seconds(options.deadlineMs)}: giving up (FAIL)`);
    process.exit(3);
  }, options.deadlineMs);
  deadline.unref();

  const rng = new Random(options.seed);
  const flags =
    `--seed ${options.seed} --writes ${options.writes}${options.quick ? ' --quick' : ''}` +
    (options.parts.length < 3 ? ` --part ${options.parts.join(',')}` : '') +
    (options.sessions !== 100 ? ` --sessions ${options.sessions}` : '');
  console.log(`object-sync torture  ${flags}`);
  console.log(`node ${process.version}, ${process.platform}/${process.arch}\n`);
  const results: Array<[string, PartResult]> = [];
  const log = (line: string): void => console.log(line);
  for (const part of options.parts) {
    const result =
      part === 1
        ? await runPart1(rng.fork(), dir, log)
        : part === 2
          ? await runPart2(options, rng.fork(), dir, log)
          : await runPart3(options, log);
    const title = ['', 'Part 1 — hostile input', 'Part 2 — faults, randomized', 'Part 3 — memory'][part]!;
    results.push([title, result]);
    console.log(`\n${title}`);
    for (const line of figureLines(result.figures)) console.log(line);
    if (result.notes.length > 0) {
      console.log('  details:');
      for (const note of result.notes) console.log(`    - ${note}`);
    }
    console.log('');
  }

  const failed = results.flatMap(([title, r]) =>
    failures(r.figures).map((f) => `${title}: ${f.label} = ${f.value}`),
  );
  console.log('=== torture summary ===');
  console.log(`command: npm run torture -- ${flags}`);
  for (const [title, r] of results) {
    console.log(title);
    for (const line of figureLines(r.figures)) console.log(line);
  }
  console.log(`total time: ${seconds(performance.now() - started)}`);
  console.log(
    failed.length === 0
      ? 'RESULT: PASS (every must-be-0 figure is 0)'
      : `RESULT: FAIL\n  ${failed.join('\n  ')}`,
  );
  return failed.length === 0 ? 0 : 1;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('torture failed to run:', err);
    process.exit(2);
  },
);
