% # what a card shows of where its person stopped: a progress bar, or "Watched" (privtube_playback.marks)
% if mark and mark[1]:
<span class="watched">Watched</span>
% elif mark:
<progress class="resume" max="100" value="{{int(mark[0] * 100)}}" aria-label="{{int(mark[0] * 100)}}% watched"></progress>
% end
