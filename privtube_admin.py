"""The admin pages: users, groups, keys, peers and the library's scans. Every route is registered with
`admin=True`, so the page plugin admits administrators only (and checks the CSRF token of every POST, as on
every page)."""
import ipaddress
import threading
from urllib.parse import quote, urlsplit

import bottle

import privtube_auth as auth
import privtube_config as config_mod
from privtube_invites import MAX_DAYS, invite_rows
from privtube_items import shown_time
from privtube_web import Throttle, TryLater, WebError, client_bucket, render, see_other


def register(app, web):
    """The admin pages of the web app `app`: its people, then its network."""
    register_people(app, web.node)
    register_resets(app, web)
    register_network(app, web.node)
    register_library(app, web.node)


def form_text(name):
    return (bottle.request.forms.getunicode(name, '') or '').strip()


def refused(page, template, message, **values):
    """The page again with what went wrong, status 400, the typed values kept by the template."""
    bottle.response.status = 400
    return page.render(template, error=message, **values)


def register_people(app, node):
    """Users and groups: add, edit, remove (after a confirmation page), and reset links."""
    accounts = node.accounts

    def users_page(page, error=None, typed=None):
        return page.render('admin_users', users=accounts.users(), groups=accounts.groups(), error=error,
                           typed=typed or {}, resets=accounts.open_resets(), invites=invite_rows(node),
                           invite_max_days=MAX_DAYS)

    @app.get('/admin/users', admin=True)
    def users(page):
        return users_page(page)

    @app.post('/admin/users', admin=True)
    def users_change(page):
        form = bottle.request.forms
        if form.get('action') == 'remove':        # the confirmation page asks first
            see_other('/admin/users/%s/remove' % quote(form_text('name')))
        typed = {'name': form_text('name'), 'groups': form.getall('groups'), 'admin': bool(form.get('admin'))}
        try:
            accounts.create_user(typed['name'], form.getunicode('password', '') or '', admin=typed['admin'],
                                 groups=typed['groups'] or None)
        except auth.AuthError as exc:
            bottle.response.status = 400
            return users_page(page, str(exc), typed)
        see_other('/admin/users')

    def user_page(page, someone, error=None, link=None, typed=None):
        chosen = typed or {'groups': accounts.group_names(someone), 'admin': someone.is_admin}
        return page.render('admin_user', someone=someone, groups=accounts.groups(), chosen=chosen, error=error,
                           link=link, reset_until=accounts.open_resets().get(someone.id),
                           reset_days=auth.RESET_DAYS)

    @app.get('/admin/users/<name>', admin=True)
    def user_edit(page, name):
        return user_page(page, found(accounts.user, name))

    @app.post('/admin/users/<name>', admin=True)
    def user_save(page, name):
        someone = found(accounts.user, name)
        typed = {'groups': bottle.request.forms.getall('groups'), 'admin': bool(bottle.request.forms.get('admin'))}
        try:
            accounts.set_user_groups(name, typed['groups'], typed['admin'])
        except auth.AuthError as exc:
            bottle.response.status = 400
            return user_page(page, someone, str(exc), typed=typed)
        see_other('/admin/users' if typed['admin'] or someone.id != page.user.id else '/')   # stepped down

    @app.post('/admin/users/<name>/reset', admin=True)
    def user_reset(page, name):
        someone = found(accounts.user, name)
        if bottle.request.forms.get('action') == 'cancel':
            accounts.cancel_reset(name)
            see_other('/admin/users/%s' % name)
        token = accounts.create_reset(name)
        return user_page(page, someone, link='%s/reset?token=%s' % (people_address(node), token))

    @app.get('/admin/users/<name>/remove', admin=True)
    def user_remove_form(page, name):
        someone = found(accounts.user, name)
        return page.render('confirm', title='Remove %s?' % someone.name, action='/admin/users/%s/remove' % name,
                           message='%s can no longer sign in; their items stay on this node without an owner.'
                           % someone.name, button='Remove %s' % someone.name, back='/admin/users/%s' % name)

    @app.post('/admin/users/<name>/remove', admin=True)
    def user_remove(page, name):
        someone = found(accounts.user, name)
        if someone.id == page.user.id:
            raise WebError('you cannot remove yourself')
        accounts.remove_user(name)
        see_other('/admin/users')

    def groups_page(page, error=None, typed=None):
        return page.render('admin_groups', groups=accounts.groups(), load_rules=auth.load_rules,
                           members=accounts.group_members(), error=error, typed=typed or {})

    @app.get('/admin/groups', admin=True)
    def groups(page):
        return groups_page(page)

    @app.post('/admin/groups', admin=True)
    def groups_change(page):
        if bottle.request.forms.get('action') == 'remove':
            see_other('/admin/groups/%s/remove' % quote(form_text('name')))
        typed = {'name': form_text('name'), 'rules': form_text('rules')}
        try:
            accounts.create_group(typed['name'], auth.split_rules(typed['rules']))
        except auth.AuthError as exc:
            bottle.response.status = 400
            return groups_page(page, str(exc), typed)
        see_other('/admin/groups')

    def group_page(page, group, error=None, typed=None):
        typed = typed or {'name': group.name, 'rules': ' '.join(auth.load_rules(group.rules))}
        return page.render('admin_group', group=group, typed=typed, error=error,
                           members=accounts.group_members().get(group.name, []), default=auth.DEFAULT_GROUP)

    @app.get('/admin/groups/<name>', admin=True)
    def group_edit(page, name):
        return group_page(page, found(accounts.group, name))

    @app.post('/admin/groups/<name>', admin=True)
    def group_save(page, name):
        group = found(accounts.group, name)
        typed = {'name': form_text('name'), 'rules': form_text('rules')}
        try:
            with accounts.db.atomic():
                accounts.set_group_rules(name, auth.split_rules(typed['rules']))
                accounts.rename_group(name, typed['name'])
        except auth.AuthError as exc:
            bottle.response.status = 400
            return group_page(page, group, str(exc), typed)
        see_other('/admin/groups')

    @app.get('/admin/groups/<name>/remove', admin=True)
    def group_remove_form(page, name):
        group = found(accounts.group, name)
        count = len(accounts.group_members().get(group.name, []))
        return page.render('confirm', title='Remove the group %s?' % group.name,
                           action='/admin/groups/%s/remove' % name, button='Remove %s' % group.name,
                           message='Its %d member%s stay, but no longer see what its rules showed them.'
                           % (count, '' if count == 1 else 's'), back='/admin/groups/%s' % name)

    @app.post('/admin/groups/<name>/remove', admin=True)
    def group_remove(page, name):
        accounts.remove_group(found(accounts.group, name).name)
        see_other('/admin/groups')


