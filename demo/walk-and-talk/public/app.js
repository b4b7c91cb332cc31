/*
 * walk and talk, on object-sync: players are Backbone models in a SyncedCollection; jQuery views
 * render them from model events only. The whole networking part is the three lines marked (*).
 * A classic script-tag app: no build step.
 */
(function () {
  'use strict';

  var STEP = 10;
  var FIELD = { width: 760, height: 460 };
  var ARROWS = { 37: [-STEP, 0], 38: [0, -STEP], 39: [STEP, 0], 40: [0, STEP] };

  var client = new ObjectSync(); // (*) connects to the server that served this page
  Backbone.sync = ObjectSync.Backbone.backboneSync(client); // (*)
  window.sync = client; // as the original demo did, so the page is easy to script

  var Player = Backbone.Model.extend({
    defaults: { x: 0, y: 0, avatar: 1, says: '' },
  });

  var Players = ObjectSync.Backbone.SyncedCollection.extend({ url: '/players', model: Player }); // (*)

  /** One player on the field: position, avatar and speech bubble, all from model events. */
  var PlayerView = Backbone.View.extend({
    className: 'player',

    initialize: function (options) {
      this.isMe = options.isMe;
      this.listenTo(this.model, 'change:x change:y', this.place);
      this.listenTo(this.model, 'change:says', this.speak);
      this.listenTo(this.model, 'change:id', this.name);
      this.listenTo(this.model, 'destroy', this.leave);
    },

    render: function () {
      this.$el
        .toggleClass('me', this.isMe)
        .empty()
        .append($('<div class="says"></div>'))
        .append($('<div class="avatar"></div>').addClass('avatar_' + this.model.get('avatar')));
      this.name();
      this.place();
      this.$('.says').text(this.model.get('says') || '');
      return this;
    },

    name: function () {
      var id = this.model.id;
      if (id === undefined) return;
      this.$el.attr('data-id', id).addClass('player_' + id);
    },

    place: function () {
      this.$el.css({ left: this.model.get('x') + 'px', top: this.model.get('y') + 'px' });
    },

    speak: function () {
      var $says = this.$('.says').text(this.model.get('says') || '');
      $says.removeClass('fresh');
      void $says[0].offsetWidth; // restart the pop animation
      $says.addClass('fresh');
    },

    leave: function () {
      this.remove();
    },
  });

  var players = new Players();
  var me = null;

  players.on('add', function (model) {
    var view = new PlayerView({ model: model, isMe: model === me });
    $('#field').append(view.render().el);
  });

  /** Creates this page's player (again, when a server restart lost it). */
  function join(attrs) {
    me = new Player(attrs);
    me.on('destroy', function (model, collection, options) {
      // Removed by the server while this page is open (a restart forgot it): come back.
      if (options && options.remote) join(_.pick(model.attributes, 'x', 'y', 'avatar', 'says'));
    });
    players.create(me);
  }

  join({
    x: 40 + Math.floor(Math.random() * 67) * STEP, // 40..700
    y: 60 + Math.floor(Math.random() * 35) * STEP, // 60..400
    avatar: 1 + Math.floor(Math.random() * 5),
    says: "I'm new here, talk to me",
  });

  // --- keys -----------------------------------------------------------------------------------

  var $talk = $('#talk');
  var $input = $talk.find('input');

  function talking() {
    return !$talk.prop('hidden');
  }

  function openTalk() {
    $talk.prop('hidden', false);
    $input.trigger('focus');
  }

  function closeTalk() {
    $talk.prop('hidden', true);
    $input.val('').trigger('blur');
  }

  function say() {
    var text = $.trim($input.val());
    closeTalk();
    if (text) me.save({ says: text }, { patch: true });
    showStatus();
  }

  /** Each arrow keydown moves 10 px along its own axis; only that axis is sent. */
  function walk(delta) {
    var change = {};
    if (delta[0]) change.x = Math.max(0, Math.min(FIELD.width, me.get('x') + delta[0]));
    if (delta[1]) change.y = Math.max(0, Math.min(FIELD.height, me.get('y') + delta[1]));
    me.save(change, { patch: true });
    showStatus();
  }

  $(window).on('keydown', function (e) {
    var key = e.which;
    if (talking()) {
      if (key === 13) say();
      else if (key === 27) closeTalk();
      return;
    }
    if (ARROWS[key]) {
      e.preventDefault();
      walk(ARROWS[key]);
    } else if (!e.ctrlKey && !e.metaKey && !e.altKey && [16, 17, 18, 91, 93, 9].indexOf(key) < 0) {
      openTalk();
    }
  });

  // --- connection status ------------------------------------------------------------------------

  var $status = $('#status');
  var $count = $('#count');
  // The style sheet's classes: connected -> ready, (re)connecting -> connecting, else disconnected.
  var CLASSES = { connected: 'ready', connecting: 'connecting', reconnecting: 'connecting' };
  var LABELS = { connected: 'connected', connecting: 'connecting…', reconnecting: 'reconnecting…' };
  function showStatus() {
    var status = client.status;
    var queued = status.pending;
    $status.attr('class', CLASSES[status.state] || 'disconnected').text(LABELS[status.state] || status.state);
    $count.text(
      status.state === 'connected' ? '' : queued ? queued + ' queued change' + (queued === 1 ? '' : 's') : '',
    );
  }
  // The client says when anything of its status changes: no polling.
  client.on('status', showStatus);
  client.on('error', function (err) {
    if (window.console) console.warn('object-sync:', err.code, err.message);
  });
  showStatus();
})();
