% rebase('base', title='Keys', user=user)
% include('admin_nav')
<h1>Keys</h1>
% if new_key:
<div class="card notice" role="status">
  <p>The new key, shown this once:</p>
  <pre id="new-key">{{new_key}}</pre>
  <p>Send this line to the person who runs the peer node:</p>
  <pre id="peer-line">{{peer_line}}</pre>
</div>
% end
% include('admin_reach')
% if not keys:
<p class="empty">No keys yet. Issue one for each peer node or script that should read this node.</p>
% else:
<table class="stack admin-list">
<thead><tr><th>Name</th><th>Rules</th><th>Manage</th><th>Created</th><th><span class="sr-only">Actions</span></th></tr></thead>
<tbody>
% for key in keys:
<tr><td data-label="Name">{{key.name}}</td><td data-label="Rules">{{' '.join(load_rules(key.rules))}}</td><td data-label="Manage">{{'yes' if key.manage else 'no'}}</td><td data-label="Created">{{key.created[:10]}}</td>
<td data-label="Actions"><a href="/admin/keys/{{key.name}}">Edit</a>
<form method="post" action="/admin/keys" class="inline"><input type="hidden" name="csrf" value="{{csrf}}">
<input type="hidden" name="action" value="revoke"><input type="hidden" name="name" value="{{key.name}}">
<button class="link">Revoke</button></form></td></tr>
% end
</tbody>
</table>
% end
<h2>Issue a key</h2>
% if error:
<p class="error" role="alert">{{error}}</p>
% end
<form method="post" action="/admin/keys" class="card">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <label>Name (the peer's name) <input name="name" required maxlength="{{limits['name']}}" value="{{typed.get('name', '')}}"></label>
  <label>Rules, separated by spaces: * · tag:NAME · album:NAME <input name="rules" required value="{{typed.get('rules', '*')}}"></label>
  <label class="check"><input type="checkbox" name="manage" value="1" {{'checked' if typed.get('manage') else ''}}> May upload, edit and delete (for scripts)</label>
  <button type="submit">Issue key</button>
</form>