def found(lookup, name):
    """The user, group or key `name`, or a 404 page."""
    try:
        return lookup(name)
    except auth.AuthError as exc:
        raise WebError(str(exc), 404)


def people_address(node):
    """This node's address as people reach it: [node] public_url, else the address this admin used."""
    if node.config.get('node', 'public_url'):
        return node.config.base_url
    parts = bottle.request.urlparts
    return '%s://%s' % (parts.scheme, parts.netloc)


RESET_FAILURES, RESET_WINDOW = 10, 300      # wrong reset tokens one client may send in 5 minutes


def register_resets(app, web):
    """/reset?token=...: the person an admin sent a reset link chooses a new password (anonymous: the
    token is the credential; wrong tokens are throttled per client)."""
    accounts = web.node.accounts
    throttle = Throttle(RESET_FAILURES, RESET_WINDOW)

    def checked_user(token):
        client = client_bucket(web.client_address())
        wait = throttle.wait(client)
        if wait:
            raise TryLater('Too many wrong reset links. Wait a few minutes and try again.', wait)
        user = accounts.reset_user(token)
        if user is None:
            throttle.fail(client)
            raise WebError('This reset link is not valid any more (used, expired or mistyped). '
                           'Ask your administrator for a new one.', 404)
        return user

    @app.get('/reset', anonymous=True)
    def reset_form():
        token = bottle.request.query.getunicode('token', '') or ''
        user = checked_user(token)
        return render('reset', user=None, token=token, account=user.name, error=None)

    @app.post('/reset', anonymous=True)
    def reset_submit():
        token = bottle.request.forms.getunicode('token', '') or ''
        user = checked_user(token)
        password = bottle.request.forms.getunicode('password', '') or ''
        if password != (bottle.request.forms.getunicode('again', '') or ''):
            bottle.response.status = 400
            return render('reset', user=None, token=token, account=user.name, error='The two passwords differ.')
        try:
            accounts.use_reset(token, password)
        except auth.AuthError as exc:
            bottle.response.status = 400
            return render('reset', user=None, token=token, account=user.name, error=str(exc))
        return render('message', user=None, title='Password changed',
                      message='Your new password is set, and every other sign-in of yours has ended. '
                      'Sign in with it now.')


