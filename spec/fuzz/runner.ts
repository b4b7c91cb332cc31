/**
 * Runs one generated run of the randomized test: starts the world (server on a SQLite file, one tap
 * proxy and one client per actor), issues the commands, waits for quiescence (every call settled,
 * every handler returned, every client connected with nothing pending after a round trip that
 * brought no event), then hands everything recorded to the checks.
 *
 * Only public API is used on the client: `new ObjectSync({ url, ... })`, `save`/`fetch`/`destroy`/
 * `list`, `collection(name).subscribe/unsubscribe`, `connect`/`disconnect`, events, `allObjects`,
 * `isConnected`, `pendingRequests`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ObjectSync as Client } from '../../lib/client/index.js';
import type { StoredObject } from '../../lib/index.js';
import type { Command, RunConfig } from './commands.js';
import { Instrument } from './instrument.js';
import { TapProxy } from './tap.js';
import { COLLECTIONS, type CollName, isVisible, World } from './world.js';

/** Timings of a run (ms). */
export const HANDLER_TIMEOUT = 80;
export const SLOW_DELAY = 160;
export const LONG_CLIENT_TIMEOUT = 10_000;
export const SHORT_CLIENT_TIMEOUT = 120;
/** Longest wait for quiescence before the run counts as hung (default; `runOnce` may be given less). */
export const QUIESCENCE_LIMIT = 15_000;

/** One call a client made, with what came of it. */
export interface Op {
  n: number;
  client: number;
  coll: CollName;
  kind: 'create' | 'update' | 'destroy' | 'fetch' | 'list' | 'sub' | 'unsub';
  target?: string;
  targets?: string[];
  /** Values a write asked for (`undefined`: remove). */
  fields?: Record<string, string | undefined>;
  tok?: string;
  t0: number;
  t1?: number;
  status: 'pending' | 'ok' | 'err';
  code?: string;
  /** What the call resolved with, copied at that moment. */
  result?: unknown;
  /** The target was hidden from the caller (or gone) when the call was made. */
  hiddenAtCall?: boolean;
}

/** A server-side change of visibility (or a server-side destroy) the run made. */
export interface ServerOp {
  coll: CollName;
  id: string;
  kind: 'toggle' | 'destroy';
  set?: Record<string, unknown>;
  t0: number;
  t1: number;
  ok: boolean;
  code?: string;
}

export interface Actor {
  i: number;
  client: Client;
  tap: TapProxy;
  sid: string;
  /** Whether the run last asked for `docs` to be subscribed. */
  docsWanted: boolean;
  left: boolean;
  /** When its connection first went down (cut, left, server restart): see FINDINGS.md, H. */
  gappedAt: number | undefined;
  pending: Set<Promise<unknown>>;
  /** Each collection as rebuilt from the client's events. */
  mirrors: Record<CollName, Map<string, Record<string, unknown>>>;
  /** Objects the client showed (events, answers), copied when shown. */
  shown: Array<{ where: string; obj: Record<string, unknown>; at: number }>;
  errors: Array<{ code: string; at: number }>;
}

/** Everything a run recorded, for the checks. */
export interface Recording {
  config: RunConfig;
  world: World;
  instrument: Instrument;
  actors: Actor[];
  ops: Op[];
  serverOps: ServerOp[];
  /** Ids created (acknowledged) per collection, in order. */
  known: Record<CollName, string[]>;
  /** Owner and visibility of each object as created: (coll, id) -> fields. */
  created: Map<string, { owner: string; pub: boolean; t0: number; tok: string; client: number }>;
  truth: Record<CollName, StoredObject[]>;
  hung: number;
  quiesced: boolean;
  executed: Record<string, number>;
}

export function objKey(coll: string, id: unknown): string {
  return `${coll}\u0000${String(id)}`;
}

/** Resolves after `ms`, or at once (used only to bound a wait, never to wait for an outcome). */
function within<T>(p: Promise<T>, ms: number): Promise<T | 'late'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Resolves on the client's next `connect`, or at once when connected. */
function connected(client: Client): Promise<void> {
  if (client.isConnected()) return Promise.resolve();
  return new Promise<void>((resolve) => client.once('connect', () => resolve()));
}

