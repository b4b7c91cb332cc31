/**
 * Garbage collection on demand in this (client) process, without `--expose-gc` on the command line:
 * each phase starts from a collected heap on both sides, so one phase's garbage is not collected
 * during (and charged to) the next. Collections during a phase still count, as they should.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Collects garbage (twice, so objects freed by finalizers go too). */
export function collectGarbage(): void {
  gc();
  gc();
}
