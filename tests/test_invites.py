"""Invite links, names people type in any case, and the pages that used to be dead ends."""
import re
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import page_csrf
from test_web import PASSWORD, browser, csrf_for, find_form, make_user, sign_in, signed_in

import privtube_invites
from privtube_web import setup_token


def made_link(admin, groups=('members',), days='7'):
    """An admin makes an invite on /admin/users; returns (the link, the token)."""
    page = admin.get('/admin/users')
    form = find_form(page, '/admin/invites', has=('days',))
    for field in form.fields['groups']:
        field.checked = field._value in groups
    form['days'] = days
    made = form.submit(status=200)
    link = re.search(r'id="invite-link" readonly value="([^"]+)"', made.text).group(1)
    return link, parse_qs(urlsplit(link).query)['token'][0]


def accept(client, token, name, password=PASSWORD, again=None, status=303, **extra):
    """The newcomer opens the link and sends its form."""
    page = client.get('/invite', params={'token': token}, status=200)
    form = find_form(page, '/invite', has=('username', 'password', 'again'))
    form['username'], form['password'], form['again'] = name, password, password if again is None else again
    return client.post('/invite', form.submit_fields() + list(extra.items()), status=status)


@pytest.fixture
def admin(node):
    make_user(node, 'root', admin=True)
    node.accounts.create_group('family', ['tag:family'])
    node.accounts.create_group('friends', ['tag:friends'])
    return signed_in(node, 'root')


def test_an_invite_makes_an_account_in_exactly_its_groups_and_signs_in(node, admin):
    node.add('f.mp4', tags=['family'], title='Family clip')
    node.add('g.mp4', tags=['friends'], title='Friends clip')
    link, token = made_link(admin, groups=('family',))
    assert link.startswith(node.config.base_url + '/invite?token=')
    assert len(token) >= 43
    newcomer = browser(node, '192.0.2.9')
    accept(newcomer, token, 'Grandma')
    assert node.accounts.group_names(node.accounts.user('grandma')) == ['family']
    home = newcomer.get('/', status=200)
    assert 'Family clip' in home.text and 'Friends clip' not in home.text
    # the token is stored hashed only, and the invite is gone from the open list
    assert token not in repr(list(node.node.database.Invite.select().dicts()))
    assert node.node.invites.open() == []


def test_an_invite_that_tries_to_choose_groups_gets_only_its_own(node, admin):
    _, token = made_link(admin, groups=('family',))
    accept(browser(node, '192.0.2.9'), token, 'mallory', groups='friends', admin='1', is_admin='1')
    mallory = node.accounts.user('mallory')
    assert node.accounts.group_names(mallory) == ['family'] and not mallory.is_admin


def test_a_used_invite_cannot_be_used_again_and_looks_unknown(node, admin):
    _, token = made_link(admin)
    accept(browser(node, '192.0.2.9'), token, 'ann')
    again = browser(node, '192.0.2.10')
    used = again.get('/invite', params={'token': token}, status=404)
    unknown = again.get('/invite', params={'token': 'x' * 43}, status=404)
    assert 'does not work' in used.text and 'name="password"' not in used.text
    assert used.text == unknown.text                        # nothing tells which one once existed, nor who took it
    again.post('/invite', {'token': token, 'username': 'bob', 'password': PASSWORD, 'again': PASSWORD}, status=404)
    assert [u.name for u, _ in node.accounts.users()] == ['ann', 'root']


def test_expired_and_revoked_invites_say_so(node, admin):
    _, token = made_link(admin, days='1')
    invites = node.node.invites
    invites.clock = lambda: privtube_invites.time.time() + 2 * privtube_invites.DAY
    page = browser(node).get('/invite', params={'token': token}, status=410)
    assert 'expired' in page.text and 'name="password"' not in page.text
    invites.clock = privtube_invites.time.time
    _, token = made_link(admin)
    listing = admin.get('/admin/users')
    assert 'Open invites' in listing.text and 'root' in listing.text
    second = invites.open()[-1].id
    asked = find_form(listing, '/admin/invites/%d/revoke' % second).submit(status=200)
    browser(node, '192.0.2.11').get('/invite', params={'token': token}, status=200)   # asking revokes nothing
    find_form(asked, '/admin/invites/%d/revoke' % second, confirm='yes').submit(status=303)
    page = browser(node, '192.0.2.12').get('/invite', params={'token': token}, status=410)
    assert 'withdrawn' in page.text
    assert second not in [row.id for row in invites.open()]
    assert '/admin/invites/%d/revoke' % second not in admin.get('/admin/users').text


