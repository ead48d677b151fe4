// privtube: the upload queue, the view beacon and selecting many cards. Everything works without this file too.
(function () {
  'use strict';

  // --- the upload queue: many files or a whole folder, each sent resumably (tus 1.0, /upload/tus) ------

  var CHUNK = 8 * 1024 * 1024;      // a cut-off upload loses at most one chunk: the server keeps the rest
  var RETRIES = 5;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function b64(text) {
    return btoa(unescape(encodeURIComponent(text)));
  }

  function duration(seconds) {
    if (!isFinite(seconds)) return '';
    if (seconds < 60) return Math.max(1, Math.round(seconds)) + ' s left';
    if (seconds < 3600) return Math.round(seconds / 60) + ' min left';
    return (seconds / 3600).toFixed(1) + ' h left';
  }

  function Entry(queue, file) {
    this.queue = queue;
    this.file = file;
    this.key = 'privtube-upload:' + [file.name, file.size, file.lastModified].join(':');
    this.location = window.localStorage ? localStorage.getItem(this.key) : null;
    this.offset = 0;
    this.tries = 0;
    this.state = 'waiting';
    var li = this.li = el('li', 'waiting');
    li.appendChild(el('span', 'name', file.webkitRelativePath || file.name));
    this.bar = el('progress');
    this.bar.max = 100;
    this.bar.value = 0;
    li.appendChild(this.bar);
    this.text = el('span', 'meta', 'waiting');
    li.appendChild(this.text);
    var actions = el('span', 'actions');
    this.cancelButton = el('button', 'cancel-upload', 'Cancel');
    this.cancelButton.type = 'button';
    this.retryButton = el('button', 'retry-upload', 'Retry');
    this.retryButton.type = 'button';
    this.retryButton.hidden = true;
    actions.appendChild(this.cancelButton);
    actions.appendChild(this.retryButton);
    li.appendChild(actions);
    var entry = this;
    this.cancelButton.addEventListener('click', function () { entry.cancel(); });
    this.retryButton.addEventListener('click', function () { entry.retry(); });
  }

  Entry.prototype.show = function (state, message, link) {
    this.state = state;
    this.li.className = state;
    this.text.textContent = message;
    if (link) {
      this.text.appendChild(document.createTextNode(' '));
      var a = el('a', '', link.title);
      a.href = link.href;
      this.text.appendChild(a);
    }
    this.cancelButton.hidden = !(state === 'waiting' || state === 'sending');
    this.retryButton.hidden = !(state === 'failed' || state === 'cancelled');
  };

  Entry.prototype.request = function (method, url, headers, body) {
    var xhr = this.xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.setRequestHeader('Tus-Resumable', '1.0.0');
    xhr.setRequestHeader('X-CSRF-Token', this.queue.form.dataset.csrf);
    Object.keys(headers || {}).forEach(function (name) { xhr.setRequestHeader(name, headers[name]); });
    var entry = this;
    var done = new Promise(function (resolve, reject) {
      xhr.onload = function () { resolve(xhr); };
      xhr.onerror = function () { reject(new Error('network')); };
      xhr.onabort = function () { reject(new Error('abort')); };
    });
    if (body && xhr.upload) {
      xhr.upload.onprogress = function (e) { entry.progress(entry.offset + e.loaded); };
    }
    xhr.send(body || null);
    return done;
  };

  Entry.prototype.progress = function (sent) {
    var size = this.file.size;
    var elapsed = (Date.now() - this.started) / 1000;
    var rate = (sent - this.startOffset) / Math.max(elapsed, 0.001);
    var percent = Math.floor(100 * sent / size);
    this.bar.value = percent;
    this.text.textContent = percent + '% · ' + (rate > 0 ? duration((size - sent) / rate) : '');
  };

  Entry.prototype.metadata = function () {
    var form = this.queue.form;
    var parts = ['filename ' + b64(this.file.name)];
    var album = form.elements.new_album.value.trim() || form.elements.album.value;
    if (album) parts.push('album ' + b64(album));
    if (form.elements.tags.value.trim()) parts.push('tags ' + b64(form.elements.tags.value));
    if (form.elements.description.value.trim()) parts.push('description ' + b64(form.elements.description.value));
    if (this.alone && form.elements.title.value.trim()) parts.push('title ' + b64(form.elements.title.value));
    if (form.elements.private.checked) parts.push('private ' + b64('1'));
    return parts.join(',');
  };

  Entry.prototype.create = function () {
    var entry = this;
    return this.request('POST', '/upload/tus', {
      'Upload-Length': String(this.file.size), 'Upload-Metadata': this.metadata()
    }).then(function (xhr) {
      if (xhr.status !== 201) throw entry.refusal(xhr);
      entry.location = xhr.getResponseHeader('Location');
      entry.offset = 0;
      if (window.localStorage) localStorage.setItem(entry.key, entry.location);
    });
  };

  Entry.prototype.resume = function () {
    var entry = this;
    if (!this.location) return this.create();
    return this.request('HEAD', this.location).then(function (xhr) {
      if (xhr.status !== 200) { entry.forget(); return entry.create(); }
      entry.offset = parseInt(xhr.getResponseHeader('Upload-Offset'), 10) || 0;
    });
  };

  Entry.prototype.forget = function () {
    this.location = null;
    if (window.localStorage) localStorage.removeItem(this.key);
  };

  Entry.prototype.refusal = function (xhr) {
    var error = new Error(xhr.status === 413 ? 'too large: the limit is ' +
      Math.round(this.queue.form.dataset.max / 1048576) + ' MB' : 'refused (' + xhr.status + ')');
    error.final = xhr.status === 413 || xhr.status === 403 || xhr.status === 400 || xhr.status === 415;
    return error;
  };

  Entry.prototype.sendChunks = function () {
    var entry = this;
    var piece = Math.min(CHUNK, Number(this.queue.form.dataset.max) || CHUNK);     // a PATCH stays under the cap
    var end = Math.min(this.offset + piece, this.file.size);
    return this.request('PATCH', this.location, {
      'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(this.offset)
    }, this.file.slice(this.offset, end)).then(function (xhr) {
      if (xhr.status !== 204) throw entry.refusal(xhr);
      entry.offset = parseInt(xhr.getResponseHeader('Upload-Offset'), 10);
      entry.tries = 0;
      var item = xhr.getResponseHeader('X-Privtube-Item');
      var twin = xhr.getResponseHeader('X-Privtube-Duplicate');
      if (item || twin) return entry.finish(item, twin);
      entry.progress(entry.offset);
      return entry.sendChunks();
    });
  };

  Entry.prototype.finish = function (item, twin) {
    this.forget();
    this.bar.value = 100;
    if (twin) {
      this.show('duplicate', 'Already in the library, not stored twice:', {href: '/watch/' + twin, title: 'see it'});
    } else {
      this.show('done', 'Uploaded:', {href: '/watch/' + item, title: 'open it'});
      if (this.alone) window.location = '/watch/' + item;      // one file: straight to it, as before
    }
  };

  Entry.prototype.run = function () {
    var entry = this;
    this.show('sending', 'starting…');
    this.started = Date.now();
    return this.resume().then(function () {
      entry.startOffset = entry.offset;
      return entry.sendChunks();
    }).catch(function (error) {
      if (entry.state === 'cancelled') return null;
      if (!error.final && ++entry.tries <= RETRIES) {      // Wi-Fi dropped: resume from the server's offset
        entry.show('sending', 'connection lost, resuming…');
        return new Promise(function (r) { setTimeout(r, 1000 * entry.tries); }).then(function () {
          return entry.state === 'cancelled' ? null : entry.run();
        });
      }
      entry.show('failed', 'Failed: ' + error.message + '.');
      return null;
    });
  };

  Entry.prototype.cancel = function () {
    var location = this.location;
    var running = this.state === 'sending';
    this.show('cancelled', 'Cancelled.');
    if (this.xhr) this.xhr.abort();
    this.forget();
    if (location) this.request('DELETE', location).catch(function () {});
    if (running) this.queue.next();
  };

  Entry.prototype.retry = function () {
    this.tries = 0;
    this.show('waiting', 'waiting');
    this.queue.add([]);
  };

  function UploadQueue(form) {
    this.form = form;
    this.list = document.getElementById('queue');
    this.entries = [];
    this.busy = false;
    this.button = document.getElementById('send');
  }

  UploadQueue.prototype.add = function (files) {
    var queue = this;
    files.forEach(function (file) {
      var entry = new Entry(queue, file);
      entry.alone = files.length === 1;
      queue.entries.push(entry);
      queue.list.appendChild(entry.li);
    });
    if (!this.busy) this.next();
  };

  UploadQueue.prototype.next = function () {
    var queue = this;
    var waiting = this.entries.filter(function (e) { return e.state === 'waiting'; })[0];
    this.busy = Boolean(waiting);
    this.button.disabled = this.busy;       // never a second submit while the queue runs
    this.button.textContent = this.busy ? 'Uploading…' : 'Upload';
    if (!waiting) return;
    waiting.run().then(function () { if (waiting.state !== 'cancelled') queue.next(); });
  };

  function chosenFiles(form) {
    var files = Array.prototype.slice.call(document.getElementById('files').files);
    var folder = document.getElementById('folder');
    return files.concat(Array.prototype.slice.call(folder.files || []));
  }

  function enhanceUpload(form) {
    var queue = new UploadQueue(form);
    var files = document.getElementById('files');
    var folder = document.getElementById('folder');
    files.multiple = true;
    files.required = false;
    document.getElementById('folder-picker').hidden = false;
    folder.addEventListener('change', function () {
      var first = folder.files[0];
      var path = first && first.webkitRelativePath;
      if (path && !form.elements.new_album.value && !form.elements.album.value) {
        form.elements.new_album.value = path.split('/')[0];     // a folder becomes an album of its name
      }
    });
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      if (queue.busy) return;
      var chosen = chosenFiles(form);
      var status = document.getElementById('status');
      if (!chosen.length) { status.textContent = 'Choose one or more files, or a folder.'; return; }
      status.textContent = '';
      queue.add(chosen);
      files.value = '';
      folder.value = '';
    });
  }

  function viewBeacon(article) {
    var player = document.getElementById('player');
    var sent = false;
    function send() {
      if (sent) return;
      sent = true;
      fetch('/watch/' + article.dataset.item + '/view', {
        method: 'POST', credentials: 'same-origin',
        headers: {'X-CSRF-Token': article.dataset.csrf}
      }).then(function (r) { return r.json(); }).then(function (answer) {
        document.getElementById('views').textContent = answer.views;
        document.getElementById('views-unit').textContent = answer.views === 1 ? 'view' : 'views';
      }).catch(function () { sent = false; });
    }
    if (!player) return;
    if (article.dataset.kind === 'image') { send(); return; }
    player.addEventListener('timeupdate', function () { if (player.currentTime >= 10) send(); });
    player.addEventListener('ended', send);
  }

  // A grid's bulk form: its cards' checkboxes belong to it (form="bulk"). Shift-click ticks a range;
  // once something is selected, a click on a card selects it instead of opening it.
  function bulkSelection(form) {
    var boxes = Array.prototype.slice.call(document.querySelectorAll('input[type=checkbox][form="bulk"]'));
    var count = form.querySelector('.bulk-count');
    var last = null;
    function selected() { return boxes.filter(function (box) { return box.checked; }).length; }
    function update() {
      var n = selected();
      count.textContent = n ? n + ' selected' : 'Tick items to change several at once (shift-click selects a range).';
      boxes.forEach(function (box) { box.closest('li').classList.toggle('picked', box.checked); });
    }
    function pick(index, shift) {
      var box = boxes[index];
      if (shift && last !== null) {
        for (var i = Math.min(last, index); i <= Math.max(last, index); i++) boxes[i].checked = box.checked;
      }
      last = index;
      update();
    }
    boxes.forEach(function (box, index) {
      box.addEventListener('click', function (e) { pick(index, e.shiftKey); });
      var link = box.closest('li').querySelector('a');
      link.addEventListener('click', function (e) {
        if (!selected() || e.ctrlKey || e.metaKey) return;
        e.preventDefault();
        box.checked = !box.checked;
        pick(index, e.shiftKey);
      });
    });
    Array.prototype.forEach.call(form.querySelectorAll('[data-select]'), function (button) {
      button.hidden = false;
      button.addEventListener('click', function () {
        var all = button.dataset.select === 'all';
        boxes.forEach(function (box) { box.checked = all; });
        last = null;
        update();
      });
    });
    var action = form.elements.action;
    function showFields() {
      var tags = /tags$/.test(action.value), album = /album$/.test(action.value);
      form.elements.tags.hidden = !tags;
      form.elements.album.hidden = !album;
      form.elements.new_album.hidden = !album || action.value === 'remove_from_album' || !!form.elements.album.value;
    }
    action.addEventListener('change', showFields);
    form.elements.album.addEventListener('change', showFields);
    form.addEventListener('submit', function (e) {
      if (!selected()) { e.preventDefault(); count.textContent = 'Select at least one item first.'; }
    });
    showFields();
    update();
  }

  document.addEventListener('DOMContentLoaded', function () {
    var bulk = document.getElementById('bulk');
    if (bulk) bulkSelection(bulk);
    var form = document.getElementById('upload');
    if (form && window.XMLHttpRequest && window.Promise && window.Blob && Blob.prototype.slice) {
      enhanceUpload(form);
    }
    var article = document.querySelector('article.watch');
    if (article) viewBeacon(article);
  });
})();
