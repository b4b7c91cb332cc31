/**
 * The torture server child: an object-sync engine on 127.0.0.1, its default collection in a
 * `SqliteStore` (`--file`) or a `MemoryStore`, plus a named collection `things` (a `MemoryStore`).
 * It listens on `--port` (default 0: a free port) and reports the port over IPC; see ipc.ts.
 *
 * `--ping MS` runs the engine on a socket.io server of its own with `pingInterval` and
 * `pingTimeout` of MS (so a stopped server or a silent client is noticed in 2 x MS), and
 * `--session-timeout MS` shortens how long a session outlives its connection.
 *
 * The child exits when its parent goes away, so a killed orchestrator leaves nothing behind.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Server } from 'socket.io';
import { SqliteStore } from '../../adapters/stores/sqlite.js';
import { MemoryStore, ObjectSync, type ServerOptions, type StoredObject } from '../../lib/index.js';
import type { Dump, FromServer, ToServer } from './ipc.js';
import { forbiddenKeyPaths, pollutionSince, snapshotPrototypes } from './pollution.js';

// Taken before anything else runs, so every later change to a prototype shows.
const prototypes = snapshotPrototypes();

const { values } = parseArgs({
  options: {
    file: { type: 'string' },
    port: { type: 'string', default: '0' },
    ping: { type: 'string' },
    'session-timeout': { type: 'string' },
  },
});

function send(message: FromServer): void {
  process.send?.(message);
}

/** Listens on the port, retrying a little while it is still held by a killed predecessor. */
async function listen(http: ReturnType<typeof createServer>, port: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await new Promise<void>((resolve, reject) => {
        http.once('error', reject);
        http.listen(port, '127.0.0.1', () => {
          http.off('error', reject);
          resolve();
        });
      });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 50) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function main(): Promise<void> {
  const http = createServer();
  const store = values.file ? new SqliteStore({ file: values.file }) : new MemoryStore();
  const options: ServerOptions = { serveClient: false };
  let io: Server | undefined;
  if (values.ping) {
    const ms = Number(values.ping);
    // The same buffer limit the engine gives the io server it makes itself.
    io = new Server(http, {
      path: '/object-sync',
      serveClient: false,
      pingInterval: ms,
      pingTimeout: ms,
      maxHttpBufferSize: 2 * 1024 * 1024 + 64 * 1024,
    });
    options.io = io;
  }
  if (values['session-timeout']) options.sessionTimeout = Number(values['session-timeout']);
  const sync = ObjectSync.listen(http, store, options);
  sync.collection('things', new MemoryStore());
  let errors = 0;
  sync.on('error', () => errors++);
  await listen(http, Number(values.port));

  const answer = async (message: ToServer): Promise<unknown> => {
    switch (message.type) {
      case 'pollution':
        return pollutionSince(prototypes);
      case 'dump': {
        const dump: Dump = { collections: {}, forbidden: [], errors };
        for (const name of ['', 'things']) {
          const objects: StoredObject[] = await sync.collection(name).list();
          dump.collections[name] = objects;
          for (const obj of objects)
            dump.forbidden.push(...forbiddenKeyPaths(obj, `${name || 'default'}[${String(obj.id)}]`));
        }
        return dump;
      }
      case 'save':
        return sync.collection(message.collection).save(message.obj);
      case 'stop':
        return undefined;
      default:
        throw new Error(`not a request of this server: ${message.type}`);
    }
  };

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(0), 2000).unref();
    sync
      .close()
      .then(() => io?.close())
      .then(
        () => {
          if (store instanceof SqliteStore) store.close();
          process.exit(0);
        },
        () => process.exit(1),
      );
  };
  process.on('message', (message: ToServer) => {
    if (message.type === 'stop') return stop();
    answer(message).then(
      (result) => send({ type: 'reply', id: message.id, result }),
      (err: unknown) =>
        send({ type: 'reply', id: message.id, error: String((err as Error)?.message ?? err) }),
    );
  });
  process.on('disconnect', stop);
  send({ type: 'ready', port: (http.address() as AddressInfo).port });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
