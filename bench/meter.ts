/**
 * What the clients of one run report into: deliveries, their latency, and the bytes the receivers
 * got. One phase at a time: `begin` names the sequence numbers of the phase's updates; deliveries of
 * any other update (a late one from an earlier phase) are ignored.
 *
 * Latency of a delivery = when the receiver got it - when its update was due (`sent`): the actual
 * send time at saturation, the scheduled time at a fixed rate (so a stalled sender does not hide
 * queueing, "coordinated omission").
 *
 * With several server nodes, each receiver reports through the sink of its node (`node(i)`), so the
 * deliveries each node made are counted too.
 */
import { performance } from 'node:perf_hooks';
import { decodeValue } from './objects.js';

/** What a receiver reports into. */
export interface Sink {
  /** The receiver got an update whose changed field holds `value`. */
  delivered(value: unknown): void;
  /** The receiver got `n` bytes of frame payload. */
  received(n: number): void;
}

export class Meter implements Sink {
  deliveries = 0;
  /** Deliveries since `begin` by receivers of each server node (index: the node). */
  nodeDeliveries: number[] = [];
  /** Frame payload bytes received by the receivers since `begin`. */
  bytes = 0;
  /** When the last counted delivery arrived (performance.now()). */
  lastAt = 0;
  private base = 0;
  private sentAt = new Float64Array(0);
  private samples = new Float64Array(0);
  private target = Infinity;
  private onTarget: (() => void) | undefined;

  /** Starts a phase of `updates` updates numbered from `base`, each delivered `fanout` times. */
  begin(base: number, updates: number, fanout: number): void {
    this.base = base;
    this.sentAt = new Float64Array(updates).fill(NaN);
    this.samples = new Float64Array(updates * fanout);
    this.deliveries = 0;
    this.nodeDeliveries = [];
    this.bytes = 0;
    this.lastAt = 0;
    this.target = updates * fanout;
    this.onTarget = undefined;
  }

  /** Update `seq` was sent (or was due) at `at`. */
  sent(seq: number, at: number): void {
    const i = seq - this.base;
    if (i >= 0 && i < this.sentAt.length) this.sentAt[i] = at;
  }

  /** The sink of a receiver connected to server node `node`. */
  node(node: number): Sink {
    return {
      delivered: (value) => {
        if (this.count(value)) this.nodeDeliveries[node] = (this.nodeDeliveries[node] ?? 0) + 1;
      },
      received: (n) => this.received(n),
    };
  }

  /** A receiver got an update whose changed field holds `value`. */
  delivered(value: unknown): void {
    this.count(value);
  }

  /** Counts a delivery of this phase; false for any other value. */
  private count(value: unknown): boolean {
    const i = decodeValue(value) - this.base;
    if (i < 0 || i >= this.sentAt.length) return false;
    const now = performance.now();
    if (this.deliveries < this.samples.length) this.samples[this.deliveries] = now - this.sentAt[i];
    this.deliveries++;
    this.lastAt = now;
    if (this.deliveries === this.target) this.onTarget?.();
    return true;
  }

  /** A receiver got `n` bytes of frame payload. */
  received(n: number): void {
    this.bytes += n;
  }

  /** Latency samples of the phase so far, in ms. */
  latencies(): Float64Array {
    return this.samples.subarray(0, Math.min(this.deliveries, this.samples.length));
  }

  /** Resolves true once every delivery of the phase arrived, false after `timeoutMs`. */
  whenComplete(timeoutMs: number): Promise<boolean> {
    if (this.deliveries >= this.target) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.onTarget = undefined;
        resolve(false);
      }, timeoutMs);
      this.onTarget = () => {
        clearTimeout(timer);
        this.onTarget = undefined;
        resolve(true);
      };
    });
  }
}
