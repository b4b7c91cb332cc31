/**
 * Part 3 — memory (issue 12, "How it must be shown"). Each section runs on a fresh server child
 * (memory-server.ts, `--expose-gc`, a heap limit of HEAP_LIMIT_MB so a server that does not bound
 * its memory dies here instead of taking the machine) and prints its figure with the bound it must
 * stay under:
 *
 * - sessions: 100 sessions (4 at a time) each write one own 1 MB object 50 times (a create, then 49
 *   updates of the whole blob, in a collection nobody subscribes to) and leave; then the heap the
 *   server retains, after a full garbage collection, above its heap before the first session: in all
 *   (their 100 objects are still stored: about 100 MB of data the store must keep), beyond the JSON
 *   size of those objects, and once they were destroyed (what the server keeps of the sessions
 *   themselves: dedupe outcomes, session records, queues);
 * - silent readers: 50 long-polling clients each ask for a 20 MB collection (`list`) and never poll
 *   again (they never read the answer); the server's heap while they hang there, above its heap with
 *   the collection loaded (the highest of several samples, each after a full garbage collection);
 * - unknown names: with `autoCollections` on, 10 000 reads (`fetch`) and then 10 000 creates, each
 *   naming a collection nobody declared: the collections the engine holds afterwards, and its heap.
 */
import { performance } from 'node:perf_hooks';
import { io as rawIo, type Socket } from 'socket.io-client';
import { ObjectSync } from '../../lib/client/index.js';
import { PROTOCOL_VERSION } from '../../lib/index.js';
import { ServerChild } from './child.js';
import type { TortureOptions } from './options.js';
import { breakdown, seconds, type Figure, type PartResult } from './report.js';

/** Heap limit of the server child, MB. */
const HEAP_LIMIT_MB = 1536;
const MB = 1024 * 1024;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A fresh memory server child. */
function startServer(): Promise<ServerChild> {
  return ServerChild.start({
    script: 'memory-server.js',
    execArgv: ['--expose-gc', `--max-old-space-size=${HEAP_LIMIT_MB}`],
  });
}

/** The child's heap after a full garbage collection, in bytes. */
async function heap(server: ServerChild): Promise<number> {
  return (await server.request<{ heapUsed: number }>({ type: 'heap' }, 60_000)).heapUsed;
}

/** Why a server child died, in a line: V8's fatal error when there is one. */
function lastWords(server: ServerChild): string {
  const out = server.recentOutput;
  return /FATAL ERROR[^\n]*/.exec(out)?.[0] ?? out.slice(-300);
}

/** Megabytes with one decimal. */
const mb = (bytes: number): number => Math.round((bytes / MB) * 10) / 10;

/** A session secret the handshake accepts. */
function secret(tag: string, i: number): string {
  return `memory-${tag}-${i}`.padEnd(22, '0');
}

