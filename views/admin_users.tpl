% rebase('base', title='Users', user=user)
% include('admin_nav')
<h1>Users</h1>
<table class="stack admin-list">
<thead><tr><th>Name</th><th>Role</th><th>Groups</th><th>Reset link</th><th><span class="sr-only">Actions</span></th></tr></thead>
<tbody>
% for someone, names in users:
<tr><td data-label="Name">{{someone.name}}</td><td data-label="Role">{{'administrator' if someone.is_admin else 'member'}}</td>
<td data-label="Groups">{{', '.join(names) or 'none'}}</td>
<td data-label="Reset link">{{('open until ' + shown_time(resets[someone.id])) if someone.id in resets else '-'}}</td>
<td data-label="Actions"><a href="/admin/users/{{someone.name}}">Edit</a></td></tr>
% end
</tbody>
</table>
<h2 id="add-user">Add a user</h2>
% if error:
<p class="error" role="alert">{{error}}</p>
% end
<form method="post" action="/admin/users" class="card">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <label>Name <input name="name" required maxlength="{{limits['name']}}" value="{{typed.get('name', '')}}"></label>
  <label>Password ({{limits['password_min']}} characters or more) <input type="password" name="password" required minlength="{{limits['password_min']}}" maxlength="{{limits['password']}}"></label>
  <fieldset><legend>Groups</legend>
  % chosen = typed.get('groups') if typed else ['members']
  % for group in groups:
    <label class="check"><input type="checkbox" name="groups" value="{{group.name}}" {{'checked' if group.name in chosen else ''}}> {{group.name}}</label>
  % end
  </fieldset>
  <label class="check"><input type="checkbox" name="admin" value="1" {{'checked' if typed.get('admin') else ''}}> Administrator</label>
  <button type="submit">Add user</button>
</form>
% include('invites')
