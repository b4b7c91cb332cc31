/**
 * Clients of the raw socket.io targets (`server-raw.ts`): plain socket.io-client sockets. Receivers
 * join the receivers' room (`auth.role = 'r'`), start from the objects of `init` and keep a local copy
 * of each, as an app would (the whole object replaces it, or the change is assigned onto it); writers
 * emit `update` with an ack.
 */
import { io, type Socket } from 'socket.io-client';
import { countBytes, within, type Closable, type Driver, type Writer } from './driver.js';
import type { Sink } from './meter.js';

const CONNECT_TIMEOUT = 15_000;

type Copies = Map<number, Record<string, unknown>>;

/** Connects; a receiver resolves once it has the objects (`init`), a writer once connected. */
async function connect(url: string, role: 'r' | 'w', copies: Copies, meter?: Sink): Promise<Socket> {
  const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { role } });
  if (meter) countBytes(socket.io.engine, meter);
  try {
    await within(
      new Promise<void>((resolve, reject) => {
        if (role === 'r') {
          socket.once('init', (objects: Array<Record<string, unknown> & { id: number }>) => {
            for (const obj of objects) copies.set(obj.id, obj);
            resolve();
          });
        } else {
          socket.once('connect', () => resolve());
        }
        socket.once('connect_error', reject);
      }),
      CONNECT_TIMEOUT,
      'socket.io connect',
    );
  } catch (err) {
    socket.disconnect();
    throw err;
  }
  return socket;
}

export function rawDriver(field: string, full: boolean): Driver {
  return {
    async receiver(url: string, meter: Sink): Promise<Closable> {
      const copies: Copies = new Map();
      const socket = await connect(url, 'r', copies, meter);
      socket.on('ch', (msg: Record<string, unknown> & { id: number }) => {
        const copy = copies.get(msg.id);
        if (full || !copy) copies.set(msg.id, full ? msg : { ...msg });
        else Object.assign(copy, msg);
        meter.delivered(msg[field]);
      });
      return { close: () => socket.disconnect() };
    },

    async writer(url: string): Promise<Writer> {
      const socket = await connect(url, 'w', new Map());
      return {
        write: (id, value) =>
          new Promise<void>((resolve) => {
            socket.emit('update', { id, [field]: value }, () => resolve());
          }),
        close: () => socket.disconnect(),
      };
    },

    async idle(url: string): Promise<Closable> {
      const socket = await connect(url, 'r', new Map());
      return { close: () => socket.disconnect() };
    },
  };
}
