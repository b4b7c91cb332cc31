/**
 * Options of the client, each with its default, merged once.
 */
import { DEFAULT_PATH } from '../protocol.js';

export interface ClientOptions {
  /** Server URL (default: in a page, the server that served it). */
  url?: string;
  /** socket.io path (default `/object-sync`). */
  path?: string;
  /** Connect in the constructor (default true); otherwise call `connect()`. */
  autoConnect?: boolean;
  /** Reconnect by itself after a drop (default true). */
  autoReconnect?: boolean;
  /** First reconnect delay, ms (default 500); doubles per attempt ("exponential backoff"). */
  reconnectionDelay?: number;
  /** Longest reconnect delay, ms (default 5 000). */
  reconnectionDelayMax?: number;
  /** Jitter: each delay varies by up to this fraction (default 0.5). */
  randomizationFactor?: number;
  /** How long a sent request may wait for its answer before failing with `timeout` (ms, default 30 000). */
  requestTimeout?: number;
  /** Handshake fields for the server's `authorize` (an object, or a function called at each connect). */
  auth?: Record<string, unknown> | (() => Record<string, unknown>);
  /** Most requests in flight at once (default 32). */
  maxInFlight?: number;
  /** socket.io transports (default: polling upgraded to websocket, as socket.io does). */
  transports?: Array<'polling' | 'websocket' | 'webtransport'>;
}

export interface ResolvedClientOptions {
  url: string | undefined;
  path: string;
  autoConnect: boolean;
  autoReconnect: boolean;
  reconnectionDelay: number;
  reconnectionDelayMax: number;
  randomizationFactor: number;
  requestTimeout: number;
  auth: ClientOptions['auth'];
  maxInFlight: number;
  transports: ClientOptions['transports'];
}

/** Every option name (an unknown one is a mistake: a TypeError at once, not silence). */
const OPTION_NAMES: ReadonlySet<string> = new Set([
  'url',
  'path',
  'autoConnect',
  'autoReconnect',
  'reconnectionDelay',
  'reconnectionDelayMax',
  'randomizationFactor',
  'requestTimeout',
  'auth',
  'maxInFlight',
  'transports',
]);

/**
 * Applies defaults to a copy; throws at once on a configuration mistake (an unknown option name, a
 * wrong value). `options` may be the server url alone: `new ObjectSync('http://host:8080')`.
 */
export function resolveClientOptions(given: ClientOptions | string | undefined): ResolvedClientOptions {
  const options: ClientOptions = typeof given === 'string' ? { url: given } : (given ?? {});
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError('object-sync: the client takes an options object or a url string');
  }
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.has(name)) throw new TypeError(`object-sync: unknown client option "${name}"`);
  }
  const resolved: ResolvedClientOptions = {
    url: options.url,
    path: options.path ?? DEFAULT_PATH,
    autoConnect: options.autoConnect ?? true,
    autoReconnect: options.autoReconnect ?? true,
    reconnectionDelay: options.reconnectionDelay ?? 500,
    reconnectionDelayMax: options.reconnectionDelayMax ?? 5_000,
    randomizationFactor: options.randomizationFactor ?? 0.5,
    requestTimeout: options.requestTimeout ?? 30_000,
    auth: options.auth,
    maxInFlight: options.maxInFlight ?? 32,
    transports: options.transports,
  };
  for (const name of [
    'reconnectionDelay',
    'reconnectionDelayMax',
    'requestTimeout',
    'maxInFlight',
  ] as const) {
    if (!(resolved[name] > 0)) throw new TypeError(`${name} must be a positive number`);
  }
  if (!(resolved.randomizationFactor >= 0 && resolved.randomizationFactor <= 1)) {
    throw new TypeError('randomizationFactor must be between 0 and 1');
  }
  if (resolved.url === undefined && typeof (globalThis as { location?: unknown }).location === 'undefined') {
    throw new TypeError('url is required outside a browser page');
  }
  return resolved;
}
