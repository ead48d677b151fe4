% rebase('base', title='Key ' + key.name, user=user)
% include('admin_nav')
<p><a class="back" href="/admin/keys">&larr; Keys</a></p>
<h1>Key {{key.name}}</h1>
% if new_key:
<div class="card notice" role="status">
  <p>The key's new token, shown this once (the old one no longer works):</p>
  <pre id="new-key">{{new_key}}</pre>
  <p>Send this line to the person who runs the peer node (they remove the peer and add it again, or edit its key):</p>
  <pre id="peer-line">{{peer_line}}</pre>
</div>
% include('admin_reach')
% end
% if error:
<p class="error" role="alert">{{error}}</p>
% end
<form method="post" action="/admin/keys/{{key.name}}" class="card">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <label>Rules, separated by spaces: * · tag:NAME · album:NAME <input name="rules" required value="{{typed['rules']}}"></label>
  <label class="check"><input type="checkbox" name="manage" value="1" {{'checked' if typed['manage'] else ''}}> May upload, edit and delete (for scripts)</label>
  <p><small>When the rules change, the peer reads this node's catalog again from the start at its next sync.</small></p>
  <button type="submit">Save</button>
</form>
<form method="post" action="/admin/keys/{{key.name}}/rotate" class="card">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <p>Rotate: a new token replaces this key's; the old one stops working at once.</p>
  <button type="submit">Rotate key</button>
</form>
