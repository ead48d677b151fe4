"""The web app end to end through WebTest, as a person uses the pages: first run, sessions, sign-in,
the route table, who sees what, revocation, escaping, CSRF, search input, upload, views, comments, admin."""
import os
import re
import time
from urllib.parse import urlsplit

import pytest
import webtest
from conftest import login_token, page_csrf

import privtube_auth
import privtube_media
import privtube_web
from privtube_web import CLIENT_LIMIT, COOKIE, PAIR_LIMIT, setup_token

PASSWORD = 'correct horse battery'
DATA = b'\x00\x00\x00\x18ftypmp42' + bytes(range(256)) * 40
SCRIPT = '<script>alert(1)</script>'
IMG = '"><img src=x onerror=alert(1)>'
ESCAPED_SCRIPT = '&lt;script&gt;alert(1)&lt;/script&gt;'
# the pairing exchange checks its own one-time token (tests/test_pairing.py)
ANONYMOUS_RULES = {'/login', '/setup', '/healthz', '/s/<token>', '/s/<token>/<what:re:media|thumb|preview>',
                   '/s/<token>/item/<item_id>', '/s/<token>/item/<item_id>/<what:re:media|thumb|preview>',
                   '/reset', '/api/v1/pair', '/api/v1/openapi.json',
                   '/invite'}        # the invite's one-time token is the credential, throttled per client
# WebDAV asks for its own credential (an app password) on every method: tests/test_dav.py enumerates them
ANONYMOUS_RULES |= {'/dav', '/dav/', '/dav/<path:path>'}


# --- helpers ---------------------------------------------------------------------------------------

def browser(node, address='192.0.2.1'):
    """A fresh browser (its own cookie jar) coming from `address`."""
    return webtest.TestApp(node.app, extra_environ={'REMOTE_ADDR': address})


def forms_of(page):
    seen, forms = set(), []
    for form in page.forms.values():
        if id(form) not in seen:
            seen.add(id(form))
            forms.append(form)
    return forms


def find_form(page, target, has=(), **values):
    """The form posting to `target` that has the fields `has` and hidden fields equal to `values`."""
    for form in forms_of(page):
        if form.action != target or any(name not in form.fields for name in has):
            continue
        if all(name in form.fields and form.fields[name][0].value == value for name, value in values.items()):
            return form
    raise AssertionError('no form for %s %r %r in the page' % (target, has, values))


def csrf_of(page):
    return page_csrf(page.text)


def csrf_for(client):
    """The session's token, as the account page (any signed-in form) carries it."""
    return csrf_of(client.get('/account'))


def sign_in(client, name, password=PASSWORD, status=303):
    page = client.get('/login')
    form = find_form(page, '/login', has=('username', 'password'))
    form['username'] = name
    form['password'] = password
    return form.submit(status=status)


def signed_in(node, name, password=PASSWORD, address='192.0.2.1'):
    client = browser(node, address)
    sign_in(client, name, password)
    return client


def make_user(node, name, admin=False, groups=None):
    return node.accounts.create_user(name, PASSWORD, admin=admin, groups=groups)


def path_of(response):
    return urlsplit(response.headers['Location']).path


def assert_to_login(response):
    assert response.status_int == 303, response.status
    assert path_of(response) == '/login'


def session_cookie(response):
    for header in response.headers.getall('Set-Cookie'):
        if header.startswith(COOKIE + '='):
            return header
    raise AssertionError('no %s cookie was set' % COOKIE)


def owned_item(node, relative, title, owner, tags=(), private=False, data=DATA):
    return node.store.items.create(node.media_file(relative, data), title, list(tags), private, owner_id=owner.id)


def item_row(node, item):
    return node.store.items.get(item.id)


def assert_escaped(page):
    assert '<script>alert(1)' not in page.text
    assert '<img src=x' not in page.text
    assert '<img/src' not in page.text


def snapshot(node):
    """Everything a state-changing request could change (not the session's last-seen time)."""
    d = node.node.database
    return {
        'users': sorted((u.name, u.password_hash, u.is_admin) for u in d.User.select()),
        'groups': sorted((g.name, g.rules) for g in d.UserGroup.select()),
        'memberships': sorted((m.user_id, m.group_id) for m in d.Membership.select()),
        'items': sorted((i.id, i.title, i.description, i.private, i.views, i.comments, i.seq)
                        for i in d.Item.select()),
        'tags': sorted((t.item_id, t.tag) for t in d.ItemTag.select()),
        'comments': sorted((c.id, c.body) for c in d.Comment.select()),
        'keys': sorted((k.name, k.rules, k.token_hash) for k in d.ApiKey.select()),
        'invites': sorted((i.id, i.revoked, i.used_at) for i in d.Invite.select()),
        'sessions': sorted(s.id_hash for s in d.Session.select()),
        'shares': d.db.execute_sql('SELECT * FROM share ORDER BY id').fetchall(),
        'app_passwords': d.db.execute_sql('SELECT * FROM app_password ORDER BY id').fetchall(),
        'secrets': sorted((s.name, s.value) for s in d.Secret.select()),
        'uploads': sorted(os.listdir(node.store.uploads_dir)),
        'albums': sorted((a.id, a.name, a.description, a.cover_id) for a in d.Album.select()),
        'album_items': sorted((m.album_id, m.item_id, m.position) for m in d.AlbumItem.select()),
        'playback': sorted((p.user_id, p.item_id, p.position, p.finished) for p in d.Playback.select()),
    }


def temp_files(node):
    return [name for name in os.listdir(node.store.uploads_dir) if name.startswith('.')]


# --- 1. first run ----------------------------------------------------------------------------------

def test_setup_creates_the_first_admin_once(node):
    token = setup_token(node.node.database)
    assert token and setup_token(node.node.database) == token
    client = browser(node)
    page = client.get('/setup', params={'token': token}, status=200)
    assert 'Create the administrator' in page.text
    form = find_form(page, '/setup', has=('username', 'password'))
    assert form['token'].value == token
    form['username'] = 'root'
    form['password'] = PASSWORD
    done = form.submit(status=303)
    assert path_of(done) == '/'
    assert COOKIE in client.cookies
    home = client.get('/', status=200)
    assert 'root' in home.text and 'href="/admin/users"' in home.text
    user = node.accounts.user('root')
    assert user.is_admin
    # the link is spent
    assert setup_token(node.node.database) is None
    gone = browser(node).get('/setup', params={'token': token}, status=404)
    assert 'Create the administrator' not in gone.text
    again = browser(node).post('/setup', {'token': token, 'username': 'second', 'password': PASSWORD},
                               status=403)
    assert 'no longer valid' in again.text
    assert [u.name for u, _ in node.accounts.users()] == ['root']


def test_setup_refuses_a_wrong_token(node):
    token = setup_token(node.node.database)
    client = browser(node)
    for wrong in ('', 'x', token[:-1], token + 'x', token.upper() if token.upper() != token else token + '0'):
        page = client.get('/setup', params={'token': wrong}, status=404)
        assert 'name="password"' not in page.text
        client.post('/setup', {'token': wrong, 'username': 'evil', 'password': PASSWORD}, status=403)
    client.post('/setup', {'username': 'evil', 'password': PASSWORD}, status=403)
    assert node.accounts.users() == []
    assert setup_token(node.node.database) == token   # still usable by the real admin


def test_setup_refuses_an_invalid_name_with_a_clear_message(node):
    token = setup_token(node.node.database)
    client = browser(node)
    page = client.post('/setup', {'token': token, 'username': SCRIPT, 'password': PASSWORD}, status=400)
    assert 'user name must be 1-64 letters' in page.text
    assert_escaped(page)
    short = client.post('/setup', {'token': token, 'username': 'root', 'password': 'short'}, status=400)
    assert 'at least 8 characters' in short.text
    assert node.accounts.users() == []
    assert COOKIE not in client.cookies
    assert setup_token(node.node.database) == token


# --- 2. sessions -----------------------------------------------------------------------------------

