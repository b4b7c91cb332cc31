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
import { cleanup, connectClient } from '../../support/harness.js';

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
