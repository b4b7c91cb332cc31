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
import type { History, Row } from './verify.js';

/**
 * Keeps every state the store ever committed: a trigger copies each row written to `os_objects`
 * into `os_history` (in the same transaction, so only committed states are kept).
 */
const HISTORY_SQL = `
  CREATE TABLE IF NOT EXISTS os_history (collection TEXT NOT NULL, id TEXT NOT NULL, v INTEGER NOT NULL, data TEXT NOT NULL);
  CREATE TRIGGER IF NOT EXISTS os_history_insert AFTER INSERT ON os_objects BEGIN
    INSERT INTO os_history (collection, id, v, data) VALUES (NEW.collection, NEW.id, NEW.v, NEW.data);
  END;
  CREATE TRIGGER IF NOT EXISTS os_history_update AFTER UPDATE ON os_objects BEGIN
    INSERT INTO os_history (collection, id, v, data) VALUES (NEW.collection, NEW.id, NEW.v, NEW.data);
  END;`;

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
    // The server made its tables; from now on every state it commits is kept.
    const db = new Database(this.options.file);
    try {
      db.pragma('busy_timeout = 10000');
      db.exec(HISTORY_SQL);
    } finally {
      db.close();
    }
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

  /** Every state of each object of the default collection the file ever held, by id. */
  history(): History {
    const db = new Database(this.options.file, { readonly: true });
    try {
      const history: History = new Map();
      const rows = db
        .prepare<[], { id: string; data: string }>(
          "SELECT id, data FROM os_history WHERE collection = 'objects' ORDER BY rowid",
        )
        .all();
      for (const r of rows) {
        const states = history.get(r.id) ?? [];
        states.push(JSON.parse(r.data) as StoredObject);
        history.set(r.id, states);
      }
      return history;
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