def register_network(app, node):
    """The peers this node reads, and the keys others read it with."""
    accounts = node.accounts

    def peers_page(page, error=None, typed=None, result=None):
        return page.render('admin_peers', peers=peer_rows(node), error=error, typed=typed or {}, result=result,
                           **pairing_block(node))

    @app.get('/admin/peers', admin=True)
    def peers(page):
        return peers_page(page)

    @app.post('/admin/peers', admin=True)
    def peers_add(page):
        typed = {field: form_text(field) for field in ('line', 'name', 'url', 'key', 'ca_file')}
        try:
            name, url, key = config_mod.parse_peer_line(typed['line']) if typed['line'] else \
                (typed['name'], typed['url'], typed['key'])
            config_mod.add_peer(node.config.path, name, url, key, typed['ca_file'])
        except config_mod.ConfigError as exc:
            bottle.response.status = 400
            return peers_page(page, shown_config_error(node, exc), typed)
        peers_changed(node)
        return peers_page(page, result='Peer %s added. Sync it now, or wait for the next scheduled sync.' % name)

    def peer_page(page, name, error=None, typed=None, result=None):
        peer = node.registry.peers()[name]
        typed = typed or {'url': peer['url'], 'key': peer['key'], 'ca_file': peer.get('ca_file', '')}
        return page.render('admin_peer', peer_name=name, typed=typed, error=error, result=result,
                           state=node.database.Peer.get_or_none(node.database.Peer.name == name))

    def known_peer(name):
        if name not in node.registry.peers():
            raise WebError('no peer named %s' % name, 404)
        return name

    @app.get('/admin/peers/<name>', admin=True)
    def peer_edit(page, name):
        return peer_page(page, known_peer(name))

    @app.post('/admin/peers/<name>', admin=True)
    def peer_save(page, name):
        known_peer(name)
        typed = {field: form_text(field) for field in ('url', 'key', 'ca_file')}
        try:
            config_mod.edit_peer(node.config.path, name, typed['url'], typed['key'], typed['ca_file'])
        except config_mod.ConfigError as exc:
            bottle.response.status = 400
            return peer_page(page, name, shown_config_error(node, exc), typed)
        peers_changed(node)
        return peer_page(page, name, result='Saved. The next sync uses the new settings.')

    @app.post('/admin/peers/<name>/sync', admin=True)
    def peer_sync(page, name):
        known_peer(name)
        return peer_page(page, name, result=sync_now(node, name))

    @app.get('/admin/peers/<name>/remove', admin=True)
    def peer_remove_form(page, name):
        known_peer(name)
        return page.render('confirm', title='Remove the peer %s?' % name, action='/admin/peers/%s/remove' % name,
                           message='Its items leave this node; the other home keeps everything it has.',
                           button='Remove %s' % name, back='/admin/peers/%s' % name)

    @app.post('/admin/peers/<name>/remove', admin=True)
    def peer_remove(page, name):
        known_peer(name)
        try:
            config_mod.remove_peer(node.config.path, name)
        except config_mod.ConfigError as exc:
            raise WebError(shown_config_error(node, exc))
        peers_changed(node)
        node.registry.forget_unknown_peers()
        see_other('/admin/peers')

    def keys_page(page, error=None, typed=None, new_key=None, peer_line=None):
        return page.render('admin_keys', keys=accounts.keys(), load_rules=auth.load_rules, new_key=new_key,
                           peer_line=peer_line, error=error, typed=typed or {}, unreachable=unreachable(node),
                           base_url=node.config.base_url)

    @app.get('/admin/keys', admin=True)
    def keys(page):
        return keys_page(page)

    @app.post('/admin/keys', admin=True)
    def keys_change(page):
        form = bottle.request.forms
        if form.get('action') == 'revoke':
            accounts.revoke_key(form_text('name'))
            return keys_page(page)
        typed = {'name': form_text('name'), 'rules': form_text('rules'), 'manage': bool(form.get('manage'))}
        try:
            _, new_key = accounts.create_key(typed['name'], auth.split_rules(typed['rules']), manage=typed['manage'])
        except auth.AuthError as exc:
            bottle.response.status = 400
            return keys_page(page, str(exc), typed)
        return keys_page(page, new_key=new_key, peer_line=peer_line(node, new_key))

    def key_page(page, key, error=None, typed=None, new_key=None):
        typed = typed or {'rules': ' '.join(auth.load_rules(key.rules)), 'manage': key.manage}
        return page.render('admin_key', key=key, typed=typed, error=error, new_key=new_key,
                           peer_line=peer_line(node, new_key) if new_key else None, unreachable=unreachable(node),
                           base_url=node.config.base_url)

    @app.get('/admin/keys/<name>', admin=True)
    def key_edit(page, name):
        return key_page(page, found(accounts.key, name))

    @app.post('/admin/keys/<name>', admin=True)
    def key_save(page, name):
        key = found(accounts.key, name)
        typed = {'rules': form_text('rules'), 'manage': bool(bottle.request.forms.get('manage'))}
        try:
            accounts.edit_key(name, auth.split_rules(typed['rules']), typed['manage'])
        except auth.AuthError as exc:
            bottle.response.status = 400
            return key_page(page, key, str(exc), typed)
        see_other('/admin/keys')

    @app.post('/admin/keys/<name>/rotate', admin=True)
    def key_rotate(page, name):
        found(accounts.key, name)
        token = accounts.rotate_key(name)
        return key_page(page, accounts.key(name), new_key=token)


