/**
 * Client sessions: one per client, stable across its reconnects, named by `sid`.
 *
 * A session starts with its first connection. It ends at once when its client leaves on purpose,
 * otherwise `timeoutMs` after its last connection dropped without a new one, so a network blip does
 * not end it.
 *
 * On several nodes a session is one across all of them, held by the node its client connected to
 * last. A node given a session it does not know asks the others (`query`): one still waiting for that
 * client lets the session go to it without ending it, so `connect` does not fire again. A node whose
 * session timed out asks too, and ends it only when no node has a connection of it. So `connect`
 * fires once, where the session started, and `disconnect` once, where it ended.
 */
import { logger } from '../debug.js';
import type { Connection, SessionPresence } from '../transport.js';

const log = logger('server:session');

export class Session {
  readonly connections = new Set<Connection>();
  endTimer: ReturnType<typeof setTimeout> | undefined;
  /** Pending while this node asks whether the session started here (then `connect` fires) or moved. */
  starting: Promise<void> | undefined;
  /** Handed over to another node: it never fires `connect` here. */
  released = false;

  constructor(
    readonly sid: string,
    /** What `authorize` answered at the session's latest handshake (the same user as its first). */
    public user: unknown,
  ) {}
}

/** Most ended sessions, and most admitted handshakes not attached yet, whose users are remembered. */
export const MAX_ENDED_SESSIONS = 10_000;
/** How long an admitted handshake binds its secret until its connection attaches (ms). */
const CLAIM_MS = 10_000;

/** Users of secrets without a session here, each until a time, oldest first, at most `max`. */
class Bindings {
  private readonly users = new Map<string, { user: unknown; until: number }>();

  constructor(private readonly max: number) {}

  /** The user a secret is bound to now, if any. */
  get(sid: string): unknown {
    const bound = this.users.get(sid);
    if (!bound) return undefined;
    if (bound.until > Date.now()) return bound.user;
    this.users.delete(sid);
    return undefined;
  }

  /** Binds a secret to a user for `ms`; the oldest binding is forgotten past `max`. */
  set(sid: string, user: unknown, ms: number): void {
    if (user === undefined || ms <= 0) return;
    this.users.delete(sid);
    this.users.set(sid, { user, until: Date.now() + ms });
    for (const oldest of this.users.keys()) {
      if (this.users.size <= this.max) break;
      this.users.delete(oldest);
    }
  }
}

export class Sessions {
  private readonly sessions = new Map<string, Session>();
  /** Users of ended sessions: a session's secret stays bound to its user after it ended. */
  private readonly ended: Bindings;
  /**
   * Users of admitted handshakes of secrets without a session here: a secret is bound from its first
   * admitted handshake, before its connection attaches (two first handshakes at once cannot both win).
   */
  private readonly claims: Bindings;

  constructor(
    private readonly timeoutMs: number,
    private readonly onStart: (sid: string) => void,
    private readonly onEnd: (sid: string) => void,
    /** What the other nodes answer about a session (their `query`). */
    private readonly elsewhere: (sid: string) => Promise<SessionPresence[]> = async () => [],
    /** Whether two answers of `authorize` name the same user. */
    private readonly isSameUser: (a: unknown, b: unknown) => boolean = sameUser,
    /**
     * How long an ended session's secret stays bound to its user (ms): as long as the requests it
     * made are remembered (`dedupeRetention`), which a resend with its secret would recall.
     */
    private readonly endedMs = 0,
    maxEnded = MAX_ENDED_SESSIONS,
  ) {
    this.ended = new Bindings(maxEnded);
    this.claims = new Bindings(maxEnded);
  }

  /**
   * Whether a handshake of `sid` by `user` may join the session: a session is bound to the user of
   * its first handshake, so a later handshake with the session's secret and another user's
   * credentials is refused (users compare by the server option `sameUser`, see `sameUser` below) —
   * also for `endedMs` after the session ended (on this node; at most `maxEnded` sessions).
   */
  accepts(sid: string, user: unknown): boolean {
    const bound = this.sessions.get(sid)?.user ?? this.ended.get(sid) ?? this.claims.get(sid);
    if (bound === undefined) {
      // Claimed now: another user's handshake of the same secret before this one attaches is refused.
      this.claims.set(sid, user, CLAIM_MS);
      return true;
    }
    if (this.isSameUser(bound, user)) return true;
    log('%s refused: unauthorized (bound to another user)', sid);
    return false;
  }

