"""The admin pages that edit: users (groups, role, reset links, removal), groups (rename, rules, members),
keys (rules, manage, rotate) and peers (add by the pasted line, edit, remove, sync now, status)."""
import html
import os
import re
import stat
import time

import pytest
import webtest
from conftest import page_csrf, submit_login

import privtube_auth
import privtube_config

PASSWORD = 'password-123'
SCRIPT = '<script>alert(1)</script>'


@pytest.fixture
def admin(node):
    return node.sign_in('root', admin=True)


def csrf(client, url='/admin/users'):
    return page_csrf(client.get(url).text)


def form_of(page, action):
    """The page's form that posts to `action`."""
    for form in page.forms.values():
        if form.action == action:
            return form
    raise AssertionError('no form posting to %s' % action)


def error_of(page):
    found = re.search(r'<p class="error" role="alert">([^<]*)</p>', page.text)
    return html.unescape(found.group(1)) if found else None


# --- who may open them ----------------------------------------------------------------------------

ADMIN_GETS = ['/admin/users', '/admin/users/bob', '/admin/users/bob/remove', '/admin/groups',
              '/admin/groups/family', '/admin/groups/family/remove', '/admin/keys', '/admin/keys/k1',
              '/admin/peers', '/admin/peers/far', '/admin/peers/far/remove']
ADMIN_POSTS = [('/admin/users/bob', {'groups': 'members', 'admin': '1'}), ('/admin/users/bob/reset', {}),
               ('/admin/users/bob/remove', {'confirm': 'yes'}), ('/admin/groups/family', {'name': 'x', 'rules': '*'}),
               ('/admin/groups/family/remove', {'confirm': 'yes'}), ('/admin/keys/k1', {'rules': '*', 'manage': '1'}),
               ('/admin/keys/k1/rotate', {}), ('/admin/peers', {'line': 'privtube peer add z http://z.test --key '
                                                                        'pt_abcdefghijklmnop'}),
               ('/admin/peers/far', {'url': 'http://evil.test', 'key': 'pt_abcdefghijklmnop'}),
               ('/admin/peers/far/sync', {}), ('/admin/peers/far/remove', {'confirm': 'yes'})]


@pytest.fixture
def furnished(node):
    """A node with a member bob, a group family, a key k1 and a peer far."""
    node.accounts.create_user('bob', PASSWORD)
    node.accounts.create_group('family', ['tag:family'])
    node.accounts.create_key('k1', ['*'])
    privtube_config.add_peer(node.config_path, 'far', 'http://far.test', 'pt_abcdefghijklmnop')
    return node


def state_of(node):
    accounts = node.accounts
    return ([(u.name, u.is_admin, names) for u, names in accounts.users()],
            [(g.name, g.rules) for g in accounts.groups()],
            [(k.name, k.rules, k.manage, k.token_hash) for k in accounts.keys()],
            open(node.config_path).read())


def test_every_admin_page_refuses_members_and_every_change_needs_the_token(furnished):
    node = furnished
    admin = node.sign_in('root', admin=True)
    for url in ADMIN_GETS:
        assert admin.get(url).status_int == 200, url
    member = webtest.TestApp(node.app)
    submit_login(member, 'bob', PASSWORD)
    member_token = csrf(member, '/account')
    before = state_of(node)
    for url in ADMIN_GETS:
        assert member.get(url, status=403).status_int == 403, url
    for url, fields in ADMIN_POSTS:
        member.post(url, dict(fields, csrf=member_token), status=403)
        for token in (None, '', 'forged', member_token):
            sent = dict(fields) if token is None else dict(fields, csrf=token)
            page = admin.post(url, sent, status=403)
            assert 'the form expired' in page.text, url
    assert state_of(node) == before


# --- users -----------------------------------------------------------------------------------------

def test_an_admin_changes_a_users_groups_and_role(furnished, admin):
    node = furnished
    page = admin.get('/admin/users/bob')
    form = form_of(page, '/admin/users/bob')
    form['groups'] = ['family']
    form['admin'] = True
    form.submit(status=303)
    bob = node.accounts.user('bob')
    assert bob.is_admin and node.accounts.group_names(bob) == ['family']
    page = admin.get('/admin/users')
    assert re.search(r'<td data-label="Name">bob</td><td data-label="Role">administrator</td>\s*'
                     r'<td data-label="Groups">family</td>', page.text)


