/**
 * The `players` collection of the walk-and-talk game: a store (the embedded `MemoryStore`, or a
 * shared `PostgresStore` on several nodes) guarded so that a player holds only known properties in
 * range (none of `owner`, `x`, `y`, `avatar` removed), a page has one player at a time and changes
 * and destroys only its own (`forbidden` otherwise). Each player
 * records its owner's session id (`owner`, set by the server; a hash, safe to show). The server
 * destroys a session's players when the session ends (page closed).
 */
import {
  guardStore,
  MemoryStore,
  type ObjectSync,
  type Sid,
  type Store,
  type StoredObject,
} from '../../lib/index.js';
import type { StoreHandlers } from '../../lib/server/store-handlers.js';

/** The playing field, in pixels (a player is 32 px wide and 40 px tall). */
export const FIELD = { width: 760, height: 460 };
const AVATARS = 5;
const MAX_SAYS = 140;

const int = (value: unknown, min: number, max: number): boolean =>
  Number.isInteger(value) && (value as number) >= min && (value as number) <= max;

/** Refuses a property a page may not set, or a value out of range. */
function check(props: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(props)) {
    const ok =
      key === 'id' ||
      (key === 'x' && int(value, 0, FIELD.width)) ||
      (key === 'y' && int(value, 0, FIELD.height)) ||
      (key === 'avatar' && int(value, 1, AVATARS)) ||
      (key === 'says' && typeof value === 'string' && value.length <= MAX_SAYS);
    if (!ok) throw { code: 'invalid_message', message: `bad player property: ${key}` };
  }
}

/**
 * Refuses an update's patch that sets a property `check` refuses, or removes one a player must keep
 * (removals arrive as keys whose value is `undefined`: only `says` may go).
 */
function checkPatch(patch: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(patch)) {
    if (value !== undefined) check({ [key]: value });
    else if (key !== 'says') throw { code: 'invalid_message', message: `a player keeps its ${key}` };
  }
}

/** Refuses a write by a page to a player that is not its own (server-initiated writes may). */
function mine(player: StoredObject, sid: Sid): void {
  if (sid !== null && player.owner !== sid) throw { code: 'forbidden', message: 'That is not your player.' };
}

/**
 * Player ids that never repeat across server restarts: an open page still holds the players of the
 * server before; with ids counted from 1 again it would take a new player for an old one.
 */
function freshIds(): () => number {
  const base = Date.now() * 1000;
  let n = 0;
  return () => base + ++n;
}

/** Registers the `players` collection on `sync`, on `store` (default: a new `MemoryStore`). */
export function playersCollection(
  sync: ObjectSync,
  store: Store & StoreHandlers = new MemoryStore({ generateId: freshIds() }),
): void {
  // Sessions whose player this node let through (created or being created): with the store's own
  // check below, one player per session even for creates sent together.
  const joined = new Set<Sid>();
  const players = guardStore(store, {
    async create(obj, sid) {
      check(obj);
      if (!sid) return;
      const refuse = { code: 'forbidden', message: 'This page has a player already.' };
      if (joined.has(sid)) throw refuse;
      joined.add(sid); // before waiting: a create sent together with this one is refused above
      if ((await store.list()).some((player) => player.owner === sid)) throw refuse;
      obj.owner = sid;
    },
    update(current, patch, sid) {
      mine(current, sid);
      checkPatch(patch);
    },
    destroy(current, sid) {
      mine(current, sid);
      if (typeof current.owner === 'string') joined.delete(current.owner);
    },
  });
  const collection = sync.collection('players', players);
  sync.on('disconnect', (sid) => {
    joined.delete(sid);
    void store.list().then((all) => {
      for (const player of all)
        if (player.owner === sid) collection.destroy(player.id).catch(() => undefined);
    });
  });
}
