% rebase('base', title=someone.name, user=user)
% include('admin_nav')
<p><a class="back" href="/admin/users">&larr; Users</a></p>
<h1>{{someone.name}}</h1>
% if error:
<p class="error" role="alert">{{error}}</p>
% end
<form method="post" action="/admin/users/{{someone.name}}" class="card" id="user-groups">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <fieldset><legend>Groups (what {{someone.name}} may see)</legend>
  % for group in groups:
    <label class="check"><input type="checkbox" name="groups" value="{{group.name}}" {{'checked' if group.name in chosen['groups'] else ''}}> {{group.name}}</label>
  % end
  </fieldset>
  <label class="check"><input type="checkbox" name="admin" value="1" {{'checked' if chosen['admin'] else ''}}> Administrator (sees everything and runs this node)</label>
  <button type="submit">Save</button>
</form>
<h2>Password</h2>
% if link:
<div class="card notice" role="status">
  <p>Send this link to {{someone.name}} (it is shown this once, works once, for {{reset_days}} days):</p>
  <pre id="reset-link">{{link}}</pre>
</div>
% elif reset_until:
<form method="post" action="/admin/users/{{someone.name}}/reset" id="cancel-reset">
  <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="action" value="cancel">
  <p>A reset link is open until {{shown_time(reset_until)}}; a new one replaces it. <button class="link">Cancel it</button></p>
</form>
% end
<form method="post" action="/admin/users/{{someone.name}}/reset" class="card" id="user-reset">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <p>Forgot their password? Make a link with which {{someone.name}} chooses a new one; every device they are signed in on is then signed out.</p>
  <button type="submit">Make a reset link</button>
</form>
% if someone.id != user.id:
<p><a class="danger-link" href="/admin/users/{{someone.name}}/remove">Remove {{someone.name}}…</a></p>
% end
