/**
 * Typed views of a client collection, for TypeScript applications that describe their objects:
 *
 *   interface Player { id?: number; name: string; x: number; y: number }
 *   const players = client.collection<Player>('players');
 *   const p = await players.save({ name: 'ann', x: 0, y: 0 }); // p: Stored<Player>, p.x: number
 *   players.on('update', (player, changes) => player.name);      // player: Stored<Player>
 *
 * Types only: `collection<T>(name)` returns the same `ClientCollection` object as `collection(name)`,
 * seen through `TypedCollection<T>`. Nothing checks at run time that the server's objects have T's shape.
 */
import type { SyncError } from '../errors.js';
import type { ClientCollection } from './collection.js';
import type { Id, JsonValue } from '../protocol.js';
import type { NodeCallback } from '../settle.js';

/** An object of type `T` as stored: `T` with its id. */
export type Stored<T> = T & { id: Id };

/** What `save` takes for a `T`: any of its properties (`undefined` removes one), with or without id. */
export type Saved<T> = { [K in keyof T]?: T[K] | undefined } & { id?: Id };

/** The events of a `TypedCollection<T>`: those of `ClientCollection`, with `T` for the objects. */
export type TypedCollectionEvents<T> = {
  create: [obj: Stored<T>];
  update: [
    obj: Stored<T>,
    changes: { [K in keyof T]?: T[K] | undefined },
    previous: { [K in keyof T]?: T[K] | undefined },
  ];
  destroy: [id: Id];
  error: [err: SyncError];
};

type Listener<A extends unknown[]> = (...args: A) => void;

/** What does not depend on the objects' type: as `ClientCollection` has it. */
type Untyped = Pick<ClientCollection, 'name' | 'isSubscribed' | 'subscribe' | 'unsubscribe' | 'destroy'>;

/** A `ClientCollection` whose objects are `T`s (see the file's header). */
export interface TypedCollection<T> extends Untyped {
  get(id: Id): Stored<T> | undefined;
  allObjects(): Record<string, Stored<T>>;
  save(obj: Saved<T>, cb?: NodeCallback<Stored<T>>): Promise<Stored<T>>;
  fetch(idOrIds: Id | Id[], cb?: NodeCallback<Array<Stored<T> | null>>): Promise<Array<Stored<T> | null>>;
  list(query?: JsonValue, cb?: NodeCallback<Array<Stored<T>>>): Promise<Array<Stored<T>>>;
  on<E extends keyof TypedCollectionEvents<T>>(
    event: E,
    listener: Listener<TypedCollectionEvents<T>[E]>,
  ): this;
  once<E extends keyof TypedCollectionEvents<T>>(
    event: E,
    listener: Listener<TypedCollectionEvents<T>[E]>,
  ): this;
  off<E extends keyof TypedCollectionEvents<T>>(
    event: E,
    listener?: Listener<TypedCollectionEvents<T>[E]>,
  ): this;
}