def test_session_cookie_is_httponly_and_samesite_lax(node):
    make_user(node, 'ann')
    client = browser(node)
    response = sign_in(client, 'ann')
    cookie = session_cookie(response)
    attributes = [part.strip().lower() for part in cookie.split(';')]
    assert 'httponly' in attributes
    assert 'samesite=lax' in attributes
    assert 'secure' not in attributes          # plain http: a Secure cookie would never come back
    assert 'path=/' in attributes
    secure = browser(node)
    page = secure.get('/login', extra_environ={'wsgi.url_scheme': 'https'})
    form = find_form(page, '/login', has=('username',))
    form['username'], form['password'] = 'ann', PASSWORD
    over_https = form.submit(status=303, extra_environ={'wsgi.url_scheme': 'https'})
    assert 'secure' in [part.strip().lower() for part in session_cookie(over_https).split(';')]


def test_sign_in_issues_a_new_session_id(node):
    make_user(node, 'ann')
    client = browser(node)
    client.set_cookie(COOKIE, 'planted-by-an-attacker')
    sign_in(client, 'ann')
    first = client.cookies[COOKIE]
    assert first != 'planted-by-an-attacker' and len(first) >= 40
    sign_in(client, 'ann')
    second = client.cookies[COOKIE]
    assert second != first
    # the id from before the second sign-in is dead
    stale = browser(node)
    stale.set_cookie(COOKIE, first)
    assert_to_login(stale.get('/'))
    client.get('/', status=200)
    # a planted id never becomes a session
    planted = browser(node)
    planted.set_cookie(COOKIE, 'planted-by-an-attacker')
    assert_to_login(planted.get('/'))


def test_logout_kills_the_session(node):
    make_user(node, 'ann')
    client = signed_in(node, 'ann')
    token = client.cookies[COOKIE]
    page = client.get('/logout', status=200)
    form = find_form(page, '/logout', has=('csrf',))
    assert_to_login(form.submit())
    assert COOKIE not in client.cookies
    assert_to_login(client.get('/'))
    replay = browser(node)
    replay.set_cookie(COOKIE, token)
    assert_to_login(replay.get('/'))
    assert_to_login(replay.get('/account'))
    assert node.node.database.Session.select().count() == 0


def test_idle_session_expires(node):
    make_user(node, 'ann')
    client = signed_in(node, 'ann')
    client.get('/', status=200)
    Session = node.node.database.Session
    Session.update(last_seen=Session.last_seen - 30 * 24 * 3600 - 60).execute()
    assert_to_login(client.get('/'))


def test_removing_the_user_kills_their_session(node):
    make_user(node, 'root', admin=True)
    make_user(node, 'bob')
    make_user(node, 'carl')
    bob = signed_in(node, 'bob')
    carl = signed_in(node, 'carl')
    bob.get('/', status=200)
    token = bob.cookies[COOKIE]
    node.accounts.remove_user('bob')
    assert_to_login(bob.get('/'))
    # a new user of the same name does not inherit the old session
    make_user(node, 'bob')
    replay = browser(node)
    replay.set_cookie(COOKIE, token)
    assert_to_login(replay.get('/'))
    # and through the admin page
    admin = signed_in(node, 'root')
    confirm = admin.get('/admin/users/carl').click(href='/admin/users/carl/remove')
    find_form(confirm, '/admin/users/carl/remove', confirm='yes').submit(status=303)
    assert_to_login(carl.get('/'))


def test_changing_the_password_signs_out_other_sessions(node):
    make_user(node, 'ann')
    laptop = signed_in(node, 'ann')
    phone = signed_in(node, 'ann', address='192.0.2.2')
    phone.get('/', status=200)
    page = laptop.get('/account')
    form = find_form(page, '/account', has=('current', 'password'))
    form['current'], form['password'] = 'wrong password', 'a new password 42'
    wrong = form.submit(status=400)
    assert 'The current password is wrong.' in wrong.text
    phone.get('/', status=200)
    form = find_form(laptop.get('/account'), '/account', has=('current', 'password'))
    form['current'], form['password'] = PASSWORD, 'a new password 42'
    done = form.submit(status=200)
    assert 'Your password was changed' in done.text
    laptop.get('/', status=200)
    assert_to_login(phone.get('/'))
    sign_in(browser(node, '192.0.2.3'), 'ann', PASSWORD, status=401)
    sign_in(browser(node, '192.0.2.4'), 'ann', 'a new password 42', status=303)


# --- 3. passwords and sign-in ----------------------------------------------------------------------

def test_unknown_user_and_wrong_password_look_the_same(node):
    make_user(node, 'ann')
    unknown = sign_in(browser(node, '192.0.2.10'), 'nobody', PASSWORD, status=401)
    wrong = sign_in(browser(node, '192.0.2.11'), 'ann', 'not the password', status=401)
    assert unknown.status == wrong.status
    message = re.compile(r'<p class="error" role="alert">(.*?)</p>')
    assert message.findall(unknown.text) == message.findall(wrong.text) == ['Wrong user name or password.']
    assert COOKIE not in unknown.headers.get('Set-Cookie', '')
    assert COOKIE not in wrong.headers.get('Set-Cookie', '')


def test_sign_in_is_throttled_per_account_and_client(node):
    make_user(node, 'ann')
    for n in range(PAIR_LIMIT):
        sign_in(browser(node, '198.51.100.1'), 'ann', 'guess %d' % n, status=401)
    # from the same address, with the right password, the account is locked
    blocked = sign_in(browser(node, '198.51.100.1'), 'ann', PASSWORD, status=429)
    assert 'Too many failed sign-ins' in blocked.text and int(blocked.headers['Retry-After']) > 1
    assert COOKIE not in blocked.headers.get('Set-Cookie', '')
    # the bucket is per account, whatever the case of the name
    sign_in(browser(node, '198.51.100.1'), 'ANN', PASSWORD, status=429)
    # another account from that address, and the account from another address, are not affected
    make_user(node, 'bob')
    sign_in(browser(node, '198.51.100.1'), 'bob', PASSWORD, status=303)
    sign_in(browser(node, '198.51.100.200'), 'ann', PASSWORD, status=303)


def test_a_burst_of_sign_ins_is_told_to_retry_instead_of_taking_every_worker_thread(node):
    make_user(node, 'ann')
    gate = next(plugin.web.passwords for plugin in node.app.plugins if getattr(plugin, 'name', '') == 'privtube_web')
    held = 0
    while gate.slots.acquire(blocking=False):      # as many password checks in progress as allowed (threads / 2)
        held += 1
    assert held == 2
    busy = sign_in(browser(node, '198.51.100.9'), 'ann', PASSWORD, status=429)
    assert 'try again in a moment' in busy.text and busy.headers['Retry-After'] == '1'
    assert COOKIE not in busy.headers.get('Set-Cookie', '')
    for _ in range(held):
        gate.slots.release()
    sign_in(browser(node, '198.51.100.9'), 'ann', PASSWORD, status=303)   # not counted as a failure


def test_sign_in_is_throttled_per_client_address(node):
    make_user(node, 'bob')
    for n in range(CLIENT_LIMIT):
        sign_in(browser(node, '203.0.113.7'), 'someone%d' % n, 'guess', status=401)
    blocked = sign_in(browser(node, '203.0.113.7'), 'bob', PASSWORD, status=429)
    assert 'Too many failed sign-ins' in blocked.text
    # a forged proxy header does not give the client a new bucket (no trusted proxy is configured)
    client = browser(node, '203.0.113.7')
    page = client.get('/login')
    form = find_form(page, '/login', has=('username',))
    form['username'], form['password'] = 'bob', PASSWORD
    form.submit(status=429, headers={'X-Forwarded-For': '10.9.8.7', 'X-Real-IP': '10.9.8.7',
                                     'Forwarded': 'for=10.9.8.7'})
    sign_in(browser(node, '203.0.113.8'), 'bob', PASSWORD, status=303)


def test_overlong_password_is_refused_quickly(node):
    make_user(node, 'ann')
    client = browser(node)
    token = login_token(client.get('/login').text)
    started = time.monotonic()
    huge = client.post('/login', {'username': 'ann', 'password': 'x' * (1024 * 1024), 'csrf': token},
                       expect_errors=True)
    assert huge.status_int in (400, 401, 413), huge.status
    just_over = client.post('/login', {'username': 'ann', 'password': 'x' * (privtube_auth.MAX_PASSWORD + 1),
                                       'csrf': token}, status=401)
    assert 'Wrong user name or password.' in just_over.text
    assert time.monotonic() - started < 2
    assert COOKIE not in client.cookies
    page = client.get('/account')          # still not signed in
    assert_to_login(page)


