/**
 * Figures and how they print: one line each, label left, value right, `(must be 0)` next to the
 * figures that make the run fail when they are not 0.
 */

export interface Figure {
  label: string;
  value: number | string;
  /** The run fails when this figure is not 0. */
  mustBeZero?: boolean;
  /** The run fails when this figure is above `bound` (or not a number), printed with its unit. */
  bound?: { max: number; unit: string };
  /** Printed after the value. */
  note?: string;
  /** Indented under the previous figure. */
  sub?: boolean;
}

/** What a part of the run reports. */
export interface PartResult {
  figures: Figure[];
  /** Details worth reading when a figure is wrong. */
  notes: string[];
}

/** The figures that must be 0 and are not. */
export function failures(figures: Figure[]): Figure[] {
  return figures.filter((f) => (f.mustBeZero && f.value !== 0) || (f.bound && !withinBound(f)));
}

function withinBound(f: Figure): boolean {
  return typeof f.value === 'number' && f.bound !== undefined && f.value <= f.bound.max;
}

/** The figures as aligned lines. */
export function figureLines(figures: Figure[]): string[] {
  return figures.map((f) => {
    const label = `${f.sub ? '    ' : '  '}${f.label}`.padEnd(44);
    const value = String(f.value).padStart(9);
    const flag = f.mustBeZero
      ? f.value === 0
        ? '  (must be 0: ok)'
        : '  (must be 0: FAIL)'
      : f.bound
        ? `  (bound ${`${f.bound.max}${f.bound.unit ? ` ${f.bound.unit}` : ''}`}: ${withinBound(f) ? 'ok' : 'FAIL'})`
        : '';
    return `${label}${value}${flag}${f.note ? `  ${f.note}` : ''}`;
  });
}

/** Seconds with one decimal. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** A map of counts as `a 3, b 1`, largest first. */
export function breakdown(counts: Map<string, number>): string {
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
}

/** Structural equality of JSON values (key order ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}
