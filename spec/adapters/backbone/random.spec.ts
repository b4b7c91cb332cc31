/**
 * A seeded random run of Backbone pages (issue 13, "How it must be shown"): several pages, each with a
 * `SyncedCollection` on one client, do random model and collection operations — full, patch and
 * `wait: true` saves, unsets, destroys, creates, collection fetches, remote changes through the raw
 * client, saves the server refuses, and reconnects. After quiescence every operation was answered
 * (success or an error to its caller), every page's collection equals the server's state, and no id
 * appears twice. The seed is printed when a run fails; `SEED=n` replays one.
 */
import { expect } from 'chai';
import type Backbone from 'backbone';
import { SyncedCollection } from '../../../adapters/backbone/index.js';
import type { ObjectSync as Client } from '../../../lib/client/index.js';
import { waitFor } from '../../support/harness.js';
import { prng } from '../../support/random.js';
import { settled, setup, teardown } from './support.js';

const Todos = SyncedCollection.extend({ url: '/todos' });

/** A collection as sorted plain data. */
function snapshot(list: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return list.map((o) => ({ ...o })).sort((a, b) => Number(a.id) - Number(b.id));
}

/** Waits until every client is connected with nothing in flight. */
async function quiet(clients: Client[]): Promise<void> {
  for (const client of clients) {
    if (!client.isConnected()) await waitFor(client, 'connect');
    while (client.pendingRequests > 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

const seeds = process.env.SEED ? [Number(process.env.SEED)] : Array.from({ length: 20 }, (_, i) => 11 + i);

describe('backbone: a random run of several pages converges', () => {
  afterEach(teardown);

  for (const seed of seeds) {
    it(`every page equals the server, no duplicate, every operation answered (seed ${seed})`, async function () {
      this.timeout(60_000);
      const random = prng(seed);
      const pick = <T>(list: T[]): T | undefined => list[Math.floor(random() * list.length)];
      const { clients, spy, server } = await setup(3);
      spy.refuseUpdate = (patch) => (patch.bad === true ? 'forbidden' : undefined);
      const pages = clients.map((client) => new Todos([], { client }));
      await Promise.all(pages.map((p) => p.ready()));
      const outcomes: Array<Promise<{ ok: boolean; value: unknown }>> = [];
      const track = (thenable: unknown): void => {
        if (thenable && typeof (thenable as PromiseLike<unknown>).then === 'function') {
          outcomes.push(settled(thenable as PromiseLike<unknown>));
        }
      };
      const log: string[] = [];
      if (process.env.TRACE) {
        for (const [i, client] of clients.entries()) {
          const coll = client.collection('todos');
          coll.on('destroy', (id) => log.push(`  client ${i} destroy ${String(id)}`));
          coll.on('create', (o) => log.push(`  client ${i} create ${String(o.id)}`));
          coll.on('synced', () => log.push(`  client ${i} synced`));
          client.on('connect', () => log.push(`  client ${i} connect`));
          pages[i].on('remove', (m: Backbone.Model) => log.push(`  page ${i} remove ${String(m.id)}`));
          pages[i].on('add', (m: Backbone.Model) => log.push(`  page ${i} add ${String(m.id ?? m.cid)}`));
        }
      }
      try {
        for (let step = 0; step < 120; step++) {
          const at = Math.floor(random() * pages.length);
          const page = pages[at];
          const model = pick(page.models) as Backbone.Model | undefined;
          const wait = random() < 0.3;
          const n = Math.floor(random() * 100);
          const op = Math.floor(random() * 10);
          log.push(
            `${step}: page ${at} op ${op} model ${String(model?.id ?? model?.cid)} wait ${wait} n ${n}`,
          );
          if (op === 0 || !model) {
            page.create({ n, tag: `t${n}` }, { wait });
          } else if (op === 1) {
            track(model.save({ n }, { wait }));
          } else if (op === 2) {
            track(model.save({ tag: `p${n}` }, { patch: true, wait }));
          } else if (op === 3) {
            model.unset('tag');
            track(model.save(null, { wait }));
          } else if (op === 4) {
            track(model.destroy({ wait }));
          } else if (op === 5 && !model.isNew()) {
            track(clients[(at + 1) % clients.length].collection('todos').save({ id: model.id as number, n }));
          } else if (op === 6) {
            track(model.save({ bad: true }, { wait }));
          } else if (op === 7) {
            track(page.fetch({ remove: false }));
          } else if (op === 8) {
            clients[at].disconnect();
            clients[at].connect();
          } else {
            await new Promise<void>((resolve) => setImmediate(resolve));
          }
          if (random() < 0.3) await new Promise<void>((resolve) => setImmediate(resolve));
        }
        await Promise.all(outcomes);
        await quiet(clients);
        await Promise.all(pages.map((p) => p.fetch({ remove: false }))); // one round trip more each
        await quiet(clients);
        const expected = snapshot(await server.sync.collection('todos').list());
        for (const [i, page] of pages.entries()) {
          const ids = page.pluck('id');
          expect(new Set(ids).size, `page ${i}: duplicate ids ${ids.join(',')}`).to.equal(ids.length);
          const shown = snapshot(page.toJSON() as Array<Record<string, unknown>>);
          expect(shown, `page ${i}`).to.deep.equal(expected);
        }
      } catch (err) {
        console.log(
          `seed ${seed} failed; replay with SEED=${seed}\n${log.slice(-(Number(process.env.LOG) || 30)).join('\n')}`,
        );
        throw err;
      }
    });
  }
});