def test_sign_in_goes_back_to_a_local_page_only(node):
    make_user(node, 'ann')
    client = browser(node)
    assert_to_login(client.get('/search?q=x'))
    page = client.get('/login', params={'next': '/search?q=x'})
    form = find_form(page, '/login', has=('username',))
    form['username'], form['password'] = 'ann', PASSWORD
    assert form.submit(status=303).headers['Location'].endswith('/search?q=x')
    for evil in ('//evil.example/', 'https://evil.example/', '/\\evil.example', 'javascript:alert(1)'):
        other = browser(node, '192.0.2.50')
        page = other.get('/login', params={'next': evil})
        form = find_form(page, '/login', has=('username',))
        form['username'], form['password'] = 'ann', PASSWORD
        location = form.submit(status=303).headers['Location']
        assert urlsplit(location).path == '/' and 'evil' not in location


# --- 4. the route table ----------------------------------------------------------------------------

def fill_rule(rule, values):
    def value(match):
        name = match.group(1)
        assert name in values, 'route %s has a wildcard <%s> nobody reviewed' % (rule, name)
        return values[name]
    return re.sub(r'<([A-Za-z_]+)(?::[^>]*)?>', value, rule)


def test_every_route_but_the_reviewed_list_needs_a_credential(node):
    make_user(node, 'ann')
    item = node.add('clip.mp4', tags=['family'], title='Clip')
    comment = node.store.comments.add(item, 'ann', 'hello')
    album = node.store.albums.create('Trip', item_ids=[item.id])
    values = {'item_id': item.id, 'comment_id': comment['id'], 'album_id': album.id, 'change': 'rename',
              'upload_id': 'A' * 22, 'sid': 'file-en', 'share_id': '1', 'name': 'ann', 'invite_id': '1',
              'app_id': '1'}
    routes = node.app.routes
    open_rules = {r.rule for r in routes if r.config.get('anonymous') or True in r.skiplist}
    assert {rule for rule in open_rules if not rule.startswith('/static/')} == ANONYMOUS_RULES
    assert all(re.match(r'^/static/<name:re:[^>]*>$', rule) for rule in open_rules - ANONYMOUS_RULES)
    signed = signed_in(node, 'ann')
    checked = 0
    for route in routes:
        if route.rule in ANONYMOUS_RULES or route.rule.startswith('/static/'):
            continue
        url = fill_rule(route.rule, values)
        methods = [route.method] + (['HEAD'] if route.method == 'GET' else [])
        for method in methods:
            for cookie in (None, 'x' * 43):
                client = browser(node)
                if cookie:
                    client.set_cookie(COOKIE, cookie)        # a forged or stale session id
                response = client.request(url, method=method, expect_errors=True)
                if route.rule.startswith('/api/v1/'):
                    assert response.status_int == 401, (method, url, response.status)
                else:
                    assert response.status_int == 303, (method, url, response.status)
                    assert path_of(response) == '/login', (method, url)
            if route.rule.startswith('/api/v1/'):
                # a web session is no API credential
                response = signed.request(url, method=method, expect_errors=True)
                assert response.status_int == 401, (method, url, response.status)
            checked += 1
    assert checked >= 30
    # nothing was changed by all of that
    assert node.store.items.get(item.id).views == 0
    assert len(node.store.comments.json(item)) == 1
    assert node.store.items.get(item.id) is not None
    assert node.store.albums.get(album.id).name == 'Trip'


def test_only_reviewed_routes_may_be_anonymous(node):
    assert {r.rule for r in node.app.routes if r.config.get('anonymous')} <= privtube_web.ANONYMOUS

    @node.app.get('/unreviewed', anonymous=True)
    def unreviewed():
        return 'open'
    assert browser(node).get('/unreviewed', expect_errors=True).status_int == 500
    assert 'open' not in browser(node).get('/unreviewed', expect_errors=True).text


def test_the_reviewed_anonymous_routes_work_anonymously(node):
    client = browser(node)
    assert client.get('/healthz', status=200).json == {'status': 'ok'}
    client.get('/login', status=200)
    client.get('/static/style.css', status=200)
    client.get('/static/app.js', status=200)
    client.get('/static/..%2fconfig.ini', status=404)
    client.get('/setup', status=404)


# --- 5. who sees what ------------------------------------------------------------------------------

TITLES = {'family': 'Aardvark picnic', 'plain': 'Bison parade', 'private': 'Capybara diary'}
SECRET_COMMENTS = {'family': 'remark-about-aardvark', 'plain': 'remark-about-bison',
                   'private': 'remark-about-capybara'}
SEES = {
    'admin': {'family', 'plain', 'private'},
    'owner': {'private'},                 # in no group: sees only what they own
    'family': {'family'},                 # tag:family, but never a private item tagged family
    'other': set(),                       # tag:other
    'member': {'family', 'plain'},        # the default members group (*)
}
EDITS = {'admin': {'family', 'plain', 'private'}, 'owner': {'private'}}


@pytest.fixture
def world(node):
    node.accounts.create_group('family', ['tag:family'])
    node.accounts.create_group('friends', ['tag:other'])
    users = {
        'admin': make_user(node, 'root', admin=True),
        'owner': make_user(node, 'olga', groups=[]),
        'family': make_user(node, 'fred', groups=['family']),
        'other': make_user(node, 'otto', groups=['friends']),
        'member': make_user(node, 'mia'),
    }
    items = {
        'family': node.add('family.mp4', tags=['family'], title=TITLES['family']),
        'plain': node.add('plain.mp4', title=TITLES['plain']),
        'private': owned_item(node, 'private.mp4', TITLES['private'], users['owner'], tags=['family'],
                              private=True),
    }
    for key, item in items.items():
        node.store.comments.add(item, 'someone', SECRET_COMMENTS[key])
    node.users, node.items = users, items
    return node


def assert_hidden(page, key):
    assert TITLES[key] not in page.text
    assert SECRET_COMMENTS[key] not in page.text


@pytest.mark.parametrize('person', sorted(SEES))
def test_visibility_matrix(world, person):
    client = signed_in(world, world.users[person].name)
    sees = SEES[person]
    home = client.get('/', status=200)
    everything = client.get('/search', status=200)
    by_tag = client.get('/search', params={'tag': 'family'}, status=200)
    for key, item in world.items.items():
        visible = key in sees
        title = TITLES[key]
        word = title.split()[0]
        found = client.get('/search', params={'q': word.lower()}, status=200)
        assert (title in home.text) == visible, (person, key, 'home')
        assert (title in found.text) == visible, (person, key, 'search')
        assert (title in everything.text) == visible, (person, key, 'search all')
        if key != 'plain':
            assert (title in by_tag.text) == visible, (person, key, 'search by tag')
        before = snapshot(world)
        if visible:
            watch = client.get('/watch/' + item.id, status=200)
            assert title in watch.text and '<video id="player" src="/media/%s"' % item.id in watch.text
            assert SECRET_COMMENTS[key] in watch.text
            ranged = client.get('/media/' + item.id, headers={'Range': 'bytes=0-99'}, status=206)
            assert ranged.body == DATA[:100]
            assert ranged.headers['Content-Range'] == 'bytes 0-99/%d' % len(DATA)
            client.head('/media/' + item.id, headers={'Range': 'bytes=10-19'}, status=206)
            assert client.get('/media/' + item.id, status=200).body == DATA
            download = client.get('/media/%s?download=1' % item.id, status=200)
            assert 'attachment' in download.headers['Content-Disposition']
            beacon = client.post('/watch/%s/view' % item.id, headers={'X-CSRF-Token': csrf_of(watch)},
                                 status=200)
            assert beacon.json['counted'] == (world.users[person].id != item.owner_id)
            posted = find_form(watch, '/watch/%s/comments' % item.id, has=('body',))
            posted['body'] = 'comment from %s' % person
            posted.submit(status=303)
            assert 'comment from %s' % person in client.get('/watch/' + item.id).text
            edit = client.get('/edit/' + item.id, expect_errors=True)
            assert edit.status_int == (200 if key in EDITS.get(person, ()) else 403), (person, key, 'edit')
        else:
            token = csrf_for(client)
            for response in (
                    client.get('/watch/' + item.id, status=404),
                    client.get('/media/' + item.id, headers={'Range': 'bytes=0-99'}, status=404),
                    client.get('/media/' + item.id, status=404),
                    client.get('/media/%s?download=1' % item.id, status=404),
                    client.post('/watch/%s/view' % item.id, headers={'X-CSRF-Token': token}, status=404),
                    client.post('/watch/%s/comments' % item.id, {'csrf': token, 'body': 'sneaky'}, status=404),
                    client.get('/edit/' + item.id, status=404),
                    client.post('/edit/' + item.id, {'csrf': token, 'title': 'pwned'}, status=404),
                    client.post('/delete/' + item.id, {'csrf': token}, status=404)):
                assert_hidden(response, key)
            client.head('/media/' + item.id, headers={'Range': 'bytes=0-9'}, status=404)
            assert snapshot(world)['items'] == before['items']
            assert snapshot(world)['comments'] == before['comments']
        # a hidden item and an unknown id answer alike
    unknown = client.get('/watch/' + 'A' * 22, status=404)
    hidden = [k for k in world.items if k not in sees]
    if hidden:
        refused = client.get('/watch/' + world.items[hidden[0]].id, status=404)
        assert refused.text.replace(world.items[hidden[0]].id, 'ID') == unknown.text.replace('A' * 22, 'ID')
    for key in world.items:
        if key not in sees:
            assert_hidden(client.get('/'), key)