def test_two_uses_of_one_invite_at_once_make_one_account(node, admin):
    _, token = made_link(admin)
    clients = [browser(node, '192.0.2.%d' % (20 + n)) for n in range(6)]
    forms = []
    for n, client in enumerate(clients):
        client.get('/invite', params={'token': token}, status=200)
        forms.append({'token': token, 'username': 'racer%d' % n, 'password': PASSWORD, 'again': PASSWORD,
                      'csrf': login_token_of(client)})
    statuses, start = [], threading.Barrier(len(clients))

    def use(client, fields):
        start.wait()
        statuses.append(client.post('/invite', fields, expect_errors=True).status_int)

    threads = [threading.Thread(target=use, args=pair) for pair in zip(clients, forms)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [303] + [404] * 5
    assert len([u for u, _ in node.accounts.users() if u.name.startswith('racer')]) == 1


def login_token_of(client):
    return client.cookies['privtube_login']


def test_bad_invite_tokens_are_throttled_per_client(node, admin):
    guesser = browser(node, '198.51.100.7')
    for n in range(10):
        guesser.get('/invite', params={'token': 'guess%d' % n}, status=404)
    refused = guesser.get('/invite', params={'token': 'guess-more'}, status=429)
    assert 'Wait a few minutes' in refused.text and refused.headers['Retry-After']
    _, token = made_link(admin)
    guesser.get('/invite', params={'token': token}, status=429)          # even a good one, until it waits
    browser(node, '198.51.100.8').get('/invite', params={'token': token}, status=200)   # others are not blocked


def test_an_invite_form_that_fails_keeps_the_name_and_says_why(node, admin):
    _, token = made_link(admin)
    client = browser(node, '192.0.2.30')
    differ = accept(client, token, 'Aunt.May', again='something else', status=400)
    assert 'passwords differ' in differ.text and 'value="Aunt.May"' in differ.text
    assert '<header>' in differ.text
    short = accept(client, token, 'Aunt.May', password='short', status=400)
    assert 'at least 8' in short.text and 'value="Aunt.May"' in short.text
    taken = accept(client, token, 'ROOT', status=400)
    assert 'already exists' in taken.text and 'value="ROOT"' in taken.text
    assert node.node.invites.open()                       # nothing used the invite up
    accept(client, token, 'Aunt.May')


def test_an_invite_post_from_another_site_is_refused(node, admin):
    _, token = made_link(admin)
    forged = browser(node).post('/invite', {'token': token, 'username': 'eve', 'password': PASSWORD,
                                            'again': PASSWORD}, headers={'Sec-Fetch-Site': 'cross-site'},
                                status=403)
    assert 'form expired' in forged.text
    assert node.node.invites.open()


def test_only_admins_make_and_revoke_invites(node, admin):
    make_user(node, 'bob')
    bob = signed_in(node, 'bob', address='192.0.2.40')
    invite, _ = node.node.invites.create(None)
    bob.post('/admin/invites', {'csrf': csrf_for(bob), 'groups': 'members'}, status=403)
    bob.post('/admin/invites/%d/revoke' % invite.id, {'csrf': csrf_for(bob), 'confirm': 'yes'}, status=403)
    assert len(node.node.invites.open()) == 1
    page = admin.post('/admin/invites', {'csrf': csrf_for(admin), 'groups': 'nope'}, status=400)
    assert 'no group named nope' in page.text and '<header>' in page.text
    admin.post('/admin/invites', {'csrf': csrf_for(admin), 'days': '91'}, status=400)
    assert len(node.node.invites.open()) == 1


# --- names in any case ---------------------------------------------------------------------------------

def test_names_are_unique_in_any_case_and_sign_in_takes_any_case(node):
    make_user(node, 'Grandma')
    with pytest.raises(Exception, match='already exists'):
        make_user(node, 'grandma')
    assert [u.name for u, _ in node.accounts.users()] == ['Grandma']
    client = browser(node)
    sign_in(client, 'grandma')
    assert 'Grandma' in client.get('/account').text


def test_the_database_refuses_a_second_name_in_another_case(node):
    """Two requests racing past the code's check still meet migration 21's trigger."""
    make_user(node, 'Grandma')
    with pytest.raises(Exception, match='already exists'):
        node.accounts.add_user('GRANDMA', 'x', False, [])


def test_a_failed_sign_in_keeps_the_name_typed(node):
    make_user(node, 'ann')
    page = sign_in(browser(node), 'Ann', password='wrong password', status=401)
    assert 'Wrong user name or password' in page.text and 'value="Ann"' in page.text


# --- dead ends --------------------------------------------------------------------------------------

def test_setup_without_its_token_says_where_the_link_is(node):
    page = browser(node).get('/setup', status=404)
    assert 'privtube serve' in page.text and 'Setup is done' not in page.text
    login = browser(node).get('/login')
    assert 'no administrator yet' in login.text and 'privtube serve' in login.text
    make_user(node, 'root', admin=True)
    assert 'Setup is done' in browser(node).get('/setup', status=404).text
    assert 'no administrator yet' not in browser(node).get('/login').text


def test_a_failed_setup_keeps_the_name_typed(node):
    token = setup_token(node.node.database)
    page = browser(node).post('/setup', {'token': token, 'username': 'Boss', 'password': 'short'}, status=400)
    assert 'at least 8' in page.text and 'value="Boss"' in page.text


@pytest.mark.parametrize('path', ['/watch/%s', '/edit/%s', '/albums/%s'])
def test_a_hidden_or_missing_item_keeps_the_menu_and_says_ask_its_owner(node, path):
    make_user(node, 'root', admin=True)
    make_user(node, 'bob', groups=[])
    hidden = node.add('secret.mp4', tags=['family'], title='Secret')
    album = node.store.albums.create('Hidden trip', item_ids=[hidden.id])
    bob = signed_in(node, 'bob')
    target = album.id if path.startswith('/albums') else hidden.id
    for address in (path % target, path % ('A' * 23)):
        page = bob.get(address, status=404)
        assert 'This item does not exist or is not shared with you - ask its owner' in page.text
        assert 'href="/logout"' in page.text and 'href="/"' in page.text
        assert 'Secret' not in page.text and 'Hidden trip' not in page.text


def test_removing_a_group_asks_first(node, admin):
    asked = admin.get('/admin/groups/friends/remove')          # the group's page links here (privtube_admin)
    assert 'Remove the group friends?' in asked.text
    assert 'friends' in [g.name for g in node.accounts.groups()]
    find_form(asked, '/admin/groups/friends/remove', confirm='yes').submit(status=303)
    assert 'friends' not in [g.name for g in node.accounts.groups()]


def test_a_failed_password_change_and_edit_keep_the_page(node):
    ann = make_user(node, 'ann')
    client = signed_in(node, 'ann')
    page = client.post('/account', {'csrf': csrf_for(client), 'current': PASSWORD, 'password': 'short'},
                       status=400)
    assert 'not saved' in page.text and 'at least 8' in page.text and 'href="/logout"' in page.text
    item = node.store.items.create(node.media_file('a.mp4'), 'Clip', [], False)
    node.store.items.edit(item, 'Clip', '', [], False)
    node.node.database.Item.update(owner=ann.id).where(node.node.database.Item.id == item.id).execute()
    edit = client.get('/edit/' + item.id)
    page = client.post('/edit/' + item.id, {'csrf': page_csrf(edit.text), 'title': 'New title',
                                            'description': 'typed words', 'tags': 'x' * 70}, status=400)
    assert 'Not saved' in page.text and 'value="New title"' in page.text and 'typed words' in page.text
    assert node.store.items.get(item.id).title == 'Clip'

