/**
 * Which failed writes a fault explains. Under faults, our client resends what was not answered, so a
 * write may fail only with a code a fault can cause (`timeout`, `unavailable`), and only while a
 * fault that reached its client was going on (or just over). Any other failure is unexplained: a
 * must-be-0 figure of part 2 and of the cluster spec.
 */
import type { FailedWrite } from './writer.js';

/** A fault as it happened: when, and which clients it reached (`all` for the server's faults). */
export interface FaultWindow {
  kind: string;
  clients: number[] | 'all';
  /** performance.now() at its start and end, ms. */
  start: number;
  end: number;
}

/** Codes that a fault can cause; the client resends everything else itself. */
export const FAULT_CODES: ReadonlySet<string> = new Set(['timeout', 'unavailable']);

/** How long after a fault ends a failure is still put down to it, ms. */
const GRACE_MS = 2000;

/** The failures of client `client` that no fault explains, as notes. */
export function unexplained(client: number, failures: FailedWrite[], windows: FaultWindow[]): string[] {
  return failures
    .filter((f) => {
      if (!FAULT_CODES.has(f.code)) return true;
      return !windows.some(
        (w) =>
          (w.clients === 'all' || w.clients.includes(client)) &&
          w.start <= f.end &&
          w.end + GRACE_MS >= f.start,
      );
    })
    .map((f) => {
      // The faults it overlapped anyway (of other clients, or with a code no fault causes): a lead.
      const near = windows
        .filter((w) => w.start <= f.end && w.end + GRACE_MS >= f.start)
        .map((w) => `${w.kind}${w.clients === 'all' ? '' : ` of client ${w.clients.join(',')}`}`);
      const during = near.length > 0 ? `; faults meanwhile: ${[...new Set(near)].join(', ')}` : '';
      return `client ${client}: ${f.what} failed with ${f.code} and no fault explains it${during}`;
    });
}
