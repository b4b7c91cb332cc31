/**
 * The fixed parts of part 2: a server child on a SQLite file (killed and restarted on the same file
 * and port at will; a death it did not cause is a crash, noted, and the server brought back so the
 * run can go on), and one gate and fault proxy per client in front of it.
 */
import Database from 'better-sqlite3';
import type { StoredObject } from '../../lib/index.js';
import { FaultProxy } from '../../spec/support/proxy.js';
import { ServerChild, type ServerChildOptions } from './child.js';
import { Gate } from './gate.js';
import type { Row } from './verify.js';

export class Rig {
  server!: ServerChild;
  readonly proxies: FaultProxy[] = [];
  readonly gates: Gate[] = [];
  /** Unexpected server exits, with the tail of its output. */
  readonly crashes: string[] = [];
  private port = 0;
  private restarting = false;
  private watchdog: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly options: ServerChildOptions & { file: string }) {}

  /** Starts the server and one gate + proxy per client. */
  async start(clients: number): Promise<void> {
    this.server = await ServerChild.start(this.options);
    this.port = this.server.port;
    for (let i = 0; i < clients; i++) {
      const proxy = await new FaultProxy(this.port).start();
      this.proxies.push(proxy);
      this.gates.push(await new Gate(proxy.port).start());
    }
    this.watchdog = setInterval(() => this.reviveAfterCrash(), 100);
  }

  /** The URL a client connects to: its gate (then its proxy, then the server). */
  url(client: number): string {
    return this.gates[client].url;
  }

  /** SIGKILLs the server and starts it again on the same file and port. */
  async restart(): Promise<void> {
    this.restarting = true;
    try {
      await this.server.kill();
      this.server = await ServerChild.start({ ...this.options, port: this.port });
    } finally {
      this.restarting = false;
    }
  }

  /** A server-side create (broadcast to every client). */
  save(obj: Record<string, unknown>): Promise<StoredObject> {
    return this.server.request<StoredObject>({ type: 'save', collection: '', obj });
  }

  /** Stops everything; the file stays for `rows()`. */
  async close(): Promise<void> {
    clearInterval(this.watchdog);
    await this.server.stop();
    await Promise.all([...this.proxies.map((p) => p.close()), ...this.gates.map((g) => g.close())]);
  }

  /** The final rows of the default collection, with their versions, read from the file itself. */
  rows(): Row[] {
    const db = new Database(this.options.file, { readonly: true });
    try {
      return db
        .prepare<[], { v: number; data: string }>(
          "SELECT v, data FROM os_objects WHERE collection = 'objects'",
        )
        .all()
        .map((r) => ({ v: r.v, obj: JSON.parse(r.data) as StoredObject }));
    } finally {
      db.close();
    }
  }

  private reviveAfterCrash(): void {
    if (this.restarting || this.server.alive || !this.server.crash) return;
    this.crashes.push(this.server.crash);
    this.server.crash = undefined;
    this.restarting = true;
    ServerChild.start({ ...this.options, port: this.port }).then(
      (s) => {
        this.server = s;
        this.restarting = false;
      },
      (err: unknown) => this.crashes.push(`could not restart: ${String(err)}`),
    );
  }
}
