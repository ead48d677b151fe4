% rebase('base', title='Search', user=user)
<h1>Search</h1>
<form action="/search" method="get" class="filters">
  <input type="search" name="q" value="{{q}}" placeholder="Words from a title, description or tag" aria-label="Search words">
  <input name="tag" value="{{tag}}" placeholder="tag" aria-label="Tag">
  <select name="kind" aria-label="Kind">
    <option value="">any kind</option>
    % for k in kinds:
    <option value="{{k}}" {{'selected' if kind == k else ''}}>{{k}}</option>
    % end
  </select>
  <select name="origin" aria-label="Origin">
    <option value="">every node</option>
    % for name in origins:
    <option value="{{name}}" {{'selected' if origin == name else ''}}>{{name}}</option>
    % end
  </select>
  <select name="sort" aria-label="Sort">
    % for value, label in sorts:
    <option value="{{value}}" {{'selected' if sort == value else ''}}>{{label}}</option>
    % end
  </select>
  <button type="submit">Search</button>
</form>
% if albums:
<section><h2>Albums</h2>
% include('album_cards', albums=albums)
</section>
% if results:
<h2>Items</h2>
% end
% end
% if not results:
<p class="empty">Nothing found{{' for "%s"' % q if q else ''}}. Try fewer or shorter words.</p>
% else:
% if newest_instead:
<p class="notice">Many items match; the newest come first. Add words to narrow the search.</p>
% end
% include('bulk')
% include('cards', items=results, selectable=selectable)
% end
<nav class="pages" aria-label="Pages of results">
% from urllib.parse import urlencode
% if page > 1:
<a href="/search?{{urlencode(dict(q=q, tag=tag, kind=kind, origin=origin, sort=sort, page=page - 1))}}">Previous</a>
% end
% if more:
<a href="/search?{{urlencode(dict(q=q, tag=tag, kind=kind, origin=origin, sort=sort, page=page + 1))}}">Next</a>
% end
</nav>
