% rebase('base', title='Groups', user=user)
% include('admin_nav')
<h1>Groups</h1>
<table class="stack admin-list">
<thead><tr><th>Name</th><th>Rules</th><th>Members</th><th><span class="sr-only">Actions</span></th></tr></thead>
<tbody>
% for group in groups:
<tr><td data-label="Name">{{group.name}}</td><td data-label="Rules">{{' '.join(load_rules(group.rules))}}</td>
<td data-label="Members">{{', '.join(members.get(group.name, [])) or 'nobody'}}</td>
<td data-label="Actions"><a href="/admin/groups/{{group.name}}">Edit</a></td></tr>
% end
</tbody>
</table>
<h2>Add a group</h2>
% if error:
<p class="error" role="alert">{{error}}</p>
% end
<form method="post" action="/admin/groups" class="card">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <label>Name <input name="name" required maxlength="{{limits['name']}}" value="{{typed.get('name', '')}}"></label>
  <label>Rules, separated by spaces: * · tag:NAME · album:NAME · origin:NAME <input name="rules" required value="{{typed.get('rules', '*')}}"></label>
  <button type="submit">Add group</button>
</form>
