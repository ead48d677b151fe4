% rebase('base', title='Peers', user=user)
% include('admin_nav')
<h1>Peers</h1>
% if result:
<p class="message" role="status">{{result}}</p>
% end
% if not peers:
<p class="empty">No peers yet. Ask another home for a key, then paste the line it sends below.</p>
% else:
<table class="stack admin-list">
<thead><tr><th>Name</th><th>Status</th><th>Last success</th><th>Items</th><th>Last error</th><th><span class="sr-only">Actions</span></th></tr></thead>
<tbody>
% for name, url, state in peers:
<tr><td data-label="Name">{{name}}<br><small class="url">{{url}}</small></td>
<td data-label="Status">{{state.status if state else 'never synced'}}</td>
<td data-label="Last success">{{shown_time(state.last_success) if state and state.last_success else 'never'}}</td>
<td data-label="Items">{{state.item_count if state else 0}}</td>
<td data-label="Last error">{{state.last_error if state else ''}}</td>
<td data-label="Actions"><a href="/admin/peers/{{name}}">Edit</a>
<form method="post" action="/admin/peers/{{name}}/sync" class="inline"><input type="hidden" name="csrf" value="{{csrf}}">
<button>Sync now</button></form></td></tr>
% end
</tbody>
</table>
% end
<h2>Add a peer</h2>
% if error:
<p class="error" role="alert">{{error}}</p>
% end
<form method="post" action="/admin/peers" class="card" id="add-peer">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <label>The line the other home sent you <input name="line" value="{{typed.get('line', '')}}" placeholder="privtube peer add NAME URL --key KEY" autocomplete="off"></label>
  <p><small>Or fill in its parts:</small></p>
  <label>Name <input name="name" maxlength="{{limits['name']}}" value="{{typed.get('name', '')}}"></label>
  <label>Address <input name="url" type="url" value="{{typed.get('url', '')}}" placeholder="https://alice.example.org"></label>
  <label>Key <input name="key" value="{{typed.get('key', '')}}" autocomplete="off"></label>
  <label>CA file (only for a peer with its own certificate authority) <input name="ca_file" value="{{typed.get('ca_file', '')}}"></label>
  <button type="submit">Add peer</button>
</form>
% include('pairing')
