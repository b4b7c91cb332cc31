/**
 * The system under test of the randomized test: one sync server at a time on a durable SQLite file
 * (restarts make a new server on a new port 0, on the same file), two collections —
 *   `''` (default): handler mode, the SQLite store's own handlers wrapped (slow calls, logging), with or
 *                   without `list`; the engine keeps versions in memory;
 *   `docs`:         store mode, `guardStore(SqliteStore)`: the store's versions and durable dedupe; its
 *                   guards are the slow, logged part —
 * a `visible` rule (`pub`, or `owner` is the session; the observer sees everything), and an
 * all-seeing observer connection that records every object's state at every version (per epoch), so
 * the checks can tell what a diff or a removal sent to a client revealed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { io, type Socket } from 'socket.io-client';
import { ObjectSync, guardStore, PROTOCOL_VERSION, type StoredObject } from '../../lib/index.js';
import { SqliteStore } from '../../adapters/stores/sqlite.js';
import { Instrument, splitPatch } from './instrument.js';

export const COLLECTIONS = ['', 'docs'] as const;
export type CollName = (typeof COLLECTIONS)[number];

/** The visibility rule: public objects, one's own, and everything for the observer. */
export function isVisible(obj: Record<string, unknown>, sid: string, observerSid: string): boolean {
  return sid === observerSid || obj.pub === true || obj.owner === sid;
}

export interface WorldOptions {
  file: string;
  handlerTimeout: number;
  defaultHasList: boolean;
  instrument: Instrument;
  /** Ids the run knows of, per collection (the observer reads them when a listing cannot). */
  knownIds: () => Record<string, string[]>;
}

interface Generation {
  gen: number;
  http: HttpServer;
  sync: ObjectSync;
  stores: SqliteStore[];
  port: number;
}

/** State per (epoch, collection, id): the object at each version the observer saw (`null`: gone). */
export type History = Map<string, Map<number, Record<string, unknown> | null>>;

export function historyKey(epoch: string, coll: string, id: unknown): string {
  return `${epoch}\u0000${coll}\u0000${String(id)}`;
}

export class World {
  readonly observerSecret = randomBytes(16).toString('base64url');
  readonly observerSid = createHash('sha256').update(this.observerSecret).digest('base64url').slice(0, 22);
  readonly history: History = new Map();
  /** Restarts done, and when each one's close began and the new server was up. */
  readonly restarts: Array<{ start: number; end: number }> = [];
  gen = 0;
  private current: Generation | undefined;
  private observer: Socket | undefined;
  private observerEpoch = '';
  observerGaps = 0;
  observerSidSeen: string | undefined;

  constructor(readonly options: WorldOptions) {}

  get sync(): ObjectSync {
    return this.current!.sync;
  }

  get port(): number {
    return this.current!.port;
  }

  /** The visibility rule as the server applies it. */
  visible = (obj: StoredObject, sid: string): boolean => isVisible(obj, sid, this.observerSid);

  /** Starts a server generation on the file, and the observer on it. */
  async start(): Promise<void> {
    const gen = ++this.gen;
    const ins = this.options.instrument;
    const file = this.options.file;
    const objects = new SqliteStore({ file, collection: 'objects' });
    const docsStore = new SqliteStore({ file, collection: 'docs' });
    const docs = guardStore(docsStore, {
      create: (obj, sid) =>
        ins.call('docs', gen, undefined, undefined, async () => {
          ins.log({ coll: 'docs', kind: 'create', id: undefined, set: { ...obj }, unset: [], sid, gen });
        }),
      update: (current, patch, sid) =>
        ins.call('docs', gen, String(current.id), undefined, async () => {
          const { set, unset } = splitPatch(patch);
          ins.log({ coll: 'docs', kind: 'update', id: String(current.id), set, unset, sid, gen });
        }),
      destroy: (current, sid) =>
        ins.call('docs', gen, String(current.id), undefined, async () => {
          ins.log({ coll: 'docs', kind: 'destroy', id: String(current.id), set: {}, unset: [], sid, gen });
        }),
    });
    const http = createServer();
    const sync = ObjectSync.listen(
      http,
      ins.wrapHandlers('', gen, objects.handlers(), this.options.defaultHasList),
      { visible: this.visible, handlerTimeout: this.options.handlerTimeout, serveClient: false },
    );
    sync.on('error', () => {}); // handler failures are expected here; the checks count them
    sync.collection('docs', docs);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const port = (http.address() as AddressInfo).port;
    this.current = { gen, http, sync, stores: [objects, docsStore], port };
    await this.startObserver(port);
  }

  /** Closes the server (clients see their connections end) and starts the next one on the same file. */
  async restart(): Promise<void> {
    const start = performance.now();
    await this.stop();
    await this.start();
    this.restarts.push({ start, end: performance.now() });
  }

