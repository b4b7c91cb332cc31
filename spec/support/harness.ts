/**
 * Test harness: real http + socket.io servers on port 0, real clients, and everything closed after
 * each test. Waits for events, never for time.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ObjectSync as Server, type ServerOptions, type Handlers } from '../../lib/index.js';
import { ObjectSync as Client, type ClientOptions } from '../../lib/client/index.js';

export interface Running {
  http: HttpServer;
  sync: Server;
  url: string;
  port: number;
}

const servers = new Set<Running>();
const clients = new Set<Client>();

/** Starts a sync server on a fresh http server at port 0. */
export async function startServer(handlers?: Handlers, options?: ServerOptions, port = 0): Promise<Running> {
  const http = createServer();
  // `npm test` runs the core specs a second time with coalescing off (OBJECT_SYNC_TEST_COALESCE=off):
  // the default sends the changes of one tick as one frame per connection.
  const coalesce = process.env.OBJECT_SYNC_TEST_COALESCE === 'off' ? { coalesce: false } : {};
  const sync = Server.listen(http, handlers, { ...coalesce, ...options });
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  const actual = (http.address() as AddressInfo).port;
  const running = { http, sync, url: `http://127.0.0.1:${actual}`, port: actual };
  servers.add(running);
  return running;
}

/** Stops a server started by `startServer` (as a crash or restart would, but cleanly). */
export async function stopServer(running: Running): Promise<void> {
  servers.delete(running);
  await running.sync.close();
}

/** Connects a client and waits until it is ready (greeted and resynced). */
export async function connectClient(server: { url: string }, options: ClientOptions = {}): Promise<Client> {
  const client = new Client({
    url: server.url,
    transports: ['websocket'],
    reconnectionDelay: 50,
    reconnectionDelayMax: 200,
    ...options,
  });
  clients.add(client);
  if (options.autoConnect !== false) await waitFor(client, 'connect');
  return client;
}

/** A client that is not connected yet. */
export function newClient(server: { url: string }, options: ClientOptions = {}): Client {
  const client = new Client({
    url: server.url,
    transports: ['websocket'],
    reconnectionDelay: 50,
    reconnectionDelayMax: 200,
    autoConnect: false,
    ...options,
  });
  clients.add(client);
  return client;
}

/** Resolves with the arguments of the next `event` of an emitter. */
export function waitFor<A extends any[] = any[]>(
  emitter: { once(event: any, fn: any): unknown },
  event: string,
): Promise<A> {
  return new Promise<A>((resolve) => {
    emitter.once(event, (...args: A) => resolve(args));
  });
}

/** Resolves once `predicate` holds, checked after each of `events` on `emitter`. */
export function waitUntil(
  emitter: { on(event: any, fn: any): unknown; off(event: any, fn: any): unknown },
  events: string[],
  predicate: () => boolean,
): Promise<void> {
  return new Promise<void>((resolve) => {
    if (predicate()) return resolve();
    const check = (): void => {
      if (!predicate()) return;
      for (const e of events) emitter.off(e, check);
      resolve();
    };
    for (const e of events) emitter.on(e, check);
  });
}

/** Closes every client and server of the test. */
export async function cleanup(): Promise<void> {
  for (const client of clients) client.disconnect();
  clients.clear();
  await Promise.all([...servers].map((s) => s.sync.close()));
  servers.clear();
}
