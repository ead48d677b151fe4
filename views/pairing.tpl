% # the pairing block of the Peers page (privtube_pairing): make a link for another home, or paste theirs
<section id="pairing" class="pairing">
<h2>Link another home</h2>
% if pairing_error:
<p class="message error" role="alert">{{pairing_error}}</p>
% end
% if joined:
<p class="message" role="status" id="pair-joined">Linked with {{joined}}: both homes are syncing now.</p>
% end
% if new_link:
<div class="card notice" role="status">
  <p>Send this pairing link to the other home's administrator. It works once, for 24 hours, and is not shown again:</p>
  <pre id="pair-link">{{new_link}}</pre>
</div>
% end
% if pairing['public_url'].startswith(('http://127.', 'http://localhost', 'http://[::1]')):
<p class="message">This node's address is {{pairing['public_url']}}, which other homes cannot reach: set
<code>public_url</code> in the <code>[node]</code> section of config.ini first.</p>
% end
<form method="post" action="/admin/peers/pair" class="card" id="pair-create">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <p>Make a pairing link: the other home will see what these rules allow of this home.</p>
  <label>What the other home may see, separated by spaces: * · tag:NAME · album:NAME
    <input name="rules" required value="{{typed_rules}}"></label>
  <button type="submit">Make a pairing link</button>
</form>
<form method="post" action="/admin/peers/pair/join" class="card" id="pair-join">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <p>Got a pairing link from another home? Paste it here.</p>
  <label>Pairing link <input name="link" required value="{{typed_link}}" autocomplete="off"></label>
  <label>What that home may see of this one: * · tag:NAME · album:NAME (empty: nothing, only this home reads the other)
    <input name="rules" value="{{typed_join_rules}}"></label>
  <button type="submit">Link the homes</button>
</form>
% if pairing['links']:
<h3>Open pairing links</h3>
<table>
<tr><th>Rules</th><th>Made</th><th>Expires</th><th></th></tr>
% for link_id, rules, created, expires in pairing['links']:
<tr><td>{{' '.join(rules)}}</td><td>{{shown_time(created)}}</td><td>{{shown_time(expires)}}</td>
<td><form method="post" action="/admin/peers/pair/revoke"><input type="hidden" name="csrf" value="{{csrf}}">
<input type="hidden" name="id" value="{{link_id}}"><button class="link">Revoke</button></form></td></tr>
% end
</table>
% end
</section>
