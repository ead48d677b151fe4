% rebase('base', title=item.title, user=user)
<article class="watch" data-item="{{item.id}}" data-kind="{{kind}}" data-csrf="{{csrf}}">
% if kind == 'video':
  <video id="player" src="/media/{{item.id}}" controls preload="metadata" playsinline poster="{{'/thumb/' + item.id if item.thumbnail else ''}}"></video>
% elif kind == 'audio':
  <audio id="player" src="/media/{{item.id}}" controls preload="metadata"></audio>
% elif kind == 'image':
  % if item.width and item.height:
  <img id="player" class="photo" src="/preview/{{item.id}}" alt="{{item.title}}" width="{{item.width}}" height="{{item.height}}">
  % else:
  <img id="player" class="photo" src="/preview/{{item.id}}" alt="{{item.title}}">
  % end
% else:
  <p class="notice" id="unplayable">This file cannot be played in the browser ({{why_not}}). Download it and open
  it with a media player such as VLC.</p>
% end
  % if item.media_state == 'failed':
  <p class="notice">privtube could not read this file ({{item.media_error}}); it may be damaged or incomplete.</p>
  % end
  <h1>{{item.title}}</h1>
  <p class="meta"><span id="views">{{item.views}}</span> views ·
  % if item.taken:
  taken <time datetime="{{item.taken}}">{{shown_date(item.taken)}}</time> ·
  % end
  added {{item.created[:10]}} · {{human_size(item.size)}} ·
  % if item.duration:
  {{'%d:%02d' % divmod(int(round(item.duration)), 60)}} ·
  % end
  % if item.width and item.height:
  {{item.width}}×{{item.height}} ·
  % end
  from {{origin}}{{' · by ' + owner if owner else ''}}{{' · private' if item.private else ''}}</p>
  % if offline:
  <p class="notice">{{origin}} is offline (last reached {{offline}}); playing may fail until it is back.</p>
  % end
  % if tags:
  <p class="tags">
  % from urllib.parse import urlencode
  % for tag in tags:
    <a href="/search?{{urlencode({'tag': tag})}}">{{tag}}</a>
  % end
  </p>
  % end
  % if item.description:
  <p class="description">{{item.description}}</p>
  % end
  <p class="actions"><a href="/media/{{item.id}}?download=1">Download</a>
  % if kind == 'image' and original:
   · <a href="/media/{{item.id}}">Original</a>
  % end
  % if may_edit:
   · <a href="/edit/{{item.id}}">Edit</a>
  % end
  </p>
  % if reach is not None:
  % include('reach', reach=reach)
  % end
</article>
<section id="comments">
  <h2>Comments</h2>
  % if comments_error:
  <p class="notice">{{comments_error}}</p>
  % elif not comments:
  <p class="empty">No comments yet. Be the first.</p>
  % end
  <ol class="comments">
  % for comment in comments:
    <li><strong>{{comment['author']}}</strong> <time>{{comment['created'][:16].replace('T', ' ')}}</time>
      <p>{{comment['body']}}</p>
      % if comment['may_delete']:
      <form method="post" action="/watch/{{item.id}}/comments/{{comment['id']}}/delete">
        <input type="hidden" name="csrf" value="{{csrf}}"><button class="link">Delete</button></form>
      % end
    </li>
  % end
  </ol>
  <form method="post" action="/watch/{{item.id}}/comments" class="card">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <label>Add a comment <textarea name="body" required maxlength="{{limits['comment']}}" rows="3"></textarea></label>
    <button type="submit">Post comment</button>
  </form>
</section>