SYNC_WAIT = 20.0      # seconds Sync now waits for the result before saying it goes on in the background


def sync_now(node, name):
    """Sync peer `name` in its own thread and say how it went, or that it is still running."""
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(result=node.registry.sync(name)),
                              name='privtube-sync-now', daemon=True)
    thread.start()
    thread.join(SYNC_WAIT)
    if 'result' not in outcome:
        return 'The sync of %s is still running; reload this page in a while to see how it went.' % name
    ok, message = outcome['result']
    return ('Synced %s: %s.' if ok else 'The sync of %s failed: %s.') % (name, message)


def peers_changed(node):
    """The config file's peers changed: the registry reads them again at once (not only on a new mtime)."""
    node.registry.config_stamp = None
    node.config.peers = node.registry.peers()


def shown_config_error(node, exc):
    """A config error as the page says it: without the server's path to the file."""
    return str(exc).replace(node.config.path + ': ', '').replace(node.config.path, 'config.ini')


def peer_line(node, token):
    return 'privtube peer add %s %s --key %s' % (node.name, node.config.base_url, token)


def unreachable(node):
    """True when the `peer add` line names an address other homes cannot reach: no public_url, or one
    on this machine (loopback)."""
    url = node.config.get('node', 'public_url')
    if not url:
        return True
    host = (urlsplit(url).hostname or '').lower()
    if host == 'localhost' or host.endswith('.localhost'):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def register_library(app, node):
    """The media folder's scans: how the last one went, and Scan now (run in the node's scan thread)."""

    @app.get('/admin/library', admin=True)
    def library(page):
        status = node.scan_loop.status()
        return page.render('admin_library', status=status, line=scan_line(status), minutes=node.scan_loop.minutes,
                           counts=library_counts(node), refresh=3 if status['state'] in BUSY else None)

    @app.post('/admin/library', admin=True)
    def library_scan(page):
        node.scan_loop.request()
        see_other('/admin/library')


BUSY = ('queued', 'running')
SCAN_STATES = {'never': 'No scan has run since the node started.', 'queued': 'A scan starts in a moment.',
               'running': 'Scanning since %(started)s: %(figures)s.',
               'finished': 'Finished at %(finished)s: %(figures)s.',
               'failed': 'The scan that started at %(started)s failed (the node\'s log says why): %(figures)s.',
               'stopped': 'The scan stopped with the node at %(finished)s: %(figures)s.'}


def scan_line(status):
    """The scan's state as one sentence: files seen, added, moved, changed and removed, and when."""
    figures = '%(seen)d files seen, %(added)d added, %(moved)d moved, %(changed)d changed, %(removed)d removed' \
        % status['summary']
    return SCAN_STATES[status['state']] % {'figures': figures, 'started': shown_time(status['started']),
                                           'finished': shown_time(status['finished'])}


def library_counts(node):
    """This node's items and folder albums, as a sentence."""
    Item, Album = node.database.Item, node.database.Album
    items = Item.select().where((Item.origin == 'local') & Item.trashed.is_null()).count()
    folders = Album.select().where((Album.origin == 'local') & (Album.kind == 'folder')).count()
    return '%d item%s of this node; %d folder%s of the media folder %s' % (
        items, '' if items == 1 else 's', folders, '' if folders == 1 else 's',
        'is an album' if folders == 1 else 'are albums')


def pairing_block(node):
    """The values of the pairing block (views/pairing.tpl) of the Peers page."""
    from privtube_pairing import pairing_view
    return dict(pairing=pairing_view(node), new_link=None, joined=None, pairing_error=None, typed_link='',
                typed_rules='*', typed_join_rules='')


def peer_rows(node):
    """[(name, url, state)] of the configured peers, in name order."""
    Peer = node.database.Peer
    states = {row.name: row for row in Peer.select()}
    return [(name, peer["url"], states.get(name)) for name, peer in sorted(node.registry.peers().items())]
