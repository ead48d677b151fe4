% rebase('base', title='Join privtube', user=None)
<h1>Welcome</h1>
<p>You were invited to this privtube. Choose the name you will sign in with and a password.</p>
% if error:
<p class="error" role="alert">{{error}}</p>
% end
<form method="post" action="/invite" class="card">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <input type="hidden" name="token" value="{{token}}">
  <label>Your name (letters, digits, _ . @ -) <input name="username" value="{{username}}" autocomplete="username" required maxlength="{{limits['name']}}"></label>
  <label>Password ({{limits['password_min']}} characters or more) <input type="password" name="password" autocomplete="new-password" required minlength="{{limits['password_min']}}" maxlength="{{limits['password']}}"></label>
  <label>The same password again <input type="password" name="again" autocomplete="new-password" required minlength="{{limits['password_min']}}" maxlength="{{limits['password']}}"></label>
  <button type="submit">Create my account</button>
</form>
