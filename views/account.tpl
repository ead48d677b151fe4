% rebase('base', title='Account', user=user)
<h1>{{user.name}}</h1>
<p><a href="/shares">Shared links</a>: the links you made for people without an account.</p>
% if error:
<p class="error" role="alert">{{error}}</p>
% end
% if done:
<p class="message" role="status">Your password was changed. Other devices were signed out.</p>
% end
<form method="post" action="/account" class="card">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <label>Current password <input type="password" name="current" required autocomplete="current-password"></label>
  <label>New password ({{limits['password_min']}} characters or more) <input type="password" name="password" required minlength="{{limits['password_min']}}" maxlength="{{limits['password']}}" autocomplete="new-password"></label>
  <button type="submit">Change password</button>
</form>
% include('news_account', digest=digest)
% include('app_passwords', app_passwords=app_passwords)
