<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}} · {{site + ' · privtube' if get('site') else 'privtube'}}</title>
% if get('refresh'):
<meta http-equiv="refresh" content="{{refresh}}">
% end
<link rel="stylesheet" href="/static/style.css">
<script src="/static/app.js" defer></script>
<script src="/static/copy.js" defer></script>
<script src="/static/playback.js" defer></script>
<script src="/static/gallery.js" defer></script>
<script src="/static/comments.js" defer></script>
<script src="/static/queue.js" defer></script>
<script src="/static/remux.js" defer></script>
</head>
<body>
<header>
  % if get('site'):
  <a class="brand" href="/">{{site}}<small> · privtube</small></a>
  % else:
  <a class="brand" href="/">privtube</a>
  % end
  % if user:
  <form class="find" action="/search" method="get"><input type="search" name="q" value="{{get('q', '')}}" placeholder="Search" aria-label="Search"></form>
  <nav aria-label="Main">
    <a href="/albums"{{!current('/albums')}}>Albums</a>
    <a href="/timeline"{{!current('/timeline')}}>Timeline</a>
    <a href="/upload"{{!current('/upload')}}>Upload</a>
    <a href="/trash"{{!current('/trash')}}>Trash</a>
    % if user.is_admin:
    <a href="/admin/users"{{!current('/admin')}}>Admin</a>
    % end
    <a href="/account"{{!current('/account')}}>{{user.name}}</a>
    <a href="/logout">Sign out</a>
  </nav>
  % end
</header>
<main>
{{!base}}
</main>
</body>
</html>
