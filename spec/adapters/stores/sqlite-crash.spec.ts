/**
 * A server on a SQLite file SIGKILLed right after a commit, before its answer left, and restarted on
 * the same file: the acknowledged writes are all there, and the resent request is answered from its
 * dedupe record, not applied again.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteStore } from '../../../adapters/stores/sqlite.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ObjectSync } from '../../../lib/index.js';
import { BACKEND } from '../../../lib/server/backend.js';
import { cleanup, connectClient } from '../../support/harness.js';
import { FaultProxy } from '../../support/proxy.js';

const serverScript = fileURLToPath(new URL('../../fixtures/sqlite-server.js', import.meta.url));

/** Starts the fixture server; resolves with its port once it listens. */
function startChild(
  file: string,
  port: number,
  killAfter?: number,
): Promise<{ child: ChildProcess; port: number }> {
  const args = [serverScript, file, String(port), ...(killAfter ? [String(killAfter)] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      const match = /PORT (\d+)/.exec(chunk.toString());
      if (match) resolve({ child, port: Number(match[1]) });
    });
    child.on('exit', (code, signal) => reject(new Error(`server exited early: ${code ?? signal}`)));
  });
}
const children = new Set<ChildProcess>();

describe('SqliteStore: a server killed at the worst instant', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'object-sync-crash-'))));
  afterEach(async () => {
    await cleanup();
    for (const child of children) child.kill('SIGKILL');
    children.clear();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses no acknowledged write and applies the resent request once', async () => {
    const file = join(dir, 'crash.sqlite');
    // The 3rd write (the second create below) commits, then the server dies before answering.
    // A create is not idempotent: applied twice, it would leave two rows.
    const first = await startChild(file, 0, 3);
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      first.child.on('exit', (_c, signal) => resolve(signal)),
    );
    const client = await connectClient({ url: `http://127.0.0.1:${first.port}` });
    const obj = await client.save({ count: 0 });
    await client.save({ id: obj.id, count: 1 });
    const third = client.save({ name: 'second' });
    expect(await exited).to.equal('SIGKILL');
    await startChild(file, first.port); // restarted on the same file and port
    const second = await third;
    expect(second).to.deep.equal({ id: 2, name: 'second' });
    await client.save({ id: obj.id, count: 2 });

    const check = new SqliteStore({ file });
    try {
      expect(await check.list()).to.deep.equal([
        { id: obj.id, count: 2 },
        { id: 2, name: 'second' },
      ]);
      const rows = check.db.prepare('SELECT id, v FROM os_objects ORDER BY id').all();
      expect(rows).to.deep.equal([
        { id: String(obj.id), v: 3 },
        { id: '2', v: 1 },
      ]);
      const recorded = check.db.prepare('SELECT count(*) AS n FROM os_requests').get() as { n: number };
      expect(recorded.n).to.equal(4);
    } finally {
      check.close();
    }
  });
});

interface Started {
  sync: ObjectSync;
  port: number;
  applied: Promise<void>;
  hold: { until?: Promise<unknown> };
}

describe('SqliteStore: a write answered from its dedupe record after a restart', () => {
  let dir: string;
  let proxy: FaultProxy | undefined;
  const syncs: ObjectSync[] = [];
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'object-sync-epoch-'))));
  afterEach(async () => {
    await cleanup();
    await Promise.all(syncs.splice(0).map((s) => s.close()));
    await proxy?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * A server on the file; `applied` resolves after its first update committed; listings (resyncs)
   * wait for `hold.until` when set.
   */
  async function start(file: string, port: number): Promise<Started> {
    const store = new SqliteStore({ file });
    const backend = store[BACKEND]();
    const hold: { until?: Promise<unknown> } = {};
    const list = backend.list!.bind(backend);
    backend.list = async (...args) => {
      await hold.until;
      return list(...args);
    };
    const update = backend.update.bind(backend);
    let signal!: () => void;
    const applied = new Promise<void>((resolve) => (signal = resolve));
    backend.update = async (...args) => {
      const result = await update(...args);
      signal();
      return result;
    };
    const http = createServer();
    const sync = ObjectSync.listen(http, store);
    syncs.push(sync);
    await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
    return { sync, port: (http.address() as AddressInfo).port, applied, hold };
  }

  it('resolves with its own write even when the answer does not follow the version held', async () => {
    const file = join(dir, 'epoch.sqlite');
    const a = await start(file, 0);
    proxy = await new FaultProxy(a.port).start();
    const client = await connectClient(proxy);
    const x = await client.save({ n: 0 });
    proxy.dropUpstream(); // the update never reaches the first server
    const saved = client.save({ id: x.id, n: 1 });
    await a.sync.close();
    const b = await start(file, a.port); // a new epoch: the client forgets every version it holds
    client.once('connect', () => proxy!.dropDownstream()); // the resync and the resent update arrive; their answers do not
    proxy.cut();
    await b.applied;
    // Now the update is answered at once from the dedupe record: a diff on a version the client forgot.
    // The resync is held back until the save settled, so it cannot mend the object first.
    b.hold.until = saved.catch(() => undefined);
    proxy.cut();
    const live = await saved;
    expect(live.n).to.equal(1);
    expect(client.get(x.id)).to.equal(live);
  });
});
