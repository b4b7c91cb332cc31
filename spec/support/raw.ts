/**
 * Raw socket.io connections to a sync server, as an attacker (or another implementation) would
 * speak to it: each with a session secret of its own, closed by `closeRaws` after each test.
 */
import { randomBytes } from 'node:crypto';
import { io as rawIo, type Socket } from 'socket.io-client';
import { PROTOCOL_VERSION } from '../../lib/index.js';
import type { Running } from './harness.js';

const raws: Socket[] = [];

/** A raw connection with a session secret of its own, connected. */
export async function connectRaw(server: Running): Promise<Socket> {
  const socket = rawIo(server.url, {
    path: '/object-sync',
    transports: ['websocket'],
    reconnection: false,
    auth: { osSession: randomBytes(18).toString('base64url'), osProtocol: PROTOCOL_VERSION },
  });
  raws.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

/** Sends a request and resolves with its answer. */
export function ask(socket: Socket, event: string, payload: unknown): Promise<any> {
  return socket.timeout(5000).emitWithAck(event, payload);
}

/** Closes every raw connection made since the last call. */
export function closeRaws(): void {
  for (const socket of raws.splice(0)) socket.close();
}
