% cover = music['cover']
<section class="music" data-queue-list aria-label="Tracks of {{album.name}}">
<div class="album-head">
  % if cover:
  <img class="album-cover" src="/thumb/{{cover.id}}" alt="Cover of {{album.name}}">
  % else:
  <img class="album-cover" src="/static/audio.svg" alt="">
  % end
  <div>
    <p class="meta">{{music['artist'] + ' · ' if music['artist'] else ''}}{{len(music['tracks'])}} track{{'' if len(music['tracks']) == 1 else 's'}}{{' · ' + music['length'] if music['length'] else ''}}</p>
    <p class="queue-actions"><button type="button" data-queue-play>Play all</button>
    <button type="button" data-queue-shuffle>Shuffle</button></p>
  </div>
</div>
<ol class="tracklist">
% for song, length in music['tracks']:
  <li data-queue-item data-id="{{song.id}}" data-title="{{song.title}}" data-artist="{{song.artist or ''}}"
      data-album="{{song.music_album or album.name}}" data-thumb="{{'/thumb/' + song.id if song.thumbnail else ('/thumb/' + cover.id if cover else '')}}">
    <button type="button" class="track-play" data-queue-start aria-label="Play {{song.title}}">&#9654;</button>
    <span class="track-number">{{('%d-' % song.disc if music['discs'] and song.disc else '') + (str(song.track) if song.track else '')}}</span>
    <a class="track-title" href="/watch/{{song.id}}">{{song.title}}</a>
    <span class="track-artist">{{song.artist or ''}}</span>
    <span class="track-duration">{{length}}</span>
  </li>
% end
</ol>
</section>
