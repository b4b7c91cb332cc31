/**
 * The end of part 2 (and of the randomized cluster spec): the store's final rows, and every state
 * the store ever held, against what every writer had acknowledged (see writer.ts for why each check
 * measures what it says).
 */
import type { StoredObject } from '../../lib/index.js';
import type { FieldLog, Writer } from './writer.js';

/** What the verdict needs of a writer (the torture writer, or the cluster spec's smaller one). */
export type VerifiedWriter = Pick<Writer, 'owned' | 'sharedLogs' | 'creates' | 'destroyedTwice'> & {
  client: { sid: string | undefined };
};

/** A stored object with its version, as the SQLite file holds it. */
export interface Row {
  obj: StoredObject;
  v: number;
}

/** Every state each object was ever stored in, by id (from a trigger on the store's table). */
export type History = Map<string, StoredObject[]>;

export interface Verdict {
  /** Acknowledged writes whose effect is not in the store. */
  lost: number;
  /**
   * Acknowledged writes whose own state never was in their object's history (checked per write:
   * a later write that carries the same tokens cannot hide the loss).
   */
  notInHistory: number;
  /** Writes applied more than once. */
  twice: number;
  /** Values that are not a prefix of what their one writer issued. */
  corrupt: number;
  /** Stored objects no writer made (and not the shared or barrier objects). */
  unknown: number;
  notes: string[];
}

export function verify(
  writers: VerifiedWriter[],
  rows: Row[],
  shared: Set<string>,
  barrier: string,
  history: History,
): Verdict {
  const v: Verdict = { lost: 0, notInHistory: 0, twice: 0, corrupt: 0, unknown: 0, notes: [] };
  const note = (s: string): void => {
    if (v.notes.length < 30) v.notes.push(s);
  };
  const byId = new Map(rows.map((r) => [String(r.obj.id), r]));
  const byTok = new Map<string, Row[]>();
  for (const r of rows) {
    if (typeof r.obj.tok !== 'string') continue;
    byTok.set(r.obj.tok, [...(byTok.get(r.obj.tok) ?? []), r]);
  }

  const checkField = (obj: StoredObject, log: FieldLog): void => {
    const value = obj[log.field] ?? [];
    if (!Array.isArray(value)) {
      v.corrupt++;
      return note(`${log.id}.${log.field} is not a list: ${JSON.stringify(value).slice(0, 80)}`);
    }
    if (!value.every((t, i) => t === log.issued[i])) {
      v.corrupt++;
      note(
        `${log.id}.${log.field} is not a prefix of what its writer sent: ${JSON.stringify(value).slice(0, 120)}`,
      );
    }
    const missing = log.ackedTokens.filter((i) => i >= value.length);
    if (missing.length > 0) {
      v.lost += missing.length;
      note(
        `${log.id}.${log.field}: ${missing.length} acknowledged tokens missing (stored ${value.length}, acknowledged ${1 + Math.max(-1, ...log.ackedTokens)})`,
      );
    }
  };
  const checkVersion = (r: Row, updates: number): void => {
    if (r.v > 1 + updates) {
      v.twice += r.v - 1 - updates;
      note(`${r.obj.id} is at version ${r.v} after 1 create and ${updates} updates sent`);
    }
  };

  // Each state of each object, by field, last token and length of its list: where a write's own
  // state must be (each write sends its writer's whole list, ending with a token of its own).
  const states = new Map<string, unknown[][]>();
  for (const [id, objs] of history)
    for (const obj of objs)
      for (const [field, value] of Object.entries(obj)) {
        if (!Array.isArray(value) || value.length === 0) continue;
        const key = `${id} ${field} ${value.length} ${String(value.at(-1))}`;
        states.set(key, [...(states.get(key) ?? []), value]);
      }
  const checkWrites = (log: FieldLog): void => {
    for (const at of log.ackedTokens) {
      const sent = log.issued.slice(0, at + 1);
      const found = states.get(`${log.id} ${log.field} ${sent.length} ${sent[at]}`) ?? [];
      if (found.some((value) => value.every((t, i) => t === sent[i]))) continue;
      v.notInHistory++;
      note(
        `${log.id}.${log.field}: the acknowledged write adding ${sent[at]} is not in the object's history`,
      );
    }
  };
  for (const w of writers) {
    for (const x of w.owned) {
      checkWrites(x.log);
      if (!(history.get(String(x.id)) ?? []).some((obj) => obj.tok === x.tok)) {
        v.notInHistory++;
        note(`${x.id} (${x.tok}): the acknowledged create is not in the object's history`);
      }
    }
    for (const log of w.sharedLogs) checkWrites(log);
  }

  const sharedUpdates = new Map<string, number>();
  for (const w of writers) {
    for (const x of w.owned) {
      const r = byId.get(String(x.id));
      if (x.destroy === 'acked') {
        if (r) {
          v.lost++;
          note(`${x.id}: destroy acknowledged, object still stored`);
        }
        continue;
      }
      if (!r) {
        if (x.destroy === 'sent') continue; // a destroy whose outcome is unknown
        v.lost += 1 + x.log.ackedTokens.length;
        note(`${x.id} (${x.tok}): create acknowledged, object not stored`);
        continue;
      }
      checkField(r.obj, x.log);
      checkVersion(r, x.log.sent);
    }
    for (const log of w.sharedLogs) {
      sharedUpdates.set(String(log.id), (sharedUpdates.get(String(log.id)) ?? 0) + log.sent);
      const r = byId.get(String(log.id));
      if (!r) {
        v.lost += log.ackedTokens.length;
        note(`shared object ${log.id} is gone`);
      } else checkField(r.obj, log);
    }
    for (const tok of w.creates.keys()) {
      const found = byTok.get(tok) ?? [];
      if (found.length > 1) {
        v.twice += found.length - 1;
        note(`create ${tok} stored ${found.length} times: ids ${found.map((r) => r.obj.id).join(', ')}`);
      }
    }
    if (w.destroyedTwice > 0) {
      v.twice += w.destroyedTwice;
      note(`writer ${w.client.sid}: ${w.destroyedTwice} destroys answered not_found`);
    }
  }
  for (const id of shared) {
    const r = byId.get(id);
    if (r) checkVersion(r, sharedUpdates.get(id) ?? 0);
  }
  const known = new Set(writers.flatMap((w) => [...w.creates.keys()]));
  for (const r of rows) {
    const id = String(r.obj.id);
    if (shared.has(id) || id === barrier) continue;
    if (typeof r.obj.tok !== 'string' || !known.has(r.obj.tok)) {
      v.unknown++;
      note(`stored object nobody made: ${JSON.stringify(r.obj).slice(0, 120)}`);
    }
  }
  return v;
}
