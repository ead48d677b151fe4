// privtube: comments posted and deleted without leaving the page, so the player keeps playing, and times
// in comments (0:45, 1:02:03) that seek the player. Without this file the forms post and come back (303).
(function () {
  'use strict';

  // the patterns of privtube_comments.py: a whole "word" of [A-Za-z0-9_:] that reads as a time
  var WORD = /[A-Za-z0-9_:]+/g;
  var TIME = /^(?:([0-9]{1,2}):([0-5][0-9])|([0-9]{1,3})):([0-5][0-9])$/;

  function secondsOf(word) {
    var found = TIME.exec(word);
    if (!found) return null;
    return (+(found[1] || 0)) * 3600 + (+(found[2] || found[3])) * 60 + (+found[4]);
  }

  function mediaPlayer() {
    var player = document.getElementById('player');
    return player && typeof player.play === 'function' ? player : null;
  }

  // The body as DOM nodes: text nodes, and a seek link for each time (when the page has a player).
  function bodyNodes(body, seekLinks) {
    var parent = document.createElement('p'), start = 0, found;
    WORD.lastIndex = 0;
    while (seekLinks && (found = WORD.exec(body))) {
      var seconds = secondsOf(found[0]);
      if (seconds === null) continue;
      parent.appendChild(document.createTextNode(body.slice(start, found.index)));
      var link = document.createElement('a');
      link.className = 'seek';
      link.href = '#player';
      link.dataset.seek = String(seconds);
      link.textContent = found[0];
      parent.appendChild(link);
      start = found.index + found[0].length;
    }
    parent.appendChild(document.createTextNode(body.slice(start)));
    return parent;
  }

  function deleteForm(addForm, comment) {
    var form = document.createElement('form');
    form.method = 'post';
    form.action = addForm.getAttribute('action') + '/' + encodeURIComponent(comment.id) + '/delete';
    form.className = 'delete-comment';
    var csrf = document.createElement('input');
    csrf.type = 'hidden';
    csrf.name = 'csrf';
    csrf.value = addForm.elements.csrf.value;
    var button = document.createElement('button');
    button.className = 'link';
    button.textContent = 'Delete';
    form.appendChild(csrf);
    form.appendChild(button);
    return form;
  }

  // The same markup as views/watch.tpl's list of comments.
  function commentItem(addForm, comment) {
    var li = document.createElement('li');
    var author = document.createElement('strong');
    author.textContent = comment.author;
    var time = document.createElement('time');
    time.textContent = String(comment.created).slice(0, 16).replace('T', ' ');
    li.appendChild(author);
    li.appendChild(document.createTextNode(' '));
    li.appendChild(time);
    li.appendChild(bodyNodes(comment.body, !!mediaPlayer()));
    if (comment.may_delete) li.appendChild(deleteForm(addForm, comment));
    return li;
  }

  // POST a form asking for JSON; resolves {ok, data}, or null when the answer is not JSON (signed out,
  // say): the caller then sends the form the ordinary way.
  function send(form) {
    return fetch(form.action, {
      method: 'POST', credentials: 'same-origin',
      headers: {'Accept': 'application/json', 'X-CSRF-Token': form.elements.csrf.value},
      body: new URLSearchParams(new FormData(form))
    }).then(function (r) {
      if ((r.headers.get('Content-Type') || '').indexOf('application/json') !== 0) return null;
      return r.json().then(function (data) { return {ok: r.ok, data: data}; });
    });
  }

  function showError(form, message) {
    var error = form.querySelector('.error');
    error.textContent = message || '';
    error.hidden = !message;
  }

  function enhanceAdding(section, form) {
    var list = section.querySelector('ol.comments');
    var button = form.querySelector('button[type=submit]');
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      button.disabled = true;
      send(form).then(function (answer) {
        if (answer === null) { form.submit(); return; }
        if (!answer.ok) { showError(form, 'Not posted: ' + (answer.data.error || 'the node refused it') + '.'); return; }
        showError(form, '');
        var empty = section.querySelector('p.empty');
        if (empty) empty.remove();
        list.appendChild(commentItem(form, answer.data));
        form.elements.body.value = '';
      }).catch(function () {
        showError(form, 'Not posted: the node cannot be reached right now. Your comment is kept here; try again.');
      }).then(function () { button.disabled = false; });
    });
  }

  function enhanceDeleting(section) {
    section.addEventListener('submit', function (e) {
      var form = e.target;
      if (!form.classList.contains('delete-comment')) return;
      e.preventDefault();
      if (!window.confirm('Delete this comment?')) return;
      send(form).then(function (answer) {
        if (answer === null) { form.submit(); return; }
        if (!answer.ok) { window.alert('Not deleted: ' + (answer.data.error || 'the node refused it') + '.'); return; }
        form.closest('li').remove();
      }).catch(function () { window.alert('Not deleted: the node cannot be reached right now.'); });
    });
  }

  function enhanceSeeking(section) {
    section.addEventListener('click', function (e) {
      var link = e.target.closest('a.seek');
      var player = mediaPlayer();
      if (!link || !player) return;
      e.preventDefault();
      player.currentTime = +link.dataset.seek;
      var playing = player.play();
      if (playing && playing.catch) playing.catch(function () {});
      player.scrollIntoView({block: 'nearest'});
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    var section = document.getElementById('comments');
    if (!section || !window.fetch || !window.URLSearchParams) return;
    var form = section.querySelector('form.add-comment');
    if (form) enhanceAdding(section, form);
    enhanceDeleting(section);
    enhanceSeeking(section);
  });
})();
