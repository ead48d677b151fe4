<h2 id="invites">Invite someone</h2>
<p>An invite link lets a person choose their own name and password. It works once.</p>
<form method="post" action="/admin/invites" class="card">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <fieldset><legend>They join</legend>
  % for group in groups:
    <label class="check"><input type="checkbox" name="groups" value="{{group.name}}" {{'checked' if group.name == 'members' else ''}}> {{group.name}}</label>
  % end
  </fieldset>
  <label>Days the link works (1-{{invite_max_days}}) <input type="number" name="days" value="7" min="1" max="{{invite_max_days}}" required></label>
  <button type="submit">Make an invite link</button>
</form>
% if invites:
<h2>Open invites</h2>
<table>
<tr><th>Groups</th><th>Expires</th><th>Made by</th><th></th></tr>
% for invite in invites:
<tr><td>{{invite['groups']}}</td><td>{{invite['expires']}}</td><td>{{invite['by']}}</td>
<td><form method="post" action="/admin/invites/{{invite['id']}}/revoke"><input type="hidden" name="csrf" value="{{csrf}}">
<button class="link">Revoke</button></form></td></tr>
% end
</table>
% end
