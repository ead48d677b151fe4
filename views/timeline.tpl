% rebase('base', title='Timeline', user=user)
<h1>Timeline</h1>
% if years:
<nav class="years" aria-label="Years">
  % for year in years:
  <a href="/timeline?year={{year}}">{{year}}</a>
  % end
</nav>
% end
% if not months:
<p class="empty">No photos or videos here yet. Their dates come from the files (when they were taken), else when they were added.</p>
% else:
% include('bulk')
% for anchor, heading, items in months:
<section class="month" id="{{anchor}}"><h2>{{heading}}</h2>
% include('cards', items=items, selectable=selectable)
</section>
% end
% end
% if older:
% from urllib.parse import urlencode
<nav class="pages" aria-label="Older months"><a href="/timeline?{{urlencode({'before': older[0], 'id': older[1]})}}" rel="next">Older</a></nav>
% end
