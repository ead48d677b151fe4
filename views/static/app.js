// privtube: upload progress, the view beacon and selecting many cards. Everything works without this file too.
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
    if (form && window.XMLHttpRequest) {
      form.addEventListener('submit', function (e) { e.preventDefault(); streamUpload(form); });
    }
    var article = document.querySelector('article.watch');
    if (article) viewBeacon(article);
  });
})();
