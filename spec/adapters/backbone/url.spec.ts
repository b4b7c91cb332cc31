import { expect } from 'chai';
import Backbone from 'backbone';
import { backboneSync } from '../../../adapters/backbone/index.js';
import { collectionNameOf, nameFromUrl } from '../../../adapters/backbone/url.js';
import { setup, teardown } from './support.js';

/** The error Backbone's own sync throws for a model without a url. */
function backboneUrlError(): Error {
  try {
    Backbone.sync('read', new Backbone.Model(), {});
  } catch (err) {
    return err as Error;
  }
  throw new Error('Backbone did not throw');
}

describe('backbone sync: the collection name comes from the url', () => {
  afterEach(teardown);

  it("names 'todos' from 'todos', '/todos', '/todos/7' and a function returning one", () => {
    expect(nameFromUrl('todos')).to.equal('todos');
    expect(nameFromUrl('/todos')).to.equal('todos');
    expect(nameFromUrl('/todos/7', 7)).to.equal('todos');
    expect(nameFromUrl('/todos/7?full=1#x', '7')).to.equal('todos');
    const Todos = Backbone.Collection.extend({ url: () => '/todos' });
    expect(collectionNameOf(new Todos(), {})).to.equal('todos');
  });

  it("takes the last path segment that is not the model's id ('/api/players/7' -> 'players')", () => {
    expect(nameFromUrl('/api/players/7', 7)).to.equal('players');
    expect(nameFromUrl('http://example.com/api/players', 7)).to.equal('players');
    const Player = Backbone.Model.extend({ urlRoot: '/api/players' });
    expect(collectionNameOf(new Player({ id: 7 }), {})).to.equal('players');
    expect(collectionNameOf(new Player({ id: 'a b' }), {})).to.equal('players');
  });

  it("reads options.url first, then the model's urlRoot, then its collection's url", () => {
    const Players = Backbone.Collection.extend({ url: '/players' });
    const players = new Players([{ id: 1 }]);
    expect(collectionNameOf(players.get(1), {})).to.equal('players');
    const Todo = Backbone.Model.extend({ urlRoot: '/todos' });
    const todo = new Todo({ id: 1 });
    players.add(todo);
    expect(collectionNameOf(todo, {})).to.equal('todos');
    expect(collectionNameOf(todo, { url: '/notes/1' })).to.equal('notes');
  });

  it('throws the same synchronous error as Backbone when there is no url', async () => {
    const { clients, spy } = await setup(1);
    const Model = Backbone.Model.extend({ sync: backboneSync(clients[0]) });
    const expected = backboneUrlError();
    expect(() => new Model().save()).to.throw(Error, expected.message);
    expect(() => new Model({ id: 1 }).fetch()).to.throw(Error, expected.message);
    expect(() => new (Backbone.Collection.extend({ sync: backboneSync(clients[0]) }))().fetch()).to.throw(
      Error,
      expected.message,
    );
    // Backbone's test "sync: urlError": options.url is enough.
    await new Model().save(null, { url: '/todos' });
    expect(spy.creates).to.have.length(1);
  });

  it('never uses the default collection: a url without a name is refused', () => {
    expect(() => nameFromUrl('/')).to.throw(TypeError);
    expect(() => nameFromUrl('?x=1')).to.throw(TypeError);
  });
});
