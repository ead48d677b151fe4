% rebase('base', title=album.name, user=user)
<h1>{{album.name}}</h1>
% if album.origin != 'local':
<p class="meta">An album from {{origin}}.</p>
% elif album.kind == 'folder':
<p class="meta">A folder of the media folder, in {{'track' if music else 'the'}} order{{'' if music else ' taken'}}.</p>
% elif album.kind == 'music':
<p class="meta">An album named by its songs' tags, in track order.</p>
% end
% if album.description:
<p class="description">{{album.description}}</p>
% end
% if notice:
<p class="notice" role="status">{{notice}}</p>
% end
% if error:
<p class="error" role="alert">{{error}}</p>
% end
% if music:
% include('tracks', album=album, music=music)
% end
% if items:
% include('bulk', album=album)
% include('cards', items=items, selectable=selectable)
% elif not music:
<p class="empty">This album has no items yet. Select items on a grid and add them to it.</p>
% end
<nav class="pages" aria-label="Pages of the album">
% if number > 1:
<a href="/albums/{{album.id}}?page={{number - 1}}">Previous</a>
% end
% if more:
<a href="/albums/{{album.id}}?page={{number + 1}}">Next</a>
% end
</nav>
% if reach is not None:
% include('reach', reach=reach)
% end
% if manage and album.origin == 'local':
<p class="actions"><a href="/shares/new?album={{album.id}}">Share link</a> for people without an account</p>
% end
% if manage:
% if arrange:
<h2>Arrange</h2>
<table class="arrange stack">
<tr><th>#</th><th>Item</th></tr>
% for item, place, up, down in arrange:
<tr><td data-label="Place">{{place}}</td><td><strong>{{item.title}}</strong>{{' (cover)' if album.cover_id == item.id else ''}}
<div class="actions">
  % if reorder:
  <form method="post" action="/albums/{{album.id}}/move" class="inline"><input type="hidden" name="csrf" value="{{csrf}}">
    <input type="hidden" name="item" value="{{item.id}}">
    <input name="position" value="{{place}}" size="4" inputmode="numeric" aria-label="Position of {{item.title}}">
    <button type="submit">Move</button></form>
  % if up:
  <form method="post" action="/albums/{{album.id}}/move" class="inline"><input type="hidden" name="csrf" value="{{csrf}}">
    <input type="hidden" name="item" value="{{item.id}}"><input type="hidden" name="position" value="{{up}}">
    <button type="submit" class="link quiet" aria-label="Move {{item.title}} up">Up</button></form>
  % end
  % if down:
  <form method="post" action="/albums/{{album.id}}/move" class="inline"><input type="hidden" name="csrf" value="{{csrf}}">
    <input type="hidden" name="item" value="{{item.id}}"><input type="hidden" name="position" value="{{down}}">
    <button type="submit" class="link quiet" aria-label="Move {{item.title}} down">Down</button></form>
  % end
  % end
  % if album.cover_id != item.id:
  <form method="post" action="/albums/{{album.id}}/cover" class="inline"><input type="hidden" name="csrf" value="{{csrf}}">
    <input type="hidden" name="item" value="{{item.id}}"><button type="submit" class="link quiet">Make cover</button></form>
  % end
  % if album.kind == 'made':
  <form method="post" action="/albums/{{album.id}}/remove" class="inline"><input type="hidden" name="csrf" value="{{csrf}}">
    <input type="hidden" name="item" value="{{item.id}}"><button type="submit" class="link">Remove from album</button></form>
  % end
</div></td></tr>
% end
</table>
% end
<h2>Change this album</h2>
<form method="post" action="/albums/{{album.id}}/rename" class="card">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <label>Name <input name="name" required maxlength="{{limits['album']}}" value="{{album.name}}"></label>
  <p class="notice">Access rules name albums: after a rename, rules naming <code>album:{{album.name}}</code> stop
  matching this album{{'' if naming is None else (' (now: ' + ', '.join(naming) + ')' if naming else ' (no group or key names it now)')}}.</p>
  <button type="submit">Rename</button>
</form>
<form method="post" action="/albums/{{album.id}}/describe" class="card">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <label>Description <textarea name="description" rows="3" maxlength="{{limits['description']}}">{{album.description}}</textarea></label>
  <button type="submit">Save description</button>
</form>
<p class="card danger"><a href="/albums/{{album.id}}/delete">Delete this album…</a> (its items stay in the library)</p>
% end
