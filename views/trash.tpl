% rebase('base', title='Trash', user=user)
<h1>Trash</h1>
<p>Deleted items wait here for {{days}} days, then they are removed for good. Until then you can restore them;
nobody else sees them, here or anywhere, and neither do peers.</p>
% if not items:
<p class="empty">The trash is empty.</p>
% else:
<ul class="trash">
  % for item, kind in items:
  % left = days_left(item)
  <li>
    <span class="kind kind-{{kind}}">{{kind}}</span> <strong class="title">{{item.title}}</strong>
    <span class="meta">{{human_size(item.size)}}</span>
    <span class="meta where">was at {{original(item)}}
    % if show_owner:
    · owner {{item.owner.name if item.owner_id else 'none'}}
    % end
    </span>
    <span class="meta">deleted {{shown_time(item.trashed)}} · removed for good in {{left}} day{{'' if left == 1 else 's'}}</span>
    <span class="actions">
      <form method="post" action="/trash/{{item.id}}/restore">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <button type="submit">Restore</button>
      </form>
      <a class="danger-link" href="/trash/{{item.id}}/delete">Delete for good</a>
    </span>
  </li>
  % end
</ul>
% end
