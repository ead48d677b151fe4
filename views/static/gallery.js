// privtube: the gallery. A click on a photo card of any grid (views/cards.tpl) opens a viewer over the page
// with previous and next among the cards of the same grid: photos shown from /preview/<id> at their own
// shape, videos and songs playing in place, zoom, full screen and a slideshow. The cards stay ordinary links:
// without this file, and for middle-click or ctrl-click, they open the watch page.
(function () {
  'use strict';

  var INTERVALS = [3, 5, 10];              // slideshow seconds offered
  var INTERVAL_KEY = 'privtube-slideshow-seconds';
  var IDLE_MS = 3000;                      // in a slideshow, controls hide after this long without a touch
  var SWIPE_PX = 50;                       // a horizontal drag this long steps to the next or previous item
  var DOUBLE_TAP_MS = 300;
  var ZOOMS = [1, 2, 4];
  var HASH = '#view=';                     // the address of a page with its viewer open: #view=<item id>

  function el(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    if (text) node.textContent = text;
    return node;
  }

  // Icons as SVG paths on a 24-unit grid: drawn the same on every device, whatever its fonts.
  var ICONS = {
    prev: 'M15 4l-8 8 8 8', next: 'M9 4l8 8-8 8', close: 'M5 5l14 14M19 5L5 19', zoomIn: 'M12 5v14M5 12h14',
    zoomOut: 'M5 12h14', play: 'M7 4l13 8-13 8z', pause: 'M8 4v16M16 4v16',
    full: 'M4 9V4h5M15 4h5v5M20 15v5h-5M9 20H4v-5'
  };

  function setIcon(b, name) {
    var svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    var path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
    path.setAttribute('d', ICONS[name]);
    svg.appendChild(path);
    b.textContent = '';
    b.appendChild(svg);
  }

  function button(className, label, icon) {
    var b = el('button', {type: 'button', 'class': className, 'aria-label': label, title: label});
    setIcon(b, icon);
    return b;
  }

  // The slideshow's interval as this browser remembers it (storage may be refused: private modes).
  function storedInterval() {
    var seconds = 0;
    try { seconds = +localStorage.getItem(INTERVAL_KEY); } catch (refused) { /* the default then */ }
    return INTERVALS.indexOf(seconds) >= 0 ? seconds : 5;
  }

  function rememberInterval(seconds) {
    try { localStorage.setItem(INTERVAL_KEY, seconds); } catch (refused) { /* kept for this page only */ }
  }

  function ignoreRefusal(promise) {
    if (promise && promise.catch) promise.catch(function () {});
  }

  // What a card stands for: its id, kind, title and watch page.
  function entryOf(link) {
    var title = link.querySelector('.title');
    return {id: link.dataset.id, kind: link.dataset.kind, href: link.getAttribute('href'), link: link,
            title: title ? title.textContent : link.textContent.trim()};
  }

  function Viewer() {
    this.entries = [];
    this.index = 0;
    this.zoom = 1;
    this.pan = {x: 0, y: 0};
    this.timer = null;
    this.idleTimer = null;
    this.playing = false;
    this.build();
  }

  Viewer.prototype.build = function () {
    var root = this.root = el('div', {'class': 'gallery', role: 'dialog', 'aria-modal': 'true',
                                      'aria-label': 'Photo viewer'});
    root.hidden = true;
    this.stage = el('div', {'class': 'gallery-stage'});
    var bar = el('div', {'class': 'gallery-bar'});
    this.zoomButton = button('gallery-zoom', 'Zoom in', 'zoomIn');
    this.playButton = button('gallery-play', 'Start slideshow', 'play');
    this.interval = el('select', {'class': 'gallery-interval', 'aria-label': 'Seconds per photo in the slideshow'});
    INTERVALS.forEach(function (seconds) {
      this.interval.appendChild(el('option', {value: String(seconds)}, seconds + ' s'));
    }, this);
    this.interval.value = String(storedInterval());
    this.fullButton = button('gallery-full', 'Full screen', 'full');
    this.fullButton.hidden = !(document.fullscreenEnabled && root.requestFullscreen);
    this.closeButton = button('gallery-close', 'Close', 'close');
    [this.zoomButton, this.playButton, this.interval, this.fullButton, this.closeButton].forEach(function (b) {
      bar.appendChild(b);
    });
    this.prevButton = button('gallery-prev', 'Previous', 'prev');
    this.nextButton = button('gallery-next', 'Next', 'next');
    var caption = el('p', {'class': 'gallery-caption', 'aria-live': 'polite'});   // says which item shows
    this.title = el('span', {'class': 'gallery-title'});
    this.count = el('span', {'class': 'gallery-count'});
    this.pageLink = el('a', {'class': 'gallery-open'}, 'Open page');
    caption.appendChild(this.title);
    caption.appendChild(this.count);
    caption.appendChild(this.pageLink);
    [this.stage, bar, this.prevButton, this.nextButton, caption].forEach(function (part) { root.appendChild(part); });
    document.body.appendChild(root);
    this.listen();
  };

  Viewer.prototype.listen = function () {
    var viewer = this;
    this.prevButton.addEventListener('click', function () { viewer.step(-1); });
    this.nextButton.addEventListener('click', function () { viewer.step(1); });
    this.closeButton.addEventListener('click', function () { viewer.close(); });
    this.zoomButton.addEventListener('click', function () { viewer.setZoom(viewer.zoom === 1 ? ZOOMS[1] : 1); });
    this.playButton.addEventListener('click', function () { viewer.toggleSlideshow(); });
    this.fullButton.addEventListener('click', function () { viewer.toggleFullscreen(); });
    this.interval.addEventListener('change', function () {
      rememberInterval(viewer.interval.value);
      if (viewer.playing) viewer.schedule();
    });
    // on the document: the focus may be on any part of the viewer, or on none after a button was disabled
    document.addEventListener('keydown', function (e) { if (!viewer.root.hidden) viewer.key(e); }, true);
    ['pointermove', 'pointerdown', 'keydown'].forEach(function (type) {
      viewer.root.addEventListener(type, function () { viewer.awake(); });
    });
    document.addEventListener('fullscreenchange', function () { viewer.showFullscreen(); });
    this.listenToPointer();
  };

  // --- opening, stepping, closing ---------------------------------------------------------------------

  Viewer.prototype.open = function (link) {
    var grid = link.closest('ul.cards') || document;
    var links = Array.prototype.slice.call(grid.querySelectorAll('a[data-id][data-kind]'));
    this.entries = links.map(entryOf);
    if (this.root.hidden) this.hashBefore = location.hash.indexOf(HASH) === 0 ? '' : location.hash;
    this.root.hidden = false;
    this.setBackgroundInert(true);
    this.show(links.indexOf(link));
    this.closeButton.focus();
  };

  Viewer.prototype.close = function () {
    this.stopSlideshow();
    this.clearStage();
    if (document.fullscreenElement === this.root) ignoreRefusal(document.exitFullscreen());
    this.root.hidden = true;
    history.replaceState(history.state, '', location.pathname + location.search + (this.hashBefore || ''));
    this.setBackgroundInert(false);
    var shown = this.entries[this.index];
    if (shown && document.body.contains(shown.link)) shown.link.focus();   // the grid shows where one was
  };

  // Everything but the viewer is out of reach of the keyboard and screen readers while it is open.
  Viewer.prototype.setBackgroundInert = function (inert) {
    Array.prototype.forEach.call(document.body.children, function (child) {
      if (child === this.root || child.tagName === 'SCRIPT') return;
      if (inert) child.setAttribute('inert', ''); else child.removeAttribute('inert');
    }, this);
  };

  Viewer.prototype.step = function (by) {
    var next = this.index + by, last = this.entries.length - 1;
    if (this.playing) next = (next + this.entries.length) % this.entries.length;   // a photo frame goes round
    if (next < 0 || next > last) return;
    this.show(next);
  };

  Viewer.prototype.show = function (index) {
    var entry = this.entries[index];
    this.index = index;
    this.clearStage();
    this.setZoom(1);
    this.title.textContent = entry.title;
    this.count.textContent = (index + 1) + ' of ' + this.entries.length;
    this.pageLink.href = entry.href;
    history.replaceState(history.state, '', HASH + entry.id);       // a reload or a shared link opens it again
    this.showEnds();
    this.zoomButton.disabled = entry.kind !== 'image';
    this.stage.appendChild(this.content(entry));
    this.preloadAfter(index);
    if (this.playing) this.schedule();
  };

  Viewer.prototype.clearStage = function () {
    var media = this.stage.querySelector('video, audio');
    if (media) media.pause();
    this.stage.textContent = '';
    this.picture = null;
  };

  Viewer.prototype.content = function (entry) {
    if (entry.kind === 'image') return this.photo(entry);
    if (entry.kind === 'video' || entry.kind === 'audio') return this.player(entry);
    var note = el('p', {'class': 'gallery-note'}, 'This file is not shown here. ');
    note.appendChild(el('a', {href: entry.href}, 'Open its page'));
    return note;
  };

  Viewer.prototype.photo = function (entry) {
    var viewer = this;
    var img = this.picture = el('img', {src: '/preview/' + encodeURIComponent(entry.id), alt: entry.title,
                                        draggable: 'false'});
    img.addEventListener('error', function () {
      if (viewer.picture !== img) return;
      var note = el('p', {'class': 'gallery-note'}, 'This photo cannot be shown here. ');
      note.appendChild(el('a', {href: entry.href}, 'Open its page'));
      img.replaceWith(note);
      viewer.picture = null;
    });
    return img;
  };

  Viewer.prototype.player = function (entry) {
    var viewer = this;
    var media = el(entry.kind, {src: '/play/' + encodeURIComponent(entry.id), controls: '', preload: 'metadata',
                                'aria-label': entry.title});
    if (entry.kind === 'video') {
      media.setAttribute('playsinline', '');
      if (entry.link.querySelector('img[src^="/thumb/"]')) media.poster = '/thumb/' + encodeURIComponent(entry.id);
    }
    ['ended', 'error'].forEach(function (type) {
      media.addEventListener(type, function () { if (viewer.playing && viewer.stage.contains(media)) viewer.step(1); });
    });
    ignoreRefusal(media.play());
    return media;
  };

  Viewer.prototype.preloadAfter = function (index) {
    var next = this.entries[index + 1];
    if (next && next.kind === 'image') new Image().src = '/preview/' + encodeURIComponent(next.id);
  };

  // --- keys: arrows step, Escape closes, +/- zoom, f full screen, space or s the slideshow; Tab stays inside

  Viewer.prototype.key = function (e) {
    var onMedia = /^(VIDEO|AUDIO|SELECT)$/.test(e.target.tagName);
    var onControl = onMedia || /^(BUTTON|A)$/.test(e.target.tagName);
    var actions = {
      Escape: this.close, ArrowLeft: onMedia ? null : function () { this.step(-1); },
      ArrowRight: onMedia ? null : function () { this.step(1); }, '+': function () { this.zoomBy(1); },
      '=': function () { this.zoomBy(1); }, '-': function () { this.zoomBy(-1); }, f: this.toggleFullscreen,
      s: this.toggleSlideshow, ' ': onControl ? null : this.toggleSlideshow, Tab: function () { this.trapTab(e); }
    };
    var action = e.ctrlKey || e.metaKey || e.altKey ? null : actions[e.key];
    if (!action) return;
    if (e.key !== 'Tab') e.preventDefault();
    action.call(this);
  };

  Viewer.prototype.trapTab = function (e) {
    var focusable = Array.prototype.filter.call(
      this.root.querySelectorAll('button, a[href], select, video, audio'),
      function (node) { return !node.disabled && !node.hidden && node.getClientRects().length; });
    if (!focusable.length) return;
    var first = focusable[0], last = focusable[focusable.length - 1];
    var inside = this.root.contains(document.activeElement);
    if (e.shiftKey && (document.activeElement === first || !inside)) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && (document.activeElement === last || !inside)) { e.preventDefault(); first.focus(); }
  };

  // --- zoom and pan ------------------------------------------------------------------------------------

  Viewer.prototype.zoomBy = function (by) {
    var at = ZOOMS.indexOf(this.zoom) + by;
    this.setZoom(ZOOMS[Math.max(0, Math.min(ZOOMS.length - 1, at))]);
  };

  Viewer.prototype.setZoom = function (zoom) {
    if (!this.picture) zoom = 1;
    this.zoom = zoom;
    this.pan = {x: 0, y: 0};
    this.root.classList.toggle('zoomed', zoom > 1);
    this.zoomButton.setAttribute('aria-pressed', String(zoom > 1));
    this.zoomButton.setAttribute('aria-label', zoom > 1 ? 'Zoom out' : 'Zoom in');
    setIcon(this.zoomButton, zoom > 1 ? 'zoomOut' : 'zoomIn');
    this.place(0);
  };

  // The picture moved by `drift` px sideways (a swipe under way) or panned, never beyond its edges.
  Viewer.prototype.place = function (drift) {
    if (!this.picture) return;
    var box = this.stage.getBoundingClientRect();
    var reachX = box.width * (this.zoom - 1) / 2, reachY = box.height * (this.zoom - 1) / 2;
    this.pan.x = Math.max(-reachX, Math.min(reachX, this.pan.x));
    this.pan.y = Math.max(-reachY, Math.min(reachY, this.pan.y));
    this.picture.style.transform = 'translate(' + (this.pan.x + drift) + 'px,' + this.pan.y + 'px) scale(' +
      this.zoom + ')';
  };

  // A video's own controls (its lower part) take drags: its seek bar must not swipe.
  function onVideoControls(e) {
    if (e.target.tagName !== 'VIDEO') return false;
    var box = e.target.getBoundingClientRect();
    return e.clientY > box.top + box.height * 0.7;
  }

  // One pointer on the stage: a drag pans a zoomed photo, else swipes; a double tap (or click) zooms.
  Viewer.prototype.listenToPointer = function () {
    var viewer = this, down = null, lastTap = 0;
    this.stage.addEventListener('pointerdown', function (e) {
      if (!e.isPrimary || /^(AUDIO|A)$/.test(e.target.tagName) || onVideoControls(e)) return;
      down = {x: e.clientX, y: e.clientY, panX: viewer.pan.x, panY: viewer.pan.y};
      viewer.stage.setPointerCapture(e.pointerId);
    });
    this.stage.addEventListener('pointermove', function (e) {
      if (!down) return;
      var dx = e.clientX - down.x, dy = e.clientY - down.y;
      if (viewer.zoom > 1) {
        viewer.pan = {x: down.panX + dx, y: down.panY + dy};
        viewer.place(0);
      } else {
        viewer.place(dx);
      }
    });
    function finish(e) {
      if (!down) return;
      var dx = e.clientX - down.x, dy = e.clientY - down.y;
      down = null;
      if (Math.abs(dx) < 10 && Math.abs(dy) < 10) {
        if (e.timeStamp - lastTap < DOUBLE_TAP_MS && viewer.picture) {
          viewer.setZoom(viewer.zoom === 1 ? ZOOMS[1] : 1);
          lastTap = 0;
        } else {
          lastTap = e.timeStamp;
        }
      }
      if (viewer.zoom === 1 && Math.abs(dx) >= SWIPE_PX && Math.abs(dx) > Math.abs(dy)) viewer.step(dx < 0 ? 1 : -1);
      else viewer.place(0);
    }
    this.stage.addEventListener('pointerup', finish);
    this.stage.addEventListener('pointercancel', finish);
  };

  // --- slideshow and full screen -----------------------------------------------------------------------

  Viewer.prototype.toggleSlideshow = function () {
    if (this.playing) this.stopSlideshow(); else this.startSlideshow();
  };

  Viewer.prototype.startSlideshow = function () {
    this.playing = true;
    this.root.classList.add('playing');
    this.playButton.setAttribute('aria-label', 'Pause slideshow');
    setIcon(this.playButton, 'pause');
    this.showEnds();
    this.schedule();
    this.awake();
  };

  Viewer.prototype.stopSlideshow = function () {
    this.playing = false;
    clearTimeout(this.timer);
    clearTimeout(this.idleTimer);
    this.root.classList.remove('playing', 'idle');
    this.playButton.setAttribute('aria-label', 'Start slideshow');
    setIcon(this.playButton, 'play');
    this.showEnds();
  };

  // Previous and next stop at the grid's ends, except in a slideshow, which goes round.
  Viewer.prototype.showEnds = function () {
    this.prevButton.disabled = !this.playing && this.index === 0;
    this.nextButton.disabled = !this.playing && this.index === this.entries.length - 1;
    if (!this.root.hidden && document.activeElement && document.activeElement.disabled) {  // it lost its focus
      (this.prevButton.disabled ? this.nextButton : this.prevButton).focus();
    }
  };

  // The next step of a slideshow: a photo after the chosen interval; a video or song when it ends.
  Viewer.prototype.schedule = function () {
    var viewer = this;
    clearTimeout(this.timer);
    if (this.entries[this.index].kind === 'image' || !this.stage.querySelector('video, audio')) {
      this.timer = setTimeout(function () { viewer.step(1); }, +this.interval.value * 1000);
    }
  };

  // Controls show again on any touch, key or mouse move; in a slideshow they hide after IDLE_MS.
  Viewer.prototype.awake = function () {
    var viewer = this;
    this.root.classList.remove('idle');
    clearTimeout(this.idleTimer);
    if (this.playing) this.idleTimer = setTimeout(function () { viewer.root.classList.add('idle'); }, IDLE_MS);
  };

  Viewer.prototype.toggleFullscreen = function () {
    if (this.fullButton.hidden) return;
    if (document.fullscreenElement) ignoreRefusal(document.exitFullscreen());
    else ignoreRefusal(this.root.requestFullscreen());
  };

  Viewer.prototype.showFullscreen = function () {
    var full = document.fullscreenElement === this.root;
    this.fullButton.setAttribute('aria-label', full ? 'Leave full screen' : 'Full screen');
    this.fullButton.setAttribute('aria-pressed', String(full));
  };

  // --- cards -------------------------------------------------------------------------------------------

  var viewer = null;

  function openViewer(link) {
    viewer = viewer || new Viewer();
    viewer.open(link);
  }

  document.addEventListener('click', function (e) {
    if (e.defaultPrevented || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
    var link = e.target.closest && e.target.closest('ul.cards a[data-id][data-kind="image"]');
    if (!link) return;
    e.preventDefault();
    openViewer(link);
  });

  document.addEventListener('DOMContentLoaded', function () {
    if (location.hash.indexOf(HASH) !== 0) return;
    var id = decodeURIComponent(location.hash.slice(HASH.length));
    var link = Array.prototype.filter.call(document.querySelectorAll('ul.cards a[data-id][data-kind]'),
                                           function (card) { return card.dataset.id === id; })[0];
    if (link) openViewer(link);
  });
})();