def test_anonymous_sees_nothing(world):
    client = browser(world)
    for item in world.items.values():
        for url in ('/watch/' + item.id, '/media/' + item.id, '/edit/' + item.id, '/search?q=aardvark',
                    '/search', '/'):
            response = client.get(url, headers={'Range': 'bytes=0-99'})
            assert_to_login(response)
            assert all(title not in response.text for title in TITLES.values())
        for url in ('/watch/%s/view' % item.id, '/watch/%s/comments' % item.id, '/delete/' + item.id):
            assert_to_login(client.post(url, {'body': 'x'}))
    assert all(item_row(world, i).views == 0 and item_row(world, i).comments == 1 for i in world.items.values())


def test_search_counts_no_hidden_item(world):
    # more than a page of hidden items around one visible item: the page never has a "Next" link for them
    for n in range(30):
        owned_item(world, 'hidden%d.mp4' % n, 'Aardvark secret %d' % n, world.users['owner'], private=True)
    client = signed_in(world, 'fred')
    page = client.get('/search', params={'q': 'aardvark'}, status=200)
    assert page.text.count('href="/watch/') == 1
    assert 'Aardvark secret' not in page.text and '>Next<' not in page.text


# --- 6. revocation ---------------------------------------------------------------------------------

def test_removed_from_group_is_refused_at_the_next_request(world):
    item = world.items['family']
    client = signed_in(world, 'fred')
    client.get('/watch/' + item.id, status=200)
    client.get('/media/' + item.id, headers={'Range': 'bytes=0-99'}, status=206)
    Membership = world.node.database.Membership
    Membership.delete().where((Membership.user == world.users['family'].id)
                              & (Membership.group == world.accounts.group('family').id)).execute()
    client.get('/media/' + item.id, headers={'Range': 'bytes=100-199'}, status=404)
    client.get('/watch/' + item.id, status=404)
    assert TITLES['family'] not in client.get('/').text
    assert TITLES['family'] not in client.get('/search', params={'q': 'aardvark'}).text


def test_deleted_and_recreated_group_does_not_restore_access(world):
    item = world.items['family']
    client = signed_in(world, 'fred')
    client.get('/media/' + item.id, headers={'Range': 'bytes=0-99'}, status=206)
    admin = signed_in(world, 'root', address='192.0.2.99')
    page = admin.get('/admin/groups', status=200)
    admin.post('/admin/groups/family/remove', {'csrf': csrf_of(page), 'confirm': 'yes'}, status=303)
    client.get('/media/' + item.id, headers={'Range': 'bytes=100-199'}, status=404)
    page = admin.get('/admin/groups', status=200)
    form = find_form(page, '/admin/groups', has=('rules',))
    form['name'], form['rules'] = 'family', 'tag:family'
    form.submit(status=303)
    assert 'family' in [g.name for g in world.accounts.groups()]
    client.get('/media/' + item.id, headers={'Range': 'bytes=100-199'}, status=404)
    client.get('/watch/' + item.id, status=404)
    assert TITLES['family'] not in client.get('/').text


def test_item_made_private_is_refused_at_the_next_range_request(world):
    item = owned_item(world, 'olga2.mp4', 'Dolphin show', world.users['owner'])
    member = signed_in(world, 'mia')
    member.get('/media/' + item.id, headers={'Range': 'bytes=0-99'}, status=206)
    owner = signed_in(world, 'olga', address='192.0.2.98')
    form = find_form(owner.get('/edit/' + item.id), '/edit/' + item.id, has=('title',))
    form['private'] = True
    form.submit(status=303)
    member.get('/media/' + item.id, headers={'Range': 'bytes=100-199'}, status=404)
    assert 'Dolphin show' not in member.get('/').text


# --- 7. escaping -----------------------------------------------------------------------------------

def test_hostile_text_is_escaped_everywhere(node):
    make_user(node, 'root', admin=True)
    make_user(node, 'bob')
    admin = signed_in(node, 'root')
    item = node.add('clip.mp4', title='Clip')
    form = find_form(admin.get('/edit/' + item.id), '/edit/' + item.id, has=('title',))
    form['title'] = 'T ' + SCRIPT + IMG
    form['description'] = SCRIPT + IMG
    form['tags'] = SCRIPT + ', ' + IMG
    form.submit(status=303)
    assert node.store.items.tags_of(item.id) == sorted([SCRIPT.lower(), IMG.lower()])
    watch = admin.get('/watch/' + item.id)
    comment = find_form(watch, '/watch/%s/comments' % item.id, has=('body',))
    comment['body'] = SCRIPT + IMG
    comment.submit(status=303)
    groups = admin.get('/admin/groups')
    form = find_form(groups, '/admin/groups', has=('rules',))
    form['name'], form['rules'] = 'hostile', 'tag:' + SCRIPT + ' tag:"><img/src=x/onerror=alert(1)>'
    form.submit(status=303)
    keys = admin.get('/admin/keys')
    form = find_form(keys, '/admin/keys', has=('rules',))
    form['name'], form['rules'] = 'peer', 'tag:' + SCRIPT
    assert_escaped(form.submit(status=200))
    pages = {
        'home': admin.get('/'),
        'search': admin.get('/search', params={'q': 'script alert'}),
        'search echo': admin.get('/search', params={'q': SCRIPT + IMG, 'tag': SCRIPT + IMG}),
        'search by tag': admin.get('/search', params={'tag': SCRIPT}),
        'watch': admin.get('/watch/' + item.id),
        'edit': admin.get('/edit/' + item.id),
        'groups': admin.get('/admin/groups'),
        'keys': admin.get('/admin/keys'),
        'users': admin.get('/admin/users'),
        'login next': browser(node).get('/login', params={'next': '/' + SCRIPT + IMG}),
        'member watch': signed_in(node, 'bob', address='192.0.2.77').get('/watch/' + item.id),
    }
    for name, page in pages.items():
        assert page.status_int == 200, name
        assert_escaped(page)
    for name in ('home', 'search', 'search echo', 'search by tag', 'watch', 'edit', 'groups', 'keys',
                 'login next', 'member watch'):
        assert ESCAPED_SCRIPT in pages[name].text, name
    assert pages['search'].text.count('href="/watch/%s"' % item.id) == 1
    assert pages['search by tag'].text.count('href="/watch/%s"' % item.id) == 1