/** Section 1: 100 sessions each write one own 1 MB object 50 times and leave. */
async function sessions(
  SESSIONS: number,
  log: (line: string) => void,
): Promise<{ figures: Figure[]; notes: string[] }> {
  const WRITES = 50;
  const AT_ONCE = 4;
  const server = await startServer();
  const notes: string[] = [];
  const url = `http://127.0.0.1:${server.port}`;
  const before = await heap(server);
  let done = 0;
  let writes = 0;
  // Whatever waits on the server gives up when it dies (a client would wait for it forever).
  const died = server.exited.then(() => {
    throw new Error('the server died');
  });
  died.catch(() => undefined);
  const unlessDead = <T>(p: Promise<T>): Promise<T> => Promise.race([p, died]);
  const started = performance.now();
  const one = async (s: number): Promise<void> => {
    const client = new ObjectSync({ url, transports: ['websocket'], autoReconnect: false });
    try {
      await unlessDead(
        new Promise<void>((resolve, reject) => {
          client.once('connect', () => resolve());
          client.once('error', (err) => reject(err));
        }),
      );
      const mem = client.collection('mem');
      // 1 MB in four strings (a string may hold 256 KiB), all four new on every write.
      const blob = (k: number): Record<string, string> =>
        Object.fromEntries([0, 1, 2, 3].map((f) => [`b${f}`, `${s}-${k}-${f}-`.padEnd(250_000, 'x')]));
      const obj = await unlessDead(mem.save({ owner: s, ...blob(0) }));
      writes++;
      for (let k = 1; k < WRITES; k++) {
        await unlessDead(mem.save({ id: obj.id, ...blob(k) }));
        writes++;
      }
    } finally {
      client.disconnect(); // leaving on purpose: the session ends at once
    }
  };
  try {
    let next = 0;
    await Promise.all(
      Array.from({ length: AT_ONCE }, async () => {
        while (next < SESSIONS && server.alive) {
          await one(next++);
          done++;
          if (done % 10 === 0) log(`  part 3: ${done} sessions done (${writes} writes of 1 MB)`);
        }
      }),
    );
  } catch (err) {
    notes.push(
      `sessions: stopped after ${done} sessions, ${writes} writes: ${String((err as Error).message ?? err)}`,
    );
  }
  await sleep(500); // the last disconnects reach the server
  let alive = server.alive;
  const retained = alive ? (await heap(server)) - before : NaN;
  // Their objects (1 MB each) are data the store must keep; what else stays is measured without them.
  let stored = NaN;
  let rest = NaN;
  if (alive) {
    try {
      stored = await server.request<number>({ type: 'clear', collection: 'mem' }, 120_000);
      rest = (await heap(server)) - before;
    } catch (err) {
      notes.push(`sessions: clearing their objects failed: ${String((err as Error).message ?? err)}`);
    }
    alive = server.alive;
  }
  if (!alive) notes.push(`sessions: the server died after ${writes} writes: ${lastWords(server)}`);
  await server.stop();
  return {
    notes,
    figures: [
      {
        label: 'sessions (1 MB object written 50 times)',
        value: done,
        note: `${writes} writes in ${seconds(performance.now() - started)}`,
      },
      { label: 'sessions that could not finish', value: SESSIONS - done, sub: true, mustBeZero: true },
      {
        label: 'heap retained after they left',
        value: alive ? mb(retained) : 'server died',
        sub: true,
        note: Number.isNaN(stored)
          ? undefined
          : `their ${done} objects, still stored: ${mb(stored)} MB of JSON`,
      },
      {
        label: 'heap retained beyond their objects',
        value: alive ? mb(retained - stored) : 'server died',
        sub: true,
        bound: { max: 20, unit: 'MB' },
      },
      {
        label: 'heap retained once they were destroyed',
        value: alive ? mb(rest) : 'server died',
        sub: true,
        bound: { max: 20, unit: 'MB' },
      },
    ],
  };
}

/**
 * One long-polling client that asks for `collection` and never polls again: the engine.io polling
 * handshake, the socket.io connect (read once, so the connection is up), then the request.
 */
async function silentReader(base: string, i: number, collection: string): Promise<void> {
  const poll = `${base}/object-sync/?EIO=4&transport=polling`;
  const open = await (await fetch(poll)).text();
  const sid = (JSON.parse(open.slice(1)) as { sid: string }).sid;
  const at = `${poll}&sid=${sid}`;
  const auth = JSON.stringify({ osSession: secret('silent', i), osProtocol: PROTOCOL_VERSION });
  await (await fetch(at, { method: 'POST', body: `40${auth}` })).text();
  const connected = await (await fetch(at)).text(); // the connect answer: the last read it does
  if (!connected.startsWith('40'))
    throw new Error(`reader ${i}: no connect answer: ${connected.slice(0, 80)}`);
  await (
    await fetch(at, { method: 'POST', body: `421${JSON.stringify(['list', { c: collection }])}` })
  ).text();
}

/** Section 2: 50 clients that never read or poll each ask for a 20 MB collection. */
async function silentReaders(log: (line: string) => void): Promise<{ figures: Figure[]; notes: string[] }> {
  const READERS = 50;
  const server = await startServer();
  const notes: string[] = [];
  await server.request({ type: 'fill', count: 200, bytes: 100_000 }, 120_000); // 20 MB
  const base = `http://127.0.0.1:${server.port}`;
  const before = await heap(server);
  let asked = 0;
  for (let i = 0; i < READERS && server.alive; i++) {
    try {
      await silentReader(base, i, 'big');
      asked++;
    } catch (err) {
      notes.push(`silent readers: reader ${i} failed: ${String((err as Error).message ?? err)}`);
      break;
    }
  }
  log(`  part 3: ${asked} silent readers asked for the 20 MB collection`);
  // The heap while they hang: the highest of 5 samples over about 5 s.
  let highest = 0;
  for (let k = 0; k < 5 && server.alive; k++) {
    await sleep(1000);
    try {
      highest = Math.max(highest, (await heap(server)) - before);
    } catch {
      break;
    }
  }
  const alive = server.alive;
  if (!alive) notes.push(`silent readers: the server died: ${lastWords(server)}`);
  await server.stop();
  return {
    notes,
    figures: [
      { label: 'silent readers of a 20 MB collection', value: asked },
      {
        label: 'heap above the loaded collection',
        value: alive ? mb(highest) : 'server died',
        sub: true,
        bound: { max: 64, unit: 'MB' },
      },
    ],
  };
}