  /** Closes the current server and the observer. */
  async stop(): Promise<void> {
    const old = this.current;
    if (!old) return;
    this.current = undefined;
    this.observer?.disconnect();
    this.observer = undefined;
    await old.sync.close();
    this.options.instrument.closeGen(old.gen);
    // Late calls of the old generation give up without writing; then its stores may close.
    await this.options.instrument.idle();
    for (const s of old.stores) s.close();
  }

  /** The store's contents now, read from the file (the truth the clients must converge on). */
  async readTruth(): Promise<Record<CollName, StoredObject[]>> {
    const objects = new SqliteStore({ file: this.options.file, collection: 'objects' });
    const docs = new SqliteStore({ file: this.options.file, collection: 'docs' });
    try {
      return { '': await objects.list(), docs: await docs.list() };
    } finally {
      objects.close();
      docs.close();
    }
  }

  /** Connects the observer and loads both collections (paging when the server pages). */
  private async startObserver(port: number): Promise<void> {
    const socket = io(`http://127.0.0.1:${port}`, {
      path: '/object-sync',
      transports: ['websocket'],
      reconnection: false,
      auth: { osSession: this.observerSecret, osProtocol: PROTOCOL_VERSION },
    });
    this.observer = socket;
    const hello = await new Promise<{ e: string; s: string }>((resolve, reject) => {
      socket.once('hi', resolve);
      socket.once('connect_error', reject);
    });
    this.observerEpoch = hello.e;
    this.observerSidSeen = hello.s;
    socket.on('ch', (records: unknown[], coll?: string) => {
      for (const r of records) this.observe(coll ?? '', r);
    });
    for (const coll of COLLECTIONS) {
      let k: unknown;
      do {
        const payload: Record<string, unknown> = { h: [] };
        if (coll) payload.c = coll;
        if (k !== undefined) payload.k = k;
        const ack = await this.ask('sub', payload);
        for (const r of ack.r as unknown[]) this.observe(coll, r);
        k = ack.k;
      } while (k !== undefined);
      // Without `list` a subscription cannot enumerate: read the objects the run knows of.
      const ids = this.options.knownIds()[coll] ?? [];
      if (ids.length) await this.observeFetch(coll, ids);
    }
  }

  /** One request of the observer; retried while the server answers `timeout` (a slow handler). */
  private async ask(event: string, payload: Record<string, unknown>): Promise<{ r: unknown[]; k?: unknown }> {
    const socket = this.observer!;
    for (let attempt = 0; ; attempt++) {
      const ack = (await socket.timeout(5000).emitWithAck(event, payload)) as {
        r?: unknown[];
        k?: unknown;
        error?: { code: string };
      };
      if (ack.r) return ack as { r: unknown[]; k?: unknown };
      if (ack.error?.code !== 'timeout' || attempt > 20)
        throw new Error(`observer ${event} failed: ${JSON.stringify(ack)}`);
    }
  }

  /** Reads objects and records their states (a gap in what the observer received, or a start without list). */
  private async observeFetch(coll: string, ids: Array<string | number>): Promise<void> {
    const epoch = this.observerEpoch;
    const payload: Record<string, unknown> = { i: ids.map((id) => (isNaN(Number(id)) ? id : Number(id))) };
    if (coll) payload.c = coll;
    const ack = await this.ask('fetch', payload);
    for (const t of ack.r as Array<[number, Record<string, unknown>] | null>) {
      if (!t) continue;
      const key = historyKey(epoch, coll, t[1].id);
      let versions = this.history.get(key);
      if (!versions) this.history.set(key, (versions = new Map()));
      versions.set(t[0], structuredClone(t[1]));
    }
  }

  /** Records one change the observer received: the state at its version. */
  private observe(coll: string, wire: unknown): void {
    const r = normalize(wire);
    if (!r) return;
    const key = historyKey(this.observerEpoch, coll, r.i);
    let versions = this.history.get(key);
    if (!versions) this.history.set(key, (versions = new Map()));
    if (r.k === 'c') versions.set(r.v!, structuredClone(r.o!));
    else if (r.k === 'd') {
      if (r.v !== undefined) versions.set(r.v, null);
    } else {
      const base = versions.get(r.v! - 1);
      if (!base) {
        this.observerGaps++;
        this.observeFetch(coll, [r.i]).catch(() => {});
        return;
      }
      const next = structuredClone(base);
      Object.assign(next, r.s);
      for (const name of r.u ?? []) delete next[name];
      versions.set(r.v!, next);
    }
  }
}

/** A change record in object form, from its wire form (`ch` diffs are arrays). */
export interface Rec {
  k: 'c' | 'u' | 'd';
  i: string | number;
  v?: number;
  o?: Record<string, unknown>;
  s?: Record<string, unknown>;
  u?: string[];
}

export function normalize(wire: unknown): Rec | undefined {
  if (Array.isArray(wire)) {
    const [i, v, s, u] = wire as [string | number, number, Record<string, unknown>, string[] | undefined];
    return { k: 'u', i, v, s: s ?? {}, u: u ?? [] };
  }
  if (wire && typeof wire === 'object' && 'k' in wire) return wire as Rec;
  return undefined;
}
