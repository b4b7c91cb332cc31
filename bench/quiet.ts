/**
 * The benchmark shares its machine: CPU used by other processes during a phase distorts every
 * figure. This measures that CPU (machine-wide busy time minus our own processes'), and waits for a
 * quiet machine before each run.
 */
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

/** CPU time used by the whole machine so far, microseconds. */
export function machineBusyUs(): number {
  let ms = 0;
  for (const cpu of cpus()) ms += cpu.times.user + cpu.times.nice + cpu.times.sys + cpu.times.irq;
  return ms * 1000;
}

/** CPU used by other processes over the next `ms` (this one is idle meanwhile), % of one core. */
async function otherLoad(ms: number): Promise<number> {
  const busy0 = machineBusyUs();
  const own0 = process.cpuUsage();
  await sleep(ms);
  const own = process.cpuUsage(own0);
  return (100 * Math.max(0, machineBusyUs() - busy0 - own.user - own.system)) / (ms * 1000);
}

/**
 * Waits until other processes use less than `maxPct` % of a core over half a second, for at most
 * `maxWaitMs`. Resolves with the last load seen (so a run that started on a busy machine is known).
 */
export async function waitForQuiet(maxPct = 25, maxWaitMs = 30_000): Promise<number> {
  const until = Date.now() + maxWaitMs;
  let load = await otherLoad(500);
  while (load >= maxPct && Date.now() < until) load = await otherLoad(500);
  return load;
}
