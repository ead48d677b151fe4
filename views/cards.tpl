<ul class="cards">
% for item, kind in items:
  <li><a href="/watch/{{item.id}}">
    % if item.thumbnail:
    <img class="thumb" src="/thumb/{{item.id}}" alt="" loading="lazy">
    % else:
    <img class="thumb" src="/static/{{kind}}.svg" alt="">
    % end
    <span class="kind kind-{{kind}}">{{kind}}</span>
    <span class="title">{{item.title}}</span>
    <span class="meta">{{item.views}} view{{'' if item.views == 1 else 's'}} · {{item.created[:10]}}{{'' if item.is_local else ' · from ' + item.origin}}</span>
  </a></li>
% end
</ul>
