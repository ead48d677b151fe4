% if unreachable:
<div class="card notice" role="note" id="unreachable">
  <p><strong>Other homes cannot reach this node at {{base_url}}</strong>, the address its keys' <code>peer add</code> lines
  name: this node has no public address, or one on this machine only. Set the address people and peers use in config.ini, for example</p>
  <pre>[node]
public_url = https://media.example.org</pre>
  <p>then restart the node and issue or rotate the key again.</p>
</div>
% end
