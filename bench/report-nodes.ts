/**
 * The several-node comparison: object-sync on one node against object-sync on K nodes (the
 * `objectsync` and `objectsync-nodes` targets of one run, same clients, same load), as figures for
 * the JSON and as the table "1 node vs K nodes".
 */
import type { StoreName } from './options.js';
import { fixed, int, table, type Summary } from './report.js';

/** One figure on 1 node and on K nodes (a list: one value per node, or several percentiles). */
export interface NodeRow {
  figure: string;
  oneNode: number | number[];
  kNodes: number | number[];
  /** kNodes / oneNode, for single values. */
  ratio: number | null;
}

export interface NodeComparison {
  nodes: number;
  store: StoreName;
  /** How writes reach the nodes: each object only through one node (see run.ts). */
  routing: 'route by object';
  rows: NodeRow[];
}

/** How each row reads a summary, and how it prints its values. */
const ROWS: Array<[string, (s: Summary) => number | number[], (x: number) => string]> = [
  ['deliveries/s (saturation)', (s) => s.deliveriesPerSec, int],
  ['latency p50 ms, fixed rate', (s) => s.rateP50Ms, fixed(2)],
  ['latency p99 ms, fixed rate', (s) => s.rateP99Ms, fixed(2)],
  ['latency p50 / p99 ms, saturation', (s) => [s.satP50Ms, s.satP99Ms], fixed(1)],
  ['server CPU us/delivery, all nodes', (s) => s.serverCpuUsPerDelivery, fixed(2)],
  ['server CPU us/delivery, each node (its receivers)', (s) => s.nodeCpuUsPerDelivery, fixed(2)],
  ['server CPU us/update, all nodes', (s) => s.serverCpuUsPerUpdate, fixed(0)],
  ['Redis CPU us/delivery', (s) => s.sharedCpuUsPerDelivery, fixed(2)],
  [
    'servers + Redis CPU us/delivery',
    (s) =>
      s.serverCpuUsPerDelivery + (Number.isFinite(s.sharedCpuUsPerDelivery) ? s.sharedCpuUsPerDelivery : 0),
    fixed(2),
  ],
  ['client CPU us/delivery (all clients)', (s) => s.clientCpuUsPerDelivery, fixed(2)],
  ['bytes/delivery', (s) => s.bytesPerDelivery, fixed(1)],
  ['server peak RSS MiB, each node', (s) => s.nodePeakRssMiB, fixed(1)],
];

/** The comparison, when both targets were measured. */
export function compareNodes(
  one: Summary | undefined,
  many: Summary | undefined,
  nodes: number,
  store: StoreName,
): NodeComparison | undefined {
  if (!one || !many) return undefined;
  const rows = ROWS.map(([figure, pick]): NodeRow => {
    const a = pick(one);
    const b = pick(many);
    const ratio = typeof a === 'number' && typeof b === 'number' && Number.isFinite(b / a) ? b / a : null;
    return { figure, oneNode: a, kNodes: b, ratio };
  });
  return { nodes, store, routing: 'route by object', rows };
}

/** The comparison as a Markdown table. */
export function nodeTable(c: NodeComparison): string {
  const k = `${c.nodes} nodes`;
  const show = (v: number | number[], f: (x: number) => string): string =>
    typeof v === 'number' ? f(v) : v.map(f).join(' / ');
  return table(
    ['object-sync, median of runs', '1 node', k, `${k} / 1 node`],
    c.rows.map((row, i) => {
      const f = ROWS[i][2];
      return [
        row.figure,
        show(row.oneNode, f),
        show(row.kNodes, f),
        row.ratio === null ? '' : `${row.ratio.toFixed(2)}x`,
      ];
    }),
  );
}
