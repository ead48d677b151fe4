<nav class="tabs"><a href="/admin/users">Users</a> <a href="/admin/groups">Groups</a> <a href="/admin/keys">Keys</a> <a href="/admin/peers">Peers</a> <a href="/admin/library">Library</a></nav>
