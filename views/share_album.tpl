% rebase('share_base', title=album.name, og=og)
<h1>{{album.name}}</h1>
% if album.description:
<p class="description">{{album.description}}</p>
% end
% if items:
<ul class="cards share-cards">
% for item in items:
  <li><a href="/s/{{token}}/item/{{item.id}}">
  % if item.thumbnail:
    <img src="/s/{{token}}/item/{{item.id}}/thumb" alt="" loading="lazy">
  % else:
    <span class="no-thumb">{{kinds[item.id]}}</span>
  % end
    <span class="title">{{item.title}}</span></a></li>
% end
</ul>
% else:
<p class="empty">This album has nothing to show right now.</p>
% end
