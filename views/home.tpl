% rebase('base', title='Home', user=user)
% if not recent:
<section class="empty">
  <h1>Nothing here yet</h1>
  <p>Nothing is shared with you yet. <a href="/upload">Upload</a> a video, a song or a photo,
  or put files in the node's media folder and run <code>privtube scan</code>.</p>
</section>
% else:
<h1 class="sr-only">{{get('site') or 'privtube'}}</h1>
% include('news', news=get('news'), marks=marks)
% if on_this_day:
<section class="on-this-day"><h2>On this day</h2>
% include('cards', items=[(item, kind) for item, kind, _ in on_this_day], notes={item.id: note for item, _, note in on_this_day})
</section>
% end
% if resuming:
<section class="continue"><h2>Continue watching</h2>
% include('cards', items=resuming, marks=marks, removable=True)
</section>
% end
<section><h2>Recent</h2>
% include('cards', items=recent, marks=marks)
</section>
% if popular:
<section><h2>Most viewed</h2>
% include('cards', items=popular, marks=marks)
</section>
% end
% end
