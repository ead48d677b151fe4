% rebase('base', title='Upload', user=user)
<h1>Upload</h1>
% if error:
<p class="error" role="alert">{{error}}
% if duplicate:
<a href="/watch/{{duplicate.id}}">{{duplicate.title}}</a>
% end
</p>
% end
<form id="upload" method="post" action="/upload" enctype="multipart/form-data" class="card" data-csrf="{{csrf}}"
      data-max="{{max_mb * 1024 * 1024}}">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <div class="pickers">
    <label>File (up to {{max_mb}} MB) <input type="file" name="file" id="files" required></label>
    <label id="folder-picker" hidden>Or a whole folder <input type="file" id="folder" webkitdirectory></label>
  </div>
  <label>Title <input name="title" maxlength="{{limits['title']}}" value="{{form.getunicode('title') or ''}}"></label>
  <label>Description <textarea name="description" maxlength="{{limits['description']}}" rows="3">{{form.getunicode('description') or ''}}</textarea></label>
  <label>Tags, separated by commas <input name="tags" value="{{form.getunicode('tags') or ''}}"></label>
  <label>Into the album
    <select name="album">
      <option value="">none</option>
      % for album in albums:
      <option {{'selected' if form.getunicode('album') == album.name else ''}}>{{album.name}}</option>
      % end
    </select>
  </label>
  <label>or a new album named <input name="new_album" maxlength="{{limits['album']}}" value="{{form.getunicode('new_album') or ''}}"></label>
  <label class="check"><input type="checkbox" name="private" value="1" {{'checked' if form.get('private') else ''}}> Private (only you and the administrators)</label>
  <progress id="progress" max="100" value="0" hidden></progress>
  <p id="status" role="status"></p>
  <button type="submit" id="send">Upload</button>
</form>
<ul id="queue" class="queue" aria-live="polite"></ul>
