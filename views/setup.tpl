% rebase('base', title='Welcome', user=None)
<h1>Welcome to privtube</h1>
<p>Create the administrator of this node.</p>
% if error:
<p class="error" role="alert">{{error}}</p>
% end
<form method="post" action="/setup" class="card">
  <input type="hidden" name="token" value="{{token}}">
  <label>User name <input name="username" required maxlength="64"></label>
  <label>Password (8 characters or more) <input type="password" name="password" required minlength="8" maxlength="1024"></label>
  <button type="submit">Create administrator</button>
</form>
