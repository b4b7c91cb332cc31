/**
 * `npm run bench`: fan-out benchmark of object-sync against raw socket.io (issue 5).
 *
 * For each repetition, each target in turn (the order rotates between repetitions): a server child
 * on 127.0.0.1 (server-objectsync.ts or server-raw.ts), N receivers and W writers in this process
 * (websocket transport only), U updates of one field of F-field objects with a bounded window of
 * in-flight writes — a warm-up, a phase at a fixed offered rate, a phase at saturation — then a
 * fresh child with idle clients for the memory per client. Prints the medians, the ratios against
 * the targets, and writes them all as JSON (`--out`, default .bench/results.json).
 *
 * `--nodes K` (K >= 2) measures object-sync on one node against object-sync on K nodes joined by the
 * Redis streams adapter through a private `redis-server` (redis.ts, servers.ts), and prints the table
 * "1 node vs K nodes" (report-nodes.ts).
 *
 * `--profile` instead runs each target once under `node --cpu-prof` and prints where its server
 * spends CPU (profiles in .bench/profiles/).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, environment } from './environment.js';
import { ALL_TARGETS, changedField, parseOptions, type BenchOptions, type TargetName } from './options.js';
import { profileTables, summarizeProfile } from './profile.js';
import { BenchRedis } from './redis.js';
import { compareNodes, nodeTable } from './report-nodes.js';
import {
  ratios,
  ratioTable,
  runLine,
  summarize,
  summaryTable,
  type RunRecord,
  type Summary,
} from './report.js';
import { waitForQuiet } from './quiet.js';
import { measureIdle, runLoad } from './run.js';

function configLine(o: BenchOptions): string {
  return (
    `N=${o.clients} receivers, W=${o.writers} writers, F=${o.fields} fields (${changedField(o.fields)} changes), ` +
    `${o.objects} objects, window ${o.window}/writer; U=${o.updates} at saturation, ${o.rateUpdates} at ` +
    `${o.rate} updates/s, ${o.warmup} warm-up; ${o.reps} reps; ${o.idle} idle clients` +
    (o.coalesce === undefined
      ? '; object-sync with its default coalescing (one tick)'
      : o.coalesce === 'off'
        ? '; object-sync with coalescing off'
        : `; object-sync with coalesce: ${o.coalesce} ms`) +
    (o.store === 'memory' ? '' : `; object-sync on a ${o.store} store`) +
    (o.targets.includes('objectsync-nodes')
      ? `; objectsync-nodes: ${o.nodes} nodes over Redis, ` +
        (o.store === 'memory' ? 'a MemoryStore each, route by object' : 'one shared store, route by object')
      : '')
  );
}

async function measure(options: BenchOptions): Promise<void> {
  const redis = options.targets.includes('objectsync-nodes') ? await BenchRedis.start() : undefined;
  try {
    await measureWith(options, redis);
  } finally {
    redis?.stop();
  }
}

async function measureWith(options: BenchOptions, redis: BenchRedis | undefined): Promise<void> {
  const runs: RunRecord[] = [];
  for (let rep = 1; rep <= options.reps; rep++) {
    const shift = (rep - 1) % options.targets.length;
    const order = [...options.targets.slice(shift), ...options.targets.slice(0, shift)];
    for (const target of order) {
      const busy = await waitForQuiet(25, 10_000);
      if (busy >= 25)
        console.log(`  (machine still busy: other processes use ${busy.toFixed(0)}% of a core)`);
      const started = performance.now();
      const load = await runLoad(target, options, redis);
      // Idle memory is a one-node figure (a node's memory per client does not depend on the others).
      const oneNode = target !== 'objectsync-nodes';
      const idle = options.idle > 0 && oneNode ? await measureIdle(target, options) : undefined;
      const record: RunRecord = { target, rep, load, idle };
      runs.push(record);
      console.log(runLine(record, (performance.now() - started) / 1000));
    }
  }
  const summaries: Partial<Record<TargetName, Summary>> = {};
  for (const t of options.targets) summaries[t] = summarize(runs, t);
  const checks = ratios(summaries, options.coalesce !== 'off', options.clients);
  console.log(
    `\nMedians of the undisturbed runs among ${options.reps} (bytes and CPU at saturation; latency from due time to receipt):\n`,
  );
  console.log(summaryTable(summaries, options.targets));
  if (checks.length > 0) console.log(`\n${ratioTable(checks)}`);
  const nodes = compareNodes(
    summaries.objectsync,
    summaries['objectsync-nodes'],
    options.nodes,
    options.store,
  );
  if (nodes) console.log(`\n1 node vs ${options.nodes} nodes (route by object):\n\n${nodeTable(nodes)}`);
  const out = resolve(options.out);
  mkdirSync(dirname(out), { recursive: true });
  const result = {
    date: new Date().toISOString(),
    environment: environment(),
    options,
    summaries,
    ratios: checks,
    nodes,
    runs,
  };
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nwrote ${out}`);
}

async function profile(options: BenchOptions): Promise<void> {
  const dir = resolve('.bench/profiles');
  mkdirSync(dir, { recursive: true });
  // By default object-sync and its closest baseline (raw diff); `--targets` picks others. Profiles
  // are of one node: the several-node target is left out.
  const targets = (
    options.targets.length === ALL_TARGETS.length
      ? (['objectsync', 'raw-diff'] as TargetName[])
      : options.targets
  ).filter((t) => t !== 'objectsync-nodes');
  const summaries: Record<string, unknown> = {};
  for (const target of targets) {
    const file = join(dir, `${target}.cpuprofile`);
    const flags = ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-name', `${target}.cpuprofile`];
    await waitForQuiet();
    const load = await runLoad(target, options, undefined, flags, false);
    const sat = load.saturation;
    const s = summarizeProfile(file, 15);
    summaries[target] = { saturation: sat, profile: s };
    console.log(
      `\n${target}: ${Math.round(sat.deliveriesPerSec)} deliveries/s under the profiler; ` +
        `server busy ${s.busyMs.toFixed(0)} ms (${((s.busyMs * 1000) / (load.updatesSent * options.clients)).toFixed(1)} us ` +
        `per delivery), idle ${s.idleMs.toFixed(0)} ms; other processes used ` +
        `${sat.otherCpuPct.toFixed(0)}% of a core (${file})\n`,
    );
    console.log(profileTables(s, load.updatesSent));
  }
  writeFileSync(join(dir, 'summary.json'), `${JSON.stringify({ options, summaries }, null, 2)}\n`);
  console.log(`\nwrote ${join(dir, 'summary.json')}`);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  console.log(`object-sync fan-out benchmark — ${describe(environment())}`);
  console.log(`${configLine(options)}\n`);
  if (options.profile) await profile(options);
  else await measure(options);
}

// Children are killed by child.ts's exit hook; make Ctrl-C go through it.
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

const started = performance.now();
main().then(
  () => {
    console.log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    process.exit(0);
  },
  (err: unknown) => {
    console.error('bench failed:', err);
    process.exit(1);
  },
);