def test_invalid_names_are_refused_with_a_clear_message(node):
    make_user(node, 'root', admin=True)
    admin = signed_in(node, 'root')
    csrf = csrf_of(admin.get('/admin/users'))
    cases = [
        ('/admin/users', {'name': SCRIPT, 'password': PASSWORD, 'groups': 'members'}, 'user name must be 1-64'),
        ('/admin/users', {'name': IMG, 'password': PASSWORD, 'groups': 'members'}, 'user name must be 1-64'),
        ('/admin/groups', {'name': SCRIPT, 'rules': '*'}, 'group name must be 1-64'),
        ('/admin/keys', {'name': IMG, 'rules': '*'}, 'key name must be 1-64'),
        ('/admin/groups', {'name': 'ok', 'rules': IMG}, 'must be *, tag:NAME, album:NAME or origin:NAME'),
        ('/admin/keys', {'name': 'ok', 'rules': 'origin:' + SCRIPT}, 'origin name must be 1-64'),
    ]
    before = snapshot(node)
    for url, fields, message in cases:
        page = admin.post(url, dict(fields, csrf=csrf), status=400)
        assert message in page.text, (url, fields)
        assert_escaped(page)
    after = snapshot(node)
    assert after['users'] == before['users'] and after['groups'] == before['groups']
    assert after['keys'] == before['keys']
    # an overlong tag is refused and its echo escaped
    item = node.add('clip.mp4', title='Clip')
    page = admin.post('/edit/' + item.id, {'csrf': csrf, 'title': 'x', 'tags': SCRIPT * 3}, status=400)
    assert 'must be 1-64 printable characters' in page.text
    assert_escaped(page)


# --- 8. CSRF ---------------------------------------------------------------------------------------

def album_changes(rule, values):
    """The URLs of a route: one per change an album page's route takes (its <change> alternatives)."""
    found = re.search(r'<change:re:([^>]*)>', rule)
    changes = found.group(1).split('|') if found else ['']
    return [fill_rule(rule, dict(values, change=change)) for change in changes]


def test_every_state_change_needs_the_session_csrf_token(node):
    make_user(node, 'root', admin=True)
    bob = make_user(node, 'bob')
    node.accounts.create_key('peer', ['*'])
    node.accounts.create_group('spare', ['tag:x'])
    item = owned_item(node, 'bob.mp4', 'Bob clip', bob)
    comment = node.store.comments.add(item, 'bob', 'hello', user_id=bob.id)
    other = owned_item(node, 'bob2.mp4', 'Bob clip 2', bob)
    album = node.store.albums.create('Trip', owner_id=bob.id, item_ids=[item.id, other.id])
    admin = signed_in(node, 'root')
    member = signed_in(node, 'bob', address='192.0.2.2')
    invite, _ = node.node.invites.create(None)
    member_csrf = csrf_for(member)
    upload_files = [('file', 'clip.mp4', DATA)]
    raw = {'Content-Type': 'video/mp4', 'X-Requested-With': 'fetch'}
    cases = [
        ('/logout', {}, None, None),
        ('/watch/%s/comments' % item.id, {'body': 'hi'}, None, None),
        ('/watch/%s/comments/%s/delete' % (item.id, comment['id']), {}, None, None),
        ('/watch/%s/view' % item.id, {}, None, None),
        ('/watch/%s/position' % item.id, {'position': '50'}, None, None),
        ('/watch/%s/watched' % item.id, {}, None, None),
        ('/watch/%s/unwatched' % item.id, {}, None, None),
        ('/continue/%s/remove' % item.id, {}, None, None),
        ('/upload', {'title': 'x'}, upload_files, None),
        ('/upload?title=x&filename=x.mp4', DATA, None, raw),
        ('/edit/%s' % item.id, {'title': 'changed', 'description': '', 'tags': ''}, None, None),
        ('/delete/%s' % item.id, {'confirm': 'yes'}, None, None),
        ('/trash/%s/restore' % item.id, {}, None, None),
        ('/trash/%s/delete' % item.id, {'confirm': 'yes'}, None, None),
        ('/upload/tus', b'', None, {'Tus-Resumable': '1.0.0', 'Upload-Length': '10'}),
        ('/bulk', {'action': 'make_private', 'id': item.id}, None, None),
        ('/account', {'current': PASSWORD, 'password': 'another password'}, None, None),
        ('/account/digest', {'email': 'mallory@example.org', 'digest': 'daily'}, None, None),
        ('/admin/users', {'name': 'mallory', 'password': PASSWORD, 'admin': '1'}, None, None),
        ('/admin/users', {'action': 'remove', 'name': 'bob', 'confirm': 'yes'}, None, None),
        ('/admin/groups', {'name': 'evil', 'rules': '*'}, None, None),
        ('/admin/groups', {'action': 'remove', 'name': 'spare', 'confirm': 'yes'}, None, None),
        ('/admin/keys', {'name': 'evil', 'rules': '*', 'manage': '1'}, None, None),
        ('/admin/keys', {'action': 'revoke', 'name': 'peer'}, None, None),
        ('/admin/peers', {'line': 'privtube peer add nobody http://x.test --key pt_abcdefghijklmnop'}, None, None),
        ('/admin/users/peer', {'groups': 'members', 'admin': '1'}, None, None),
        ('/admin/users/peer/reset', {}, None, None),
        ('/admin/users/peer/remove', {'confirm': 'yes'}, None, None),
        ('/admin/groups/peer', {'name': 'renamed', 'rules': '*'}, None, None),
        ('/admin/groups/peer/remove', {'confirm': 'yes'}, None, None),
        ('/admin/keys/peer', {'rules': 'tag:x', 'manage': '1'}, None, None),
        ('/admin/keys/peer/rotate', {}, None, None),
        ('/admin/peers/peer', {'url': 'http://x.test', 'key': 'pt_abcdefghijklmnop'}, None, None),
        ('/admin/peers/peer/sync', {}, None, None),
        ('/admin/peers/peer/remove', {'confirm': 'yes'}, None, None),
        ('/admin/peers/pair', {'rules': '*'}, None, None),
        ('/admin/peers/pair/join', {'link': 'http://x.test/pair?from=x#' + 'T' * 43, 'rules': '*'}, None, None),
        ('/admin/peers/pair/revoke', {'id': '1'}, None, None),
        ('/admin/library', {}, None, None),
        ('/admin/invites', {'groups': 'members', 'days': '7'}, None, None),
        ('/admin/invites/%d/revoke' % invite.id, {'confirm': 'yes'}, None, None),
        ('/albums', {'name': 'New album'}, None, None),
        ('/albums/%s/rename' % album.id, {'name': 'Renamed'}, None, None),
        ('/albums/%s/describe' % album.id, {'description': 'changed'}, None, None),
        ('/albums/%s/cover' % album.id, {'item': other.id}, None, None),
        ('/albums/%s/move' % album.id, {'item': other.id, 'position': '1'}, None, None),
        ('/albums/%s/remove' % album.id, {'item': other.id}, None, None),
        ('/albums/%s/delete' % album.id, {}, None, None),
        ('/shares', {'item': item.id, 'days': '7'}, None, None),
        ('/shares/1/revoke', {'confirm': 'yes'}, None, None),
        ('/account/app-passwords', {'name': 'Mallory'}, None, None),
        ('/account/app-passwords/1/revoke', {'confirm': 'yes'}, None, None),
    ]
    before = snapshot(node)
    for url, body, files, headers in cases:
        for token in (None, '', 'forged', member_csrf):
            if isinstance(body, dict):
                fields = dict(body) if token is None else dict(body, csrf=token)
                response = admin.post(url, fields, upload_files=files, expect_errors=True)
            else:
                sent = dict(headers) if token is None else dict(headers, **{'X-CSRF-Token': token})
                response = admin.post(url, body, headers=sent, expect_errors=True)
            assert response.status_int == 403, (url, token, response.status)
            assert 'the form expired' in response.text, (url, token)
            assert snapshot(node) == before, (url, token)
    admin.get('/', status=200)
    # every state-changing web route is in the list above
    covered = {re.sub(r'\?.*', '', url) for url, _, _, _ in cases}
    values = {'item_id': item.id, 'comment_id': comment['id'], 'album_id': album.id, 'share_id': '1', 'name': 'peer',
              'invite_id': str(invite.id), 'app_id': '1'}
    posts = {url for r in node.app.routes if r.method == 'POST' and not r.rule.startswith('/api/')
             and r.rule not in ANONYMOUS_RULES for url in album_changes(r.rule, values)}
    assert posts <= covered, posts - covered


