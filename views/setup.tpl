% rebase('base', title='Welcome', user=None)
<h1>Welcome to privtube</h1>
<p>Create the administrator of this node.</p>
% if error:
<p class="error" role="alert">{{error}}</p>
% end
<form method="post" action="/setup" class="card">
  <input type="hidden" name="token" value="{{token}}">
  <label>User name <input name="username" value="{{username}}" required maxlength="{{limits['name']}}"></label>
  <label>Password ({{limits['password_min']}} characters or more) <input type="password" name="password" required minlength="{{limits['password_min']}}" maxlength="{{limits['password']}}"></label>
  <button type="submit">Create administrator</button>
</form>
