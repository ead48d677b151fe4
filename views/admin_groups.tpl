% rebase('base', title='Groups', user=user)
% include('admin_nav')
<h1>Groups</h1>
<table class="stack">
<tr><th>Name</th><th>Rules</th><th><span class="sr-only">Remove</span></th></tr>
% for group in groups:
<tr><td data-label="Name">{{group.name}}</td><td data-label="Rules">{{' '.join(load_rules(group.rules))}}</td>
<td><form method="post" action="/admin/groups"><input type="hidden" name="csrf" value="{{csrf}}">
<input type="hidden" name="action" value="remove"><input type="hidden" name="name" value="{{group.name}}">
<button class="link">Remove</button></form></td></tr>
% end
</table>
<h2>Add a group</h2>
<form method="post" action="/admin/groups" class="card">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <label>Name <input name="name" required maxlength="{{limits['name']}}"></label>
  <label>Rules, separated by spaces: * · tag:NAME · album:NAME · origin:NAME <input name="rules" required value="*"></label>
  <button type="submit">Add group</button>
</form>
