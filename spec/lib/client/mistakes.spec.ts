/**
 * Issue 14 item 5 (client side): the mistakes people make get a synchronous TypeError.
 */
import { expect } from 'chai';
import { ObjectSync } from '../../../lib/client/index.js';
import { cleanup, connectClient, startServer, waitFor } from '../../support/harness.js';

describe('client: errors people make', () => {
  afterEach(cleanup);

  it('save(42), save(null), save([1]) and save("x") throw a TypeError at once', async () => {
    const client = await connectClient(await startServer());
    for (const wrong of [42, null, [1], 'x', undefined]) {
      expect(() => client.save(wrong as never), String(wrong)).to.throw(
        TypeError,
        /save\(\) takes an object/,
      );
    }
    expect(client.status.pending).to.equal(0);
  });

  it('a cyclic object throws a TypeError at once', async () => {
    const client = await connectClient(await startServer());
    const loop: Record<string, unknown> = { n: 1 };
    loop.self = loop;
    expect(() => client.save(loop)).to.throw(TypeError, /cyclic/);
    const { id } = await client.save({ n: 1 });
    expect(() => client.save({ id, deep: { loop } })).to.throw(TypeError, /cyclic/);
  });

  it('a property named constructor, __proto__ or prototype throws a TypeError at once (it was dropped silently)', async () => {
    const client = await connectClient(await startServer());
    expect(() => client.save({ driver: 'x', constructor: 'Ferrari' })).to.throw(TypeError, /"constructor"/);
    const { id } = await client.save({ n: 1 });
    expect(() => client.save({ id, prototype: 1 })).to.throw(TypeError, /"prototype"/);
    expect(() => client.save({ id, deep: JSON.parse('{"__proto__": {"x": 1}}') })).to.throw(
      TypeError,
      /"__proto__"/,
    );
    expect(client.status.pending).to.equal(0);
  });
});

describe('client: options', () => {
  afterEach(cleanup);

  it('takes the server url as a string', async () => {
    const server = await startServer();
    const client = new ObjectSync(server.url);
    try {
      await waitFor(client, 'connect');
      expect(client.status.state).to.equal('connected');
    } finally {
      client.close();
    }
  });

  it('an unknown option name throws a TypeError at once', () => {
    expect(() => new ObjectSync({ url: 'http://127.0.0.1:1', autoconnect: false } as never)).to.throw(
      TypeError,
      /unknown client option "autoconnect"/,
    );
  });
});
