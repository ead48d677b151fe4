% rebase('base', title='Account', user=user)
<h1>{{user.name}}</h1>
% if error:
<p class="error" role="alert">{{error}}</p>
% end
% if done:
<p class="message" role="status">Your password was changed. Other devices were signed out.</p>
% end
<form method="post" action="/account" class="card">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <label>Current password <input type="password" name="current" required autocomplete="current-password"></label>
  <label>New password (8 characters or more) <input type="password" name="password" required minlength="8" autocomplete="new-password"></label>
  <button type="submit">Change password</button>
</form>