def test_every_non_anonymous_post_route_refuses_a_missing_token(node):
    make_user(node, 'root', admin=True)
    bob = make_user(node, 'bob')
    item = owned_item(node, 'bob.mp4', 'Bob clip', bob)
    comment = node.store.comments.add(item, 'bob', 'hello', user_id=bob.id)
    album = node.store.albums.create('Trip', owner_id=bob.id, item_ids=[item.id])
    values = {'item_id': item.id, 'comment_id': comment['id'], 'album_id': album.id, 'upload_id': 'A' * 22,
              'share_id': '1', 'name': 'bob', 'invite_id': '1', 'app_id': '1'}
    admin = signed_in(node, 'root')
    before = snapshot(node)
    changing = [r for r in node.app.routes if r.method not in ('GET', 'HEAD', 'OPTIONS')
                and not r.rule.startswith('/api/') and not r.config.get('anonymous')]
    assert len(changing) >= 12
    for url, route in [(url, route) for route in changing for url in album_changes(route.rule, values)]:
        for body in ({}, {'csrf': ''}):
            response = admin.request(url, method=route.method, POST=body, expect_errors=True)
            assert response.status_int == 403, (route.method, url, response.status)
            assert 'the form expired' in response.text, (route.method, url)
    assert snapshot(node) == before
    admin.get('/', status=200)


def test_a_new_post_route_is_refused_without_the_token_without_asking_for_it(node):
    """The page plugin checks the token: a route added later cannot forget it."""
    make_user(node, 'ann')
    ran = []

    @node.app.post('/new-thing')
    def new_thing(page):
        ran.append(page.user.name)
        return 'done'
    client = signed_in(node, 'ann')
    client.post('/new-thing', {}, status=403)
    client.post('/new-thing', {'csrf': 'forged'}, status=403)
    assert ran == []
    assert client.post('/new-thing', {'csrf': csrf_for(client)}, status=200).text == 'done'
    assert ran == ['ann']


def test_every_admin_route_refuses_a_member(node):
    make_user(node, 'bob')
    member = signed_in(node, 'bob')
    token = csrf_for(member)
    before = snapshot(node)
    admin_routes = [r for r in node.app.routes if r.rule.startswith('/admin/')]
    assert len(admin_routes) == 33 and all(r.config.get('admin') for r in admin_routes)
    for route in admin_routes:
        body = {'csrf': token} if route.method == 'POST' else None
        response = member.request(fill_rule(route.rule, {'invite_id': '1', 'name': 'ann'}), method=route.method,
                                  POST=body, expect_errors=True)
        assert response.status_int == 403 and 'only administrators' in response.text, (route.method, route.rule)
    assert snapshot(node) == before


def test_get_never_changes_state(node):
    make_user(node, 'root', admin=True)
    bob = make_user(node, 'bob')
    node.accounts.create_key('peer', ['*'])
    item = owned_item(node, 'bob.mp4', 'Bob clip', bob)
    comment = node.store.comments.add(item, 'bob', 'hello', user_id=bob.id)
    admin = signed_in(node, 'root')
    before = snapshot(node)
    assert admin.get('/logout', status=200)
    admin.get('/', status=200)                    # GET /logout kept us signed in
    for url in ('/watch/%s/view' % item.id, '/watch/%s/comments?body=hi' % item.id,
                '/watch/%s/comments/%s/delete' % (item.id, comment['id'])):
        admin.get(url, status=405)
    assert 'Move to the Trash' in admin.get('/delete/%s?confirm=yes' % item.id, status=200).text   # it only asks
    for url in ('/admin/users?action=remove&name=bob', '/admin/users?name=mallory&password=xxxxxxxxxx',
                '/admin/groups?action=remove&name=members', '/admin/groups?name=evil&rules=*',
                '/admin/keys?action=revoke&name=peer', '/admin/keys?name=evil&rules=*',
                '/edit/%s?title=changed&private=1' % item.id, '/account?current=%s&password=changedpw1' % PASSWORD,
                '/upload?title=x&filename=x.mp4', '/watch/%s?body=hi' % item.id, '/media/%s' % item.id):
        admin.get(url, status=200)
    assert snapshot(node) == before
    admin.get('/', status=200)


# --- 9. search input -------------------------------------------------------------------------------

NASTY = ["'", '"', '-', '*', 'NEAR(', 'NEAR(a b', '%', '%%', 'a"b', "a'b", 'x' * 10240, 'é' * 5000,
         'ünïcødé 日本語 🎬', 'AND', 'OR NOT', '(', ')', ':', '^', 'title:x', '\\', '\x00', ' ', '-a', 'a*b*',
         '"unterminated', "' OR 1=1 --", '{a b}', '+', 'a AND (b OR', '\u202e', '\ufeff']


def test_search_never_fails_on_strange_input(node):
    make_user(node, 'ann')
    node.add('clip.mp4', tags=['family'], title='Aardvark "quoted" clip')
    client = signed_in(node, 'ann')
    for name in ('q', 'tag', 'kind', 'sort', 'page'):
        for value in NASTY:
            response = client.get('/search', params={name: value}, expect_errors=True)
            assert response.status_int == 200, (name, value[:40], response.status)
            assert 'Traceback' not in response.text
    for page in ('abc', '-1', '0', '1.5', '1e3', '99999999999', '9' * 400, '0x10', ' 2', '2 ', '\uff12'):
        response = client.get('/search', params={'q': 'aardvark', 'page': page}, expect_errors=True)
        assert response.status_int == 200, (page, response.status)
    for raw in ('q=%FF%FE', 'tag=%FF', 'kind=%FF', 'sort=%FF', 'page=%00', 'q=%00', 'q=a&q=b', 'page=1&page=abc',
                'q=%C3', 'tag=%E2%80'):
        response = client.get('/search?' + raw, expect_errors=True)
        assert response.status_int == 200, (raw, response.status)


@pytest.mark.parametrize('raw', ['page=%B2', 'page=%B3', 'page=%B9'])
def test_search_page_that_is_a_digit_but_not_a_number(node, raw):
    # Bottle decodes the query as Latin-1: %B2 is '²', for which str.isdigit() is true but int() fails
    make_user(node, 'ann')
    client = signed_in(node, 'ann')
    response = client.get('/search?q=x&' + raw, expect_errors=True)
    assert response.status_int == 200, (raw, response.status)


def test_search_still_finds_by_words_around_punctuation(node):
    make_user(node, 'ann')
    item = node.add('clip.mp4', tags=['family'], title='Aardvark "quoted" clip')
    client = signed_in(node, 'ann')
    for q in ('aardvark', 'AARD', 'aard*', 'Aardvark"', '"aardvark', '(aardvark', 'aardvark)', "aardvark'",
              'quoted clip', 'aardvark -', 'clip aardvark'):
        page = client.get('/search', params={'q': q}, status=200)
        assert 'href="/watch/%s"' % item.id in page.text, q
    assert 'href="/watch/' not in client.get('/search', params={'q': 'zebra'}).text
    assert 'href="/watch/%s"' % item.id in client.get('/search', params={'tag': 'FAMILY'}).text
    assert 'href="/watch/%s"' % item.id in client.get('/search', params={'kind': 'video'}).text
    assert 'href="/watch/' not in client.get('/search', params={'kind': 'audio'}).text


# --- 10. upload ------------------------------------------------------------------------------------

def test_upload_raw_body_answers_json(node):
    ann = make_user(node, 'ann')
    client = signed_in(node, 'ann')
    csrf = csrf_of(client.get('/upload'))
    response = client.post('/upload?title=Raw%20clip&tags=Summer,%20Family&filename=x.mp4&description=Hi',
                           DATA, headers={'X-CSRF-Token': csrf, 'X-Requested-With': 'fetch',
                                          'Content-Type': 'video/mp4'}, expect_errors=True)
    assert response.status_int == 200, (response.status, response.text[:300])
    answer = response.json
    assert set(answer) == {'id', 'url'} and answer['url'] == '/watch/' + answer['id']
    item = node.store.items.get(answer['id'])
    assert item.owner_id == ann.id and item.title == 'Raw clip' and item.description == 'Hi'
    assert item.size == len(DATA) and item.mime == 'video/mp4'
    assert node.store.items.tags_of(item.id) == ['family', 'summer']
    assert client.get('/media/' + item.id).body == DATA
    assert 'Raw clip' in client.get(answer['url'], status=200).text
    assert temp_files(node) == []


