/**
 * A small typed event emitter that runs in Node and browsers alike (the client bundle cannot use
 * Node's `events`). Listeners run synchronously in registration order; a listener that throws does
 * not stop the others (the error is rethrown asynchronously so it still surfaces). Adding or removing
 * a listener replaces the event's list, so an emit in progress calls the listeners it started with.
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
    this.listeners.set(event, [...list, listener as unknown as AnyListener]);
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
    const at = list ? list.indexOf(listener as unknown as AnyListener) : -1;
    if (at >= 0) this.listeners.set(event, [...list!.slice(0, at), ...list!.slice(at + 1)]);
    return this;
  }

  /** Calls the event's listeners; returns whether there were any. */
  emit<E extends keyof Events>(event: E, ...args: Events[E]): boolean {
    const list = this.listeners.get(event);
    if (!list || list.length === 0) return false;
    for (const listener of list) {
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
