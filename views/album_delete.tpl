% rebase('base', title='Delete ' + album.name, user=user)
<h1>Delete the album "{{album.name}}"?</h1>
<p>The album goes; its {{count}} item{{'' if count == 1 else 's'}} stay in the library. Rules naming
<code>album:{{album.name}}</code> stop matching them.
% if album.kind == 'folder':
A folder album comes back at the next scan while its folder exists.
% end
</p>
<form method="post" action="/albums/{{album.id}}/delete" class="card danger">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <button type="submit">Delete the album</button>
  <a href="/albums/{{album.id}}">Keep it</a>
</form>
