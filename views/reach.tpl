% # Who can see this? `reach` is a privtube_reach.Reach, decided by the node's own visibility rule.
<section class="reach card" id="reach">
  <h2>Who can see this?</h2>
  % if reach.private:
  <p>Private: only you and admins.</p>
  % elif not reach.rows:
  <p>No group, person or key can see {{'it' if reach.total == 1 else 'these items'}} now, besides you and admins.</p>
  % else:
  <table class="stack">
    <thead><tr><th>Who</th><th>Why</th>{{!'<th>Sees</th>' if reach.total > 1 else ''}}</tr></thead>
    <tbody>
    % for row in reach.rows:
    <tr><td data-label="Who">{{ {'group': 'group', 'user': 'person', 'key': 'key (peer)'}[row.kind] }} <strong>{{row.name}}</strong></td>
      <td data-label="Why">{{', '.join(row.why)}}</td>
      % if reach.total > 1:
      <td data-label="Sees">{{row.seen}} of {{reach.total}}</td>
      % end
    </tr>
    % end
    </tbody>
  </table>
  % end
</section>
