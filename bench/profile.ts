/**
 * Reads a V8 `.cpuprofile` (as written by `node --cpu-prof`) and sums self time per function and
 * per area (object-sync's lib/, each package in node_modules, node internals, GC), the figures that
 * say where a server spends its CPU; and the inclusive (total) time of object-sync's own functions,
 * which says what each of them costs with everything it calls. Idle time is left out of the
 * percentages.
 */
import { readFileSync } from 'node:fs';
import { table } from './report.js';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: CallFrame; children?: number[] }>;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  where: string;
  ms: number;
  /** Share of the busy (non-idle) time, %. */
  pct: number;
}

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  functions: SelfTime[];
  areas: SelfTime[];
  /** object-sync's own functions by inclusive time (with all they call). */
  libInclusive: SelfTime[];
}

/** Where a script lives, shortened: `lib/server/engine.js`, `socket.io/dist/socket.js`, `node:internal/...`. */
function shortUrl(url: string): string {
  if (url === '') return '';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) return url.slice(modules + '/node_modules/'.length);
  const dist = url.lastIndexOf('/dist/');
  if (dist >= 0) return url.slice(dist + '/dist/'.length);
  return url.replace(/^file:\/\//, '');
}

/** The area of a script: `object-sync lib`, a package name, `node internals`, or a V8 pseudo-node. */
function areaOf(frame: CallFrame): string {
  const url = frame.url;
  if (url === '') return frame.functionName.startsWith('(') ? frame.functionName : 'native / V8 builtins';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return 'node internals';
  if (url.includes('/dist/lib/')) return 'object-sync lib/';
  if (url.includes('/dist/bench/')) return 'bench harness';
  return shortUrl(url);
}

function top(map: Map<string, SelfTime>, busyMs: number, n: number): SelfTime[] {
  return [...map.values()]
    .map((row) => ({ ...row, pct: (100 * row.ms) / busyMs }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, n);
}

/** Summarises a profile: the `n` functions and areas with the most self time. */
export function summarizeProfile(file: string, n = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const frames = new Map<number, CallFrame>();
  const parents = new Map<number, number>();
  for (const node of profile.nodes) {
    frames.set(node.id, node.callFrame);
    for (const child of node.children ?? []) parents.set(child, node.id);
  }
  const byLibInclusive = new Map<string, SelfTime>();
  const byFunction = new Map<string, SelfTime>();
  const byArea = new Map<string, SelfTime>();
  let busyUs = 0;
  let idleUs = 0;
  const add = (map: Map<string, SelfTime>, key: string, name: string, where: string, us: number): void => {
    const row = map.get(key) ?? { name, where, ms: 0, pct: 0 };
    row.ms += us / 1000;
    map.set(key, row);
  };
  profile.samples.forEach((id, i) => {
    const frame = frames.get(id);
    const us = profile.timeDeltas[i] ?? 0;
    if (!frame || us <= 0) return;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      return;
    }
    busyUs += us;
    const where = frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : '';
    const name = frame.functionName || '(anonymous)';
    add(byFunction, `${name}@${where}`, name, where, us);
    const area = areaOf(frame);
    add(byArea, area, area, '', us);
    // Inclusive: every lib function on the stack, once per sample (recursion counted once).
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
      const f = frames.get(at)!;
      if (!f.url.includes('/dist/lib/')) continue;
      const fWhere = `${shortUrl(f.url)}:${f.lineNumber + 1}`;
      const key = `${f.functionName}@${fWhere}`;
      if (seen.has(key)) continue;
      seen.add(key);
      add(byLibInclusive, key, f.functionName || '(anonymous)', fWhere, us);
    }
  });
  const busyMs = busyUs / 1000;
  return {
    busyMs,
    idleMs: idleUs / 1000,
    functions: top(byFunction, busyMs, n),
    areas: top(byArea, busyMs, n),
    libInclusive: top(byLibInclusive, busyMs, n),
  };
}

/**
 * The summary as three tables: functions by self time, areas by self time, and object-sync's own
 * functions by total time, also per update (`updates` sent while profiling) — the cost of one write
 * whatever its fan-out.
 */
export function profileTables(s: ProfileSummary, updates: number): string {
  const pct = (x: number): string => `${x.toFixed(1)}%`;
  const parts = [
    table(
      ['self time', 'ms', 'function', 'where'],
      s.functions.map((f) => [pct(f.pct), f.ms.toFixed(0), f.name, f.where]),
    ),
    table(
      ['self time', 'ms', 'area'],
      s.areas.map((a) => [pct(a.pct), a.ms.toFixed(0), a.name]),
    ),
  ];
  if (s.libInclusive.length > 0) {
    parts.push(
      table(
        ['total time', 'ms', 'us/update', 'object-sync function (with callees)', 'where'],
        s.libInclusive.map((f) => [
          pct(f.pct),
          f.ms.toFixed(0),
          ((f.ms * 1000) / updates).toFixed(1),
          f.name,
          f.where,
        ]),
      ),
    );
  }
  return parts.join('\n\n');
}
