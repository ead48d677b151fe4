<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<title>{{title}} · shared via privtube</title>
% og = get('og')
% if og:
<meta property="og:title" content="{{og['title']}}">
<meta property="og:type" content="{{og['type']}}">
<meta property="og:url" content="{{og['url']}}">
<meta property="og:site_name" content="privtube">
% if og['image']:
<meta property="og:image" content="{{og['image']}}">
% end
% end
<link rel="stylesheet" href="/static/style.css">
</head>
<body class="shared">
<header class="share-header">
  <span class="brand">Shared with you via privtube</span>
</header>
<main>
{{!base}}
</main>
</body>
</html>
