/**
 * The fault plan of part 2 and the loop that carries it out.
 *
 * The plan places every fault at a point of the workload (a count of settled writes), at random
 * (seeded). Writers may run ahead of the next fault by a little only (`slack`), so the faults are
 * spread over the whole run whatever the machine's speed. Faults:
 *
 * - `cut-up`: the proxy swallows the client's bytes, then cuts: requests never reach the server.
 * - `cut-down`: the proxy swallows the server's bytes, then cuts: requests applied, answers lost.
 * - `cut-dup`: a cut, and as soon as the client is back (resending what was unanswered), answers
 *   swallowed and a second cut: duplicates in flight when the connection goes.
 * - `cut`: a plain cut.
 * - `kill`: the server SIGKILLed at a random moment, restarted on its file and port.
 * - `kill-after-commit`: every answer swallowed for a moment (the server commits and answers into the
 *   void), then SIGKILL and restart.
 * - `stop`: SIGSTOP for longer than ping interval + timeout, then SIGCONT.
 * - `pause`: one client stops reading while the others write (short: under the ping timeout; long:
 *   past it, so the connection is dropped while data piles up).
 * - `outage`: every client cut off (connections blackholed) for longer than the session timeout
 *   and the ping timeout: sessions end on the server; clients come back and resend.
 */
import { performance } from 'node:perf_hooks';
import type { FaultProxy } from '../../spec/support/proxy.js';
import type { ObjectSync } from '../../lib/client/index.js';
import type { FaultWindow } from './explain.js';
import type { Gate } from './gate.js';
import type { Random } from './random.js';

export type FaultKind =
  | 'cut-up'
  | 'cut-down'
  | 'cut-dup'
  | 'cut'
  | 'kill'
  | 'kill-after-commit'
  | 'stop'
  | 'pause-short'
  | 'pause-long'
  | 'outage';

export interface Fault {
  /** Settled writes before it happens. */
  at: number;
  kind: FaultKind;
  /** The client it hits (cuts, pauses). */
  client: number;
}

export interface PlanCounts {
  writes: number;
  clients: number;
  cuts: number;
  kills: number;
  stops: number;
  pauses: number;
  outages: number;
}

/** Places the faults over the workload. Each `cut-dup` is two cuts. */
export function planFaults(c: PlanCounts, rng: Random): Fault[] {
  const kinds: FaultKind[] = [];
  for (let cuts = 0; cuts < c.cuts;) {
    const r = rng.next();
    const kind: FaultKind =
      r < 0.3 ? 'cut-up' : r < 0.6 ? 'cut-down' : r < 0.8 && cuts + 2 <= c.cuts ? 'cut-dup' : 'cut';
    kinds.push(kind);
    cuts += kind === 'cut-dup' ? 2 : 1;
  }
  for (let i = 0; i < c.kills; i++) kinds.push(i % 2 === 0 ? 'kill-after-commit' : 'kill');
  for (let i = 0; i < c.stops; i++) kinds.push('stop');
  for (let i = 0; i < c.pauses; i++) kinds.push(i % 2 === 0 ? 'pause-long' : 'pause-short');
  for (let i = 0; i < c.outages; i++) kinds.push('outage');
  const lo = Math.floor(c.writes * 0.03);
  const hi = Math.floor(c.writes * 0.95);
  return kinds
    .map((kind) => ({ kind, at: rng.int(lo, hi), client: rng.int(0, c.clients - 1) }))
    .sort((a, b) => a.at - b.at);
}

/** What the chaos loop acts on. */
export interface ChaosTargets {
  proxies: FaultProxy[];
  gates: Gate[];
  clients: ObjectSync[];
  /** SIGKILLs the server and starts it again on the same file and port. */
  restart(): Promise<void>;
  /** Sends a signal to the server. */
  signal(signal: NodeJS.Signals): void;
  /** socket.io ping interval (= ping timeout) of the server, ms. */
  pingMs: number;
  /** The server's session timeout, ms. */
  sessionTimeoutMs: number;
}

/** Counts of what the chaos loop did. */
export interface ChaosCounts {
  cuts: number;
  kills: number;
  stops: number;
  pauses: number;
  outages: number;
}

/** `TORTURE_TRACE=1` prints every fault as it happens. */
const TRACE = process.env.TORTURE_TRACE === '1';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Resolves once the client is ready and its proxy carries at least one connection (a long-poll
 * client may have none for a moment, and a cut then would break nothing), or after `ms`.
 */
