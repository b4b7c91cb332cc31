/**
 * The Redis the several-node target's nodes talk through: a private `redis-server` the orchestrator
 * starts on a free port of 127.0.0.1 (no persistence), for the whole benchmark, and kills when it
 * exits. Private so that nothing else's traffic reaches it and its CPU time can be read (it is the
 * part of the work the nodes share); each cluster still gets a stream of its own (servers.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Linux's clock ticks per second in /proc (USER_HZ, 100 on every common architecture). */
const TICKS_PER_SECOND = 100;

/** A port nobody listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Whether something accepts connections on `port`. */
function accepts(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export class BenchRedis {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    process.on('exit', () => child.kill('SIGKILL'));
  }

  /** Starts `redis-server`; rejects with a clear message when it is not installed or does not start. */
  static async start(): Promise<BenchRedis> {
    const port = await freePort();
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    let failure: Error | undefined;
    child.once('error', (err) => {
      failure = new Error(`--nodes needs redis-server on the PATH: ${err.message}`);
    });
    child.once('exit', (code) => {
      failure ??= new Error(`redis-server exited with ${code}`);
    });
    const deadline = Date.now() + 10_000;
    while (!(await accepts(port))) {
      if (failure) throw failure;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`redis-server does not accept connections on ${port}`);
      }
      await sleep(20);
    }
    return new BenchRedis(child, port);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** CPU time (user + system) Redis used so far, µs; NaN where /proc is not there (not Linux). */
  cpuUs(): number {
    try {
      const stat = readFileSync(`/proc/${this.child.pid}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces, hence from the last ')'): utime is
      // the 14th field of the line, stime the 15th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS_PER_SECOND;
    } catch {
      return NaN;
    }
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}
