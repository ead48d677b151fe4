% rebase('base', title=item.title, user=user)
<article class="watch" data-item="{{item.id}}" data-kind="{{kind}}" data-csrf="{{csrf}}" data-resume="{{'%.1f' % resume if resume else ''}}">
% if kind == 'video':
  <video id="player" src="{{src}}" controls preload="metadata" playsinline poster="{{'/thumb/' + item.id if item.thumbnail else ''}}">
  % for track in subtitles:
    % on = ' default' if track['id'] == default_track else ''   # a constant: no data unescaped
    % if track['lang']:
    <track kind="subtitles" src="/subtitles/{{item.id}}/{{track['id']}}" srclang="{{track['lang']}}" label="{{track['label']}}"{{!on}}>
    % else:
    <track kind="subtitles" src="/subtitles/{{item.id}}/{{track['id']}}" label="{{track['label']}}"{{!on}}>
    % end
  % end
  </video>
% elif kind == 'audio':
  % song_album = get('song_album')
  <div class="song" data-title="{{item.title}}" data-artist="{{item.artist or ''}}" data-album="{{item.music_album or (song_album.name if song_album else '')}}" data-thumb="{{'/thumb/' + item.id if item.thumbnail else ''}}">
  % if item.thumbnail:
    <img class="song-cover" src="/thumb/{{item.id}}" alt="Cover of {{item.music_album or item.title}}">
  % end
    <div class="song-play">
      <audio id="player" src="{{src}}" controls preload="metadata"></audio>
      % if item.artist or song_album or item.year:
      <p class="song-by">{{item.artist or ''}}{{' · ' if item.artist and song_album else ''}}
      % if song_album:
      <a href="/albums/{{song_album.id}}">{{item.music_album or song_album.name}}</a>{{' (track %d)' % item.track if item.track else ''}}
      % end
      {{' · %d' % item.year if item.year else ''}}
      </p>
      % end
    </div>
  </div>
% elif kind == 'image':
  % if item.width and item.height:
  <img id="player" class="photo" src="/preview/{{item.id}}" alt="{{item.title}}" width="{{item.width}}" height="{{item.height}}">
  % else:
  <img id="player" class="photo" src="/preview/{{item.id}}" alt="{{item.title}}">
  % end
% else:
  % if item.thumbnail:
  <img class="still" src="/thumb/{{item.id}}" alt="">
  % end
  <p class="notice" id="unplayable" data-preparing="{{'yes' if preparing else 'no'}}">{{why_not}}
  <a href="/media/{{item.id}}?download=1">Download the file</a>.</p>
% end
  % if item.media_state == 'failed':
  <p class="notice">privtube could not read this file ({{item.media_error}}); it may be damaged or incomplete.</p>
  % end
  <h1>{{item.title}}</h1>
  <p class="meta"><span id="views">{{item.views}}</span> <span id="views-unit">{{'view' if item.views == 1 else 'views'}}</span> ·
  % if item.taken:
  taken <time datetime="{{item.taken}}">{{shown_date(item.taken)}}</time> ·
  % end
  added {{item.created[:10]}} · {{human_size(item.size)}} ·
  % if item.duration:
  {{clock(item.duration)}} ·
  % end
  % if item.width and item.height and kind != 'audio':
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
  % if item.is_local and not item.private:
   · <a href="/shares/new?item={{item.id}}">Share link</a>
  % end
  % end
  </p>
  % if kind in ('video', 'audio'):
  <form method="post" action="/watch/{{item.id}}/{{'unwatched' if watched else 'watched'}}" class="inline mark-watched">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <span class="watched-state" role="status">{{'Watched' if watched else ''}}</span>
    <button type="submit">{{'Mark as not watched' if watched else 'Mark as watched'}}</button>
  </form>
  % end
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
      <p>{{!body_html(comment['body'], seek_links)}}</p>
      % if comment['may_delete']:
      <form method="post" action="/watch/{{item.id}}/comments/{{comment['id']}}/delete" class="delete-comment">
        <input type="hidden" name="csrf" value="{{csrf}}"><button class="link">Delete</button></form>
      % end
    </li>
  % end
  </ol>
  <form method="post" action="/watch/{{item.id}}/comments" class="card add-comment">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <label>Add a comment <textarea name="body" required maxlength="{{limits['comment']}}" rows="3"></textarea></label>
    <p class="error" role="alert" hidden></p>
    <button type="submit">Post comment</button>
  </form>
</section>
