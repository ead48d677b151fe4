% rebase('base', title='Shared links', user=user)
<h1>Shared links</h1>
% if link:
<div class="card share-made" role="status">
  <p>Your new link. Copy it now: privtube keeps only a fingerprint of it and cannot show it again.</p>
  <p><input type="text" id="share-link" class="share-link" value="{{link}}" readonly aria-label="The share link">
  <button type="button" class="share-copy" data-copy="share-link">Copy</button></p>
  % if loopback:
  <p class="notice">This address works only on this computer. So that others can open links, an administrator
  sets <code>public_url</code> in the [node] section of config.ini to the address people use to reach this node.</p>
  % end
</div>
% end
% if not links:
<p class="empty">You have not shared anything yet. Open an item or album of yours and choose "Share link".</p>
% else:
<table class="shares">
  <thead><tr><th>Shows</th><th>Expires</th><th>Opens</th><th>State</th>{{!'<th>Made by</th>' if user.is_admin else ''}}<th></th></tr></thead>
  <tbody>
  % for share, (kind, name, href), state in links:
  <tr class="share-{{state}}">
    <td>{{kind}} <a href="{{href}}">{{name}}</a>{{' · password' if share.password_hash else ''}}{{' · download' if share.allow_download else ''}}</td>
    <td data-label="Expires">{{shown_time(share.expires)}}</td>
    <td data-label="Opens">{{share.opens}}</td>
    <td data-label="State">{{state}}</td>
    % if user.is_admin:
    <td data-label="Made by">{{share.created_by.name}}</td>
    % end
    <td>
    % if made is not None and share.id == made.id:
      <button type="button" class="share-copy" data-copy="share-link">Copy</button>
    % end
    % if state == 'active':
      <a href="/shares/{{share.id}}/revoke">Revoke</a>
    % end
    </td>
  </tr>
  % end
  </tbody>
</table>
<p class="meta">A link's address is shown once, when it is made. To send one again, make a new link.</p>
% end
