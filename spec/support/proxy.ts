/**
 * A loopback TCP proxy for fault injection: clients connect through it to a real server, and a test
 * can cut every connection, or swallow bytes in one direction, at a chosen moment (like toxiproxy).
 */
import { EventEmitter } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

type Mode = 'pass' | 'blackhole';

/** Emits `closed` whenever one proxied connection ends. */
export class FaultProxy extends EventEmitter {
  private readonly server: Server;
  private readonly pairs = new Set<[Socket, Socket]>();
  private upstreamMode: Mode = 'pass';
  private downstreamMode: Mode = 'pass';
  private stalled = false;
  port = 0;

  constructor(private targetPort: number) {
    super();
    this.server = createServer((client) => this.accept(client));
  }

  /** Starts listening on port 0. */
  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Points new connections at another server port. */
  retarget(port: number): void {
    this.targetPort = port;
  }

  /** From now on, bytes from clients to the server are dropped. */
  dropUpstream(): void {
    this.upstreamMode = 'blackhole';
  }

  /** From now on, bytes from the server to clients are dropped. */
  dropDownstream(): void {
    this.downstreamMode = 'blackhole';
  }

  /** Stops reading from the server (a client that stopped reading): the server's buffers fill up. */
  stallDownstream(): void {
    this.stalled = true;
    for (const [, upstream] of this.pairs) upstream.pause();
  }

  /** Reads from the server again. */
  resumeDownstream(): void {
    this.stalled = false;
    for (const [, upstream] of this.pairs) upstream.resume();
  }

  /** Destroys every open connection (both sides) and lets new ones pass again. */
  cut(): void {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
    this.upstreamMode = 'pass';
    this.downstreamMode = 'pass';
  }

  /** How many connections are open. */
  get connections(): number {
    return this.pairs.size;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    const upstream = connect(this.targetPort, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    if (this.stalled) upstream.pause();
    this.pairs.add(pair);
    client.on('data', (d) => {
      if (this.upstreamMode === 'pass') upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (this.downstreamMode === 'pass') client.write(d);
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      if (this.pairs.delete(pair)) this.emit('closed');
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  }
}
