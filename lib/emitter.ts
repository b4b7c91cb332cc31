/**
 * A small typed event emitter that runs in Node and browsers alike (the client bundle cannot use
 * Node's `events`). Listeners run synchronously in registration order; a listener that throws does
 * not stop the others (the error is rethrown asynchronously so it still surfaces).
 */

/** An event map: event name -> listener arguments. */
export type EventMap = Record<string, unknown[]>;

type Listener<A extends unknown[]> = (...args: A) => void;
type AnyListener = (...args: unknown[]) => void;

export class Emitter<Events extends EventMap> {
  private readonly listeners = new Map<keyof Events, AnyListener[]>();

  /** Adds a listener. */
  on<E extends keyof Events>(event: E, listener: Listener<Events[E]>): this {
    const list = this.listeners.get(event) ?? [];
    list.push(listener as unknown as AnyListener);
    this.listeners.set(event, list);
    return this;
  }

  /** Adds a listener that runs once. */
  once<E extends keyof Events>(event: E, listener: Listener<Events[E]>): this {
    const wrapped = ((...args: Events[E]) => {
      this.off(event, wrapped);
      listener(...args);
    }) as Listener<Events[E]>;
    return this.on(event, wrapped);
  }

  /** Removes one listener, or every listener of the event when none is given. */
  off<E extends keyof Events>(event: E, listener?: Listener<Events[E]>): this {
    if (!listener) {
      this.listeners.delete(event);
      return this;
    }
    const list = this.listeners.get(event);
    if (list) {
      const at = list.indexOf(listener as unknown as AnyListener);
      if (at >= 0) list.splice(at, 1);
    }
    return this;
  }

  /** Calls the event's listeners; returns whether there were any. */
  emit<E extends keyof Events>(event: E, ...args: Events[E]): boolean {
    const list = this.listeners.get(event);
    if (!list || list.length === 0) return false;
    for (const listener of list.slice()) {
      try {
        (listener as unknown as Listener<Events[E]>)(...args);
      } catch (err) {
        setTimeout(() => {
          throw err;
        });
      }
    }
    return true;
  }
}
