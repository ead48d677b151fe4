% rebase('share_base', title='Password needed')
<h1>This link has a password</h1>
<p>Type the password the person who sent the link gave you.</p>
% if error:
<p class="error" role="alert">{{error}}</p>
% end
<form method="post" action="/s/{{token}}" class="card share-password">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <label>Password <input type="password" name="password" required autocomplete="off" maxlength="{{limits['password']}}" autofocus></label>
  <button type="submit">Open</button>
</form>