def test_an_unknown_group_is_refused_and_the_choice_kept(furnished, admin):
    page = admin.post('/admin/users/bob', {'csrf': csrf(admin), 'groups': ['family', 'nosuch'], 'admin': '1'},
                      status=400)
    assert error_of(page) == 'no group named nosuch'
    assert re.search(r'value="family" checked', page.text) and re.search(r'name="admin" value="1" checked', page.text)
    assert furnished.accounts.group_names(furnished.accounts.user('bob')) == ['members']


def test_the_last_administrator_keeps_the_role_and_cannot_be_removed(node, admin):
    token = csrf(admin)
    page = admin.post('/admin/users/root', {'csrf': token, 'groups': 'members'}, status=400)
    assert 'root is the only administrator' in error_of(page)
    assert node.accounts.user('root').is_admin
    with pytest.raises(privtube_auth.AuthError, match='only administrator'):
        node.accounts.remove_user('root')
    # with a second administrator, the first may step down, and the second may not then
    node.accounts.create_user('ada', PASSWORD, admin=True)
    stepped_down = admin.post('/admin/users/root', {'csrf': token, 'groups': 'members'}, status=303)
    assert stepped_down.headers['Location'] == '/'
    assert not node.accounts.user('root').is_admin
    admin.get('/admin/users', status=403)
    with pytest.raises(privtube_auth.AuthError, match='ada is the only administrator'):
        node.accounts.set_user_groups('ada', [], False)
    assert node.accounts.user('ada').is_admin


def test_removing_a_user_asks_first(furnished, admin):
    node = furnished
    bob = webtest.TestApp(node.app)
    submit_login(bob, 'bob', PASSWORD)
    page = admin.get('/admin/users/bob').click(href='/admin/users/bob/remove')
    assert 'Remove bob?' in page.text and 'bob' in [u.name for u, _ in node.accounts.users()]
    form_of(page, '/admin/users/bob/remove').submit(status=303)
    assert 'bob' not in [u.name for u, _ in node.accounts.users()]
    assert bob.get('/', status=303).headers['Location'].startswith('/login')
    admin.post('/admin/users/root/remove', {'csrf': csrf(admin), 'confirm': 'yes'}, status=400)
    admin.get('/admin/users/bob', status=404)


def test_adding_a_user_that_fails_keeps_what_was_typed(node, admin):
    node.accounts.create_group('family', ['tag:family'])
    page = admin.post('/admin/users', {'csrf': csrf(admin), 'name': 'gran', 'password': 'short',
                                       'groups': 'family', 'admin': '1'}, status=400)
    assert 'at least 8 characters' in error_of(page)
    added = page.text.split('id="add-user"')[1].split('</form>')[0]     # the invite form below checks members
    assert 'value="gran"' in added and 'value="family" checked' in added
    assert 'value="members" checked' not in added


# --- reset links -----------------------------------------------------------------------------------

def reset_link(admin, name):
    page = admin.post('/admin/users/%s/reset' % name, {'csrf': csrf(admin)})
    link = re.search(r'<pre id="reset-link">([^<]+)</pre>', page.text).group(1)
    assert link.startswith('http://localhost:80/reset?token=')
    return link[link.index('/reset'):]


def test_a_reset_link_sets_a_new_password_once_and_ends_every_session(furnished, admin):
    node = furnished
    phone = webtest.TestApp(node.app)
    submit_login(phone, 'bob', PASSWORD)
    path = reset_link(admin, 'bob')
    assert 'open until' in admin.get('/admin/users').text
    stranger = webtest.TestApp(node.app)
    page = stranger.get(path)
    assert '<strong>bob</strong>' in page.text
    form = form_of(page, '/reset')
    form['password'], form['again'] = 'new-password-1', 'new-password-2'
    assert error_of(form.submit(status=400)) == 'The two passwords differ.'
    form['password'], form['again'] = 'new-password-1', 'new-password-1'
    assert 'Password changed' in form.submit(status=200).text
    assert phone.get('/', status=303).headers['Location'].startswith('/login')
    submit_login(webtest.TestApp(node.app), 'bob', 'new-password-1')
    submit_login(webtest.TestApp(node.app), 'bob', PASSWORD, status=401)
    # spent: neither the page nor the form works again
    assert 'not valid any more' in stranger.get(path, status=404).text
    token = path.split('=', 1)[1]
    stranger.post('/reset', {'token': token, 'password': 'third-password', 'again': 'third-password'}, status=404)
    submit_login(webtest.TestApp(node.app), 'bob', 'new-password-1')


