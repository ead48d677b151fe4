// The Shared links page: "Copy" puts a new link's address on the clipboard (or selects it to copy by hand).
document.addEventListener('click', function (event) {
  var button = event.target.closest('.share-copy');
  if (!button) return;
  var field = document.getElementById(button.dataset.copy);
  if (!field) return;
  field.select();
  var done = function () { button.textContent = 'Copied'; };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand('copy'); done(); });
  } else {
    document.execCommand('copy');
    done();
  }
});