  /** Attaches a connection to its session, starting the session if it is new. */
  attach(conn: Connection): Session {
    let session = this.sessions.get(conn.sid);
    const isNew = !session;
    if (!session) {
      session = new Session(conn.sid, conn.user);
      this.sessions.set(conn.sid, session);
    } else session.user = conn.user; // accepted as the same user: its latest answer (a refreshed token)
    clearTimeout(session.endTimer);
    session.endTimer = undefined;
    session.connections.add(conn);
    if (isNew) this.start(session);
    else log('%s resumed by %s (%d connections)', conn.sid, conn.id, session.connections.size);
    return session;
  }

  /** Detaches a connection; ends the session now (deliberate) or after the timeout (a drop). */
  detach(conn: Connection, deliberate: boolean): void {
    const session = this.sessions.get(conn.sid);
    if (!session || !session.connections.delete(conn) || session.connections.size > 0) return;
    if (deliberate) {
      this.end(session, 'the client left');
    } else {
      log('%s lost its connection: ends in %d ms unless its client comes back', session.sid, this.timeoutMs);
      // A client that moved to another node continues its session there: it does not end here.
      session.endTimer = setTimeout(() => {
        this.elsewhere(session.sid).then(
          (answers) => (answers.includes('live') ? this.forget(session) : this.endIfIdle(session)),
          () => this.endIfIdle(session),
        );
      }, this.timeoutMs);
    }
  }

  /**
   * Another node asks about a session it was given or is about to end: `live` when a connection of it
   * is here; when the session is here waiting for its client, it goes to the asking node (`released`,
   * forgotten here without ending); else `none`. A session whose start is still undecided here
   * answers `none` (the asker then starts it; should both start it, `connect` fires twice rather
   * than never), and goes to the asker if its client is not here.
   */
  query(sid: string): SessionPresence {
    const session = this.sessions.get(sid);
    if (!session) return 'none';
    if (session.starting) {
      this.forget(session);
      return 'none';
    }
    if (session.connections.size > 0) return 'live';
    this.forget(session);
    return 'released';
  }

  /** The session of a connection. */
  get(sid: string): Session | undefined {
    return this.sessions.get(sid);
  }

  /** Ends every session (server shutdown). */
  endAll(): void {
    for (const session of [...this.sessions.values()]) this.end(session, 'the server is closing');
  }

  /** Ends a session unless a connection came back while we asked the other nodes. */
  private endIfIdle(session: Session): void {
    if (session.connections.size === 0) this.end(session, 'timed out');
  }

  /**
   * Decides whether a new session starts here: not when another node held it (the client moved), or
   * when it was handed over meanwhile. Until decided, `starting` is pending.
   */
  private start(session: Session): void {
    session.starting = this.elsewhere(session.sid)
      .then(
        (answers) => answers.some((a) => a !== 'none'),
        () => false,
      )
      .then((moved) => {
        session.starting = undefined;
        if (moved) log('%s continues here from another node', session.sid);
        if (moved || session.released) return;
        log('%s new', session.sid);
        this.onStart(session.sid);
      });
  }

  /** Drops a session without ending it (it lives on on another node). */
  private forget(session: Session): void {
    if (this.sessions.get(session.sid) === session && session.connections.size === 0) {
      clearTimeout(session.endTimer);
      this.sessions.delete(session.sid);
      session.released = true;
      log('%s went to another node', session.sid);
    }
  }

  /** Ends a session: `disconnect` fires, after `connect` when its start is still being decided. */
  private end(session: Session, why: string): void {
    if (this.sessions.get(session.sid) !== session) return;
    clearTimeout(session.endTimer);
    this.sessions.delete(session.sid);
    this.ended.set(session.sid, session.user, this.endedMs);
    log('%s ended: %s', session.sid, why);
    if (session.starting) void session.starting.then(() => this.onEnd(session.sid));
    else this.onEnd(session.sid);
  }
}

/** A user's `id` or `sub` when it is a string or a number. */
function key(user: object, name: 'id' | 'sub'): string | number | undefined {
  const value = (user as Record<string, unknown>)[name];
  return typeof value === 'string' || typeof value === 'number' ? value : undefined;
}

/**
 * Whether two answers of `authorize` name the same user (the default of the server option
 * `sameUser`): when they are identical (`===`); else, when both are objects with an `id` (a string or
 * a number), when their ids are equal; else, when both have a `sub` (a decoded token), when their subs
 * are equal; else when their JSON texts are equal. So a token refreshed between two handshakes (a new
 * `iat` or `exp`) is still the same user.
 */
export function sameUser(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    for (const name of ['id', 'sub'] as const) {
      const ka = key(a, name);
      const kb = key(b, name);
      if (ka !== undefined && kb !== undefined) return ka === kb;
    }
  }
  try {
    return JSON.stringify(a) === JSON.stringify(b);
  } catch {
    return false;
  }
}
