% rebase('base', title='Peer ' + peer_name, user=user)
% include('admin_nav')
<p><a class="back" href="/admin/peers">&larr; Peers</a></p>
<h1>Peer {{peer_name}}</h1>
% if result:
<p class="message" role="status">{{result}}</p>
% end
<p id="peer-status">Status: {{state.status if state else 'never synced'}} ·
last success: {{shown_time(state.last_success) if state and state.last_success else 'never'}} ·
{{state.item_count if state else 0}} items{{(' · last error: ' + state.last_error) if state and state.last_error else ''}}</p>
<form method="post" action="/admin/peers/{{peer_name}}/sync">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <button type="submit">Sync now</button>
</form>
% if error:
<p class="error" role="alert">{{error}}</p>
% end
<form method="post" action="/admin/peers/{{peer_name}}" class="card" id="edit-peer">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <label>Address <input name="url" type="url" required value="{{typed['url']}}"></label>
  <label>Key <input name="key" required value="{{typed['key']}}" autocomplete="off"></label>
  <label>CA file (only for a peer with its own certificate authority) <input name="ca_file" value="{{typed['ca_file']}}"></label>
  <button type="submit">Save</button>
</form>
<p><a class="danger-link" href="/admin/peers/{{peer_name}}/remove">Remove the peer {{peer_name}}…</a></p>
