% rebase('base', title='Group ' + group.name, user=user)
% include('admin_nav')
<p><a class="back" href="/admin/groups">&larr; Groups</a></p>
<h1>Group {{group.name}}</h1>
% if error:
<p class="error" role="alert">{{error}}</p>
% end
<form method="post" action="/admin/groups/{{group.name}}" class="card">
  <input type="hidden" name="csrf" value="{{csrf}}">
  % if group.name == default:
  <input type="hidden" name="name" value="{{group.name}}">
  <p>New users join <strong>{{default}}</strong> unless told otherwise, so it keeps its name.</p>
  % else:
  <label>Name <input name="name" required maxlength="{{limits['name']}}" value="{{typed['name']}}"></label>
  % end
  <label>Rules, separated by spaces: * · tag:NAME · album:NAME · origin:NAME <input name="rules" required value="{{typed['rules']}}"></label>
  <button type="submit">Save</button>
</form>
<h2>Members</h2>
% if members:
<ul class="members">
% for name in members:
  <li><a href="/admin/users/{{name}}">{{name}}</a></li>
% end
</ul>
% else:
<p class="empty">Nobody is in this group. Add people from their page under Users.</p>
% end
<p><a class="danger-link" href="/admin/groups/{{group.name}}/remove">Remove the group {{group.name}}…</a></p>