def test_a_reset_link_expires_and_a_newer_one_replaces_it(furnished, admin, monkeypatch):
    first = reset_link(admin, 'bob')
    second = reset_link(admin, 'bob')
    client = webtest.TestApp(furnished.app)
    client.get(first, status=404)
    client.get(second, status=200)
    later = time.time() + privtube_auth.RESET_DAYS * 86400 + 1
    monkeypatch.setattr(privtube_auth.time, 'time', lambda: later)
    assert 'not valid any more' in client.get(second, status=404).text
    stored = furnished.node.database.PasswordReset.select().first()
    assert second.split('=', 1)[1] not in stored.token_hash      # only the hash is kept
    assert stored.token_hash == privtube_auth.token_hash(second.split('=', 1)[1])


def test_an_open_reset_link_is_cancelled(furnished, admin):
    path = reset_link(admin, 'bob')
    page = admin.get('/admin/users/bob')
    assert 'A reset link is open until' in page.text
    admin.post('/admin/users/bob/reset', {'csrf': csrf(admin), 'action': 'cancel'}, status=303)
    assert 'A reset link is open' not in admin.get('/admin/users/bob').text
    webtest.TestApp(furnished.app).get(path, status=404)


def test_wrong_reset_tokens_are_throttled_per_client(furnished, admin):
    path = reset_link(admin, 'bob')
    guesser = webtest.TestApp(furnished.app, extra_environ={'REMOTE_ADDR': '192.0.2.9'})
    for attempt in range(10):
        guesser.get('/reset', {'token': 'guess%d' % attempt}, status=404)
    assert 'Too many wrong reset links' in guesser.get(path, status=429).text
    webtest.TestApp(furnished.app, extra_environ={'REMOTE_ADDR': '192.0.2.10'}).get(path, status=200)


# --- groups ----------------------------------------------------------------------------------------

def test_a_group_is_renamed_with_its_rules_and_members(furnished, admin):
    node = furnished
    node.accounts.set_user_groups('bob', ['family'], False)
    page = admin.get('/admin/groups')
    assert re.search(r'<td data-label="Name">family</td><td data-label="Rules">tag:family</td>\s*'
                     r'<td data-label="Members">bob</td>', page.text)
    page = admin.get('/admin/groups/family')
    assert '<a href="/admin/users/bob">bob</a>' in page.text
    form = form_of(page, '/admin/groups/family')
    form['name'], form['rules'] = 'kin', 'tag:family album:2024 Summer trip'
    form.submit(status=303)
    group = node.accounts.group('kin')
    assert privtube_auth.load_rules(group.rules) == ['tag:family', 'album:2024 Summer trip']
    assert node.accounts.group_names(node.accounts.user('bob')) == ['kin']


def test_a_bad_rule_is_named_and_what_was_typed_kept(furnished, admin):
    page = admin.post('/admin/groups/family', {'csrf': csrf(admin), 'name': 'kin', 'rules': 'color:red tag:ok'},
                      status=400)
    assert error_of(page).startswith("rule 'color:red' must be *, tag:NAME")
    assert 'value="kin"' in page.text and 'value="color:red tag:ok"' in page.text
    assert furnished.accounts.group('family').rules == '["tag:family"]'
    page = admin.post('/admin/groups', {'csrf': csrf(admin), 'name': 'new', 'rules': SCRIPT}, status=400)
    assert 'value="new"' in page.text and '&lt;script&gt;' in page.text and SCRIPT not in page.text


def test_members_keeps_its_name_and_a_taken_name_is_refused(furnished, admin):
    token = csrf(admin)
    page = admin.post('/admin/groups/members', {'csrf': token, 'name': 'everyone', 'rules': '*'}, status=400)
    assert 'keeps its name' in error_of(page)
    page = admin.post('/admin/groups/family', {'csrf': token, 'name': 'members', 'rules': '*'}, status=400)
    assert error_of(page) == 'group members already exists'
    assert 'type="hidden" name="name" value="members"' in admin.get('/admin/groups/members').text
    assert furnished.accounts.group('family').rules == '["tag:family"]'   # the rules change rolled back


def test_removing_a_group_asks_first(furnished, admin):
    page = admin.get('/admin/groups/family').click(href='/admin/groups/family/remove')
    assert 'Remove the group family?' in page.text
    form_of(page, '/admin/groups/family/remove').submit(status=303)
    assert 'family' not in [g.name for g in furnished.accounts.groups()]


# --- keys ------------------------------------------------------------------------------------------

