/**
 * Client sessions: one per client, stable across its reconnects, named by `sid`.
 *
 * A session starts with its first connection. It ends at once when its client leaves on purpose,
 * otherwise `timeoutMs` after its last connection dropped without a new one, so a network blip does
 * not end it.
 */
import type { Connection } from '../transport.js';

export class Session {
  readonly connections = new Set<Connection>();
  endTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly sid: string,
    /** What `authorize` answered at the session's latest handshake. */
    public user: unknown,
  ) {}
}

export class Sessions {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly timeoutMs: number,
    private readonly onStart: (sid: string) => void,
    private readonly onEnd: (sid: string) => void,
  ) {}

  /** Attaches a connection to its session, starting the session if it is new. */
  attach(conn: Connection): Session {
    let session = this.sessions.get(conn.sid);
    const isNew = !session;
    if (!session) {
      session = new Session(conn.sid, conn.user);
      this.sessions.set(conn.sid, session);
    }
    clearTimeout(session.endTimer);
    session.endTimer = undefined;
    session.user = conn.user;
    session.connections.add(conn);
    if (isNew) this.onStart(conn.sid);
    return session;
  }

  /** Detaches a connection; ends the session now (deliberate) or after the timeout (a drop). */
  detach(conn: Connection, deliberate: boolean): void {
    const session = this.sessions.get(conn.sid);
    if (!session || !session.connections.delete(conn) || session.connections.size > 0) return;
    if (deliberate) {
      this.end(session);
    } else {
      session.endTimer = setTimeout(() => this.end(session), this.timeoutMs);
    }
  }

  /** The session of a connection. */
  get(sid: string): Session | undefined {
    return this.sessions.get(sid);
  }

  /** Ends every session (server shutdown). */
  endAll(): void {
    for (const session of [...this.sessions.values()]) this.end(session);
  }

  private end(session: Session): void {
    if (this.sessions.get(session.sid) !== session) return;
    clearTimeout(session.endTimer);
    this.sessions.delete(session.sid);
    this.onEnd(session.sid);
  }
}
