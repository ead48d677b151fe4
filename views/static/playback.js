// privtube: where you stopped. On a watch page the player resumes from the saved position (data-resume) and
// tells the node where it is every few seconds while playing, on pause and seek, and when the page is left.
// Without this file the player simply starts at the beginning.
// It also sends the "Mark as watched" and "Remove from Continue watching" buttons' forms in place (without
// it they are plain forms that reload the page).
(function () {
  'use strict';

  var EVERY = 10000;      // ms between reports while playing

  function start() {
    var page = document.querySelector('article.watch');
    var player = document.getElementById('player');
    if (!page || !player || typeof player.play !== 'function') return;    // a photo, or nothing playable
    var url = '/watch/' + encodeURIComponent(page.dataset.item) + '/position';
    var csrf = page.dataset.csrf;
    var played = false;
    var lastSent = null;
    var source = null;      // what the page loaded: a script that swaps the player's file (a queue) stops reports

    function numbers() {
      var sent = {position: player.currentTime.toFixed(2)};
      if (isFinite(player.duration) && player.duration > 0) sent.duration = player.duration.toFixed(2);
      return sent;
    }

    function report(leaving) {
      if (!played || !isFinite(player.currentTime) || player.currentSrc !== source) return;
      var sent = numbers();
      if (sent.position === lastSent && !leaving) return;
      lastSent = sent.position;
      if (leaving && navigator.sendBeacon) {
        // a beacon cannot carry headers: the token goes as the form field the node also accepts
        var form = new URLSearchParams(sent);
        form.set('csrf', csrf);
        navigator.sendBeacon(url, form);
        return;
      }
      fetch(url, {method: 'POST', credentials: 'same-origin', keepalive: true,
                  headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
                  body: JSON.stringify({position: Number(sent.position),
                                        duration: sent.duration ? Number(sent.duration) : null})})
        .catch(function () {});       // the next report will try again
    }

    function resume() {
      var at = parseFloat(page.dataset.resume || '');
      if (!(at > 0) || player.currentTime > 1) return;    // nothing saved, or already moved on
      if (isFinite(player.duration) && at >= player.duration) return;
      player.currentTime = at;
    }

    if (player.readyState >= 1) resume();
    else player.addEventListener('loadedmetadata', resume, {once: true});
    player.addEventListener('playing', function () {
      if (source === null) source = player.currentSrc;
      played = true;
    });
    document.addEventListener('marked', function () { played = false; });   // only playing again reports
    player.addEventListener('pause', function () { report(false); });
    player.addEventListener('seeked', function () { report(false); });
    player.addEventListener('ended', function () { report(false); });
    setInterval(function () { if (!player.paused) report(false); }, EVERY);
    window.addEventListener('pagehide', function () { report(true); });
    document.addEventListener('visibilitychange', function () {
      if (document.visibilityState === 'hidden') report(true);
    });
  }

  function send(form) {
    var body = new URLSearchParams(new FormData(form));
    return fetch(form.action, {method: 'POST', credentials: 'same-origin', body: body,
                               headers: {'Accept': 'application/json', 'X-CSRF-Token': body.get('csrf')}})
      .then(function (answer) {
        if (!answer.ok) throw new Error('refused');
        return answer.json();
      });
  }

  function markWatched(form, answer) {
    // the form now does the opposite; the page stops reporting a position until the player plays again
    var item = form.action.replace(/\/(un)?watched$/, '');
    form.action = item + (answer.watched ? '/unwatched' : '/watched');
    form.querySelector('.watched-state').textContent = answer.watched ? 'Watched' : '';
    form.querySelector('button').textContent = answer.watched ? 'Mark as not watched' : 'Mark as watched';
    document.dispatchEvent(new Event('marked'));
  }

  function leaveRow(form) {
    var card = form.closest('li');
    var row = card.closest('section');
    var next = card.nextElementSibling || card.previousElementSibling;
    card.remove();
    if (next) next.querySelector('a').focus();
    else if (row) {
      var after = row.nextElementSibling;
      row.remove();
      if (after) {
        var heading = after.querySelector('h2');
        if (heading) { heading.tabIndex = -1; heading.focus(); }
      }
    }
  }

  document.addEventListener('submit', function (event) {
    var form = event.target;
    var watched = form.classList.contains('mark-watched');
    if (!watched && !form.classList.contains('leave-continue')) return;
    event.preventDefault();
    send(form).then(function (answer) {
      if (watched) markWatched(form, answer);
      else leaveRow(form);
    }).catch(function () { form.submit(); });     // let the page say what went wrong
  });

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