def test_rotating_a_key_stops_the_old_token_at_once(node, admin):
    old = node.key('bob')
    node.client.get('/api/v1/node', headers=old, status=200)
    page = admin.get('/admin/keys/bob')
    page = form_of(page, '/admin/keys/bob/rotate').submit(status=200)
    token = re.search(r'<pre id="new-key">([^<]+)</pre>', page.text).group(1)
    line = re.search(r'<pre id="peer-line">([^<]+)</pre>', page.text).group(1)
    assert line == 'privtube peer add testnode http://127.0.0.1:8080 --key %s' % token
    node.client.get('/api/v1/node', headers=old, status=401)
    node.client.get('/api/v1/node', headers={'Authorization': 'Bearer ' + token}, status=200)


def test_editing_a_keys_rules_resets_its_reader(node, admin):
    node.add('a.mp4', tags=['family'], title='A')
    node.add('b.mp4', tags=['work'], title='B')
    headers = node.key('bob', ['*'])
    first = node.client.get('/api/v1/catalog', headers=headers).json
    assert len(first['items']) == 2 and not first['more']
    page = admin.get('/admin/keys/bob')
    form = form_of(page, '/admin/keys/bob')
    form['rules'], form['manage'] = 'tag:family', True
    form.submit(status=303)
    key = node.accounts.key('bob')
    assert key.manage and privtube_auth.load_rules(key.rules) == ['tag:family']
    again = node.client.get('/api/v1/catalog', {'since': first['cursor']}, headers=headers).json
    assert again['reset'] is True and [i['title'] for i in again['items']] == ['A']
    # the manage flag alone changes no generation: no reset
    generation = key.generation
    node.accounts.edit_key('bob', ['tag:family'], False)
    assert node.accounts.key('bob').generation == generation


def test_a_bad_key_rule_keeps_what_was_typed(node, admin):
    node.key('bob')
    page = admin.post('/admin/keys/bob', {'csrf': csrf(admin), 'rules': 'nope:1 tag:x', 'manage': '1'}, status=400)
    assert error_of(page).startswith("rule 'nope:1' must be") and 'value="nope:1 tag:x"' in page.text
    assert 'name="manage" value="1" checked' in page.text
    page = admin.post('/admin/keys', {'csrf': csrf(admin), 'name': 'carol', 'rules': 'nope'}, status=400)
    assert 'value="carol"' in page.text and 'value="nope"' in page.text


def test_the_keys_page_says_when_other_homes_cannot_reach_this_node(tmp_path):
    from conftest import NodeFixture
    for public_url, warned in (('', True), ('http://127.0.0.1:8080', True), ('http://localhost:8080', True),
                               ('http://[::1]:8080', True), ('http://0.0.0.0:8080', True),
                               ('https://media.example.org', False), ('http://192.168.1.20:8080', False)):
        folder = tmp_path / ('n%d' % len(os.listdir(tmp_path)))
        folder.mkdir()
        made = NodeFixture(folder, 'public_url = %s\n' % public_url if public_url else '')
        try:
            client = made.sign_in('root', admin=True)
            page = client.get('/admin/keys')
            assert ('id="unreachable"' in page.text) == warned, public_url
            assert ('public_url = https://media.example.org' in page.text) == warned
            if not warned:
                page = client.post('/admin/keys', {'csrf': page_csrf(page.text), 'name': 'bob', 'rules': '*'})
                assert 'peer add testnode %s --key pt_' % public_url in page.text
        finally:
            made.close()


# --- peers -----------------------------------------------------------------------------------------

def test_a_peer_is_added_by_pasting_its_line(network):
    alice, bob = network.make('alice'), network.make('bob')
    alice.add('picnic.mp4', tags=['family'], title='Family picnic')
    alice.add('report.mp4', tags=['work'], title='Report')
    alice.sign_in('root', admin=True)
    _, token = alice.accounts.create_key('bob', ['tag:family'])
    admin = bob.sign_in('root', admin=True)
    page = admin.get('/admin/peers')
    assert 'No peers yet' in page.text
    form = form_of(page, '/admin/peers')
    form['line'] = '  privtube peer add alice http://alice.test --key %s ' % token
    page = form.submit(status=200)
    assert 'Peer alice added' in page.text and 'never synced' in page.text
    assert stat.S_IMODE(os.stat(bob.config_path).st_mode) == 0o600
    assert privtube_config.load(bob.config_path).peers['alice']['key'] == token
    assert 'alice' in bob.node.registry.peers()
    # sync now, against the real second node over the loopback network
    page = form_of(page, '/admin/peers/alice/sync').submit(status=200)
    assert 'Synced alice: 1 items updated, 0 removed.' in page.text
    page = admin.get('/admin/peers')
    assert re.search(r'<td data-label="Status">ok</td>', page.text)
    assert re.search(r'<td data-label="Items">1</td>', page.text)
    viewer = bob.sign_in('ann')
    assert 'Family picnic' in viewer.get('/search', {'q': 'picnic'}).text


