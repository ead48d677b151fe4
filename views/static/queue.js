/* privtube's queue player: any list of songs on a page (an album's track list, a grid of cards: search
   results, a hand-made album) plays as a queue in a player bar at the bottom of the page, with previous,
   next, shuffle and repeat (off, all, one); the song playing is marked in its list. The Media Session API
   gives phones lock-screen controls and the cover. A song's own watch page gets the same lock-screen
   metadata for its single player. Without JavaScript the lists stay links to each song's page. */
(function () {
  'use strict';

  var REPEAT_MODES = ['off', 'all', 'one'];
  var REPEAT_LABELS = {off: 'Repeat off', all: 'Repeat all', one: 'Repeat one'};

  /* --- the songs of a list ----------------------------------------------------------------------- */

  function trackOf(row) {         /* a track list's row: its data attributes say everything */
    return {id: row.dataset.id, title: row.dataset.title, artist: row.dataset.artist || '',
            album: row.dataset.album || '', thumb: row.dataset.thumb || '', element: row};
  }

  function cardTrack(link) {      /* a card of a grid: views/cards.tpl's link, title, artist and thumbnail */
    var title = link.querySelector('.title'), artist = link.querySelector('.artist');
    var thumb = link.querySelector('img.thumb');
    var src = thumb ? thumb.getAttribute('src') : '';
    return {id: link.dataset.id, title: title ? title.textContent : '',
            artist: artist ? artist.textContent.replace(/ · track \d+$/, '') : '', album: '',
            thumb: src.indexOf('/thumb/') === 0 ? src : '', element: link.closest('li') || link};
  }

  function listsOnPage() {
    var lists = [];
    document.querySelectorAll('[data-queue-list]').forEach(function (section) {
      lists.push({root: section, tracks: Array.prototype.map.call(
        section.querySelectorAll('[data-queue-item]'), trackOf), own: true});
    });
    document.querySelectorAll('ul.cards').forEach(function (grid) {
      var songs = Array.prototype.map.call(grid.querySelectorAll('a[data-kind="audio"][data-id]'), cardTrack);
      if (songs.length > 1) {       /* one song plays from its card's page */
        lists.push({root: grid, tracks: songs, own: false});
      }
    });
    return lists;
  }

  /* --- the queue ------------------------------------------------------------------------------------ */

  var queue = {tracks: [], order: [], at: -1, shuffle: false, repeat: 'off'};
  var bar = null;

  function shuffled(count, first) {
    /* the indexes 0..count-1 in a random order (Fisher-Yates), `first` (when given) first */
    var order = [];
    for (var i = 0; i < count; i++) {
      if (i !== first) {
        order.push(i);
      }
    }
    for (var j = order.length - 1; j > 0; j--) {
      var k = Math.floor(Math.random() * (j + 1));
      var swap = order[j]; order[j] = order[k]; order[k] = swap;
    }
    return first === undefined || first < 0 ? order : [first].concat(order);
  }

  function inOrder(count) {
    var order = [];
    for (var i = 0; i < count; i++) {
      order.push(i);
    }
    return order;
  }

  function current() {
    return queue.at >= 0 ? queue.tracks[queue.order[queue.at]] : null;
  }

  function start(tracks, index, shuffle) {
    /* play `tracks` from `index` (its place in the list), shuffled or in the list's order */
    queue.tracks = tracks;
    queue.shuffle = shuffle;
    if (shuffle) {
      queue.order = shuffled(tracks.length, index === undefined ? undefined : index);
      queue.at = 0;
    } else {
      queue.order = inOrder(tracks.length);
      queue.at = index || 0;
    }
    playCurrent();
  }

  function step(delta) {
    /* the next (1) or previous (-1) song; at an end, repeat all wraps, otherwise the queue stops */
    if (!queue.tracks.length) {
      return;
    }
    var next = queue.at + delta;
    if (next >= queue.order.length || next < 0) {
      if (queue.repeat !== 'all') {
        return;                 /* the end of the queue (or its start) */
      }
      next = (next + queue.order.length) % queue.order.length;
    }
    queue.at = next;
    playCurrent();
  }

  function previous() {
    var audio = bar && bar.audio;
    if (audio && audio.currentTime > 3) {     /* as players do: first back to the song's start */
      audio.currentTime = 0;
      return;
    }
    step(-1);
  }

  function ended() {
    if (queue.repeat === 'one') {
      bar.audio.currentTime = 0;
      bar.audio.play();
      return;
    }
    step(1);
  }

  function toggleShuffle() {
    var playing = queue.order[queue.at];
    queue.shuffle = !queue.shuffle;
    queue.order = queue.shuffle ? shuffled(queue.tracks.length, playing) : inOrder(queue.tracks.length);
    queue.at = queue.shuffle ? 0 : Math.max(playing, 0);
    showState();
  }

  function cycleRepeat() {
    queue.repeat = REPEAT_MODES[(REPEAT_MODES.indexOf(queue.repeat) + 1) % REPEAT_MODES.length];
    showState();
  }

  /* --- the player bar ------------------------------------------------------------------------------- */

  function button(label, text, action) {
    var made = document.createElement('button');
    made.type = 'button';
    made.className = 'queue-button';
    made.setAttribute('aria-label', label);
    made.textContent = text;
    made.addEventListener('click', action);
    return made;
  }

  function makeBar() {
    var region = document.createElement('section');
    region.className = 'queue-bar';
    region.setAttribute('aria-label', 'Player');
    var cover = document.createElement('img');
    cover.className = 'queue-cover';
    cover.alt = '';
    var now = document.createElement('p');
    now.className = 'queue-now';
    now.setAttribute('aria-live', 'polite');
    var audio = document.createElement('audio');
    audio.controls = true;
    audio.preload = 'auto';
    audio.className = 'queue-audio';
    audio.addEventListener('ended', ended);
    audio.addEventListener('play', function () { setPlaybackState('playing'); });
    audio.addEventListener('pause', function () { setPlaybackState('paused'); });
    var controls = document.createElement('div');
    controls.className = 'queue-controls';
    var made = {
      root: region, cover: cover, now: now, audio: audio,
      previous: button('Previous song', 'Previous', previous),
      next: button('Next song', 'Next', function () { step(1); }),
      shuffle: button('Shuffle', 'Shuffle', toggleShuffle),
      repeat: button(REPEAT_LABELS.off, REPEAT_LABELS.off, cycleRepeat)
    };
    [made.previous, made.next, made.shuffle, made.repeat].forEach(function (b) { controls.appendChild(b); });
    var text = document.createElement('div');
    text.className = 'queue-text';
    text.appendChild(now);
    text.appendChild(audio);
    region.appendChild(cover);
    region.appendChild(text);
    region.appendChild(controls);
    document.body.appendChild(region);
    document.body.classList.add('with-queue');
    return made;
  }

  function playCurrent() {
    var track = current();
    if (!track) {
      return;
    }
    bar = bar || makeBar();
    var pagePlayer = document.getElementById('player');
    if (pagePlayer && pagePlayer.pause) {
      pagePlayer.pause();         /* one song at a time */
    }
    bar.audio.src = '/media/' + encodeURIComponent(track.id);
    var playing = bar.audio.play();
    if (playing && playing.catch) {
      playing.catch(function () {});      /* refused autoplay: the bar's own play button still works */
    }
    showState();
    describe(track);
  }

  function showState() {
    var track = current();
    if (!bar || !track) {
      return;
    }
    bar.now.textContent = track.title + (track.artist ? ' — ' + track.artist : '');
    if (track.thumb) {
      bar.cover.src = track.thumb;
      bar.cover.hidden = false;
    } else {
      bar.cover.hidden = true;
    }
    bar.shuffle.setAttribute('aria-pressed', queue.shuffle ? 'true' : 'false');
    bar.repeat.setAttribute('aria-label', REPEAT_LABELS[queue.repeat]);
    bar.repeat.textContent = REPEAT_LABELS[queue.repeat];
    bar.repeat.dataset.mode = queue.repeat;
    bar.repeat.setAttribute('aria-pressed', queue.repeat === 'off' ? 'false' : 'true');
    queue.tracks.forEach(function (other) {
      other.element.classList.toggle('queue-current', other === track);
      if (other === track) {
        other.element.setAttribute('aria-current', 'true');
      } else {
        other.element.removeAttribute('aria-current');
      }
    });
  }

  /* --- Media Session: lock-screen controls and cover ---------------------------------------------- */

  function describe(track) {
    if (!('mediaSession' in navigator) || typeof MediaMetadata === 'undefined') {
      return;
    }
    var artwork = track.thumb ? [{src: new URL(track.thumb, location.href).href, sizes: '480x480',
                                  type: 'image/jpeg'}] : [];
    navigator.mediaSession.metadata = new MediaMetadata({title: track.title, artist: track.artist,
                                                         album: track.album, artwork: artwork});
  }

  function setPlaybackState(state) {
    if ('mediaSession' in navigator) {
      navigator.mediaSession.playbackState = state;
    }
  }

  function handle(action, work) {
    try {
      navigator.mediaSession.setActionHandler(action, work);
    } catch (unsupported) {
      /* a browser without this action: the others still work */
    }
  }

  function sessionControls(player, withQueue) {
    if (!('mediaSession' in navigator)) {
      return;
    }
    handle('play', function () { player().play(); });
    handle('pause', function () { player().pause(); });
    handle('seekto', function (details) {
      var audio = player();
      if (details.fastSeek && audio.fastSeek) {
        audio.fastSeek(details.seekTime);
      } else {
        audio.currentTime = details.seekTime;
      }
    });
    handle('previoustrack', withQueue ? previous : null);
    handle('nexttrack', withQueue ? function () { step(1); } : null);
  }

  /* --- wiring --------------------------------------------------------------------------------------- */

  function playButtons(list) {
    /* a grid gets its own "Play all" and "Shuffle"; a track list has them in its markup */
    if (list.own) {
      return list.root;
    }
    var actions = document.createElement('p');
    actions.className = 'queue-actions';
    ['Play all', 'Shuffle'].forEach(function (label) {
      var made = document.createElement('button');
      made.type = 'button';
      made.textContent = label;
      made.setAttribute(label === 'Shuffle' ? 'data-queue-shuffle' : 'data-queue-play', '');
      made.setAttribute('aria-label', label + ' (' + list.tracks.length + ' song' +
                        (list.tracks.length === 1 ? '' : 's') + ')');
      actions.appendChild(made);
    });
    list.root.parentNode.insertBefore(actions, list.root);
    return actions;
  }

  function wire(list) {
    var controls = playButtons(list);
    var play = controls.querySelector('[data-queue-play]');
    var mix = controls.querySelector('[data-queue-shuffle]');
    if (play) {
      play.addEventListener('click', function () { start(list.tracks, 0, false); });
    }
    if (mix) {
      mix.addEventListener('click', function () { start(list.tracks, undefined, true); });
    }
    list.tracks.forEach(function (track, index) {
      var own = track.element.querySelector('[data-queue-start]');
      if (own) {
        own.addEventListener('click', function () { start(list.tracks, index, queue.shuffle); });
      }
    });
  }

  function songPage() {
    /* a song's watch page: its own player gets the lock-screen cover and controls */
    var song = document.querySelector('.song');
    var player = document.getElementById('player');
    if (!song || !player) {
      return;
    }
    describe({title: song.dataset.title, artist: song.dataset.artist, album: song.dataset.album,
              thumb: song.dataset.thumb});
    sessionControls(function () { return player; }, false);
  }

  function init() {
    var lists = listsOnPage();
    lists.forEach(wire);
    if (lists.length) {
      sessionControls(function () { bar = bar || makeBar(); return bar.audio; }, true);
    } else {
      songPage();
    }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
  window.privtubeQueue = queue;   /* read by the browser tests */
}());
