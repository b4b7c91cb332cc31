/**
 * The `players` collection of the walk-and-talk game: a `MemoryStore` behind handlers that check
 * what a player may hold and that a page changes and destroys only its own player (`forbidden`
 * otherwise). The server destroys a session's players when the session ends (page closed).
 */
import { MemoryStore, type Handlers, type ObjectSync, type Sid } from '../../lib/index.js';

/** The playing field, in pixels (a player is 32 px wide and 40 px tall). */
export const FIELD = { width: 760, height: 460 };
const AVATARS = 5;
const MAX_SAYS = 140;

/** Refuses a player property that is unknown or out of range. */
function check(props: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(props)) {
    const ok =
      key === 'id' ||
      (key === 'x' &&
        Number.isInteger(value) &&
        (value as number) >= 0 &&
        (value as number) <= FIELD.width) ||
      (key === 'y' &&
        Number.isInteger(value) &&
        (value as number) >= 0 &&
        (value as number) <= FIELD.height) ||
      (key === 'avatar' &&
        Number.isInteger(value) &&
        (value as number) >= 1 &&
        (value as number) <= AVATARS) ||
      (key === 'says' && typeof value === 'string' && value.length <= MAX_SAYS) ||
      (key === 'name' && typeof value === 'string' && value.length <= 24);
    if (!ok) throw { code: 'invalid_message', message: `bad player property: ${key}` };
  }
}

/** The players' handlers and the owner of each player (kept on the server, never sent). */
export function playersCollection(sync: ObjectSync): { handlers: Handlers; store: MemoryStore } {
  const store = new MemoryStore();
  const owner = new Map<string, string>();
  const mine = (id: unknown, sid: Sid): void => {
    // Server-initiated calls (sid null) may do anything.
    if (sid !== null && owner.get(String(id)) !== sid)
      throw { code: 'forbidden', message: 'That is not your player.' };
  };
  const handlers: Handlers = {
    async create(obj, sid) {
      check(obj);
      const player = await store.create(obj);
      if (sid) owner.set(String(player.id), sid);
      return player;
    },
    async update(patch, sid) {
      mine(patch.id, sid);
      check(Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)));
      return store.update(patch);
    },
    async destroy(id, sid) {
      mine(id, sid);
      await store.destroy(id);
      owner.delete(String(id));
    },
    fetch: (ids) => store.fetch(ids),
    list: () => store.list(),
  };
  const players = sync.collection('players', handlers);
  sync.on('disconnect', (sid) => {
    for (const [id, who] of owner) if (who === sid) players.destroy(Number(id)).catch(() => undefined);
  });
  return { handlers, store };
}
