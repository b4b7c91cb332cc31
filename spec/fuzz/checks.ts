/**
 * The properties a run must have, checked on what it recorded (see runner.ts):
 *
 * - convergence: every client's map of a subscribed collection equals the store seen through
 *   `visible` for its session; the client's events rebuild the same map.
 * - no leak: no record that reached a client (on the wire, through its tap) carries the fields or the
 *   version of an object hidden from its session; no client showed one (events, answers); a hidden id
 *   answers exactly like a missing one; `ch` only for collections the connection subscribed to.
 * - nothing lost or doubled: every acknowledged create and update reached the store (once; a handler collection
 *   may apply a write resent across a restart twice, as it keeps its dedupe in memory: counted apart);
 *   each client's own field ends on its last acknowledged value, or a later one whose outcome was
 *   unknown; an acknowledged destroy leaves nothing; no object is created twice.
 * - per-object order: no two handler calls of one object ran at once.
 * - every failed call has a fault that explains it; no call hangs.
 */
import type { Recording, Op } from './runner.js';
import type { StoredObject } from '../../lib/protocol.js';
import { HANDLER_TIMEOUT, objKey, SHORT_CLIENT_TIMEOUT } from './runner.js';
import { COLLECTIONS, historyKey, isVisible, normalize, type CollName, type Rec } from './world.js';

export interface Failure {
  kind: string;
  detail: string;
}

/** What a run reached (for the generator-coverage figures). */
export interface Reached {
  cut: boolean;
  restart: boolean;
  hiddenTouched: boolean;
  slowHandler: boolean;
  visibilityChanged: boolean;
  unverifiedRecords: number;
  /** Writes a handler collection applied more than once, once per server generation (its dedupe is in memory). */
  allowedDuplicates: number;
}

export function check(rec: Recording): { failures: Failure[]; reached: Reached } {
  const failures: Failure[] = [];
  const fail = (kind: string, detail: string): void => {
    failures.push({ kind, detail });
  };
  const reached: Reached = {
    cut: (rec.executed.cut ?? 0) + (rec.executed.leave ?? 0) > 0,
    restart: (rec.executed.restart ?? 0) > 0,
    hiddenTouched: rec.ops.some((o) => o.hiddenAtCall),
    slowHandler: rec.instrument.slowCalls.some((s) => s.end - s.start >= HANDLER_TIMEOUT),
    visibilityChanged: rec.serverOps.some((s) => s.kind === 'toggle' && s.ok),
    unverifiedRecords: 0,
    allowedDuplicates: 0,
  };
  if (!rec.quiesced)
    fail('no-quiescence', 'the clients never came to rest (connected, nothing pending, no event)');
  if (rec.hung > 0)
    fail(
      'hung',
      `${rec.hung} call(s) never settled: ${describeOps(rec.ops.filter((o) => o.status === 'pending'))}`,
    );
  checkConvergence(rec, fail);
  reached.unverifiedRecords = checkWire(rec, fail);
  checkShown(rec, fail);
  reached.allowedDuplicates = checkWrites(rec, fail);
  for (const o of rec.instrument.overlaps.slice(0, 3))
    fail(
      'overlap',
      `two handler calls of ${o.coll || 'default'}/${o.id} ran at once (server generation ${o.gen})`,
    );
  checkExplained(rec, fail);
  return { failures, reached };
}

type Fail = (kind: string, detail: string) => void;

function describeOps(ops: Op[]): string {
  return ops
    .slice(0, 4)
    .map(
      (o) => `#${o.n} c${o.client} ${o.kind} ${o.coll || 'default'}/${o.target ?? o.targets ?? o.tok ?? ''}`,
    )
    .join(', ');
}

