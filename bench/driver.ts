/**
 * How the orchestrator drives one target's clients: receivers that report every update they get
 * into a `Sink` (their node's view of the `Meter`), writers that change one field of an object and
 * resolve on the server's ack, and idle clients. Every client uses the websocket transport only and
 * never reconnects.
 */
import type { Socket } from 'socket.io-client';
import type { Sink } from './meter.js';

/** The engine.io socket under a socket.io-client socket. */
type EngineSocket = Socket['io']['engine'];

export interface Closable {
  close(): void;
}

export interface Writer extends Closable {
  /** Sets the changed field of object `id` to `value`; resolves on the server's acknowledgement. */
  write(id: number, value: string): Promise<void>;
}

export interface Driver {
  /** A client that gets every update; resolves once it is connected and subscribed. */
  receiver(url: string, meter: Sink): Promise<Closable>;
  /** A client that sends updates (and receives none); resolves once it can write. */
  writer(url: string): Promise<Writer>;
  /** A connected, subscribed client that does nothing. */
  idle(url: string): Promise<Closable>;
}

/**
 * Counts the frame payload bytes a client receives: every engine.io packet is one websocket frame,
 * its type character plus its data (all data here is ASCII, so characters are bytes).
 */
export function countBytes(engine: EngineSocket, meter: Sink): void {
  engine.on('packet', (packet) => {
    const data = packet.data;
    const size =
      typeof data === 'string' ? data.length : data ? (data as { byteLength: number }).byteLength : 0;
    meter.received(1 + size);
  });
}

/** Rejects when `promise` takes longer than `ms` (a client that cannot connect must not hang the run). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}