/** The sid a tap saw in the server's greeting on its first connection. */
function sidFromTap(tap: TapProxy): string | undefined {
  const hi = tap.packets.find((p) => p.dir === 'down' && p.type === 2 && p.data?.[0] === 'hi');
  return hi?.data?.[1]?.s;
}

export async function runOnce(
  config: RunConfig,
  commands: Command[],
  quiescenceLimit = QUIESCENCE_LIMIT,
): Promise<Recording> {
  const dir = mkdtempSync(join(tmpdir(), 'os-fuzz-'));
  const instrument = new Instrument(SLOW_DELAY);
  const world = new World({
    file: join(dir, 'fuzz.sqlite'),
    handlerTimeout: HANDLER_TIMEOUT,
    defaultHasList: config.defaultHasList,
    instrument,
    knownIds: () => rec.known,
  });
  const rec: Recording = {
    config,
    world,
    instrument,
    actors: [],
    ops: [],
    serverOps: [],
    known: { '': [], docs: [] },
    created: new Map(),
    truth: { '': [], docs: [] },
    hung: 0,
    quiesced: false,
    executed: {},
  };
  try {
    await world.start();
    for (let i = 0; i < config.clients; i++) rec.actors.push(await startActor(rec, i));
    await Promise.all(rec.actors.map((a) => (config.docsAtStart[a.i] ? subscribe(rec, a) : undefined)));
    let tokens = 0;
    for (const pub of config.initial)
      for (const a of rec.actors)
        for (const coll of [0, 1] as const)
          await execute(rec, { t: 'create', c: a.i, coll, pub, s: true }, () => ++tokens);
    await Promise.allSettled(rec.actors.flatMap((a) => [...a.pending]));
    for (const cmd of commands) {
      if (await execute(rec, cmd, () => ++tokens)) rec.executed[cmd.t] = (rec.executed[cmd.t] ?? 0) + 1;
    }
    await quiesce(rec, quiescenceLimit);
    rec.truth = await world.readTruth();
    return rec;
  } finally {
    for (const a of rec.actors) a.client.disconnect();
    await world.stop().catch(() => {});
    await Promise.all(rec.actors.map((a) => a.tap.close()));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One actor: a tap proxy in front of the server and a client behind it, connected, its events recorded. */
async function startActor(rec: Recording, i: number): Promise<Actor> {
  const tap = await new TapProxy(rec.world.port).start();
  const client = new Client({
    url: tap.url,
    transports: ['websocket'],
    reconnectionDelay: 10,
    reconnectionDelayMax: 60,
    requestTimeout: rec.config.shortClientTimeout ? SHORT_CLIENT_TIMEOUT : LONG_CLIENT_TIMEOUT,
  });
  await connected(client);
  const actor: Actor = {
    i,
    client,
    tap,
    sid: sidFromTap(tap) ?? '',
    docsWanted: false,
    left: false,
    gappedAt: undefined,
    pending: new Set(),
    mirrors: { '': new Map(), docs: new Map() },
    shown: [],
    errors: [],
  };
  for (const coll of COLLECTIONS) {
    // The wire-level `any` of an emitter: both the client and a collection raise these events.
    const source = (coll === '' ? client : client.collection(coll)) as unknown as {
      on(event: string, fn: (...args: any[]) => void): unknown;
    };
    const mirror = actor.mirrors[coll];
    source.on('create', (obj: StoredObject) => {
      mirror.set(String(obj.id), structuredClone(obj));
      actor.shown.push({
        where: `create event (${coll || 'default'})`,
        obj: structuredClone(obj),
        at: performance.now(),
      });
    });
    source.on('update', (obj: StoredObject) => {
      mirror.set(String(obj.id), structuredClone(obj));
      actor.shown.push({
        where: `update event (${coll || 'default'})`,
        obj: structuredClone(obj),
        at: performance.now(),
      });
    });
    source.on('destroy', (id: unknown) => mirror.delete(String(id)));
    source.on('error', (err: { code: string }) =>
      actor.errors.push({ code: err?.code, at: performance.now() }),
    );
  }
  return actor;
}

/** Tracks a client call: its op record settles with it, and quiescence waits for it. */
function track(rec: Recording, actor: Actor, op: Op, call: Promise<unknown>): void {
  rec.ops.push(op);
  const p = call.then(
    (result) => {
      op.t1 = performance.now();
      op.status = 'ok';
      op.result = result === undefined ? undefined : structuredClone(result);
      for (const obj of shownObjects(result)) {
        // An update applied to an object gone since resolves with what it set (README, "save"): the
        // writer's own fields, nothing of anyone else's.
        if (op.kind === 'update' && onlyOwn(obj, op.fields ?? {})) continue;
        actor.shown.push({ where: `${op.kind} answer`, obj, at: op.t1 });
      }
    },
    (err: { code?: string }) => {
      op.t1 = performance.now();
      op.status = 'err';
      op.code = err?.code ?? String(err);
    },
  );
  actor.pending.add(p);
  void p.finally(() => actor.pending.delete(p));
}

/** Whether `obj` holds only its id and what `fields` set. */
function onlyOwn(obj: Record<string, unknown>, fields: Record<string, unknown>): boolean {
  return Object.keys(obj).every((k) => k === 'id' || (k in fields && obj[k] === fields[k]));
}

function shownObjects(result: unknown): Array<Record<string, unknown>> {
  const list = Array.isArray(result) ? result : [result];
  return list
    .filter((o): o is Record<string, unknown> => o !== null && typeof o === 'object')
    .map((o) => structuredClone(o));
}

function subscribe(rec: Recording, actor: Actor): void {
  actor.docsWanted = true;
  const op: Op = {
    n: rec.ops.length,
    client: actor.i,
    coll: 'docs',
    kind: 'sub',
    t0: performance.now(),
    status: 'pending',
  };
  track(rec, actor, op, actor.client.collection('docs').subscribe());
}

/** The collection API of a client for a collection name. */
function api(actor: Actor, coll: CollName): Client | ReturnType<Client['collection']> {
  return coll === '' ? actor.client : actor.client.collection(coll);
}

/** The server-side API of a collection (the default one is the engine's own). */
function serverApi(rec: Recording, coll: CollName): Pick<World['sync'], 'save' | 'destroy'> {
  return coll === '' ? rec.world.sync : rec.world.sync.collection(coll);
}

/** The owner and visibility of an object as the run last set them (for "hidden when called"). */
function visibleNow(rec: Recording, coll: CollName, id: string, sid: string): boolean {
  const made = rec.created.get(objKey(coll, id));
  if (!made) return false;
  let state: Record<string, unknown> = { owner: made.owner, pub: made.pub };
  let gone = false;
  for (const s of rec.serverOps) {
    if (s.coll !== coll || s.id !== id || !s.ok) continue;
    if (s.kind === 'destroy') gone = true;
    else state = { ...state, ...s.set };
  }
  for (const op of rec.ops)
    if (op.kind === 'destroy' && op.coll === coll && op.target === id && op.status === 'ok') gone = true;
  return !gone && isVisible(state, sid, '');
}

/** Executes one command; false when it had nothing to act on (no object yet). */
async function execute(rec: Recording, cmd: Command, token: () => number): Promise<boolean> {
  const now = performance.now();
  const actorOf = (c: number): Actor | undefined => rec.actors[c % rec.actors.length];
  switch (cmd.t) {
    case 'create': {
      const a = actorOf(cmd.c)!;
      const coll = COLLECTIONS[cmd.coll];
      const tok = `t${token()}`;
      const obj: Record<string, unknown> = { tok, owner: a.sid, pub: cmd.pub, [`f${a.i}`]: `${tok}` };
      if (cmd.s) obj.s = `${tok}s`;
      const op: Op = {
        n: rec.ops.length,
        client: a.i,
        coll,
        kind: 'create',
        tok,
        t0: now,
        status: 'pending',
      };
      op.fields = { [`f${a.i}`]: tok, ...(cmd.s ? { s: `${tok}s` } : {}) };
      const call = api(a, coll)
        .save(obj)
        .then((stored) => {
          const id = String(stored.id);
          op.target = id;
          rec.known[coll].push(id);
          rec.created.set(objKey(coll, id), { owner: a.sid, pub: cmd.pub, t0: now, tok, client: a.i });
          return stored;
        });
      track(rec, a, op, call);
      return true;
    }
    case 'update': {
      const a = actorOf(cmd.c)!;
      const coll = COLLECTIONS[cmd.coll];
      const ids = rec.known[coll];
      if (ids.length === 0) return false;
      const id = ids[cmd.pick % ids.length]!;
      const tok = `t${token()}`;
      const fields: Record<string, string | undefined> = {};
      if (cmd.own === 'set') fields[`f${a.i}`] = tok;
      if (cmd.own === 'unset') fields[`f${a.i}`] = undefined;
      if (cmd.s || cmd.own === 'none') fields.s = `${tok}s`;
      const op: Op = {
        n: rec.ops.length,
        client: a.i,
        coll,
        kind: 'update',
        target: id,
        fields,
        t0: now,
        status: 'pending',
        hiddenAtCall: !visibleNow(rec, coll, id, a.sid),
      };
      const live = api(a, coll).get(id) as (Record<string, unknown> & { id: string | number }) | undefined;
      let call: Promise<unknown>;
      if (cmd.live && live) {
        // Issue 13 item 2: edit the live object, then save what was edited.
        for (const [k, v] of Object.entries(fields)) {
          if (v === undefined) delete live[k];
          else live[k] = v;
        }
        // The app changed its object knowingly: its own picture of the collection changes with it.
        if (a.mirrors[coll].has(id)) a.mirrors[coll].set(id, structuredClone(live));
        call = api(a, coll).save({ id: live.id, ...fields });
      } else {
        call = api(a, coll).save({ id, ...fields });
      }
      // Once answered, what a save named is the client's expected state on the live object too,
      // silently (README, "save"): the app knows it from its own call, and its picture follows.
      call = call.finally(() => {
        const after = api(a, coll).get(id) as Record<string, unknown> | undefined;
        const pictured = a.mirrors[coll].get(id);
        if (!after || !pictured) return;
        for (const k of Object.keys(fields)) {
          if (k in after) pictured[k] = structuredClone(after[k]);
          else delete pictured[k];
        }
      });
      track(rec, a, op, call);
      return true;
    }
    case 'destroy': {
      const a = actorOf(cmd.c)!;
      const coll = COLLECTIONS[cmd.coll];
      const ids = rec.known[coll];
      if (ids.length === 0) return false;
      const id = ids[cmd.pick % ids.length]!;
      const op: Op = {
        n: rec.ops.length,
        client: a.i,
        coll,
        kind: 'destroy',
        target: id,
        t0: now,
        status: 'pending',
        hiddenAtCall: !visibleNow(rec, coll, id, a.sid),
      };
      track(rec, a, op, api(a, coll).destroy(id));
      return true;
    }
    case 'fetch': {
      const a = actorOf(cmd.c)!;
      const coll = COLLECTIONS[cmd.coll];
      const ids = rec.known[coll];
      if (ids.length === 0) return false;
      const targets = cmd.picks.map((p) => ids[p % ids.length]!);
      const op: Op = {
        n: rec.ops.length,
        client: a.i,
        coll,
        kind: 'fetch',
        targets,
        t0: now,
        status: 'pending',
        hiddenAtCall: targets.some((id) => !visibleNow(rec, coll, id, a.sid)),
      };
      track(rec, a, op, api(a, coll).fetch(targets));
      return true;
    }
    case 'list': {
      const a = actorOf(cmd.c)!;
      const coll = COLLECTIONS[cmd.coll];
      if (coll === '' && !rec.config.defaultHasList) return false; // no list handler: nothing to test
      const op: Op = { n: rec.ops.length, client: a.i, coll, kind: 'list', t0: now, status: 'pending' };
      track(rec, a, op, api(a, coll).list());
      return true;
    }
    case 'sub':
      subscribe(rec, actorOf(cmd.c)!);
      return true;
    case 'unsub': {
      const a = actorOf(cmd.c)!;
      a.docsWanted = false;
      const op: Op = {
        n: rec.ops.length,
        client: a.i,
        coll: 'docs',
        kind: 'unsub',
        t0: now,
        status: 'pending',
      };
      const docs = a.client.collection('docs');
      track(rec, a, op, docs.unsubscribe());
      // The last unsubscribe forgets the collection's objects without events (README, "subscribe"):
      // the mirror the events build forgets them too.
      const held = docs.allObjects();
      for (const id of [...a.mirrors.docs.keys()]) if (!(id in held)) a.mirrors.docs.delete(id);
      return true;
    }
    case 'cut':
      actorOf(cmd.c)!.gappedAt ??= now;
      actorOf(cmd.c)!.tap.cut();
      return true;
    case 'leave': {
      const a = actorOf(cmd.c)!;
      a.gappedAt ??= now;
      a.left = true;
      a.client.disconnect();
      return true;
    }
    case 'rejoin': {
      const a = actorOf(cmd.c)!;
      if (!a.left) return false;
      a.left = false;
      a.client.connect();
      return true;
    }
    case 'settle': {
      const a = actorOf(cmd.c)!;
      if (a.left) return false;
      await within(Promise.allSettled([...a.pending]), QUIESCENCE_LIMIT);
      return true;
    }
    case 'pause':
      await new Promise((resolve) => setTimeout(resolve, cmd.ms));
      return true;
    case 'toggle': {
      const coll = COLLECTIONS[cmd.coll];
      const ids = rec.known[coll];
      if (ids.length === 0) return false;
      const id = ids[cmd.pick % ids.length]!;
      const made = rec.created.get(objKey(coll, id))!;
      let set: Record<string, unknown>;
      if (cmd.how === 'pub') {
        const prior = [...rec.serverOps]
          .reverse()
          .find((s) => s.coll === coll && s.id === id && s.set && 'pub' in s.set);
        set = { pub: !(prior ? prior.set!.pub : made.pub) };
      } else {
        const to = rec.actors[cmd.to % rec.actors.length]!;
        set = { owner: to.sid };
      }
      const sop: ServerOp = { coll, id, kind: 'toggle', set, t0: now, t1: now, ok: false };
      rec.serverOps.push(sop);
      try {
        await serverApi(rec, coll).save({ id: isNaN(Number(id)) ? id : Number(id), ...set });
        sop.ok = true;
      } catch (err) {
        sop.code = (err as { code?: string }).code;
      }
      sop.t1 = performance.now();
      return true;
    }
    case 'sdestroy': {
      const coll = COLLECTIONS[cmd.coll];
      const ids = rec.known[coll];
      if (ids.length === 0) return false;
      const id = ids[cmd.pick % ids.length]!;
      const sop: ServerOp = { coll, id, kind: 'destroy', t0: now, t1: now, ok: false };
      rec.serverOps.push(sop);
      try {
        await serverApi(rec, coll).destroy(isNaN(Number(id)) ? id : Number(id));
        sop.ok = true;
      } catch (err) {
        sop.code = (err as { code?: string }).code;
      }
      sop.t1 = performance.now();
      return true;
    }
    case 'slow':
      rec.instrument.makeSlow(COLLECTIONS[cmd.coll], cmd.n);
      return true;
    case 'restart':
      for (const a of rec.actors) a.gappedAt ??= now;
      await rec.world.restart();
      for (const a of rec.actors) {
        a.tap.retarget(rec.world.port);
        a.tap.cut();
      }
      return true;
  }
}

/**
 * Waits until nothing moves: every client rejoined, every call settled, every handler returned, and
 * then, per client, a round trip (a fetch of an id that never exists) after which nothing was pending
 * and no event had arrived. A server sends a connection's changes before a later answer on it, so
 * changes published before the round trip have arrived when it ends.
 */
async function quiesce(rec: Recording, limit: number): Promise<void> {
  rec.instrument.clearSlow();
  for (const a of rec.actors) {
    if (a.left) a.client.connect();
    a.left = false;
  }
  const deadline = performance.now() + limit;
  const left = (): number => Math.max(1, deadline - performance.now());
  await within(Promise.allSettled(rec.actors.flatMap((a) => [...a.pending])), left());
  await within(rec.instrument.idle(), left());
  for (let round = 0; round < 20 && performance.now() < deadline; round++) {
    const before = rec.actors.map((a) => a.shown.length + a.errors.length);
    const reached = await within(Promise.all(rec.actors.map((a) => connected(a.client))), left());
    if (reached === 'late') break;
    await within(Promise.allSettled(rec.actors.map((a) => a.client.fetch('never-an-id'))), left());
    await within(Promise.allSettled(rec.actors.flatMap((a) => [...a.pending])), left());
    const quiet = rec.actors.every(
      (a, k) =>
        a.client.isConnected() &&
        a.client.pendingRequests === 0 &&
        a.shown.length + a.errors.length === before[k],
    );
    if (quiet && rec.instrument.running === 0) {
      rec.quiesced = true;
      break;
    }
  }
  rec.hung = rec.ops.filter((o) => o.status === 'pending').length;
}
