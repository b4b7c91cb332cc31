import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../../adapters/stores/sqlite.js';
import { describeStoreConformance } from './conformance.js';

const files = new Map<SqliteStore, string>();
let dir: string | undefined;

describeStoreConformance('SqliteStore', {
  async create() {
    dir ??= mkdtempSync(join(tmpdir(), 'object-sync-sqlite-'));
    const file = join(dir, `${files.size}-${Date.now()}.sqlite`);
    const store = new SqliteStore({ file, collection: 'things' });
    files.set(store, file);
    return store;
  },
  async reopen(store) {
    const file = files.get(store as SqliteStore)!;
    (store as SqliteStore).close();
    const again = new SqliteStore({ file, collection: 'things' });
    files.set(again, file);
    return again;
  },
  async close(store) {
    (store as SqliteStore).close();
  },
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});
