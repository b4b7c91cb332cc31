/**
 * The walk-and-talk demo's `players` guard, over a raw connection as an attacker would use it (break
 * report, finding 8): an update that removes `owner` (or `x`, `y`, `avatar`) passed the guard, which
 * checked only the values set, and left a player its session's end did not destroy; a page could
 * also make any number of players.
 */
import { expect } from 'chai';
import type { Socket } from 'socket.io-client';
import { playersCollection } from '../../demo/walk-and-talk/players.js';
import { cleanup, startServer, type Running } from '../support/harness.js';
import { ask, closeRaws, connectRaw } from '../support/raw.js';

describe('walk and talk: the players guard', () => {
  let server: Running;
  let q = 0;

  beforeEach(async () => {
    server = await startServer();
    playersCollection(server.sync);
  });

  afterEach(async () => {
    closeRaws();
    await cleanup();
  });

  async function join(socket: Socket): Promise<number> {
    const answer = await ask(socket, 'create', { c: 'players', q: ++q, o: { x: 10, y: 10, avatar: 1 } });
    expect(answer.r, JSON.stringify(answer)).to.include({ k: 'c' });
    return answer.r.i as number;
  }

  it('refuses an update that removes owner, x, y or avatar; says may go', async () => {
    const page = await connectRaw(server);
    const id = await join(page);
    for (const removed of [['owner'], ['x'], ['y'], ['avatar'], ['owner', 'x', 'y', 'avatar']]) {
      const answer = await ask(page, 'update', { c: 'players', q: ++q, i: id, u: removed });
      expect(answer, `removing ${removed.join(', ')}`).to.have.nested.property(
        'error.code',
        'invalid_message',
      );
    }
    expect(await ask(page, 'update', { c: 'players', q: ++q, i: id, s: { says: 'hi' } })).to.have.property(
      'r',
    );
    expect(await ask(page, 'update', { c: 'players', q: ++q, i: id, u: ['says'] })).to.have.property('r');
    const [player] = await server.sync.collection('players').fetch(id);
    expect(player).to.include({ x: 10, y: 10, avatar: 1 }).and.to.have.property('owner').that.is.a('string');
    expect(player).to.not.have.property('says');
  });

  it('lets a page have one player at a time, also with creates sent together', async () => {
    const page = await connectRaw(server);
    const answers = await Promise.all(
      [1, 2, 3].map((avatar) => ask(page, 'create', { c: 'players', q: ++q, o: { x: 20, y: 20, avatar } })),
    );
    const made = answers.filter((answer) => answer.r?.k === 'c');
    expect(made, JSON.stringify(answers)).to.have.length(1);
    for (const answer of answers.filter((a) => !a.r))
      expect(answer).to.have.nested.property('error.code', 'forbidden');
    const again = await ask(page, 'create', { c: 'players', q: ++q, o: { x: 30, y: 30, avatar: 3 } });
    expect(again).to.have.nested.property('error.code', 'forbidden');
    const other = await connectRaw(server);
    await join(other); // another page still joins
    expect(await ask(page, 'destroy', { c: 'players', q: ++q, i: made[0].r.i })).to.have.property('r');
    await join(page); // and a page whose player is gone joins again
    expect(await server.sync.collection('players').list()).to.have.length(2);
  });
});