def test_upload_raw_body_larger_than_a_form(node):
    make_user(node, 'ann')
    client = signed_in(node, 'ann')
    csrf = csrf_of(client.get('/upload'))
    data = DATA * 30        # about 300 kB, more than Bottle keeps in memory for a form
    response = client.post('/upload?title=Big&filename=big.mp4', data,
                           headers={'X-CSRF-Token': csrf, 'X-Requested-With': 'fetch',
                                    'Content-Type': 'video/mp4'}, expect_errors=True)
    assert response.status_int == 200, (response.status, response.text[:300])
    item = node.store.items.get(response.json['id'])
    assert item.size == len(data)
    assert client.get('/media/' + item.id).body == data
    assert temp_files(node) == []


def test_upload_form_fallback_redirects_to_the_watch_page(node):
    ann = make_user(node, 'ann')
    make_user(node, 'bob')
    client = signed_in(node, 'ann')
    page = client.get('/upload', status=200)
    form = page.forms['upload']
    form['file'] = webtest.Upload('holiday.mp4', DATA, 'video/mp4')
    form['title'] = 'Holiday'
    form['description'] = 'By the sea'
    form['tags'] = 'Sea, summer'
    form['private'] = True
    done = form.submit(status=303)
    item_id = path_of(done).split('/')[-1]
    assert path_of(done) == '/watch/' + item_id
    item = node.store.items.get(item_id)
    assert (item.owner_id, item.title, item.description, item.private) == (ann.id, 'Holiday', 'By the sea', True)
    assert node.store.items.tags_of(item_id) == ['sea', 'summer']
    assert 'Holiday' in client.get('/watch/' + item_id, status=200).text
    other = signed_in(node, 'bob', address='192.0.2.5')
    other.get('/watch/' + item_id, status=404)
    # the owner comes from the session, never from the form
    csrf = csrf_of(client.get('/upload'))
    done = client.post('/upload', {'csrf': csrf, 'owner': 'bob', 'owner_id': '2', 'user': 'bob'},
                       upload_files=[('file', 'x.mp4', DATA + b'another file')], status=303)
    assert node.store.items.get(path_of(done).split('/')[-1]).owner_id == ann.id
    assert temp_files(node) == []


def test_upload_of_an_empty_file_is_refused(node):
    make_user(node, 'ann')
    client = signed_in(node, 'ann')
    csrf = csrf_of(client.get('/upload'))
    empty = client.post('/upload', {'csrf': csrf, 'title': 'Empty'}, upload_files=[('file', 'e.mp4', b'')],
                        status=400)
    assert 'the file is empty' in empty.text and '<html' in empty.text
    none = client.post('/upload', {'csrf': csrf, 'title': 'None'}, upload_files=[('other', 'e.mp4', DATA)],
                       status=400)
    assert 'choose a file' in none.text
    raw = client.post('/upload?title=Empty&filename=e.mp4', b'', headers={'X-CSRF-Token': csrf,
                      'X-Requested-With': 'fetch', 'Content-Type': 'video/mp4'}, status=400)
    assert 'the file is empty' in raw.text
    assert node.node.database.Item.select().count() == 0
    assert temp_files(node) == [] and os.listdir(node.store.uploads_dir) == []


def test_upload_with_bad_fields_leaves_nothing_behind(node):
    make_user(node, 'ann')
    client = signed_in(node, 'ann')
    csrf = csrf_of(client.get('/upload'))
    page = client.post('/upload', {'csrf': csrf, 'title': 'x' * 201}, upload_files=[('file', 'a.mp4', DATA)],
                       status=400)
    assert 'title must have at most 200 characters' in page.text
    page = client.post('/upload', {'csrf': csrf, 'tags': 'x' * 65}, upload_files=[('file', 'a.mp4', DATA)],
                       status=400)
    assert "must be 1-64 printable characters" in page.text
    assert node.node.database.Item.select().count() == 0
    assert os.listdir(node.store.uploads_dir) == []


# --- 11. views -------------------------------------------------------------------------------------

def test_views_count_for_others_once_per_six_hours(node):
    olga = make_user(node, 'olga')
    make_user(node, 'mia')
    make_user(node, 'max')
    item = owned_item(node, 'olga.mp4', 'Olga clip', olga)
    owner = signed_in(node, 'olga')
    token = csrf_of(owner.get('/watch/' + item.id))
    assert owner.post('/watch/%s/view' % item.id, headers={'X-CSRF-Token': token}).json == \
        {'counted': False, 'views': 0}
    mia = signed_in(node, 'mia', address='192.0.2.20')
    token = csrf_of(mia.get('/watch/' + item.id))
    beacon = '/watch/%s/view' % item.id
    assert mia.post(beacon, headers={'X-CSRF-Token': token}).json == {'counted': True, 'views': 1}
    assert mia.post(beacon, headers={'X-CSRF-Token': token}).json == {'counted': False, 'views': 1}
    assert mia.post(beacon, {'csrf': token}).json == {'counted': False, 'views': 1}
    # ranged streaming and downloads never count
    for n in range(5):
        mia.get('/media/' + item.id, headers={'Range': 'bytes=%d-%d' % (n * 100, n * 100 + 99)}, status=206)
    mia.get('/media/' + item.id, status=200)
    mia.get('/media/%s?download=1' % item.id, status=200)
    assert item_row(node, item).views == 1
    # another member counts once too
    maxc = signed_in(node, 'max', address='192.0.2.21')
    token2 = csrf_of(maxc.get('/watch/' + item.id))
    assert maxc.post(beacon, headers={'X-CSRF-Token': token2}).json == {'counted': True, 'views': 2}
    # six hours later the same person counts again
    ViewMark = node.node.database.ViewMark
    ViewMark.update(counted_at=ViewMark.counted_at - 6 * 3600 - 1).execute()
    assert mia.post(beacon, headers={'X-CSRF-Token': token}).json == {'counted': True, 'views': 3}
    assert owner.post(beacon, headers={'X-CSRF-Token': csrf_for(owner)}).json['counted'] is False
    assert item_row(node, item).views == 3
    assert '<span id="views">3</span>' in mia.get('/watch/' + item.id).text


# --- 12. comments ----------------------------------------------------------------------------------

def post_comment(client, item, body, status=303):
    form = find_form(client.get('/watch/' + item.id), '/watch/%s/comments' % item.id, has=('body',))
    form['body'] = body
    return form.submit(status=status)


def test_comment_length_limits(node):
    make_user(node, 'ann')
    item = node.add('clip.mp4', title='Clip')
    client = signed_in(node, 'ann')
    for body, status in (('', 400), ('   \n ', 400), ('x' * 5001, 400), ('y' * 5000, 303), ('z', 303)):
        response = post_comment(client, item, body, status=status)
        if status == 400:
            assert 'comment must' in response.text
    assert sorted(c['body'] for c in node.store.comments.json(item)) == ['y' * 5000, 'z']
    assert item_row(node, item).comments == 2


def test_comment_author_comes_from_the_session(node):
    make_user(node, 'ann')
    item = node.add('clip.mp4', title='Clip')
    client = signed_in(node, 'ann')
    token = csrf_of(client.get('/watch/' + item.id))
    client.post('/watch/%s/comments' % item.id, {'csrf': token, 'body': 'hi', 'author': 'root',
                                                  'user_id': '1'}, status=303)
    (comment,) = node.store.comments.json(item)
    assert comment['author'] == 'ann'
    assert node.node.database.Comment.get_by_id(comment['id']).user_id == node.accounts.user('ann').id


def test_comments_are_listed_newest_last(node):
    make_user(node, 'ann')
    item = node.add('clip.mp4', title='Clip')
    client = signed_in(node, 'ann')
    bodies = ['comment number %d' % n for n in range(6)]
    for body in bodies:
        post_comment(client, item, body)
    page = client.get('/watch/' + item.id).text
    positions = [page.index('<p>%s</p>' % body) for body in bodies]
    assert positions == sorted(positions), 'comments are not in the order they were posted'


