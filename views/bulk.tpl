% # The bulk form of a grid: cards' checkboxes (form="bulk") send their ids with it. Values from
% # privtube_library.grid_tools; `album` (optional) is the album the grid shows.
% album = get('album', None)
% if selectable:
<form id="bulk" class="bulk card" method="post" action="/bulk">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <input type="hidden" name="back" value="{{back}}">
  <p class="bulk-pick"><button type="button" class="link-button" data-select="all" hidden>Select all</button>
    <button type="button" class="link-button" data-select="none" hidden>Select none</button>
    <span class="bulk-count" aria-live="polite">Tick items to change several at once (shift-click selects a range).</span></p>
  <div class="bulk-do">
    <select name="action" aria-label="What to do with the selected items" required>
      <option value="">Change selected…</option>
      % for value, label in actions:
      <option value="{{value}}">{{label}}</option>
      % end
    </select>
    <input name="tags" placeholder="tags, comma separated" aria-label="Tags to add or remove" maxlength="1000">
    <select name="album" aria-label="Album">
      <option value="">new album (name it) →</option>
      % for choice in bulk_albums:
      <option value="{{choice.id}}" {{'selected' if album is not None and choice.id == album.id else ''}}>{{choice.name}}</option>
      % end
    </select>
    <input name="new_album" placeholder="new album name" aria-label="New album name" maxlength="{{limits['album']}}">
    <button type="submit">Apply</button>
  </div>
</form>
% end
