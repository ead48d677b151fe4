% rebase('base', title='Delete items?', user=user)
<h1>Delete {{len(ids)}} item{{'' if len(ids) == 1 else 's'}}?</h1>
<form method="post" action="/bulk" class="card danger">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <input type="hidden" name="back" value="{{back}}">
  <input type="hidden" name="action" value="delete">
  <input type="hidden" name="confirm" value="1">
  % for item_id in ids:
  <input type="hidden" name="id" value="{{item_id}}">
  % end
  <p>The selected items you may change will be deleted. Items of others are left as they are.</p>
  <button type="submit">Delete them</button> <a href="{{back}}">Cancel</a>
</form>