async function live(client: ObjectSync, proxy: FaultProxy, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(client.isConnected() && proxy.connections > 0) && Date.now() < deadline) await sleep(2);
}

export class Chaos {
  readonly counts: ChaosCounts = { cuts: 0, kills: 0, stops: 0, pauses: 0, outages: 0 };
  /** Every fault carried out, with when it went on (what explains a failed write). */
  readonly windows: FaultWindow[] = [];
  private next = 0;

  constructor(
    private readonly plan: Fault[],
    private readonly t: ChaosTargets,
    private readonly rng: Random,
  ) {}

  /** Settled writes the writers may reach before the next fault happens (Infinity when none is left). */
  limit(slack: number): number {
    return this.next < this.plan.length ? this.plan[this.next].at + slack : Infinity;
  }

  /**
   * Carries out the plan: each fault once `settled()` writes have settled (`waitForProgress` resolves
   * when that count may have moved); `onStep` runs after each fault (the writers' limit moved).
   */
  async run(settled: () => number, waitForProgress: () => Promise<void>, onStep: () => void): Promise<void> {
    while (this.next < this.plan.length) {
      const fault = this.plan[this.next];
      while (settled() < fault.at) await waitForProgress();
      if (TRACE)
        console.log(
          `    ${(performance.now() / 1000).toFixed(2)} s: fault ${this.next + 1}/${this.plan.length} ${fault.kind} (client ${fault.client}) at ${settled()} settled writes`,
        );
      const start = performance.now();
      await this.apply(fault);
      const clients = fault.kind.startsWith('cut') || fault.kind.startsWith('pause') ? [fault.client] : 'all';
      this.windows.push({ kind: fault.kind, clients, start, end: performance.now() });
      this.next++;
      onStep();
    }
  }

  private cut(i: number): void {
    this.t.proxies[i].cut();
    this.counts.cuts++;
  }

  /** Carries out one fault (see the header); resolves when it is over (a stop resumed, a pause ended...). */
  private async apply(f: Fault): Promise<void> {
    const proxy = this.t.proxies[f.client];
    const client = this.t.clients[f.client];
    // A cut is meant to break a live connection, not one still being made.
    if (f.kind.startsWith('cut')) await live(client, proxy, 10_000);
    switch (f.kind) {
      case 'cut-up':
        proxy.dropUpstream();
        await sleep(this.rng.int(0, 20));
        return this.cut(f.client);
      case 'cut-down':
        proxy.dropDownstream();
        await sleep(this.rng.int(0, 20));
        return this.cut(f.client);
      case 'cut-dup': {
        this.cut(f.client);
        // The cut emptied the proxy: this waits for the client to be back (resending).
        await live(client, proxy, 10_000);
        await sleep(this.rng.int(0, 3));
        proxy.dropDownstream();
        await sleep(this.rng.int(0, 10));
        return this.cut(f.client);
      }
      case 'cut':
        return this.cut(f.client);
      case 'kill':
        await sleep(this.rng.int(0, 20));
        this.counts.kills++;
        return this.t.restart();
      case 'kill-after-commit':
        for (const p of this.t.proxies) p.dropDownstream();
        await sleep(this.rng.int(5, 30));
        this.counts.kills++;
        await this.t.restart();
        // The swallowed connections are dead; let new ones pass.
        for (const p of this.t.proxies) p.cut();
        return;
      case 'stop':
        this.t.signal('SIGSTOP');
        this.counts.stops++;
        await sleep(this.t.pingMs * 2 + 1000);
        this.t.signal('SIGCONT');
        return;
      case 'pause-short':
      case 'pause-long': {
        const gate = this.t.gates[f.client];
        gate.pause();
        this.counts.pauses++;
        await sleep(f.kind === 'pause-short' ? this.t.pingMs * 0.8 : this.t.pingMs * 2 + 1500);
        gate.resume();
        return;
      }
      case 'outage': {
        for (const p of this.t.proxies) {
          p.cut();
          p.dropUpstream();
          p.dropDownstream();
        }
        this.counts.outages++;
        await sleep(this.t.sessionTimeoutMs + this.t.pingMs * 2 + 1000);
        for (const p of this.t.proxies) p.cut();
        return;
      }
    }
  }
}
