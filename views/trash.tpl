% rebase('base', title='Trash', user=user)
<h1>Trash</h1>
<p>Deleted items stay here for {{days}} days: restore them, or delete them for good. After that they are removed
for good. Nobody else sees them here or anywhere, not even peers.</p>
% if not items:
<p class="empty">The trash is empty.</p>
% else:
<table class="trash">
  <tr><th>Item</th><th>Was at</th>
    % if show_owner:
    <th>Owner</th>
    % end
    <th>Deleted</th><th>Removed for good in</th><th></th></tr>
  % for item, kind in items:
  <tr>
    <td><span class="kind kind-{{kind}}">{{kind}}</span> <strong>{{item.title}}</strong> <span class="meta">{{human_size(item.size)}}</span></td>
    <td class="meta">{{original(item)}}</td>
    % if show_owner:
    <td>{{item.owner.name if item.owner_id else 'the node'}}</td>
    % end
    <td class="meta">{{shown_time(item.trashed)}}</td>
    % left = days_left(item)
    <td>{{left}} day{{'' if left == 1 else 's'}}</td>
    <td class="actions">
      <form method="post" action="/trash/{{item.id}}/restore">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <button type="submit">Restore</button>
      </form>
      <a class="danger-link" href="/trash/{{item.id}}/delete">Delete for good</a>
    </td>
  </tr>
  % end
</table>
% end
