/**
 * Issue 14 item 6: `DEBUG=object-sync:*` tells what happens on both sides — connections, sessions,
 * requests and their outcomes, broadcasts (counts), resyncs, status changes — and never an object's
 * fields, a session secret or `auth` data. The namespaces are turned on here as `DEBUG` would, and
 * the `debug` package's output is captured instead of printed.
 */
import { expect } from 'chai';
import createDebug from 'debug';
import { readFileSync } from 'node:fs';
import { format } from 'node:util';
import { LOG_NAMES } from '../../lib/debug.js';
import type { ObjectSync as Client } from '../../lib/client/index.js';
import type { SyncError } from '../../lib/errors.js';
import { cleanup, connectClient, newClient, startServer, waitFor } from '../support/harness.js';

const TOKEN = 'tok-3f9a1c77e2';
/** Every field value in this spec starts so: no log line may contain it. */
const FIELD = 'field-value-';

/** The session secret a client sends at each handshake (private: read here only to look for it). */
function secretOf(client: Client): string {
  return (client as unknown as { secret: string }).secret;
}

/** Escapes a string for a RegExp. */
const re = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describe('logging (DEBUG=object-sync:*)', () => {
  let lines: string[] = [];
  const printer = createDebug.log;
  let before = '';

  beforeEach(() => {
    lines = [];
    before = createDebug.disable();
    createDebug.enable('object-sync:*');
    // What `debug` would print, one string per line (its namespace is in it).
    createDebug.log = (...args: unknown[]) => void lines.push(format(...args));
  });
  afterEach(async () => {
    await cleanup();
    createDebug.log = printer;
    createDebug.disable();
    if (before) createDebug.enable(before);
  });

  /** Expects a line of `namespace` matching `pattern` (a RegExp source, after the namespace). */
  function expectLine(namespace: string, pattern: string): void {
    const line = new RegExp(`object-sync:${re(namespace)}\\S* ${pattern}`);
    expect(
      lines.some((l) => line.test(l)),
      `a line /${line.source}/ among:\n${lines.join('\n')}`,
    ).to.equal(true);
  }

  it('logs connections, sessions, requests, broadcasts, resyncs and statuses on both sides, without fields or secrets', async () => {
    const server = await startServer(undefined, {
      authorize: (handshake) => (handshake.auth.token === TOKEN ? { name: 'ann' } : false),
    });
    const notes = server.sync.collection('notes');
    await notes.save({ text: `${FIELD}alpha` });
    await notes.save({ text: `${FIELD}beta`, n: 1 });

    // A watcher subscribes: a resync of two objects.
    const a = await connectClient(server, { auth: { token: TOKEN } });
    await a.collection('notes').subscribe();
    // A writer: a create the watcher receives, then a refused write.
    const b = await connectClient(server, { auth: () => ({ token: TOKEN }) });
    const received = waitFor(a.collection('notes'), 'create');
    const made = await b.collection('notes').save({ text: `${FIELD}gamma`, secret: `${FIELD}delta` });
    await received;
    const refused = await b
      .collection('notes')
      .save({ id: 'no-such-id', text: `${FIELD}epsilon` })
      .catch((err: SyncError) => err);
    expect((refused as SyncError).code).to.equal('not_found');
    // The network drops both connections: the clients come back into their sessions and resync.
    const backA = waitFor(a.collection('notes'), 'synced');
    const backB = waitFor(b, 'connect');
    for (const socket of server.sync.io.of('/').sockets.values()) socket.conn.close();
    await Promise.all([backA, backB]);
    // A subscription the server refuses: the resync fails and is retried until unsubscribed.
    const failed = await a
      .collection('nope')
      .subscribe()
      .catch((err: SyncError) => err);
    expect((failed as SyncError).code).to.equal('unknown_collection');
    a.collection('nope')
      .unsubscribe()
      .catch(() => undefined);
    // A handshake with the wrong token is refused.
    const c = newClient(server, { auth: { token: 'wrong' } });
    const refusedHandshake = waitFor<[SyncError]>(c, 'error');
    c.connect();
    expect((await refusedHandshake)[0].code).to.equal('unauthorized');
    // The writer leaves.
    const ended = waitFor(server.sync, 'disconnect');
    b.disconnect();
    await ended;

    const sidA = re(a.sid!);
    const sidB = re(b.sid!);
    const id = re(String(made.id));
    // Server: connections, sessions, requests with outcome and duration, broadcasts with counts.
    expectLine('server:conn', `\\S+ connected \\(session ${sidB}\\) over websocket`);
    expectLine('server:session', `${sidB} new`);
    expectLine('server:conn', `handshake \\S+ refused: unauthorized`);
    expectLine('server:request', `${sidA}: sub notes \\(0 held\\) -> ok 2 records \\([\\d.]+ ms\\)`);
    expectLine('server:request', `${sidB}: create notes -> ok ${id} v1 \\([\\d.]+ ms\\)`);
    expectLine('server:request', `${sidB}: update notes/no-such-id -> not_found \\([\\d.]+ ms\\)`);
    expectLine('server:request', `${sidA}: sub nope \\(0 held\\) -> unknown_collection`);
    expectLine('server:publish', `notes(/${id} v1 c|: 1 changes \\(${id} v1\\)): 1 recipients`);
    expectLine('server:session', `${sidA} resumed by \\S+ \\(1 connections\\)`);
    expectLine('server:session', `${sidA} lost its connection: ends in \\d+ ms unless its client comes back`);
    expectLine('server:conn', `\\S+ disconnected \\(session ${sidB}\\): client namespace disconnect`);
    expectLine('server:session', `${sidB} ended: the client left`);
    // Client: connection, status, requests, resyncs (counts, a failure and its retry).
    expectLine('client:conn', `connecting to http://127\\.0\\.0\\.1:${server.port}/ \\(path /object-sync\\)`);
    expectLine('client:conn', `connected: session ${sidB}`);
    expectLine('client:status', `connecting -> connected, 0 pending writes`);
    expectLine('client:status', `connected -> connected, 1 pending writes`);
    expectLine('client:request', `create notes -> ok ${id} v1 \\([\\d.]+ ms\\)`);
    expectLine('client:request', `update notes/no-such-id -> not_found`);
    expectLine('client:resync', `notes: resync, 0 objects held`);
    expectLine('client:resync', `notes: resynced in 1 pages, 2 records \\(2 created, 0 updated, 0 removed`);
    expectLine('client:resync', `nope: resync failed after 0 pages: unknown_collection; retry 1 in \\d+ ms`);
    expectLine('client:conn', `handshake refused: unauthorized`);
    expectLine('client:conn', `disconnected: transport close`);
    expectLine('client:status', `connected -> reconnecting, 0 pending writes`);
    expectLine('client:resync', `notes: resync, 3 objects held`);
    expectLine('client:conn', `disconnected: io client disconnect`);
    expectLine('client:status', `connected -> offline, 0 pending writes`);

    // Nothing of what the objects hold, nor any credential, ever appears.
    const secrets = [FIELD, TOKEN, 'wrong', secretOf(a), secretOf(b), secretOf(c)];
    for (const line of lines) for (const s of secrets) expect(line, `a line holds ${s}`).not.to.include(s);
  });

  it("README's Logging table names every namespace", () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Logging'), readme.indexOf('## Deploying'));
    for (const name of LOG_NAMES) expect(section, name).to.include(`| \`${name}\``);
  });

  it('prints nothing when its namespaces are off', async () => {
    createDebug.disable();
    const server = await startServer();
    const client = await connectClient(server);
    await client.save({ text: `${FIELD}zeta` });
    expect(lines).to.deep.equal([]);
  });
});
