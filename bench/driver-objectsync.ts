/**
 * Clients of the object-sync target: `new ObjectSync({ url, transports: ['websocket'] })` from
 * lib/client. Receivers count `update` events; writers `save({ id, field: value })` objects they
 * got in their first resync, then end their subscriptions so they receive no updates themselves.
 */
import type { Socket } from 'socket.io-client';
import { ObjectSync } from '../lib/client/index.js';
import { countBytes, within, type Closable, type Driver, type Writer } from './driver.js';
import type { Sink } from './meter.js';

const CONNECT_TIMEOUT = 15_000;

function client(url: string): ObjectSync {
  return new ObjectSync({ url, transports: ['websocket'], autoReconnect: false });
}

/** The client's socket.io socket; not public API, read here only to count received bytes. */
function socketOf(c: ObjectSync): Socket {
  return (c as unknown as { socket: Socket }).socket;
}

/** Connects and waits until the default collection is mirrored. */
async function ready(c: ObjectSync): Promise<void> {
  try {
    await within(c.collection('').subscribe(), CONNECT_TIMEOUT, 'object-sync subscribe');
  } catch (err) {
    c.disconnect();
    throw err;
  }
}

/**
 * Ends every subscription of the default collection, so the writer receives no change: subscriptions
 * are counted, and the client made one itself (its constructor's) besides `ready`'s. With one
 * `unsubscribe()` the writers stayed in the room and each got the other's changes: a frame per update
 * more for the server to send, not counted as a delivery.
 */
async function leave(c: ObjectSync): Promise<void> {
  const own = c.collection('');
  while (own.isSubscribed()) await within(own.unsubscribe(), CONNECT_TIMEOUT, 'object-sync unsubscribe');
}

export function objectSyncDriver(field: string): Driver {
  return {
    async receiver(url: string, meter: Sink): Promise<Closable> {
      const c = client(url);
      countBytes(socketOf(c).io.engine, meter);
      c.on('update', (_obj, changes) => meter.delivered(changes[field]));
      await ready(c);
      return { close: () => c.disconnect() };
    },

    async writer(url: string): Promise<Writer> {
      const c = client(url);
      await ready(c);
      await leave(c);
      return {
        write: (id, value) => c.save({ id, [field]: value }).then(() => undefined),
        close: () => c.disconnect(),
      };
    },

    async idle(url: string): Promise<Closable> {
      const c = client(url);
      await ready(c);
      return { close: () => c.disconnect() };
    },
  };
}
