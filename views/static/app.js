// privtube: upload progress and the view beacon. Everything works without this file too.
(function () {
  'use strict';

  function streamUpload(form) {
    var file = form.elements.file.files[0];
    if (!file) return;
    var query = new URLSearchParams({
      title: form.elements.title.value || file.name.replace(/\.[^.]*$/, ''),
      description: form.elements.description.value,
      tags: form.elements.tags.value,
      filename: file.name
    });
    if (form.elements.private.checked) query.set('private', '1');
    var xhr = new XMLHttpRequest();
    var progress = document.getElementById('progress');
    var status = document.getElementById('status');
    xhr.open('POST', '/upload?' + query.toString());
    xhr.setRequestHeader('X-CSRF-Token', form.dataset.csrf);
    xhr.setRequestHeader('X-Requested-With', 'fetch');
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    progress.hidden = false;
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) progress.value = Math.round(100 * e.loaded / e.total);
    };
    xhr.onload = function () {
      var answer = null;
      try { answer = JSON.parse(xhr.responseText); } catch (err) { answer = null; }
      if (xhr.status === 200 && answer && answer.url) {
        window.location = answer.url;
      } else {
        status.textContent = 'The upload failed (' + xhr.status + '). ' +
          (xhr.status === 413 ? 'The file is too large.' : 'Please try again.');
      }
    };
    xhr.onerror = function () { status.textContent = 'The upload was interrupted. Nothing was saved.'; };
    status.textContent = 'Uploading ' + file.name + '…';
    xhr.send(file);
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
      }).catch(function () { sent = false; });
    }
    if (!player) return;
    if (article.dataset.kind === 'image') { send(); return; }
    player.addEventListener('timeupdate', function () { if (player.currentTime >= 10) send(); });
    player.addEventListener('ended', send);
  }

  document.addEventListener('DOMContentLoaded', function () {
    var form = document.getElementById('upload');
    if (form && window.XMLHttpRequest) {
      form.addEventListener('submit', function (e) { e.preventDefault(); streamUpload(form); });
    }
    var article = document.querySelector('article.watch');
    if (article) viewBeacon(article);
  });
})();