def test_adding_a_peer_refuses_bad_lines_and_fields_and_keeps_them(network):
    bob = network.make('bob')
    admin = bob.sign_in('root', admin=True)
    before = open(bob.config_path).read()
    token = csrf(admin, '/admin/peers')
    cases = [({'line': 'peer add alice'}, 'paste the whole line'),
             ({'line': 'privtube peer add alice ftp://alice.test --key pt_abcdefghijklmnop'}, 'is not an http://'),
             ({'name': 'local', 'url': 'http://x.test', 'key': 'pt_abcdefghijklmnop'}, 'not a valid peer name'),
             ({'name': 'a b', 'url': 'http://x.test', 'key': 'pt_abcdefghijklmnop'}, 'not a valid peer name'),
             ({'name': 'alice', 'url': 'http://x.test', 'key': 'short'}, 'does not look like a privtube key'),
             ({'name': 'alice', 'url': 'http://x.test', 'key': 'pt_abcdefghijklmnop', 'ca_file': 'nope.pem'},
              'there is no CA file'),
             ({'name': 'alice', 'url': 'http://x.test\n[node]', 'key': 'pt_abcdefghijklmnop'}, 'is not an http://')]
    for fields, message in cases:
        page = admin.post('/admin/peers', dict(fields, csrf=token), status=400)
        assert message in error_of(page), fields
        assert bob.config_path not in page.text
        for value in fields.values():
            if '\n' not in value:
                assert 'value="%s"' % value in page.text, value
    assert open(bob.config_path).read() == before


def test_a_peer_is_edited_and_removed_after_asking(network, tmp_path):
    alice, bob = network.make('alice'), network.make('bob')
    alice.add('picnic.mp4', title='Family picnic')
    _, token = alice.accounts.create_key('bob', ['*'])
    privtube_config.add_peer(bob.config_path, 'alice', 'http://wrong.test', token)
    admin = bob.sign_in('root', admin=True)
    page = form_of(admin.get('/admin/peers/alice'), '/admin/peers/alice/sync').submit(status=200)
    assert 'The sync of alice failed: cannot reach the peer' in page.text
    assert 'last error: cannot reach the peer' in page.text
    (tmp_path / 'bob' / 'alice-ca.pem').write_text('not checked here')
    form = form_of(page, '/admin/peers/alice')
    form['url'], form['ca_file'] = 'http://alice.test', 'alice-ca.pem'
    page = form.submit(status=200)
    assert 'Saved' in page.text
    peer = privtube_config.load(bob.config_path).peers['alice']
    assert peer['url'] == 'http://alice.test' and peer['ca_file'].endswith('alice-ca.pem')
    assert stat.S_IMODE(os.stat(bob.config_path).st_mode) == 0o600
    form = form_of(page, '/admin/peers/alice')
    form['ca_file'] = ''
    form.submit(status=200)
    page = form_of(admin.get('/admin/peers/alice'), '/admin/peers/alice/sync').submit(status=200)
    assert 'Synced alice: 1 items updated' in page.text
    assert bob.node.database.Item.select().where(bob.node.database.Item.origin == 'alice').count() == 1
    form['key'] = 'x'
    page = form.submit(status=400)
    assert 'does not look like a privtube key' in error_of(page) and 'value="x"' in page.text
    page = admin.get('/admin/peers/alice').click(href='/admin/peers/alice/remove')
    assert 'Remove the peer alice?' in page.text
    form_of(page, '/admin/peers/alice/remove').submit(status=303)
    assert 'alice' not in privtube_config.load(bob.config_path).peers
    assert bob.node.database.Item.select().where(bob.node.database.Item.origin == 'alice').count() == 0
    admin.get('/admin/peers/alice', status=404)


# --- navigation ------------------------------------------------------------------------------------

def test_the_menus_mark_the_open_page(furnished, admin):
    for url, tab in (('/admin/users', 'Users'), ('/admin/users/bob', 'Users'), ('/admin/groups/family', 'Groups'),
                     ('/admin/keys', 'Keys'), ('/admin/peers/far', 'Peers'), ('/admin/library', 'Library')):
        text = admin.get(url).text
        assert re.findall(r'aria-current="page">(\w+)</a>', text) == ['Admin', tab], url
    assert re.findall(r'aria-current="page">(\w+)</a>', admin.get('/albums').text) == ['Albums']
    assert 'aria-current' not in admin.get('/').text
