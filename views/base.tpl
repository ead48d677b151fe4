<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}} · privtube</title>
% if get('refresh'):
<meta http-equiv="refresh" content="{{refresh}}">
% end
<link rel="stylesheet" href="/static/style.css">
<script src="/static/app.js" defer></script>
<script src="/static/people.js" defer></script>
<script src="/static/playback.js" defer></script>
<script src="/static/gallery.js" defer></script>
<script src="/static/comments.js" defer></script>
<script src="/static/queue.js" defer></script>
<script src="/static/remux.js" defer></script>
</head>
<body>
<header>
  <a class="brand" href="/">privtube</a>
  % if user:
  <form class="find" action="/search" method="get"><input type="search" name="q" placeholder="Search" aria-label="Search"></form>
  <nav>
    <a href="/albums">Albums</a>
    <a href="/timeline">Timeline</a>
    <a href="/upload">Upload</a>
    <a href="/trash">Trash</a>
    % if user.is_admin:
    <a href="/admin/users">Admin</a>
    % end
    <a href="/account">{{user.name}}</a>
    <a href="/logout">Sign out</a>
  </nav>
  % end
</header>
<main>
{{!base}}
</main>
</body>
</html>
