/**
 * Benchmark server child: the baseline, plain socket.io on 127.0.0.1, port 0. Objects live in a
 * `Map`; a writer's `update` ({ id, field: value }) is applied, then broadcast to the receivers'
 * room — the whole object (`--mode full`, like `io.emit(fullObject)`) or just the change
 * (`--mode diff`, like `io.emit({ id, field })`) — and acknowledged. No validation, no versions.
 * Receivers connect with `auth.role = 'r'` and get every object first (`init`), as any app must send
 * its state to a new client (object-sync's clients get theirs in their first resync).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { argValue, serveParent } from './ipc.js';
import { makeObject } from './objects.js';

type Obj = Record<string, unknown> & { id: number };

function main(): void {
  const fields = Number(argValue('fields', '10'));
  const count = Number(argValue('objects', '100'));
  const full = argValue('mode', 'full') === 'full';
  const objects = new Map<number, Obj>();
  for (let i = 1; i <= count; i++) objects.set(i, { ...makeObject(i, fields), id: i });

  const http = createServer();
  const io = new Server(http, { serveClient: false });
  io.on('connection', (socket) => {
    if ((socket.handshake.auth as { role?: string }).role === 'r') {
      void socket.join('r');
      socket.emit('init', [...objects.values()]);
    }
    socket.on('update', (patch: Record<string, unknown>, ack: (answer: unknown) => void) => {
      const obj = objects.get(patch.id as number);
      if (!obj) return ack({ error: 'not_found' });
      for (const key of Object.keys(patch)) if (key !== 'id') obj[key] = patch[key];
      io.to('r').emit('ch', full ? obj : patch);
      ack({ ok: true });
    });
  });
  http.listen(0, '127.0.0.1', () => {
    serveParent((http.address() as AddressInfo).port, () => io.close());
  });
}

main();
