/**
 * A socket.io client that is not ours (socket.io-client used directly), speaking the protocol by
 * hand for part 1: it sends one hostile case at a time and reports what became of it — an answer,
 * the connection closed by the server, or nothing within the timeout — and reconnects (same
 * session) after every close.
 */
import { io, type Socket } from 'socket.io-client';
import { PROTOCOL_VERSION } from '../../lib/protocol.js';
import type { Sendable } from './hostile.js';

/** What became of one request. */
export type Outcome =
  | { kind: 'answer'; answer: unknown }
  | { kind: 'closed'; reason: string }
  | { kind: 'timeout' }
  /** Sent without asking for an answer, and the connection still serves (a probe was answered). */
  | { kind: 'ignored' };

/** socket.io-client's private table of ack callbacks, which raw packets register into. */
type Acks = Record<number, (...args: unknown[]) => void>;

export class RawClient {
  private socket: Socket | undefined;
  private closedReason: string | undefined;
  private closeWaiters: Array<(reason: string) => void> = [];
  /** Ack ids of raw packets, far above socket.io-client's own counter. */
  private nextAckId = 1_000_000_000;
  /** Connections the server closed. */
  closes = 0;

  constructor(
    private readonly url: string,
    private readonly secret: string,
  ) {}

  /** Connects (again), retrying for up to `withinMs`. */
  async connect(withinMs = 5000): Promise<void> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      try {
        await this.connectOnce();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  private connectOnce(): Promise<void> {
    this.socket?.off();
    this.socket?.disconnect();
    const socket = io(this.url, {
      path: '/object-sync',
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: 5000,
      auth: { osSession: this.secret, osProtocol: PROTOCOL_VERSION },
    });
    this.socket = socket;
    this.closedReason = undefined;
    return new Promise<void>((resolve, reject) => {
      socket.once('connect', () => {
        socket.on('disconnect', (reason) => {
          if (reason === 'io client disconnect') return;
          this.closedReason = reason;
          for (const w of this.closeWaiters.splice(0)) w(reason);
        });
        resolve();
      });
      socket.once('connect_error', (err) => {
        socket.disconnect();
        reject(err);
      });
    });
  }

  /** Closes the connection for good. */
  close(): void {
    this.socket?.off();
    this.socket?.disconnect();
    this.socket = undefined;
  }

  /** Sends a request and waits for its answer (when `ack`), a close, or `timeoutMs`. */
  async send(s: Sendable, timeoutMs: number): Promise<Outcome> {
    if (!this.socket || this.closedReason !== undefined) await this.connect();
    const socket = this.socket!;
    let answered: ((answer: unknown) => void) | undefined;
    const answer = new Promise<unknown>((resolve) => (answered = resolve));
    if (s.via === 'emit') {
      if (s.ack) socket.emit(s.event, ...s.args, (a: unknown) => answered!(a));
      else socket.emit(s.event, ...s.args);
    } else {
      const id = this.nextAckId++;
      if (s.ack) (socket as unknown as { acks: Acks }).acks[id] = (a: unknown) => answered!(a);
      const engine = socket.io.engine;
      engine.write(s.packet(id));
      for (const frame of s.after ?? []) engine.write(frame);
    }
    if (!s.ack) return this.probe(timeoutMs);
    return this.outcome(answer, timeoutMs);
  }

  /** After a request without an answer: does the connection still serve? */
  private async probe(timeoutMs: number): Promise<Outcome> {
    const socket = this.socket!;
    let answered: ((answer: unknown) => void) | undefined;
    const answer = new Promise<unknown>((resolve) => (answered = resolve));
    socket.emit('list', { c: 'no-such-collection' }, (a: unknown) => answered!(a));
    const outcome = await this.outcome(answer, timeoutMs);
    return outcome.kind === 'answer' ? { kind: 'ignored' } : outcome;
  }

  private async outcome(answer: Promise<unknown>, timeoutMs: number): Promise<Outcome> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const closed = new Promise<Outcome>((resolve) => {
      if (this.closedReason !== undefined) resolve({ kind: 'closed', reason: this.closedReason });
      else this.closeWaiters.push((reason) => resolve({ kind: 'closed', reason }));
    });
    const late = new Promise<Outcome>((resolve) => {
      timer = setTimeout(() => resolve({ kind: 'timeout' }), timeoutMs);
    });
    const result = await Promise.race([
      answer.then((a): Outcome => ({ kind: 'answer', answer: a })),
      closed,
      late,
    ]);
    clearTimeout(timer);
    this.closeWaiters = [];
    if (result.kind === 'closed') this.closes++;
    if (result.kind === 'timeout') {
      // Start clean: a late answer must not be taken for the next request's.
      this.close();
    }
    return result;
  }
}
