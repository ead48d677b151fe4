% rebase('base', title='Users', user=user)
% include('admin_nav')
<h1>Users</h1>
<table>
<tr><th>Name</th><th>Role</th><th>Groups</th><th></th></tr>
% for someone, names in users:
<tr><td>{{someone.name}}</td><td>{{'admin' if someone.is_admin else 'member'}}</td><td>{{', '.join(names)}}</td>
<td>
% if someone.id != user.id:
<form method="post" action="/admin/users"><input type="hidden" name="csrf" value="{{csrf}}">
<input type="hidden" name="action" value="remove"><input type="hidden" name="name" value="{{someone.name}}">
<button class="link">Remove</button></form>
% end
</td></tr>
% end
</table>
<h2>Add a user</h2>
<form method="post" action="/admin/users" class="card">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <label>Name <input name="name" required maxlength="{{limits['name']}}"></label>
  <label>Password ({{limits['password_min']}} characters or more) <input type="password" name="password" required minlength="{{limits['password_min']}}" maxlength="{{limits['password']}}"></label>
  <fieldset><legend>Groups</legend>
  % for group in groups:
    <label class="check"><input type="checkbox" name="groups" value="{{group.name}}" {{'checked' if group.name == 'members' else ''}}> {{group.name}}</label>
  % end
  </fieldset>
  <label class="check"><input type="checkbox" name="admin" value="1"> Administrator</label>
  <button type="submit">Add user</button>
</form>
% include('invites')
