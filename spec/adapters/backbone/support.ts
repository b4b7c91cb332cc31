/**
 * Helpers of the Backbone adapter specs: a spying store, a gate that holds handler answers, and
 * waiting for Backbone events (never for time).
 */
import Backbone from 'backbone';
import { MemoryStore, type Handlers, type Patch, type ServerOptions } from '../../../lib/index.js';
import type { ObjectSync as Client } from '../../../lib/client/index.js';
import { cleanup, connectClient, startServer, type Running } from '../../support/harness.js';

/** A MemoryStore whose handlers record every call, and can be held or made to refuse. */
export class SpyStore {
  readonly store = new MemoryStore();
  readonly creates: Array<Record<string, unknown>> = [];
  readonly updates: Patch[] = [];
  readonly destroys: unknown[] = [];
  readonly lists: unknown[] = [];
  /** While set, create/update answers wait for it. */
  hold: Promise<void> | undefined;
  /** What an update waits for (default: `hold`). */
  holdUpdate: (patch: Patch) => Promise<void> | undefined = () => this.hold;
  /** Makes an update refuse with this code when it returns one. */
  refuseUpdate: (patch: Patch) => string | undefined = () => undefined;
  refuseDestroy: (id: unknown) => string | undefined = () => undefined;
  refuseCreate: (obj: Record<string, unknown>) => string | undefined = () => undefined;

  handlers(): Handlers {
    return {
      create: async (obj) => {
        this.creates.push({ ...obj });
        await this.hold;
        const code = this.refuseCreate(obj);
        if (code) throw { code };
        return this.store.create(obj);
      },
      update: async (patch) => {
        this.updates.push({ ...patch });
        await this.holdUpdate(patch);
        const code = this.refuseUpdate(patch);
        if (code) throw { code };
        return this.store.update(patch);
      },
      destroy: async (id) => {
        this.destroys.push(id);
        const code = this.refuseDestroy(id);
        if (code) throw { code };
        return this.store.destroy(id);
      },
      fetch: (ids) => this.store.fetch(ids),
      list: (query) => {
        this.lists.push(query);
        return this.store.list(query);
      },
    };
  }
}

const gates = new Set<() => void>();

/** A gate: `hold` it in a SpyStore, then `open()` to let the held answers go. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  gates.add(open);
  return { promise, open };
}

/** After each test: opens every gate (so a failed test leaves no handler waiting), then closes everything. */
export async function teardown(): Promise<void> {
  for (const open of gates) open();
  gates.clear();
  await cleanup();
}

/** Resolves with the arguments of the next `event` of a Backbone object. */
export function next<A extends unknown[] = any[]>(target: Backbone.Events, event: string): Promise<A> {
  return new Promise<A>((resolve) => {
    target.once(event, (...args: unknown[]) => resolve(args as A));
  });
}

/** Resolves once `predicate` holds, checked after each `events` of a Backbone object. */
export function until(target: Backbone.Events, events: string, predicate: () => boolean): Promise<void> {
  return new Promise<void>((resolve) => {
    if (predicate()) return resolve();
    const check = (): void => {
      if (!predicate()) return;
      target.off(events, check);
      resolve();
    };
    target.on(events, check);
  });
}

/** Settles (never rejects) once a thenable settles: `{ ok, value }`. */
export function settled(thenable: PromiseLike<unknown>): Promise<{ ok: boolean; value: unknown }> {
  return new Promise((resolve) => {
    thenable.then(
      (value) => resolve({ ok: true, value }),
      (value) => resolve({ ok: false, value }),
    );
  });
}

/** A server with a spied `todos` collection (and `autoCollections`), and `n` connected clients. */
export async function setup(
  n = 1,
  options: ServerOptions = { autoCollections: true },
): Promise<{ server: Running; spy: SpyStore; clients: Client[] }> {
  const server = await startServer(undefined, options);
  const spy = new SpyStore();
  server.sync.collection('todos', spy.handlers());
  const clients: Client[] = [];
  for (let i = 0; i < n; i++) clients.push(await connectClient(server));
  return { server, spy, clients };
}

/** A model class of the `todos` collection. */
export const Todo = Backbone.Model.extend({ urlRoot: '/todos' }) as typeof Backbone.Model;
