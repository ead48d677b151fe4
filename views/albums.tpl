% rebase('base', title='Albums', user=user)
<h1>Albums</h1>
% if error:
<p class="error" role="alert">{{error}}</p>
% end
% if albums:
% include('album_cards', albums=albums)
% else:
<p class="empty">No albums yet. Folders of the media folder become albums when the node scans them;
make one by hand below.</p>
% end
<h2>New album</h2>
<form method="post" action="/albums" class="card">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <label>Name <input name="name" required maxlength="{{limits['album']}}" value="{{typed.get('name', '')}}"></label>
  <label>Description <textarea name="description" rows="2" maxlength="{{limits['description']}}">{{typed.get('description', '')}}</textarea></label>
  <button type="submit">Create album</button>
</form>
