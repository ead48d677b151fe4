// While a video is being prepared for the browser (privtube_remux), look at its page again every 15 s and
// reload it once the page no longer says so: the player then appears, or the reason it cannot play.
(function () {
  'use strict';
  var notice = document.querySelector('#unplayable[data-preparing="yes"]');
  if (!notice) {
    return;
  }
  var every = 15000;
  function look() {
    fetch(location.pathname, {credentials: 'same-origin'}).then(function (answer) {
      return answer.ok ? answer.text() : '';
    }).then(function (text) {
      if (text && text.indexOf('data-preparing="yes"') < 0) {
        location.reload();
      } else {
        setTimeout(look, every);
      }
    }).catch(function () {
      setTimeout(look, every);
    });
  }
  setTimeout(look, every);
})();
