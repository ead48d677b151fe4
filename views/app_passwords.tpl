<h2 id="app-passwords">App passwords</h2>
<p>Apps such as Kodi, VLC, Infuse, rclone or a file manager reach your media read-only over WebDAV at <code>{{app_passwords['address']}}</code>. They sign in with your user name and an app password made here, never with your sign-in password. Make one per app, so you can revoke one without the others.</p>
% new = app_passwords['new']
% if new:
<div class="message app-password-new" role="status">
  <p>The app password {{new['name']}} was made. Copy it now: privtube keeps only a fingerprint of it and cannot show it again.</p>
  <div class="card invite-link">
    <input id="app-password" readonly value="{{new['password']}}" aria-label="App password {{new['name']}}">
    <button type="button" data-copy="app-password">Copy</button>
  </div>
  <p>In the app, add a WebDAV source with the address <code>{{app_passwords['address']}}</code>, the user name <code>{{new['user']}}</code> and this password.</p>
</div>
% end
% if app_passwords['error']:
<p class="error" role="alert">{{app_passwords['error']}}</p>
% end
<form method="post" action="/account/app-passwords#app-passwords" class="card">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <label>Name (the app or device it is for) <input type="text" name="name" value="{{app_passwords['typed']}}" required maxlength="{{app_passwords['max_name']}}" placeholder="Living room Kodi"></label>
  <button type="submit">Make an app password</button>
</form>
% if app_passwords['rows']:
<table class="stack admin-list app-passwords">
  <caption>Your app passwords</caption>
  <thead><tr><th scope="col">Name</th><th scope="col">Made</th><th scope="col">Last used</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
  <tbody>
  % for row in app_passwords['rows']:
    <tr><td data-label="Name">{{row.name}}</td><td data-label="Made">{{shown_time(row.created)}}</td><td data-label="Last used">{{shown_time(row.last_used)}}</td>
      <td data-label="Actions"><a href="/account/app-passwords/{{row.id}}/revoke" aria-label="Revoke {{row.name}}">Revoke</a></td></tr>
  % end
  </tbody>
</table>
% else:
<p class="note">You have no app passwords yet.</p>
% end