def test_comment_delete_by_author_or_admin_only(node):
    make_user(node, 'root', admin=True)
    make_user(node, 'ann')
    make_user(node, 'bob')
    item = node.add('clip.mp4', title='Clip')
    ann = signed_in(node, 'ann')
    bob = signed_in(node, 'bob', address='192.0.2.31')
    admin = signed_in(node, 'root', address='192.0.2.32')
    post_comment(ann, item, 'from ann one')
    post_comment(ann, item, 'from ann two')
    post_comment(bob, item, 'from bob')
    ids = {c['body']: c['id'] for c in node.store.comments.json(item)}
    # bob sees no delete button for ann's comment and is refused when he tries anyway
    watch = bob.get('/watch/' + item.id)
    delete_url = '/watch/%s/comments/%s/delete' % (item.id, ids['from ann one'])
    assert delete_url not in watch.text
    refused = bob.post(delete_url, {'csrf': csrf_of(watch)}, status=403)
    assert 'only the author' in refused.text
    assert ids['from ann one'] in [c['id'] for c in node.store.comments.json(item)]
    # the author deletes her own
    find_form(ann.get('/watch/' + item.id), delete_url).submit(status=303)
    # the admin deletes anyone's
    find_form(admin.get('/watch/' + item.id),
              '/watch/%s/comments/%s/delete' % (item.id, ids['from bob'])).submit(status=303)
    assert [c['body'] for c in node.store.comments.json(item)] == ['from ann two']
    assert item_row(node, item).comments == 1
    # a deleted or unknown comment, or one of another item, is 404
    ann.post(delete_url, {'csrf': csrf_for(ann)}, status=404)
    other = node.add('other.mp4', title='Other')
    ann.post('/watch/%s/comments/%s/delete' % (other.id, ids['from ann two']), {'csrf': csrf_for(ann)},
             status=404)
    assert item_row(node, item).comments == 1


def test_a_user_named_like_a_peers_commenter_is_offered_no_delete_of_its_comment(node):
    """al@bob is a local name and also how a comment of al at the peer bob is signed: Delete is offered
    by the rule the server applies (who wrote it, by id), not by the author's name."""
    make_user(node, 'root', admin=True)
    make_user(node, 'al@bob')
    item = node.add('clip.mp4', title='Clip')
    node.client.post_json('/api/v1/content/%s/comments' % item.id, {'author': 'al', 'body': 'from the peer'},
                          headers=node.key('bob'), status=201)
    al = signed_in(node, 'al@bob')
    post_comment(al, item, 'from the local al')
    ids = {c['body']: c['id'] for c in node.store.comments.json(item)}
    assert {c['author'] for c in node.store.comments.json(item)} == {'al@bob'}
    peers_url = '/watch/%s/comments/%s/delete' % (item.id, ids['from the peer'])
    own_url = '/watch/%s/comments/%s/delete' % (item.id, ids['from the local al'])
    watch = al.get('/watch/' + item.id)
    assert peers_url not in watch.text and own_url in watch.text
    refused = al.post(peers_url, {'csrf': csrf_of(watch)}, status=403)
    assert 'only the author' in refused.text
    admin_watch = signed_in(node, 'root', address='192.0.2.40').get('/watch/' + item.id)
    assert peers_url in admin_watch.text and own_url in admin_watch.text
    find_form(watch, own_url).submit(status=303)
    assert [c['body'] for c in node.store.comments.json(item)] == ['from the peer']


def test_the_search_page_offers_the_media_kinds_the_search_takes(node):
    make_user(node, 'ann')
    page = signed_in(node, 'ann').get('/search')
    offered = re.findall(r'<option value="([^"]*)"', page.text.split('name="kind"')[1].split('</select>')[0])
    assert offered == [''] + list(privtube_media.MEDIA_KINDS)


# --- 13. admin pages -------------------------------------------------------------------------------

def test_admin_pages_are_for_admins_only(node):
    make_user(node, 'root', admin=True)
    make_user(node, 'bob')
    node.accounts.create_key('peer', ['*'])
    bob = signed_in(node, 'bob')
    home = bob.get('/')
    assert 'href="/admin/users"' not in home.text
    token = csrf_for(bob)
    for url in ('/admin/users', '/admin/groups', '/admin/keys', '/admin/peers'):
        page = bob.get(url, status=403)
        assert 'only administrators' in page.text
    before = snapshot(node)
    for url, fields in (('/admin/users', {'name': 'mallory', 'password': PASSWORD, 'admin': '1'}),
                        ('/admin/users', {'action': 'remove', 'name': 'root', 'confirm': 'yes'}),
                        ('/admin/groups', {'name': 'evil', 'rules': '*'}),
                        ('/admin/groups', {'action': 'remove', 'name': 'members', 'confirm': 'yes'}),
                        ('/admin/keys', {'name': 'evil', 'rules': '*'}),
                        ('/admin/keys', {'action': 'revoke', 'name': 'peer'})):
        page = bob.post(url, dict(fields, csrf=token), status=403)
        assert 'pt_' not in page.text
    assert snapshot(node) == before


def test_admin_adds_users_and_groups(node):
    make_user(node, 'root', admin=True)
    admin = signed_in(node, 'root')
    page = admin.get('/admin/groups', status=200)
    form = find_form(page, '/admin/groups', has=('rules',))
    form['name'], form['rules'] = 'family', 'tag:Family'
    form.submit(status=303)
    assert privtube_auth.load_rules(node.accounts.group('family').rules) == ['tag:family']
    page = admin.get('/admin/users', status=200)
    assert 'family' in page.text
    form = find_form(page, '/admin/users', has=('password',))
    form['name'], form['password'] = 'carol', PASSWORD
    for field in form.fields['groups']:
        field.checked = field._value == 'family'
    form.submit(status=303)
    assert node.accounts.group_names(node.accounts.user('carol')) == ['family']
    assert re.search(r'<td data-label="Name">carol</td><td data-label="Role">member</td>\s*'
                     r'<td data-label="Groups">family</td>', admin.get('/admin/users').text)
    sign_in(browser(node, '192.0.2.40'), 'carol', status=303)
    # the admin cannot remove themself, and duplicates are refused
    csrf = csrf_of(page)
    refused = admin.post('/admin/users/root/remove', {'csrf': csrf, 'confirm': 'yes'}, status=400)
    assert 'cannot remove yourself' in refused.text
    dup = admin.post('/admin/users', {'csrf': csrf, 'name': 'carol', 'password': PASSWORD}, status=400)
    assert 'already exists' in dup.text
    admin.post('/admin/users', {'csrf': csrf, 'name': 'dave', 'password': PASSWORD, 'groups': 'nope'},
               status=400)
    assert [u.name for u, _ in node.accounts.users()] == ['carol', 'root']


def test_admin_issues_a_key_shown_once_and_revokes_it(node):
    make_user(node, 'root', admin=True)
    node.add('clip.mp4', title='Clip')
    admin = signed_in(node, 'root')
    page = admin.get('/admin/keys', status=200)
    assert 'No keys yet' in page.text
    form = find_form(page, '/admin/keys', has=('rules',))
    form['name'], form['rules'] = 'alice-node', 'tag:family *'
    issued = form.submit(status=200)
    key = re.search(r'<pre id="new-key">(pt_[A-Za-z0-9_-]+)</pre>', issued.text).group(1)
    line = re.search(r'<pre id="peer-line">([^<]*)</pre>', issued.text).group(1)
    assert re.match(r'^privtube peer add testnode \S+ --key %s$' % re.escape(key), line), line
    assert line.split()[4] == node.config.base_url
    headers = {'Authorization': 'Bearer ' + key}
    admin.get('/api/v1/node', headers=headers, status=200)
    later = admin.get('/admin/keys', status=200)
    assert key not in later.text and key[3:] not in later.text and 'new-key' not in later.text
    assert 'alice-node' in later.text
    assert node.node.database.ApiKey.get(node.node.database.ApiKey.name == 'alice-node').token_hash != key
    find_form(later, '/admin/keys', action='revoke', name='alice-node').submit(status=200)
    assert node.accounts.keys() == []
    admin.get('/api/v1/node', headers=headers, status=401)
