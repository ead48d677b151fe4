% rebase('base', title='Library', user=user, refresh=refresh)
% include('admin_nav')
<h1>Library</h1>
<p>{{counts}}.
% if minutes:
The media folder is scanned every {{minutes}} minutes while the node runs.
% else:
Scheduled scans are off (<code>[store] scan_minutes = 0</code>): scan here or with <code>privtube scan</code>.
% end
</p>
<p class="message" role="status">{{line}}</p>
<form method="post" action="/admin/library" id="scan-now">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <button type="submit" {{'disabled' if status['state'] in ('queued', 'running') else ''}}>Scan now</button>
</form>
<p><small>A scan adds new files, follows moved and renamed ones (they keep their comments, views, tags and
albums), forgets removed ones, and makes every folder that holds media an album.</small></p>
