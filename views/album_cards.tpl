<ul class="cards albums">
% for summary, kind in albums:
%   album, cover = summary.album, summary.cover
  <li><a href="/albums/{{album.id}}">
    % if cover is not None and cover.thumbnail:
    <img class="thumb" src="/thumb/{{cover.id}}" alt="" loading="lazy">
    % else:
    <img class="thumb" src="/static/{{kind}}.svg" alt="">
    % end
    <span class="kind">album</span>
    <span class="title">{{album.name}}</span>
    <span class="meta">{{summary.count}} item{{'' if summary.count == 1 else 's'}}{{' · ' + summary.dates if summary.count else ''}}{{'' if album.origin == 'local' else ' · from ' + album.origin}}</span>
  </a></li>
% end
</ul>
