/**
 * Binds the engine's transport interface to a socket.io v4 server: the handshake check (protocol
 * version, session secret, `authorize`), one `Connection` per socket, rooms, and broadcasts encoded
 * once per audience by socket.io itself (`to(room).except(socket).emit`).
 */
import { createHash } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { Server, type Namespace, type ServerOptions as IoServerOptions, type Socket } from 'socket.io';
import { ERROR_CODES } from '../errors.js';
import { logger } from '../debug.js';
import type { ChangesMessage, ServerToClientEvents } from '../protocol.js';
import { PROTOCOL_VERSION } from '../protocol.js';
import type { Connection, ServerTransport, SessionPresence, TransportListener } from '../transport.js';

const log = logger('server:conn');

/** What `authorize` receives: socket.io's handshake (headers, query, auth, address...). */
export type Handshake = Socket['handshake'];

export interface SocketIoTransportOptions {
  path: string;
  maxPayloadBytes: number;
  namespace: string | Namespace | undefined;
  adapter: IoServerOptions['adapter'] | undefined;
  cors: IoServerOptions['cors'] | undefined;
  allowRequest: IoServerOptions['allowRequest'] | undefined;
  allowedOrigins: string[] | undefined;
  maxBufferedBytes: number;
  maxTotalBufferedBytes: number;
  authorize: ((handshake: Handshake) => unknown) | undefined;
}

/** An http(s) server or a socket.io `Server` to run on. */
export type ListenTarget = HttpServer | HttpsServer | Server;

const SESSION_SECRET = /^[A-Za-z0-9_-]{16,128}$/;

/** The public session id of a secret: a hash, so it can be shown without letting anyone take the session. */
export function sessionId(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url').slice(0, 22);
}

/** An error for the handshake: the client sees `err.message === code` and `err.data = { code, message }`. */
function handshakeError(code: keyof typeof ERROR_CODES): Error & { data: unknown } {
  return Object.assign(new Error(code), { data: { code, message: ERROR_CODES[code] } });
}

const SWEEP_MS = 250;
const RELAY_EVENT = 'os:relay';
const SESSION_EVENT = 'os:session';
/** Longest wait for the other nodes' answers about a session (the adapters' own timeout is 5 s). */
const SESSION_QUERY_MS = 6000;

const isPresence = (x: unknown): x is SessionPresence => x === 'live' || x === 'released' || x === 'none';

/** Bytes queued for a socket and not yet written to the network (engine.io buffer + websocket buffer). */
function bufferedBytes(socket: Socket): number {
  const conn = socket.conn as unknown as {
    writeBuffer?: Array<{ data?: unknown }>;
    transport?: { socket?: { bufferedAmount?: number } };
  };
  let bytes = conn.transport?.socket?.bufferedAmount ?? 0;
  for (const packet of conn.writeBuffer ?? [])
    bytes += typeof packet.data === 'string' ? packet.data.length : 64;
  return bytes;
}

type AllowRequest = NonNullable<IoServerOptions['allowRequest']>;

/** `allowRequest` refusing browsers from any origin not listed exactly, then asking `next`. */
function checkOrigin(origins: string[] | undefined, next: IoServerOptions['allowRequest']): AllowRequest {
  return (req, callback) => {
    const origin = req.headers.origin;
    if (origins && origin !== undefined && !origins.includes(origin))
      return callback('origin not allowed', false);
    if (next) return next(req, callback);
    callback(null, true);
  };
}

/**
 * Cuts a socket's connection at once and drops what it had buffered: a graceful close would wait for
 * the unread data, and long-polling would keep its buffer until the next poll or the ping timeout.
 */
function cut(socket: Socket): void {
  const conn = socket.conn as unknown as {
    writeBuffer?: unknown[];
    transport?: { socket?: { terminate?: () => void } };
    close(discard?: boolean): void;
  };
  if (conn.writeBuffer) conn.writeBuffer.length = 0;
  const ws = conn.transport?.socket;
  if (ws?.terminate) ws.terminate();
  else conn.close(true);
}

class SocketConnection implements Connection {
  readonly id: string;
  closed = false;

  constructor(
    private readonly socket: Socket,
    readonly sid: string,
    readonly user: unknown,
    /** The connection's outbound byte budget. */
    private readonly budget: number,
  ) {
    this.id = socket.id;
  }

  send<E extends keyof ServerToClientEvents>(event: E, ...args: Parameters<ServerToClientEvents[E]>): void {
    this.socket.emit(event, ...args);
    this.checkBudget();
  }

  /**
   * Drops the connection at once when what is queued for it passed its budget: checked each time a
   * frame is queued for it alone (answers, its own events), so a client that stops reading cannot make
   * the server hold more than its budget and one frame.
   */
  checkBudget(): void {
    if (this.closed || bufferedBytes(this.socket) <= this.budget) return;
    log('dropping %s: %d bytes unread', this.id, bufferedBytes(this.socket));
    this.closed = true;
    cut(this.socket);
  }
  join(room: string): void {
    void this.socket.join(room);
  }
  leave(room: string): void {
    void this.socket.leave(room);
  }
  isIn(room: string): boolean {
    return this.socket.rooms.has(room);
  }
  drop(): void {
    this.socket.conn.close();
  }
}

