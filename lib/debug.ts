/**
 * Namespaced debug loggers (`DEBUG=object-sync:*`). The browser bundle gets a no-op in place of
 * `debug`, so nothing is logged there.
 */
import createDebug from 'debug';

/** A logger for one file, e.g. `logger('server:engine')` -> `object-sync:server:engine`. */
export function logger(name: string): (formatter: string, ...args: unknown[]) => void {
  return createDebug(`object-sync:${name}`);
}