/** Sends `count` requests over `sockets`, `window` at a time each; answers by code. */
async function flood(
  sockets: Socket[],
  count: number,
  request: (n: number) => [string, unknown],
): Promise<Map<string, number>> {
  const codes = new Map<string, number>();
  let next = 0;
  await Promise.all(
    sockets.flatMap((socket) =>
      Array.from({ length: 10 }, async () => {
        while (next < count) {
          const [event, payload] = request(next++);
          const answer = (await socket
            .timeout(30_000)
            .emitWithAck(event, payload)
            .catch(() => ({ error: { code: 'no answer' } }))) as {
            error?: { code: string };
          };
          const code = answer.error?.code ?? 'ok';
          codes.set(code, (codes.get(code) ?? 0) + 1);
        }
      }),
    ),
  );
  return codes;
}

/** Section 3: 10 000 reads, then 10 000 creates, each naming a collection nobody declared. */
async function unknownNames(log: (line: string) => void): Promise<{ figures: Figure[]; notes: string[] }> {
  const NAMES = 10_000;
  const CONNECTIONS = 20; // well under each connection's rate limit
  const server = await startServer();
  const notes: string[] = [];
  const sockets: Socket[] = [];
  const collections = (): Promise<number> => server.request<number>({ type: 'collections' });
  try {
    for (let i = 0; i < CONNECTIONS; i++) {
      const socket = rawIo(`http://127.0.0.1:${server.port}`, {
        path: '/object-sync',
        transports: ['websocket'],
        reconnection: false,
        auth: { osSession: secret('names', i), osProtocol: PROTOCOL_VERSION },
      });
      sockets.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      });
    }
    const start = await collections();
    const heapBefore = await heap(server);
    const reads = await flood(sockets, NAMES, (n) => ['fetch', { c: `unknown-read-${n}`, i: [1] }]);
    const afterReads = await collections();
    const seq = new Map<Socket, number>();
    const writes = await flood(sockets, NAMES, (n) => {
      const socket = sockets[n % sockets.length]!;
      const q = (seq.get(socket) ?? 0) + 1;
      seq.set(socket, q);
      return ['create', { c: `unknown-write-${n}`, q, o: { n } }];
    });
    const afterWrites = await collections();
    const grown = (await heap(server)) - heapBefore;
    log(`  part 3: ${NAMES} reads and ${NAMES} creates of unknown collections`);
    const unseen = start < 0 ? ' (engine internals changed: count not seen)' : '';
    return {
      notes,
      figures: [
        { label: 'reads naming unknown collections', value: NAMES, note: `answers: ${breakdown(reads)}` },
        {
          label: 'collections they created',
          value: afterReads - start,
          sub: true,
          bound: { max: 0, unit: '' },
          note: unseen,
        },
        { label: 'creates naming unknown collections', value: NAMES, note: `answers: ${breakdown(writes)}` },
        {
          label: 'collections they created',
          value: afterWrites - afterReads,
          sub: true,
          bound: { max: 1000, unit: '' },
          note: unseen,
        },
        { label: 'heap grown by both', value: mb(grown), sub: true, bound: { max: 20, unit: 'MB' } },
      ],
    };
  } catch (err) {
    notes.push(`unknown names: ${String((err as Error).message ?? err)}`);
    return {
      notes,
      figures: [
        {
          label: 'unknown names',
          value: server.alive ? 'failed' : 'server died',
          bound: { max: 0, unit: '' },
        },
      ],
    };
  } finally {
    for (const s of sockets) s.disconnect();
    await server.stop();
  }
}

export async function runPart3(options: TortureOptions, log: (line: string) => void): Promise<PartResult> {
  const started = performance.now();
  const figures: Figure[] = [];
  const notes: string[] = [];
  log(`  part 3: memory, each section on a fresh server with a ${HEAP_LIMIT_MB} MB heap limit`);
  for (const section of [(l: typeof log) => sessions(options.sessions, l), silentReaders, unknownNames]) {
    const result = await section(log);
    figures.push(...result.figures);
    notes.push(...result.notes);
  }
  figures.push({ label: 'time', value: seconds(performance.now() - started) });
  return { figures, notes };
}