export class SocketIoTransport implements ServerTransport {
  readonly io: Server;
  readonly nsp: Namespace;
  private readonly ownsIo: boolean;
  readonly clustered: boolean;
  private readonly sweeper: ReturnType<typeof setInterval>;
  private accepting = true;
  /**
   * The connection of each admitted socket. Kept here, not in `socket.data`: a socket.io adapter
   * serializes `socket.data` for other nodes, and a connection is neither serializable nor theirs.
   */
  private readonly conns = new WeakMap<Socket, SocketConnection>();

  private readonly budget: number;

  constructor(target: ListenTarget, options: SocketIoTransportOptions, listener: TransportListener) {
    this.budget = options.maxBufferedBytes;
    if (target instanceof Server) {
      this.io = target;
      this.ownsIo = false;
    } else {
      this.io = new Server(target, {
        path: options.path,
        serveClient: false,
        // Payloads a little over the limit still parse, so the sender gets `payload_too_large`;
        // far larger ones are cut off by socket.io before they are buffered.
        maxHttpBufferSize: options.maxPayloadBytes * 2 + 64 * 1024,
        ...(options.adapter ? { adapter: options.adapter } : {}),
        ...(options.cors ? { cors: options.cors } : {}),
        ...(options.allowRequest || options.allowedOrigins
          ? { allowRequest: checkOrigin(options.allowedOrigins, options.allowRequest) }
          : {}),
      });
      this.ownsIo = true;
    }
    const ns = options.namespace;
    this.nsp = typeof ns === 'object' ? ns : this.io.of(ns ?? '/');
    this.nsp.use((socket, next) => {
      this.admit(socket, options.authorize, listener).then(
        () => next(),
        (err: Error) => next(err),
      );
    });
    this.nsp.on('connection', (socket: Socket) => this.onConnection(socket, listener));
    this.clustered = options.adapter !== undefined;
    // Messages from the other nodes' engines (socket.io's server-side emit, through the adapter).
    this.nsp.on(RELAY_EVENT, (message: unknown) => listener.relayed(message));
    this.nsp.on(SESSION_EVENT, (sid: unknown, ack: unknown) => {
      if (typeof ack === 'function') ack(typeof sid === 'string' ? listener.sessionQuery(sid) : 'none');
    });
    this.sweeper = setInterval(
      () => this.dropSlowReaders(options.maxBufferedBytes, options.maxTotalBufferedBytes),
      SWEEP_MS,
    );
    this.sweeper.unref();
  }

  /**
   * Drops connections whose unsent data passed the limit (a client that stopped reading), and, while
   * all connections together hold more than `total`, the ones holding the most. Broadcasts to a room
   * are checked here, every `SWEEP_MS`, so the broadcast path pays nothing per frame; answers and
   * events to one connection are checked when queued (`checkBudget`).
   */
  private dropSlowReaders(limit: number, total: number): void {
    const held: Array<[Socket, number]> = [];
    let sum = 0;
    for (const socket of this.nsp.sockets.values()) {
      const bytes = bufferedBytes(socket);
      if (bytes > limit) {
        log('dropping slow reader %s (%d bytes)', socket.id, bytes);
        cut(socket);
      } else if (bytes > 0) {
        held.push([socket, bytes]);
        sum += bytes;
      }
    }
    if (sum <= total) return;
    held.sort((a, b) => b[1] - a[1]);
    for (const [socket, bytes] of held) {
      if (sum <= total) break;
      log('dropping %s: the server holds %d bytes unread', socket.id, sum);
      cut(socket);
      sum -= bytes;
    }
  }

  /** Checks the handshake; on success keeps the socket's connection (its session and user). */
  private async admit(
    socket: Socket,
    authorize: SocketIoTransportOptions['authorize'],
    listener: TransportListener,
  ): Promise<void> {
    try {
      await this.check(socket, authorize, listener);
    } catch (err) {
      log('handshake %s refused: %s', socket.id, (err as Error).message);
      throw err;
    }
  }

