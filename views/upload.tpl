% rebase('base', title='Upload', user=user)
<h1>Upload</h1>
% if error:
<p class="error" role="alert">{{error}}</p>
% end
<form id="upload" method="post" action="/upload" enctype="multipart/form-data" class="card" data-csrf="{{csrf}}">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <label>File (up to {{max_mb}} MB) <input type="file" name="file" required></label>
  <label>Title <input name="title" maxlength="{{limits['title']}}"></label>
  <label>Description <textarea name="description" maxlength="{{limits['description']}}" rows="3"></textarea></label>
  <label>Tags, separated by commas <input name="tags"></label>
  <label class="check"><input type="checkbox" name="private" value="1"> Private (only you and the administrators)</label>
  <progress id="progress" max="100" value="0" hidden></progress>
  <p id="status" role="status"></p>
  <button type="submit">Upload</button>
</form>
