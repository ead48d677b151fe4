% rebase('base', title='Choose a new password', user=None)
<h1>Choose a new password</h1>
<p>For the account <strong>{{account}}</strong>.</p>
% if error:
<p class="error" role="alert">{{error}}</p>
% end
<form method="post" action="/reset" class="card">
  <input type="hidden" name="token" value="{{token}}">
  <label>New password ({{limits['password_min']}} characters or more) <input type="password" name="password" required minlength="{{limits['password_min']}}" maxlength="{{limits['password']}}" autocomplete="new-password"></label>
  <label>The same again <input type="password" name="again" required minlength="{{limits['password_min']}}" maxlength="{{limits['password']}}" autocomplete="new-password"></label>
  <button type="submit">Set password</button>
</form>
