% rebase('base', title='Sign in', user=None)
<h1>Sign in</h1>
% if setup_where:
<p class="notice" role="status">{{setup_where}}</p>
% end
% if error:
<p class="error" role="alert">{{error}}</p>
% end
<form method="post" action="/login" class="card">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <input type="hidden" name="next" value="{{next}}">
  <label>User name <input name="username" value="{{username}}" autocomplete="username" required maxlength="{{limits['name']}}"></label>
  <label>Password <input type="password" name="password" autocomplete="current-password" required maxlength="{{limits['password']}}"></label>
  <button type="submit">Sign in</button>
</form>
