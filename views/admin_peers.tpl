% rebase('base', title='Peers', user=user)
% include('admin_nav')
<h1>Peers</h1>
% if started:
<p class="message" role="status">A sync of {{started}} has started; reload this page to see how it went.</p>
% end
% if not peers:
<p class="empty">No peers yet. Ask another home for a key, then run
<code>privtube peer add NAME URL --key KEY</code> on this node.</p>
% else:
<table>
<tr><th>Name</th><th>Status</th><th>Last success</th><th>Items</th><th>Last error</th><th></th></tr>
% for name, url, state in peers:
<tr><td>{{name}}<br><small>{{url}}</small></td>
<td>{{state.status if state else 'never synced'}}</td>
<td>{{shown_time(state.last_success) if state else 'never'}}</td>
<td>{{state.item_count if state else 0}}</td>
<td>{{state.last_error if state else ''}}</td>
<td><form method="post" action="/admin/peers"><input type="hidden" name="csrf" value="{{csrf}}">
<input type="hidden" name="name" value="{{name}}"><button>Sync now</button></form></td></tr>
% end
</table>
% end
% include('pairing')
