/**
 * The canary of part 1: one of our own clients doing a steady stream of round trips (create, update,
 * fetch, sometimes destroy and fetch again) on both collections while hostile input flows, checking
 * every result. It keeps what it expects the server to hold, for the garbage check.
 */
import { ObjectSync, type ClientCollection } from '../../lib/client/index.js';
import type { StoredObject } from '../../lib/index.js';

/** Pause before each request (about 200 requests per second at most). */
const PACE_MS = 5;

export class Canary {
  readonly client: ObjectSync;
  /** Round trips tried and those whose result was right. */
  tried = 0;
  ok = 0;
  /** The first few failures, described. */
  readonly failures: string[] = [];
  /** Collection name -> id -> the object the server should hold. */
  readonly expected = new Map<string, Map<string, StoredObject>>([
    ['', new Map()],
    ['things', new Map()],
  ]);
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(url: string) {
    this.client = new ObjectSync({
      url,
      transports: ['websocket'],
      reconnectionDelay: 50,
      reconnectionDelayMax: 500,
      requestTimeout: 15_000,
    });
  }

  /** Connects, subscribes to `things`, and starts the loop. */
  async start(): Promise<void> {
    if (!this.client.isConnected())
      await new Promise<void>((resolve) => this.client.once('connect', resolve));
    await this.client.collection('things').subscribe();
    this.running = true;
    this.loop = this.run();
  }

  /** Stops after the current round trip. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    for (let n = 1; this.running; n++) {
      const coll = this.client.collection(n % 2 === 0 ? 'things' : '');
      await this.roundTrip(coll, n);
    }
  }

  private async check(what: string, step: () => Promise<boolean>): Promise<boolean> {
    // A steady stream, well under the server's per-connection rate limit.
    await new Promise((resolve) => setTimeout(resolve, PACE_MS));
    this.tried++;
    let good: boolean;
    let why = 'wrong result';
    try {
      good = await step();
    } catch (err) {
      good = false;
      why = `${(err as { code?: string }).code ?? String(err)}`;
    }
    if (good) this.ok++;
    else if (this.failures.length < 10) this.failures.push(`${what}: ${why}`);
    return good;
  }

  private async roundTrip(coll: ClientCollection, n: number): Promise<void> {
    const payload = `canary-${n}-${'c'.repeat(n % 50)}`;
    let id: StoredObject['id'] | undefined;
    const made = await this.check('create', async () => {
      const obj = await coll.save({ canary: n, payload });
      id = obj.id;
      return obj.canary === n && obj.payload === payload && coll.get(obj.id) === obj;
    });
    if (!made || id === undefined) return;
    const key = String(id);
    this.expected.get(coll.name)!.set(key, { id, canary: n, payload });
    const updated = await this.check('update', async () => {
      const obj = await coll.save({ id, step: 2 });
      return obj.step === 2 && obj.canary === n;
    });
    if (updated) this.expected.get(coll.name)!.set(key, { id, canary: n, payload, step: 2 });
    await this.check('fetch', async () => {
      const [obj] = await coll.fetch(id!);
      return (
        obj !== null && obj.canary === n && obj.step === (updated ? 2 : undefined) && obj.payload === payload
      );
    });
    if (n % 3 !== 0) return;
    const destroyed = await this.check('destroy', async () => {
      await coll.destroy(id!);
      return coll.get(id!) === undefined;
    });
    if (destroyed) this.expected.get(coll.name)!.delete(key);
    await this.check('fetch after destroy', async () => {
      const [obj] = await coll.fetch(id!);
      return obj === null;
    });
  }
}
