% rebase('base', title='Home', user=user)
% if not recent:
<section class="empty">
  <h1>Nothing here yet</h1>
  <p>Nothing is shared with you yet. <a href="/upload">Upload</a> a video, a song or a photo,
  or put files in the node's media folder and run <code>privtube scan</code>.</p>
</section>
% else:
<section><h2>Recent</h2>
% include('cards', items=recent)
</section>
% if popular:
<section><h2>Most viewed</h2>
% include('cards', items=popular)
</section>
% end
% end
