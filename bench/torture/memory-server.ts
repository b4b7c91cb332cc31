/**
 * The server child of part 3 (memory): an object-sync engine on 127.0.0.1 with the default
 * in-memory store, `autoCollections` on, and a collection `big` that `fill` loads with a large
 * listing. It answers the orchestrator over IPC (see ipc.ts): `heap` collects garbage and reports
 * the heap; `collections` counts the collections the engine holds; `clear` destroys a collection's
 * objects and answers their size. Run with `--expose-gc`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { MemoryStore, ObjectSync } from '../../lib/index.js';
import type { FromServer, ToServer } from './ipc.js';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } });

function send(message: FromServer): void {
  process.send?.(message);
}

/** The heap in use after a full collection (twice: weak references and finalizers go in the first). */
function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

/** How many collections the engine holds (an internal: -1 when it cannot be seen). */
function collectionCount(sync: ObjectSync): number {
  const internal = (sync as unknown as { collections?: { size?: unknown } }).collections;
  return typeof internal?.size === 'number' ? internal.size : -1;
}

async function main(): Promise<void> {
  const http = createServer();
  const sync = ObjectSync.listen(http, new MemoryStore(), { serveClient: false, autoCollections: true });
  const big = sync.collection('big', new MemoryStore());
  await new Promise<void>((resolve) => http.listen(Number(values.port), '127.0.0.1', resolve));

  const answer = async (message: ToServer): Promise<unknown> => {
    switch (message.type) {
      case 'heap':
        return { heapUsed: heapAfterGc(), heapNow: process.memoryUsage().heapUsed };
      case 'collections':
        return collectionCount(sync);
      case 'fill': {
        // `count` objects of `bytes` each: the listing a `list` of `big` answers in one piece today.
        for (let i = 0; i < message.count; i++)
          await big.save({ n: i, blob: `${i}`.padEnd(message.bytes, '.') });
        return undefined;
      }
      case 'clear': {
        const coll = sync.collection(message.collection);
        let bytes = 0;
        for (const obj of await coll.list()) {
          bytes += JSON.stringify(obj).length;
          await coll.destroy(obj.id);
        }
        return bytes;
      }
      default:
        throw new Error(`not a memory request: ${message.type}`);
    }
  };
  process.on('message', (message: ToServer) => {
    if (message.type === 'stop') process.exit(0);
    answer(message).then(
      (result) => send({ type: 'reply', id: message.id, result }),
      (err: unknown) =>
        send({ type: 'reply', id: message.id, error: String((err as Error)?.message ?? err) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', port: (http.address() as AddressInfo).port });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