/** Canonical JSON (sorted keys) for comparing objects. */
function canon(x: unknown): string {
  return JSON.stringify(x, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

function diffMaps(expected: Map<string, unknown>, actual: Map<string, unknown>): string | undefined {
  const out: string[] = [];
  for (const [id, obj] of expected) {
    if (!actual.has(id)) out.push(`missing ${id} ${canon(obj)}`);
    else if (canon(actual.get(id)) !== canon(obj))
      out.push(`${id}: has ${canon(actual.get(id))}, store ${canon(obj)}`);
  }
  for (const [id, obj] of actual) if (!expected.has(id)) out.push(`extra ${id} ${canon(obj)}`);
  return out.length
    ? out.slice(0, 4).join('; ') + (out.length > 4 ? ` (+${out.length - 4})` : '')
    : undefined;
}

function checkConvergence(rec: Recording, fail: Fail): void {
  for (const a of rec.actors) {
    for (const coll of COLLECTIONS) {
      const view = coll === '' ? a.client.allObjects() : a.client.collection(coll).allObjects();
      const actual = new Map(Object.entries(view).map(([id, o]) => [id, structuredClone(o) as unknown]));
      const mirror = new Map([...a.mirrors[coll]].map(([id, o]) => [id, o as unknown]));
      const events = diffMaps(actual, mirror);
      if (events)
        fail(
          'events-disagree',
          `client ${a.i} ${coll || 'default'}: its events rebuild another map than allObjects(): ${events}`,
        );
      const subscribed = coll === '' || a.docsWanted;
      if (!subscribed) continue;
      // A handler collection without `list` cannot tell a client that comes back what appeared while
      // it was away (FINDINGS.md, H; README, "Handlers without list"): created, or made visible to
      // it, then or just before (a change in flight when the connection dropped). Once a client's
      // connection went down, an object it does not hold may be missing; one it holds must be right.
      const mayMiss = (o: StoredObject): boolean =>
        coll === '' && !rec.config.defaultHasList && a.gappedAt !== undefined && !actual.has(String(o.id));
      const expected = new Map(
        rec.truth[coll]
          .filter((o) => isVisible(o, a.sid, rec.world.observerSid) && !mayMiss(o))
          .map((o) => [String(o.id), o as unknown]),
      );
      const d = diffMaps(expected, actual);
      if (d)
        fail(
          'diverged',
          `client ${a.i} ${coll || 'default'} differs from the store seen through visible: ${d}`,
        );
    }
  }
}

/** Whether `obj` may be seen by `sid`. */
function seen(rec: Recording, obj: Record<string, unknown> | null | undefined, sid: string): boolean {
  return !!obj && isVisible(obj, sid, rec.world.observerSid);
}

/**
 * Reads every tap's packets: for each connection its session and epoch (from `hi`), its requests (by
 * ack id) and its subscriptions; checks every record the server sent it. Returns how many records
 * could not be checked (the observer had no state for their version).
 */
function checkWire(rec: Recording, fail: Fail): number {
  let unverified = 0;
  const notFoundMessages = new Set<string>();
  const leaks = new Map<string, number>();
  const leak = (kind: string, detail: string): void => {
    const n = leaks.get(kind) ?? 0;
    leaks.set(kind, n + 1);
    if (n < 2) fail(kind, detail);
  };
  for (const a of rec.actors) {
    const conns = new Map<
      number,
      {
        sid: string;
        epoch: string;
        requests: Map<number, { event: string; payload: any }>;
        subs: Map<string, 'sub' | 'unsub-sent' | 'off'>;
      }
    >();
    for (const p of a.tap.packets) {
      let c = conns.get(p.conn);
      if (!c) conns.set(p.conn, (c = { sid: a.sid, epoch: '', requests: new Map(), subs: new Map() }));
      if (p.dir === 'up') {
        if (p.type === 2 && Array.isArray(p.data) && p.ackId !== undefined) {
          const [event, payload] = p.data as [string, any];
          c.requests.set(p.ackId, { event, payload });
          const coll = payload?.c ?? '';
          if (event === 'sub' && payload?.k === undefined) c.subs.set(coll, 'sub');
          if (event === 'unsub') c.subs.set(coll, 'unsub-sent');
        }
        continue;
      }
      const where = `client ${a.i} (conn ${p.conn})`;
      if (p.type === 2 && Array.isArray(p.data)) {
        const [event, ...args] = p.data as [string, ...any[]];
        if (event === 'hi') {
          c.epoch = args[0]?.e ?? '';
          c.sid = args[0]?.s ?? c.sid;
        } else if (event === 'ch') {
          const coll: string = typeof args[1] === 'string' ? args[1] : '';
          if (!c.subs.has(coll) || c.subs.get(coll) === 'off')
            leak(
              'ch-unsubscribed',
              `${where} got ch for ${coll || 'default'} without a subscription on this connection: ${JSON.stringify(args[0]).slice(0, 200)}`,
            );
          for (const wire of Array.isArray(args[0]) ? args[0] : []) {
            const r = normalize(wire);
            if (!r) continue;
            if (r.k === 'd' && r.v === undefined)
              leak(
                'unversioned-removal',
                `${where} got a removal without version in ch: ${JSON.stringify(wire)}`,
              );
            unverified += checkRecord(rec, r, c.sid, c.epoch, coll, `${where} ch`, leak);
          }
        }
        continue;
      }
      if (p.type !== 3 || p.ackId === undefined) continue;
      const req = c.requests.get(p.ackId);
      if (!req) continue;
      const answer = Array.isArray(p.data) ? p.data[0] : undefined;
      const coll: string = req.payload?.c ?? '';
      const at = `${where} ${req.event} ${coll || 'default'} ${JSON.stringify(req.payload).slice(0, 120)}`;
      if (answer?.error) {
        const { code, message } = answer.error as { code: string; message?: string };
        if (code === 'forbidden')
          leak('existence-leak', `${at}: answered forbidden (a hidden object must answer not_found)`);
        if (code === 'not_found') notFoundMessages.add(message ?? '');
        continue;
      }
      if (req.event === 'unsub') {
        if (c.subs.get(coll) === 'unsub-sent') c.subs.set(coll, 'off');
        continue;
      }
      const records: Rec[] = [];
      if (req.event === 'create' || req.event === 'destroy') {
        const r = normalize(answer?.r);
        if (r) records.push(r);
      } else if (req.event === 'update') {
        const r = normalize(answer?.r);
        if (r) records.push(r);
        else if (typeof answer?.v === 'number') {
          const state = rec.world.history.get(historyKey(c.epoch, coll, req.payload.i))?.get(answer.v);
          if (state === undefined) unverified++;
          else if (!seen(rec, state, c.sid))
            leak('version-leak', `${at}: answered the version ${answer.v} of a hidden object`);
        }
      } else if (req.event === 'fetch' || req.event === 'list') {
        for (const t of Array.isArray(answer?.r) ? answer.r : []) {
          if (t && !seen(rec, t[1], c.sid))
            leak('fields-leak', `${at}: answered hidden ${JSON.stringify(t)}`);
        }
      } else if (req.event === 'sub') {
        for (const wire of Array.isArray(answer?.r) ? answer.r : []) {
          const r = normalize(wire);
          if (r) records.push(r);
        }
      }
      for (const r of records) {
        // Answers (writes, resyncs) may say "gone or hidden from you" with a `d` without version
        // (PROTOCOL.md, "Resends": a hidden object's version is not the writer's to know); a wrong one
        // shows as a divergence. Only `ch` removals must carry their version (checked above).
        unverified += checkRecord(rec, r, c.sid, c.epoch, coll, at, leak);
      }
    }
  }
  if (notFoundMessages.size > 1)
    fail(
      'existence-leak',
      `not_found answered with different messages: ${JSON.stringify([...notFoundMessages])}`,
    );
  for (const [kind, n] of leaks) if (n > 2) fail(kind, `(${n} in all)`);
  return unverified;
}

/** Checks one record sent to a session; returns 1 when it could not be checked. */
function checkRecord(
  rec: Recording,
  r: Rec,
  sid: string,
  epoch: string,
  coll: string,
  at: string,
  leak: Fail,
): number {
  if (r.k === 'c') {
    if (!seen(rec, r.o, sid)) leak('fields-leak', `${at}: sent hidden ${JSON.stringify(r)}`);
    return 0;
  }
  const versions = rec.world.history.get(historyKey(epoch, coll, r.i));
  if (r.k === 'u') {
    const state = versions?.get(r.v!);
    if (state === undefined) return 1;
    if (!seen(rec, state, sid))
      leak('fields-leak', `${at}: sent a diff of hidden ${JSON.stringify(state)}: ${JSON.stringify(r)}`);
    return 0;
  }
  if (r.v === undefined) return 0; // a resync's "gone": carries nothing
  const before = versions?.get(r.v - 1);
  if (before === undefined) return 1;
  if (before !== null && !seen(rec, before, sid))
    leak(
      'version-leak',
      `${at}: sent the removal (version ${r.v}) of an object it could not see: ${JSON.stringify(before)}`,
    );
  return 0;
}

/** Objects a client showed (events, answers) must be visible to it as shown. */
function checkShown(rec: Recording, fail: Fail): void {
  for (const a of rec.actors) {
    const bad = a.shown.filter((s) => !seen(rec, s.obj, a.sid));
    for (const s of bad.slice(0, 2))
      fail('shown-hidden', `client ${a.i} showed a hidden object in a ${s.where}: ${JSON.stringify(s.obj)}`);
  }
}

/** Every acknowledged write is in the store, once; own fields end on an allowed value. */
function checkWrites(rec: Recording, fail: Fail): number {
  const applied = rec.instrument.applied;
  const truthByKey = new Map<string, Record<string, unknown>>();
  for (const coll of COLLECTIONS) for (const o of rec.truth[coll]) truthByKey.set(objKey(coll, o.id), o);
  const destroyTried = (coll: CollName, id: string): boolean =>
    rec.ops.some((o) => o.kind === 'destroy' && o.coll === coll && o.target === id) ||
    rec.serverOps.some((s) => s.kind === 'destroy' && s.coll === coll && s.id === id);
  const sidOf = (client: number): string => rec.actors[client]!.sid;
  let allowedDup = 0;
  // Creates: applied once (per server generation, in handler mode), present unless destroyed.
  for (const coll of COLLECTIONS) {
    const byTok = new Map<string, Array<{ gen: number }>>();
    for (const e of applied)
      if (e.coll === coll && e.kind === 'create') {
        const tok = String(e.set.tok);
        byTok.set(tok, [...(byTok.get(tok) ?? []), { gen: e.gen }]);
      }
    const inStore = new Map<string, number>();
    for (const o of rec.truth[coll]) inStore.set(String(o.tok), (inStore.get(String(o.tok)) ?? 0) + 1);
    for (const [tok, runs] of byTok) {
      if (runs.length < 2) continue;
      const gens = new Set(runs.map((r) => r.gen));
      if (coll === '' && gens.size === runs.length) allowedDup++;
      else
        fail(
          'duplicate-create',
          `${coll || 'default'}: the create of ${tok} was applied ${runs.length} times (generations ${[...gens]})`,
        );
    }
    for (const op of rec.ops) {
      if (op.coll !== coll || op.kind !== 'create' || op.status !== 'ok') continue;
      if (!byTok.has(op.tok!))
        fail('lost-write', `client ${op.client}'s acknowledged create ${op.tok} never reached the store`);
      if (!truthByKey.has(objKey(coll, op.target)) && !destroyTried(coll, op.target!))
        fail(
          'lost-write',
          `client ${op.client}'s acknowledged create ${op.tok} (id ${op.target}) is not in the store and nobody destroyed it`,
        );
    }
  }

  // Updates: each acknowledged one reached the store with the values it asked for, once (a handler
  // collection may apply it once per server generation: its dedupe lives in memory).
  for (const op of rec.ops) {
    if (op.kind !== 'update' || op.status !== 'ok') continue;
    const sets = Object.entries(op.fields ?? {}).filter(([, v]) => v !== undefined);
    if (sets.length === 0) continue;
    const hits = applied.filter(
      (e) =>
        e.coll === op.coll &&
        e.kind === 'update' &&
        e.id === op.target &&
        e.sid === sidOf(op.client) &&
        sets.every(([k, v]) => e.set[k] === v),
    );
    const gens = new Set(hits.map((e) => e.gen));
    if (hits.length > 1 && !(op.coll === '' && gens.size === hits.length))
      fail(
        'duplicate-write',
        `client ${op.client}'s update #${op.n} of ${op.coll || 'default'}/${op.target} was applied ${hits.length} times (generations ${[...gens]})`,
      );
    if (hits.length > 1 && op.coll === '' && gens.size === hits.length) allowedDup++;
    const hit = hits.length > 0;
    if (!hit)
      fail(
        'lost-write',
        `client ${op.client}'s acknowledged update #${op.n} of ${op.coll || 'default'}/${op.target} ${JSON.stringify(op.fields)} never reached the store`,
      );
  }
  // Acknowledged destroys leave nothing.
  for (const op of rec.ops)
    if (op.kind === 'destroy' && op.status === 'ok' && truthByKey.has(objKey(op.coll, op.target)))
      fail(
        'lost-write',
        `client ${op.client}'s acknowledged destroy of ${op.coll || 'default'}/${op.target} left the object in the store`,
      );
  // Own fields: the last acknowledged value, or a later one whose outcome is unknown.
  for (const [key, obj] of truthByKey) {
    const [coll, id] = key.split('\u0000') as [CollName, string];
    for (const a of rec.actors) {
      const field = `f${a.i}`;
      const writes = rec.ops.filter(
        (o) =>
          o.client === a.i &&
          o.coll === coll &&
          ((o.kind === 'update' && o.target === id && o.fields && field in o.fields) ||
            (o.kind === 'create' && o.target === id)),
      );
      if (writes.length === 0) continue;
      let allowed: Array<string | undefined> = [undefined];
      for (const w of writes) {
        const value = w.kind === 'create' ? w.tok : w.fields![field];
        if (w.status === 'ok') allowed = [value];
        else if (!definitelyNotApplied(w)) allowed.push(value);
      }
      const actual = obj[field] as string | undefined;
      if (!allowed.includes(actual))
        fail(
          'wrong-final-value',
          `${coll || 'default'}/${id}.${field} is ${JSON.stringify(actual)}; client ${a.i}'s writes allow only ${JSON.stringify(allowed)} (writes ${writes
            .map((w) => `#${w.n}:${w.status}${w.code ? `/${w.code}` : ''}`)
            .join(' ')})`,
        );
    }
  }
  return allowedDup;
}

/** A failure that says the write was not applied (anything else leaves its outcome unknown). */
function definitelyNotApplied(op: Op): boolean {
  return (
    op.status === 'err' &&
    ['not_found', 'invalid_id', 'invalid_message', 'forbidden', 'unknown_collection'].includes(op.code!)
  );
}

/** Every failed call has a fault that explains it. */
function checkExplained(rec: Recording, fail: Fail): void {
  const unexplained: string[] = [];
  const overlaps = (t0: number, t1: number, s: number, e: number): boolean => s <= t1 && e >= t0;
  for (const op of rec.ops) {
    if (op.status !== 'err') continue;
    const t1 = op.t1!;
    const restart = rec.world.restarts.some((r) => overlaps(op.t0, t1, r.start, r.end));
    const slow = rec.instrument.slowCalls.some(
      (s) => s.coll === op.coll && overlaps(op.t0, t1, s.start, s.end),
    );
    let ok = false;
    switch (op.code) {
      case 'timeout':
        ok = slow || restart || (rec.config.shortClientTimeout && t1 - op.t0 >= SHORT_CLIENT_TIMEOUT * 0.9);
        break;
      case 'unavailable':
        ok = restart || slow;
        break;
      case 'stale':
        // An update that left out what its copy had, overtaken by a later write of the same object
        // from the same client (README, "What a save sends").
        ok =
          op.kind === 'update' &&
          rec.ops.some(
            (o) =>
              o.client === op.client &&
              o.kind === 'update' &&
              o.target === op.target &&
              o.n > op.n &&
              o.t0 <= t1,
          );
        break;
      case 'unsubscribed':
        ok =
          op.kind === 'sub' &&
          rec.ops.some((o) => o.kind === 'unsub' && o.client === op.client && o.t0 >= op.t0 && o.t0 <= t1);
        break;
      case 'not_found': {
        const ids = op.target !== undefined ? [op.target] : (op.targets ?? []);
        ok = ids.some((id) => goneOrHidden(rec, op, id));
        break;
      }
    }
    if (!ok)
      unexplained.push(
        `#${op.n} c${op.client} ${op.kind} ${op.coll || 'default'}/${op.target ?? op.tok ?? ''} -> ${op.code}`,
      );
  }
  if (unexplained.length)
    fail('unexplained-failure', `${unexplained.length}: ${unexplained.slice(0, 5).join('; ')}`);
}

/** Whether an object may have been gone, or hidden from the caller, while its call ran. */
function goneOrHidden(rec: Recording, op: Op, id: string): boolean {
  const sid = rec.actors[op.client]!.sid;
  const t1 = op.t1!;
  if (rec.ops.some((o) => o.kind === 'destroy' && o.coll === op.coll && o.target === id && o.t0 <= t1))
    return true;
  if (rec.serverOps.some((s) => s.kind === 'destroy' && s.coll === op.coll && s.id === id && s.t0 <= t1))
    return true;
  const made = rec.created.get(objKey(op.coll, id));
  if (!made) return true;
  // Visibility states in order: a toggle may have taken effect anywhere between its call and its
  // end; one that failed (timeout: outcome unknown) may or may not have, so the state before it stays
  // possible too.
  const states: Array<{ state: Record<string, unknown>; from: number; until: number }> = [
    { state: { owner: made.owner, pub: made.pub }, from: made.t0, until: Infinity },
  ];
  for (const s of rec.serverOps) {
    if (s.coll !== op.coll || s.id !== id || s.kind !== 'toggle') continue;
    const latest = states[states.length - 1]!.state;
    if (s.ok) for (const st of states) st.until = Math.min(st.until, s.t1);
    states.push({ state: { ...latest, ...s.set }, from: s.t0, until: Infinity });
  }
  return states.some((st) => st.from <= t1 && st.until >= op.t0 && !isVisible(st.state, sid, ''));
}
