/**
 * The server side of one run: one child, or for `objectsync-nodes` K object-sync nodes joined through
 * the benchmark's Redis on a stream of their own. Their store is each node's own MemoryStore, seeded
 * identically (route by object: each object is written through one node only, see run.ts), or with
 * `--store postgres` one fresh schema they share, seeded by the first node. Says where client `i`
 * connects (round-robin over the nodes), reads every node's figures, and stops it all.
 */
import { ServerChild, type ChildOptions } from './child.js';
import type { ServerStats } from './ipc.js';
import type { BenchOptions, TargetName } from './options.js';
import { freshSchema, type Schema } from './pg-schema.js';
import type { BenchRedis } from './redis.js';

/** Numbers the clusters of this process, so each gets a stream no earlier one used. */
let clusters = 0;

export class Servers {
  private constructor(
    readonly nodes: ServerChild[],
    private readonly redis: BenchRedis | undefined,
    private readonly schema: Schema | undefined,
  ) {}

  /**
   * Starts the servers of `target`; `redis` is needed by `objectsync-nodes`; `execArgv` are extra
   * node flags for every child.
   */
  static async start(
    target: TargetName,
    options: BenchOptions,
    redis: BenchRedis | undefined,
    execArgv: string[] = [],
  ): Promise<Servers> {
    const base: ChildOptions = {
      fields: options.fields,
      objects: options.objects,
      coalesce: options.coalesce,
      execArgv,
    };
    const objectSync = target === 'objectsync' || target === 'objectsync-nodes';
    const schema = objectSync && options.store === 'postgres' ? await freshSchema() : undefined;
    const nodes: ServerChild[] = [];
    try {
      if (schema) Object.assign(base, { pgUrl: schema.url, epoch: schema.name });
      if (target !== 'objectsync-nodes') {
        nodes.push(await ServerChild.start(target, base));
        return new Servers(nodes, undefined, schema);
      }
      if (!redis) throw new Error('objectsync-nodes needs the benchmark Redis');
      const stream = `os-bench-${process.pid}-${++clusters}`;
      const node = { ...base, redis: { url: redis.url, stream } };
      // A shared store is seeded once, by the first node; separate stores each by their own node.
      if (schema) nodes.push(await ServerChild.start(target, node));
      const rest = Array.from({ length: options.nodes - nodes.length }, () =>
        ServerChild.start(target, { ...node, seed: !schema }),
      );
      const settled = await Promise.allSettled(rest);
      for (const r of settled) if (r.status === 'fulfilled') nodes.push(r.value);
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      return new Servers(nodes, redis, schema);
    } catch (err) {
      await Promise.all(nodes.map((n) => n.stop()));
      await schema?.drop();
      throw err;
    }
  }

  /** Where client number `i` connects: node `i mod K`. */
  url(i: number): string {
    return this.nodes[i % this.nodes.length].url;
  }

  /** Every node's CPU and memory now (`gc`: after collecting garbage). */
  stats(gc = false): Promise<ServerStats[]> {
    return Promise.all(this.nodes.map((n) => n.stats(gc)));
  }

  /** CPU time of what the nodes share (Redis), µs so far; NaN for one node or when unreadable. */
  sharedCpuUs(): number {
    return this.redis ? this.redis.cpuUs() : NaN;
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    await this.schema?.drop();
  }
}
