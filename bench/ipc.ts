/**
 * The messages between the orchestrator and a server child (over the IPC channel of `fork`), and the
 * child's side of that channel.
 *
 * A child reports `ready` with its port once it listens and holds its objects; it answers every
 * `stats` request with its CPU time and memory; on `stop` (or when the parent goes away) it closes
 * and exits by itself, so `--cpu-prof` gets to write its profile.
 */

/** CPU and memory of a server child at one instant. */
export interface ServerStats {
  /** `process.cpuUsage()`, microseconds. */
  userUs: number;
  systemUs: number;
  /** `process.memoryUsage()`, bytes. */
  rss: number;
  heapUsed: number;
  /** Memory of C++ objects bound to JS ones (Buffers, sockets' native parts). */
  external: number;
  /** Peak RSS so far (`process.resourceUsage().maxRSS`), bytes. */
  maxRss: number;
}

export type ParentMessage = { type: 'stats'; id: number; gc: boolean } | { type: 'stop' };

export type ChildMessage =
  { type: 'ready'; port: number } | { type: 'stats'; id: number; stats: ServerStats };

/** Reads this process's figures; with `gc` (needs `--expose-gc`) collects garbage first. */
export function readStats(gc: boolean): ServerStats {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (gc && collect) {
    collect();
    collect();
  }
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  return {
    userUs: cpu.user,
    systemUs: cpu.system,
    rss: mem.rss,
    heapUsed: mem.heapUsed,
    external: mem.external,
    maxRss: process.resourceUsage().maxRSS * 1024,
  };
}

/**
 * The child's side: tells the parent its port, answers `stats`, and on `stop` or a lost parent
 * closes the server (`close`) and exits.
 */
export function serveParent(port: number, close: () => Promise<void>): void {
  const send = (message: ChildMessage): void => {
    process.send?.(message);
  };
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    // A server that will not close must not keep the benchmark waiting.
    setTimeout(() => process.exit(0), 2000).unref();
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'stats') send({ type: 'stats', id: message.id, stats: readStats(message.gc) });
    else if (message.type === 'stop') stop();
  });
  process.on('disconnect', stop);
  send({ type: 'ready', port });
}

/** Reads `--name value` from this process's arguments. */
export function argValue(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback;
}
