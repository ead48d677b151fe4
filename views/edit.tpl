% rebase('base', title='Edit ' + item.title, user=user)
<h1>Edit</h1>
% if error:
<p class="error" role="alert">{{error}}</p>
% end
<form method="post" action="/edit/{{item.id}}" class="card">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <label>Title <input name="title" value="{{typed['title']}}" required maxlength="{{limits['title']}}"></label>
  <label>Description <textarea name="description" maxlength="{{limits['description']}}" rows="4">{{typed['description']}}</textarea></label>
  <label>Tags, separated by commas <input name="tags" value="{{typed['tags']}}"></label>
  <label class="check"><input type="checkbox" name="private" value="1" {{'checked' if typed['private'] else ''}}> Private</label>
  <button type="submit">Save</button>
</form>
<form method="get" action="/delete/{{item.id}}" class="card danger">
  <button type="submit">Delete (to the Trash)</button>
</form>
