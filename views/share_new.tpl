% rebase('base', title='Share link', user=user)
% what = item.title if item else album.name
<h1>A share link to {{what}}</h1>
<p>Anyone with the link sees only this {{'item' if item else 'album'}}, without an account, until it expires or you revoke it.</p>
% if error:
<p class="error" role="alert">{{error}}</p>
% end
<form method="post" action="/shares" class="card share-new">
  <input type="hidden" name="csrf" value="{{csrf}}">
  % if item:
  <input type="hidden" name="item" value="{{item.id}}">
  % else:
  <input type="hidden" name="album" value="{{album.id}}">
  % end
  <label>Expires after (days, at most {{max_days}}) <input type="number" name="days" value="{{days}}" min="1" max="{{max_days}}" required></label>
  <label>Password (optional, {{limits['password_min']}} characters or more) <input type="password" name="password" autocomplete="new-password" minlength="{{limits['password_min']}}" maxlength="{{limits['password']}}"></label>
  <label class="check"><input type="checkbox" name="allow_download" value="yes"{{!' checked' if download else ''}}> Allow downloading the file{{'' if item else 's'}}</label>
  <button type="submit">Make the link</button>
  <a class="cancel" href="{{'/watch/' + item.id if item else '/albums/' + album.id}}">Cancel</a>
</form>
