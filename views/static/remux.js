// While a video is being prepared for the browser (privtube_remux), look at its page again (after 2 s, then
// less often, at most every 15 s) and reload it once the page no longer says so: the player then appears,
// or the reason it cannot play. A short film is often rewrapped within seconds.
(function () {
  'use strict';
  var notice = document.querySelector('#unplayable[data-preparing="yes"]');
  if (!notice) {
    return;
  }
  var every = 2000;
  function later() {
    setTimeout(look, every);
    every = Math.min(every * 2, 15000);
  }
  function look() {
    fetch(location.pathname, {credentials: 'same-origin'}).then(function (answer) {
      return answer.ok ? answer.text() : '';
    }).then(function (text) {
      if (text && text.indexOf('data-preparing="yes"') < 0) {
        location.reload();
      } else {
        later();
      }
    }).catch(later);
  }
  later();
})();
