% rebase('share_base', title=item.title, og=og)
<article class="watch shared-item">
% if kind == 'video':
  <video id="player" src="{{base}}/media" controls preload="metadata" playsinline poster="{{base + '/thumb' if item.thumbnail else ''}}"></video>
% elif kind == 'audio':
  % if item.thumbnail:
  <img class="song-cover" src="{{base}}/thumb" alt="">
  % end
  <audio id="player" src="{{base}}/media" controls preload="metadata"></audio>
% elif kind == 'image':
  <img id="player" src="{{base}}/preview" alt="{{item.title}}">
% else:
  % if item.thumbnail:
  <img class="still" src="{{base}}/thumb" alt="">
  % end
  <p class="notice">This file cannot be shown in the browser.</p>
% end
  <h1>{{item.title}}</h1>
  <p class="meta">
  % if item.taken:
  taken <time datetime="{{item.taken}}">{{shown_date(item.taken)}}</time> ·
  % end
  {{human_size(item.size)}}{{' · ' + clock(item.duration) if item.duration else ''}}</p>
  % if item.description:
  <p class="description">{{item.description}}</p>
  % end
  % if album or download:
  <p class="actions">
  % if album:
  <a href="/s/{{token}}">Back to the album</a>
  % end
  % if download:
  {{' · ' if album else ''}}<a href="{{base}}/media?download=1">Download</a>
  % end
  </p>
  % end
</article>