  /** `admit`'s checks: throws the handshake error to refuse. */
  private async check(
    socket: Socket,
    authorize: SocketIoTransportOptions['authorize'],
    listener: TransportListener,
  ): Promise<void> {
    if (!this.accepting) throw handshakeError('unavailable');
    const auth = (socket.handshake.auth ?? {}) as Record<string, unknown>;
    if (auth.osProtocol !== PROTOCOL_VERSION) throw handshakeError('protocol_version');
    const secret = auth.osSession;
    if (typeof secret !== 'string' || !SESSION_SECRET.test(secret)) throw handshakeError('invalid_message');
    let user: unknown = true;
    if (authorize) {
      try {
        user = await authorize(socket.handshake);
      } catch (err) {
        // Its name only: the application's message may quote the credentials it refused.
        log('authorize threw %s', err instanceof Error ? err.name : typeof err);
        throw handshakeError('unauthorized');
      }
      if (user === undefined || user === null || user === false) throw handshakeError('unauthorized');
    }
    // Asked again after `authorize`, which may have taken a while: `close()` or another handshake of
    // the session may have come meanwhile.
    const sid = sessionId(secret);
    const verdict = this.accepting ? listener.admit(sid, user) : 'unavailable';
    if (verdict !== 'ok') throw handshakeError(verdict);
    this.conns.set(socket, new SocketConnection(socket, sid, user, this.budget));
  }

  private onConnection(socket: Socket, listener: TransportListener): void {
    const conn = this.conns.get(socket);
    if (!conn) return void socket.disconnect(true); // not admitted by our middleware: cannot happen
    socket.onAny((event: unknown, ...args: unknown[]) => {
      // An event packet with an ack id but no data reaches us with the ack in the event's place.
      if (typeof event === 'function')
        return listener.request(conn, '', [], event as (answer: unknown) => void);
      const raw =
        typeof args[args.length - 1] === 'function' ? (args.pop() as (answer: unknown) => void) : undefined;
      const ack = raw
        ? (answer: unknown): void => {
            raw(answer);
            conn.checkBudget();
          }
        : undefined;
      listener.request(conn, String(event), args, ack);
    });
    socket.on('disconnect', (reason) => {
      conn.closed = true;
      log('%s disconnected (session %s): %s', conn.id, conn.sid, reason);
      listener.disconnected(conn, reason === 'client namespace disconnect');
    });
    if (log.enabled) log('%s connected (session %s) over %s', conn.id, conn.sid, socket.conn.transport.name);
    listener.connected(conn);
  }

  publish(room: string, message: ChangesMessage, except?: Connection | Connection[]): void {
    const ids = except === undefined ? [] : Array.isArray(except) ? except.map((c) => c.id) : [except.id];
    const target = ids.length > 0 ? this.nsp.to(room).except(ids) : this.nsp.to(room);
    target.emit('ch', ...message);
  }

  relay(message: unknown): void {
    if (this.clustered) this.nsp.serverSideEmit(RELAY_EVENT, message);
  }

  askOtherNodes(sid: string): Promise<SessionPresence[]> {
    if (!this.clustered) return Promise.resolve([]);
    return new Promise((resolve) => {
      let settled = false;
      const done = (answers: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(backstop);
        resolve(Array.isArray(answers) ? answers.filter(isPresence) : []);
      };
      // The adapter gives up after its own timeout with the answers that came (a node that just died
      // does not answer); this only backs it up.
      const backstop = setTimeout(() => done([]), SESSION_QUERY_MS);
      backstop.unref();
      try {
        // Called on the adapter itself, not through the namespace, which drops the Promise: an
        // adapter that asks Redis first (how many nodes?) rejects while Redis is down.
        const sent: unknown = this.nsp.adapter.serverSideEmit([
          SESSION_EVENT,
          sid,
          (_err: unknown, answers: unknown) => done(answers),
        ]);
        Promise.resolve(sent).catch(() => done([]));
      } catch {
        done([]);
      }
    });
  }

  *members(room: string): Iterable<Connection> {
    const ids = this.nsp.adapter.rooms.get(room);
    if (!ids) return;
    for (const id of ids) {
      const socket = this.nsp.sockets.get(id);
      const conn = socket && this.conns.get(socket);
      if (conn) yield conn;
    }
  }

  *connections(): Iterable<Connection> {
    for (const socket of this.nsp.sockets.values()) {
      const conn = this.conns.get(socket);
      if (conn) yield conn;
    }
  }

  /** Refuses every handshake from now on (`unavailable`). */
  refuseHandshakes(): void {
    this.accepting = false;
  }

  /** Refuses new connections, then drops ours (clients reconnect when a server is back). */
  async close(): Promise<void> {
    this.accepting = false;
    clearInterval(this.sweeper);
    if (this.ownsIo) {
      // socket.io closes the http server, which waits for every connection to end. Browsers keep
      // reusing keep-alive connections (reconnect attempts), so close them whenever they go idle.
      const http = this.httpServer;
      const idle = setInterval(() => http?.closeIdleConnections?.(), 50);
      try {
        await this.io.close();
      } finally {
        clearInterval(idle);
      }
    } else {
      for (const socket of this.nsp.sockets.values()) socket.conn.close();
    }
  }

  /** The http server socket.io is attached to, if any (for serving the browser bundle). */
  get httpServer(): HttpServer | HttpsServer | undefined {
    return (this.io as unknown as { httpServer?: HttpServer }).httpServer;
  }
}
