/**
 * A pausable loopback TCP pipe in front of a fault proxy: `pause()` makes the client stop reading
 * what the server sends (bytes pile up behind it, as with a frozen tab or a stalled phone), without
 * dropping anything; `resume()` delivers them. The fault proxy (spec/support/proxy.ts) drops and cuts;
 * this only holds.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export class Gate {
  private readonly server: Server;
  private readonly pairs = new Set<[Socket, Socket]>();
  private paused = false;
  port = 0;

  constructor(private readonly targetPort: number) {
    this.server = createServer((client) => this.accept(client));
  }

  /** Starts listening on a free port of 127.0.0.1. */
  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** From now on the client reads nothing the server sends (new connections too). */
  pause(): void {
    this.paused = true;
    for (const [, upstream] of this.pairs) upstream.pause();
  }

  /** Delivers what piled up, and everything after. */
  resume(): void {
    this.paused = false;
    for (const [, upstream] of this.pairs) upstream.resume();
  }

  async close(): Promise<void> {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    const upstream = connect(this.targetPort, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) => client.write(d));
    if (this.paused) upstream.pause();
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    for (const s of pair) {
      s.on('close', end);
      s.on('error', end);
    }
  }
}
