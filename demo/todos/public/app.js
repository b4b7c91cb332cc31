/*
 * todos: the classic Backbone todo list (a Todo model, a Todos collection, a TodoView per item and
 * an AppView), written as such apps always were: views render from model and collection events.
 * It is shared live by object-sync, and the whole networking part is the three lines marked (*):
 * the app itself does not know that other people change the same list. A status line at the end
 * shows the connection, from the client's `status` event. A classic script-tag app:
 * no build step.
 */
(function () {
  'use strict';

  var ENTER_KEY = 13;
  var ESC_KEY = 27;

  var client = new ObjectSync(); // (*) connects to the server that served this page
  Backbone.sync = ObjectSync.Backbone.backboneSync(client); // (*)

  // --- Todo model -------------------------------------------------------------------------------

  /** One todo: a title, whether it is done, and its place in the list. */
  var Todo = Backbone.Model.extend({
    defaults: {
      title: '',
      completed: false,
      order: 0,
    },

    /** Flips `completed` and saves it. */
    toggle: function () {
      this.save({ completed: !this.get('completed') });
    },
  });

  // --- Todos collection -------------------------------------------------------------------------

  /** The list, kept in `order`. */
  var Todos = ObjectSync.Backbone.SyncedCollection.extend({
    // (*) `url` names the server's collection; SyncedCollection instead of Backbone.Collection.
    url: '/todos',
    model: Todo,
    comparator: 'order',

    /** The todos that are done. */
    completed: function () {
      return this.where({ completed: true });
    },

    /** The todos still to do. */
    remaining: function () {
      return this.where({ completed: false });
    },

    /** The `order` of a new todo: after the last one. */
    nextOrder: function () {
      return this.length ? this.last().get('order') + 1 : 1;
    },
  });

  var todos = new Todos();

  // --- Todo item view ---------------------------------------------------------------------------

  /** One `<li>` of the list: shows its todo, toggles it, edits its title on double-click, deletes it. */
  var TodoView = Backbone.View.extend({
    tagName: 'li',

    template: _.template($('#item-template').html()),

    events: {
      'click .toggle': 'toggleCompleted',
      'dblclick label': 'edit',
      'click .destroy': 'clear',
      'keypress .edit': 'updateOnEnter',
      'keydown .edit': 'revertOnEscape',
      'blur .edit': 'close',
    },

    /** Re-renders on every change of its todo, and goes away when the todo is destroyed. */
    initialize: function () {
      this.listenTo(this.model, 'change', this.render);
      this.listenTo(this.model, 'destroy', this.remove);
    },

    render: function () {
      this.$el.html(this.template(this.model.toJSON()));
      this.$el.toggleClass('completed', this.model.get('completed'));
      if (this.model.id !== undefined) this.$el.attr('data-id', this.model.id);
      this.$input = this.$('.edit');
      return this;
    },

    toggleCompleted: function () {
      this.model.toggle();
    },

    /** Switches to editing mode, the input focused. */
    edit: function () {
      this.$el.addClass('editing');
      this.$input.trigger('focus');
    },

    /** Leaves editing mode and saves the title; an emptied title deletes the todo. */
    close: function () {
      if (!this.$el.hasClass('editing')) return;
      // Leave editing mode first: saving re-renders the view, which takes the focused input away.
      this.$el.removeClass('editing');
      var title = $.trim(this.$input.val());
      if (!title) {
        this.clear();
      } else if (title !== this.model.get('title')) {
        this.model.save({ title: title });
      } else {
        this.render(); // undo trimmed whitespace in the input
      }
    },

    updateOnEnter: function (e) {
      if (e.which === ENTER_KEY) this.close();
    },

    /** Escape abandons the edit. */
    revertOnEscape: function (e) {
      if (e.which === ESC_KEY) {
        this.$el.removeClass('editing');
        this.$input.val(this.model.get('title'));
      }
    },

    clear: function () {
      this.model.destroy();
    },
  });

  // --- Application view -------------------------------------------------------------------------

  /** The whole app: the new-todo input, the list, "mark all", the counts and "clear completed". */
  var AppView = Backbone.View.extend({
    el: '#todoapp',

    statsTemplate: _.template($('#stats-template').html()),

    events: {
      'keypress #new-todo': 'createOnEnter',
      'click #clear-completed': 'clearCompleted',
      'click #toggle-all': 'toggleAllComplete',
    },

    initialize: function () {
      this.$input = this.$('#new-todo');
      this.$list = this.$('#todo-list');
      this.$main = this.$('#main');
      this.$footer = this.$('#footer');
      this.allCheckbox = this.$('#toggle-all')[0];

      this.listenTo(todos, 'add', this.addOne);
      this.listenTo(todos, 'reset', this.addAll);
      this.listenTo(todos, 'all', _.debounce(this.render, 0));

      todos.fetch({ reset: true });
    },

    /** Refreshes the counts; hides the list and footer while there is nothing to show. */
    render: function () {
      var completed = todos.completed().length;
      var remaining = todos.remaining().length;
      this.$main.toggle(todos.length > 0);
      this.$footer.toggle(todos.length > 0);
      this.$footer.html(this.statsTemplate({ completed: completed, remaining: remaining }));
      this.allCheckbox.checked = todos.length > 0 && !remaining;
      return this;
    },

    /** Adds a view for one todo at the end of the list. */
    addOne: function (todo) {
      var view = new TodoView({ model: todo });
      this.$list.append(view.render().el);
    },

    /** Renders the whole list again. */
    addAll: function () {
      this.$list.empty();
      todos.each(this.addOne, this);
    },

    /** Enter in the new-todo input creates a todo. */
    createOnEnter: function (e) {
      var title = $.trim(this.$input.val());
      if (e.which !== ENTER_KEY || !title) return;
      todos.create({ title: title, order: todos.nextOrder(), completed: false });
      this.$input.val('');
    },

    /** Deletes every completed todo. */
    clearCompleted: function () {
      _.invoke(todos.completed(), 'destroy');
      return false;
    },

    /** Marks every todo done, or every one not done when all were. */
    toggleAllComplete: function () {
      var completed = this.allCheckbox.checked;
      todos.each(function (todo) {
        if (todo.get('completed') !== completed) todo.save({ completed: completed });
      });
    },
  });

  new AppView();

  // --- Connection status ------------------------------------------------------------------------

  /**
   * The status line beside the title: whether changes reach the others now, and how many of this
   * page's changes the server has not confirmed yet. The client fires `status` on every change of
   * either (no polling); todos added meanwhile stay in the list and are sent on reconnect.
   */
  var $status = $('#status');
  var LABELS = {
    connecting: 'connecting…',
    connected: 'connected',
    reconnecting: 'offline · reconnecting…',
    offline: 'offline',
    refused: 'refused',
  };
  function showStatus(status) {
    var text = LABELS[status.state] || status.state;
    if (status.state === 'refused' && status.error) text += ' (' + status.error.code + ')';
    if (status.pending > 0) {
      text += ' · ' + status.pending + ' unsaved change' + (status.pending === 1 ? '' : 's');
    }
    $status.attr('class', status.state).text(text);
  }
  client.on('status', showStatus);
  showStatus(client.status);
})();
