% selectable = get('selectable', ())
% notes = get('notes', {})
% marks = get('marks', {})
% removable = get('removable', False)
<ul class="cards{{' selectable' if selectable else ''}}">
% for item, kind in items:
  <li>
    % if item.id in selectable:
    <label class="pick" title="Select"><input type="checkbox" name="id" value="{{item.id}}" form="bulk" aria-label="Select {{item.title}}"></label>
    % end
    <a href="/watch/{{item.id}}" data-id="{{item.id}}" data-kind="{{kind}}">
    % if item.thumbnail:
    <img class="thumb" src="/thumb/{{item.id}}" alt="" loading="lazy">
    % else:
    <img class="thumb" src="/static/{{kind}}.svg" alt="">
    % end
    % if kind == 'video' and item.duration:
    <span class="duration">{{clock(item.duration)}}</span>
    % end
    % include('watched', mark=marks.get(item.id))
    <span class="kind kind-{{kind}}">{{kind}}</span>
    <span class="title">{{item.title}}</span>
    % if item.artist:
    <span class="artist">{{item.artist}}{{' · track %d' % item.track if item.track else ''}}</span>
    % end
    <span class="meta">{{notes[item.id] + ' · ' if item.id in notes else ''}}{{item.views}} view{{'' if item.views == 1 else 's'}} · {{shown_date(item.taken) if item.taken else item.created[:10]}}{{'' if item.is_local else ' · from ' + item.origin}}</span>
    % if item.origin in get('offline_origins', {}):
    <span class="offline">{{item.origin}}: offline since {{offline_origins[item.origin]}}</span>
    % end
  </a>
    % if removable:
    <form method="post" action="/continue/{{item.id}}/remove" class="leave-continue">
      <input type="hidden" name="csrf" value="{{csrf}}">
      <button type="submit" title="Remove from Continue watching" aria-label="Remove {{item.title}} from Continue watching">×</button>
    </form>
    % end
  </li>
% end
</ul>
