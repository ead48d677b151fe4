"""The admin pages: users, groups, keys, peers and the library's scans. Every route is registered with
`admin=True`, so the page plugin admits administrators only (and checks the CSRF token of every POST, as on
every page)."""
import threading

import bottle

import privtube_auth as auth
from privtube_invites import MAX_DAYS, invite_rows
from privtube_items import shown_time
from privtube_web import WebError, see_other


def register(app, web):
    """The admin pages of the web app `app`: its people, then its network."""
    register_people(app, web.node)
    register_network(app, web.node)
    register_library(app, web.node)


def register_people(app, node):
    """Users and groups (and the invites of views/invites.tpl, privtube_invites)."""
    accounts = node.accounts

    @app.get('/admin/users', admin=True)
    def users(page):
        return page.render('admin_users', users=accounts.users(), groups=accounts.groups(), error=None,
                           invites=invite_rows(node), invite_max_days=MAX_DAYS)

    @app.post('/admin/users', admin=True)
    def users_change(page):
        form = bottle.request.forms
        if form.get('action') == 'remove':
            if form.getunicode('name') == page.user.name:
                raise WebError('you cannot remove yourself')
            if form.get('confirm') != 'yes':
                return confirm_removal(page, 'user', accounts.user(form.getunicode('name', '')).name)
            accounts.remove_user(form.getunicode('name', ''))
        else:
            groups = [g for g in form.getall('groups')] or None
            accounts.create_user(form.getunicode('name', ''), form.getunicode('password', ''),
                                 admin=bool(form.get('admin')), groups=groups)
        see_other('/admin/users')

    @app.get('/admin/groups', admin=True)
    def groups(page):
        return page.render('admin_groups', groups=accounts.groups(), load_rules=auth.load_rules)

    @app.post('/admin/groups', admin=True)
    def groups_change(page):
        form = bottle.request.forms
        if form.get('action') == 'remove':
            if form.get('confirm') != 'yes':
                return confirm_removal(page, 'group', accounts.group(form.getunicode('name', '')).name)
            accounts.remove_group(form.getunicode('name', ''))
        else:
            accounts.create_group(form.getunicode('name', ''), auth.split_rules(form.getunicode('rules', '')))
        see_other('/admin/groups')


REMOVALS = {'user': ('%s can no longer sign in; their items stay, owned by nobody.', '/admin/users'),
            'group': ('Its members lose what the group let them see.', '/admin/groups')}


def confirm_removal(page, kind, name):
    """The page that asks before a user or group is removed; its form posts the removal again, confirmed."""
    message, back = REMOVALS[kind]
    return page.render('confirm', title='Remove the %s %s?' % (kind, name), action=back, back=back,
                       message=message % name if '%s' in message else message, button='Remove %s' % name,
                       fields={'action': 'remove', 'name': name})


def register_network(app, node):
    """The peers this node reads, and the keys others read it with."""
    accounts = node.accounts

    @app.get('/admin/peers', admin=True)
    def peers(page):
        return page.render('admin_peers', peers=peer_rows(node), started=None)

    @app.post('/admin/peers', admin=True)
    def peers_sync(page):
        name = bottle.request.forms.getunicode('name', '')
        if name not in node.registry.peers():
            raise WebError('no peer named %s' % name, 404)
        threading.Thread(target=node.registry.sync, args=(name,), name='privtube-sync-now', daemon=True).start()
        return page.render('admin_peers', peers=peer_rows(node), started=name)

    @app.get('/admin/keys', admin=True)
    def keys(page):
        return page.render('admin_keys', keys=accounts.keys(), load_rules=auth.load_rules, new_key=None,
                           peer_line=None)

    @app.post('/admin/keys', admin=True)
    def keys_change(page):
        form = bottle.request.forms
        new_key = peer_line = None
        if form.get('action') == 'revoke':
            accounts.revoke_key(form.getunicode('name', ''))
        else:
            rules = auth.split_rules(form.getunicode('rules', ''))
            _, new_key = accounts.create_key(form.getunicode('name', ''), rules, manage=bool(form.get('manage')))
            peer_line = 'privtube peer add %s %s --key %s' % (node.name, node.config.base_url, new_key)
        return page.render('admin_keys', keys=accounts.keys(), load_rules=auth.load_rules, new_key=new_key,
                           peer_line=peer_line)


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


def peer_rows(node):
    """[(name, url, state)] of the configured peers, in name order."""
    Peer = node.database.Peer
    states = {row.name: row for row in Peer.select()}
    return [(name, peer["url"], states.get(name)) for name, peer in sorted(node.registry.peers().items())]
