% if news:
<section class="news" aria-labelledby="news-title"><h2 id="news-title">New since your last visit</h2>
<ul class="news-homes">
% for sentence in news['sentences']:
  <li>{{sentence}}</li>
% end
</ul>
% include('cards', items=news['items'], marks=get('marks', {}))
% if news['more']:
<p class="news-more">and {{news['more']}} more: see <a href="/search?sort=newest">the newest</a></p>
% end
</section>
% end
