"""Attacks on what README's Security section defends that no other test tried yet: each test makes the attack
and asserts what a user would notice (a refusal like an unknown id, an escaped page, a file that stays where
it belongs)."""
import base64
import hashlib
import http.client
import http.server
import itertools
import json
import os
import threading
import time
from urllib.parse import urlencode

import pytest
import webtest
from conftest import login_token, page_csrf, submit_login
from test_hostile_peers import drip, home_reading, running

import privtube_app
import privtube_auth
import privtube_config
import privtube_peer
import privtube_registry
from privtube_peer import Reply
from privtube_web import CLIENT_LIMIT, COOKIE, setup_token

PASSWORD = 'password-123'
DATA = b'\x00\x00\x00\x18ftypmp42' + bytes(range(256)) * 40
JPEG = b'\xff\xd8\xff\xe0' + b'thumbnail bytes' * 40
UNKNOWN_ID = 'A' * 22
REMOTE_ID = 'G' * 22
SECRET = b'TOP-SECRET-CONTENT'
SCRIPT = '<script>alert(1)</script>'
IMG = '<img src=x onerror=alert(2)>'
FETCH = {'X-Requested-With': 'fetch', 'Content-Type': 'video/mp4'}


# --- helpers ---------------------------------------------------------------------------------------

def browser(node, address='203.0.113.9'):
    """A fresh browser (its own cookie jar) coming from `address`."""
    return webtest.TestApp(node.app, extra_environ={'REMOTE_ADDR': address})


def signed_in(node, name, admin=False, groups=None, address='203.0.113.9'):
    node.accounts.create_user(name, PASSWORD, admin=admin, groups=groups)
    client = browser(node, address)
    submit_login(client, name, PASSWORD)
    return client


def csrf_of(client, url='/account'):
    return page_csrf(client.get(url).text)


def remote_item(item_id=REMOTE_ID, **changes):
    data = {'id': item_id, 'title': 'Good item', 'description': '', 'tags': [], 'mime': 'video/mp4', 'size': 100,
            'created': '2026-01-01T00:00:00Z', 'updated': '2026-01-01T00:00:00Z', 'views': 0, 'comments': 0,
            'duration': None, 'width': None, 'height': None, 'thumbnail': False}
    data.update(changes)
    return data


def page(items, **extra):
    body = {'node': 'evil', 'items': items, 'removed': [], 'cursor': '1.1.1.1', 'more': False, 'reset': False}
    body.update(extra)
    return json.dumps(body).encode()


def held(node, origin):
    Item = node.node.database.Item
    return sorted(i.title for i in Item.select().where(Item.origin == origin))


class FakePeer:
    """A misbehaving peer on the test network: a catalog of `items`, other answers by the path's last part."""

    def __init__(self, items=()):
        self.items, self.removed, self.answers, self.paths = list(items), [], {}, []
        self.catalog = None         # a function giving the catalog body, to replace the plain one

    def __call__(self, method, path, headers, body):
        self.paths.append(path)
        if path.startswith('/api/v1/catalog'):
            return Reply(200, {}, self.catalog() if self.catalog else page(self.items, removed=self.removed))
        return self.answers.get(path.split('?')[0].rsplit('/', 1)[-1]) or Reply(404, {}, b'{"error": "not found"}')


@pytest.fixture
def linked(network):
    """`home` reads two peers: alice, a real node sharing one item, and evil, this file's FakePeer."""
    peer = FakePeer([remote_item()])
    return home_reading(network, peer), peer


# --- 1. thumbnails of hidden items -----------------------------------------------------------------

def give_thumbnail(node, item):
    """What the media worker leaves behind: a JPEG in the thumbnail cache and the item's flag set."""
    path = node.store.thumbnail_path(item.id)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as fh:
        fh.write(JPEG)
    Item = node.node.database.Item
    Item.update(thumbnail=True).where(Item.id == item.id).execute()


@pytest.fixture
def thumbnailed(node):
    items = {'family': node.add('family.mp4', tags=['family'], title='Family'),
             'secret': node.add('secret.mp4', tags=['secret'], title='Secret'),
             'private': node.add('private.mp4', tags=['family'], private=True, title='Private')}
    for item in items.values():
        give_thumbnail(node, item)
    return items


def test_api_thumbnail_of_a_hidden_item_answers_like_an_unknown_id(node, thumbnailed):
    url = '/api/v1/content/%s/thumbnail'
    keys = {'family': node.key('family-reader', ['tag:family']), 'secret': node.key('secret-reader', ['tag:secret'])}
    for reader, headers in keys.items():
        unknown = node.client.get(url % UNKNOWN_ID, headers=headers, status=404)
        for name, item in thumbnailed.items():
            if name == reader:
                shown = node.client.get(url % item.id, headers=headers, status=200)
                assert shown.content_type == 'image/jpeg' and shown.body == JPEG
            else:
                hidden = node.client.get(url % item.id, headers=headers, status=404)
                assert hidden.body == unknown.body and JPEG not in hidden.body


def test_web_thumbnail_of_a_hidden_item_answers_like_an_unknown_id(node, thumbnailed):
    node.accounts.create_group('family', ['tag:family'])
    fred = signed_in(node, 'fred', groups=['family'])
    admin = signed_in(node, 'root', admin=True)
    unknown = fred.get('/thumb/' + UNKNOWN_ID, status=404)
    assert fred.get('/thumb/' + thumbnailed['family'].id, status=200).body == JPEG
    for name in ('secret', 'private'):
        hidden = fred.get('/thumb/' + thumbnailed[name].id, status=404)
        assert hidden.body == unknown.body and JPEG not in hidden.body
        shown = admin.get('/thumb/' + thumbnailed[name].id, status=200)
        assert shown.content_type == 'image/jpeg' and shown.body == JPEG


# --- 2. the viewer comes from the key or the session, never from the body ---------------------------

def view_marks(node, item):
    ViewMark = node.node.database.ViewMark
    return sorted((m.principal, m.viewer) for m in ViewMark.select().where(ViewMark.item == item.id))


def test_api_view_is_counted_for_the_presenting_key_whatever_the_body_claims(node):
    item = node.add('clip.mp4', title='Clip')
    alpha, beta = node.key('alpha'), node.key('beta')
    alpha_id, beta_id = node.accounts.key('alpha').id, node.accounts.key('beta').id
    url = '/api/v1/content/%s/views' % item.id
    as_beta = {'viewer': 'v1', 'key': 'beta', 'key_id': beta_id, 'principal': 'key:%d' % beta_id, 'user': 'root'}
    node.client.post_json(url, as_beta, headers=alpha, status=204)
    assert view_marks(node, item) == [('key:%d' % alpha_id, 'v1')]
    node.client.post_json(url, {'viewer': 'v1'}, headers=beta, status=204)
    assert node.store.items.get(item.id).views == 2          # beta's own view still counts
    as_nobody = {'viewer': 'v1', 'key': 'gamma', 'key_id': 999, 'principal': 'key:999'}
    node.client.post_json(url, as_nobody, headers=alpha, status=204)
    assert node.store.items.get(item.id).views == 2          # alpha cannot count again under another name
    assert view_marks(node, item) == sorted([('key:%d' % alpha_id, 'v1'), ('key:%d' % beta_id, 'v1')])


def test_web_view_beacon_counts_the_session_user_whatever_the_body_claims(node):
    olga = node.accounts.create_user('olga', PASSWORD)
    item = node.store.items.create(node.media_file('olga.mp4'), 'Olga clip', owner_id=olga.id)
    mia = signed_in(node, 'mia')
    maxc = signed_in(node, 'max', address='203.0.113.10')
    mia_id, max_id = node.accounts.user('mia').id, node.accounts.user('max').id
    beacon = '/watch/%s/view' % item.id
    token = {'X-CSRF-Token': csrf_of(mia)}
    # claiming to be the owner (whose views never count) does not stop mia's view
    assert mia.post(beacon, {'user': 'olga', 'user_id': str(olga.id)}, headers=token).json == \
        {'counted': True, 'views': 1}
    # claiming to be max neither counts mia again nor spends max's view
    assert mia.post_json(beacon, {'user': 'max', 'user_id': max_id}, headers=token).json == \
        {'counted': False, 'views': 1}
    assert view_marks(node, item) == [('user:%d' % mia_id, 'web')]
    assert maxc.post(beacon, headers={'X-CSRF-Token': csrf_of(maxc)}).json == {'counted': True, 'views': 2}


# --- 3. network location is no identity --------------------------------------------------------------

SPOOFS = {'X-Forwarded-For': '127.0.0.1', 'X-Real-IP': '127.0.0.1', 'Forwarded': 'for=127.0.0.1'}


def refusal(response):
    return response.status_int, response.headers.get('Location'), response.body


def assert_same_refusal(call, status):
    """`call(headers)` answers `status`, and exactly the same with each spoofed proxy header and all of them."""
    plain = call({})
    assert plain.status_int == status, plain.status
    for headers in [{name: value} for name, value in SPOOFS.items()] + [SPOOFS]:
        assert refusal(call(headers)) == refusal(plain), headers


def test_spoofed_proxy_headers_change_no_auth_decision(node):
    assert setup_token(node.node.database)
    stranger = browser(node)
    assert_same_refusal(lambda h: stranger.get('/setup', headers=h, expect_errors=True), 404)
    assert_same_refusal(lambda h: stranger.post('/setup', {'username': 'evil', 'password': PASSWORD}, headers=h,
                                                expect_errors=True), 403)
    assert node.accounts.users() == []
    member = signed_in(node, 'mia')
    csrf = csrf_of(member)
    for admin_page in ('/admin/users', '/admin/groups', '/admin/keys', '/admin/peers'):
        assert_same_refusal(lambda h: stranger.get(admin_page, headers=h, expect_errors=True), 303)
        assert_same_refusal(lambda h: member.get(admin_page, headers=h, expect_errors=True), 403)
    assert_same_refusal(lambda h: member.post('/admin/users', {'csrf': csrf, 'name': 'evil', 'password': PASSWORD,
                                                               'admin': '1'}, headers=h, expect_errors=True), 403)
    reader = node.key('reader')
    assert_same_refusal(lambda h: stranger.get('/api/v1/catalog', headers=h, expect_errors=True), 401)
    assert_same_refusal(lambda h: stranger.post('/api/v1/content?title=x', DATA, headers=dict(h, **reader),
                                                expect_errors=True), 403)
    assert [user.name for user, _ in node.accounts.users()] == ['mia']
    assert node.node.database.Item.select().count() == 0


def fail_sign_ins(client, forwarded_for, count=CLIENT_LIMIT):
    for n in range(count):
        submit_login(client, 'nobody%d' % n, 'guess', headers={'X-Forwarded-For': forwarded_for}, status=401)


@pytest.mark.parametrize('config_text, own_bucket', [('', False), ('[server]\ntrusted_proxy = 192.0.2.99\n', True)],
                         ids=['no-proxy', 'trusted-proxy'])
def test_forwarded_for_picks_the_throttle_bucket_only_behind_a_trusted_proxy(make_node, config_text, own_bucket):
    node = make_node('node', config_text)
    node.accounts.create_user('bob', PASSWORD)
    proxy = browser(node, '192.0.2.99')
    fail_sign_ins(proxy, '198.51.100.7')
    submit_login(proxy, 'bob', PASSWORD, headers={'X-Forwarded-For': '198.51.100.7'}, status=429)
    submit_login(proxy, 'bob', PASSWORD, headers={'X-Forwarded-For': '198.51.100.8'},
                 status=303 if own_bucket else 429)


@pytest.fixture
def served(make_node):
    """A node behind a real Waitress on loopback, configured with 127.0.0.1 as its trusted proxy."""
    import waitress
    from waitress import wasyncore
    node = make_node('served', '[server]\ntrusted_proxy = 127.0.0.1\n')
    options = dict(privtube_app.waitress_options(node.config), host='127.0.0.1', port=0)
    server = waitress.create_server(privtube_app.zero_copy_files(node.app), **options)
    threading.Thread(target=server.run, daemon=True).start()
    yield node, server.effective_port
    server.task_dispatcher.shutdown()
    wasyncore.close_all(server._map)


def post_login(port, name, password, forwarded_for, source='127.0.0.1'):
    """The status of a sign-in sent over a real socket from `source` with this X-Forwarded-For."""
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10, source_address=(source, 0))
    try:
        conn.request('GET', '/login', headers={'X-Forwarded-For': forwarded_for})
        form = conn.getresponse()
        token = login_token(form.read().decode())
        conn.request('POST', '/login', urlencode({'username': name, 'password': password, 'csrf': token}),
                     {'Content-Type': 'application/x-www-form-urlencoded', 'Connection': 'close',
                      'X-Forwarded-For': forwarded_for, 'Cookie': form.getheader('Set-Cookie').split(';')[0]})
        return conn.getresponse().status
    finally:
        conn.close()


def test_behind_a_real_trusted_proxy_a_forged_forwarded_for_gives_no_new_bucket(served):
    node, port = served
    node.accounts.create_user('bob', PASSWORD)
    for n in range(CLIENT_LIMIT):   # the client forges a new first entry each time; the proxy appends what it saw
        assert post_login(port, 'nobody%d' % n, 'guess', '10.0.0.%d, 198.51.100.7' % n) == 401
    assert post_login(port, 'bob', PASSWORD, '10.0.0.99, 198.51.100.7') == 429
    assert post_login(port, 'bob', PASSWORD, '198.51.100.8') == 303          # another client behind the proxy
    for n in range(CLIENT_LIMIT):   # a client reaching the node directly, not through the proxy
        assert post_login(port, 'someone%d' % n, 'guess', '10.1.0.%d' % n, source='127.0.0.2') == 401
    assert post_login(port, 'bob', PASSWORD, '10.1.0.99', source='127.0.0.2') == 429


# --- 4. path traversal through the web routes ------------------------------------------------------

TRAVERSALS = ['../../config.ini', '..%2f..%2fconfig.ini', '%2e%2e%2f%2e%2e%2fconfig.ini', '..%5c..%5cconfig.ini',
              '%252e%252e%252fconfig.ini', '..%252f..%252fconfig.ini', 'config.ini%00.mp4', '..%2fsecret.txt%00',
              '%00', '/etc/passwd', '%2fetc%2fpasswd', '..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd',
              '..%2f..%2fprivtube.db', '..%2fsecret.txt', '..%2f..%2fprivtube.py', '..%2fbase.tpl']
LEAKS = (SECRET, b'[node]', b'SQLite format 3', b'root:x:0', b'import bottle', b'% rebase')


@pytest.mark.parametrize('prefix', ['/media/', '/watch/', '/thumb/', '/static/'])
def test_traversal_in_web_routes_never_reads_a_file(node, prefix):
    with open(os.path.join(node.folder, 'secret.txt'), 'wb') as fh:
        fh.write(SECRET)
    item = node.add('clip.mp4', title='Clip')
    admin = signed_in(node, 'root', admin=True)
    for attack in TRAVERSALS + ['%s%%2f..%%2f..%%2fconfig.ini' % item.id, item.id + '%00']:
        answer = admin.get(prefix + attack, expect_errors=True)
        assert answer.status_int in (400, 404), (prefix + attack, answer.status)
        assert not any(leak in answer.body for leak in LEAKS), prefix + attack


def test_a_symlink_out_of_the_media_folder_is_not_served(node):
    secret = os.path.join(node.folder, 'secret.txt')
    with open(secret, 'wb') as fh:
        fh.write(SECRET)
    link = os.path.join(node.media_dir, 'link.mp4')
    os.symlink(secret, link)
    item = node.store.items.create(link, 'Link')
    answer = signed_in(node, 'root', admin=True).get('/media/' + item.id, expect_errors=True)
    assert answer.status_int == 404 and SECRET not in answer.body


@pytest.mark.parametrize('name', ['../../evil.mp4', '/etc/evil.mp4', '..\\..\\evil.mp4', '%2e%2e%2fevil.mp4'])
def test_an_upload_name_never_chooses_where_the_file_lands(node, name):
    data = b'no known magic, so the name could matter ' * 40
    client = signed_in(node, 'ann')
    csrf = csrf_of(client, '/upload')
    form = client.post('/upload', {'csrf': csrf, 'title': 'Form'}, upload_files=[('file', name, data)], status=303)
    data = data + b'!'       # another file: the same content would be told it is already there
    raw = client.post('/upload?' + urlencode({'title': 'Raw', 'filename': name}), data,
                      headers=dict(FETCH, **{'X-CSRF-Token': csrf}), status=200)
    uploads = os.path.realpath(node.store.uploads_dir)
    for item_id in (form.headers['Location'].rsplit('/', 1)[1], raw.json['id']):
        path = os.path.realpath(os.path.join(node.media_dir, node.store.items.get(item_id).path))
        assert os.path.dirname(path) == uploads and 'evil' not in os.path.basename(path)
        assert open(path, 'rb').read() in (data, data[:-1])
    landed = [n for _, _, names in os.walk(node.folder) for n in names if 'evil' in n]
    beside = [n for n in os.listdir(os.path.dirname(node.folder)) if 'evil' in n]   # other tests' folders: not walked
    assert landed == [] and beside == [] and not os.path.exists('/etc/evil.mp4')


# --- 5. active content in the media folder -----------------------------------------------------------

ACTIVE = {'evil.svg': b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
          'evil.html': b'<html><body><script>alert(1)</script></body></html>',
          'evil.xhtml': b'<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>'}


@pytest.mark.parametrize('name', sorted(ACTIVE))
def test_active_content_is_served_as_an_attachment(node, name):
    item = node.add(name, data=ACTIVE[name], title=name)
    viewer = signed_in(node, 'ann')
    for headers in ({}, {'Range': 'bytes=0-9'}):
        answer = viewer.get('/media/' + item.id, headers=headers)
        assert answer.status_int in (200, 206) and ACTIVE[name].startswith(answer.body)
        assert answer.headers['Content-Type'] == 'application/octet-stream'
        assert answer.headers['Content-Disposition'].split(';')[0] == 'attachment'
        assert answer.headers['X-Content-Type-Options'] == 'nosniff'


# --- 6. partial uploads ----------------------------------------------------------------------------

def test_an_upload_is_fsynced_before_it_is_renamed(node, monkeypatch):
    client = signed_in(node, 'ann')
    csrf = csrf_of(client, '/upload')
    events = []
    real = {name: getattr(os, name) for name in ('fsync', 'rename', 'replace')}

    def fsync(fd):
        events.append(('fsync', os.path.realpath(os.readlink('/proc/self/fd/%d' % fd))))
        return real['fsync'](fd)

    def mover(name):
        def move(src, dst, *args, **kwargs):
            events.append(('move', os.path.realpath(src), os.path.realpath(dst)))
            return real[name](src, dst, *args, **kwargs)
        return move
    monkeypatch.setattr(os, 'fsync', fsync)
    monkeypatch.setattr(os, 'rename', mover('rename'))
    monkeypatch.setattr(os, 'replace', mover('replace'))
    answer = client.post('/upload?title=Clip&filename=clip.mp4', DATA, headers=dict(FETCH, **{'X-CSRF-Token': csrf}),
                         status=200)
    monkeypatch.undo()
    final = os.path.realpath(os.path.join(node.media_dir, node.store.items.get(answer.json['id']).path))
    moves = [event for event in events if event[0] == 'move' and event[2] == final]
    assert len(moves) == 1, events
    at, temp = events.index(moves[0]), moves[0][1]
    assert ('fsync', temp) in events[:at], events                                   # the data is on disk first
    assert ('fsync', os.path.realpath(node.store.uploads_dir)) in events[at:], events   # then the new name


def test_an_oversized_upload_leaves_no_item_and_no_file(make_node):
    node = make_node('small', '[store]\nmax_upload_mb = 1\n')
    client = signed_in(node, 'ann')
    csrf = csrf_of(client, '/upload')
    big = DATA + b'\x00' * (1024 * 1024 + 1 - len(DATA))
    client.post('/upload', {'csrf': csrf, 'title': 'Big'}, upload_files=[('file', 'big.mp4', big)], status=413)
    client.post('/upload?title=Big&filename=big.mp4', big, headers=dict(FETCH, **{'X-CSRF-Token': csrf}),
                status=413)
    assert node.node.database.Item.select().count() == 0
    assert os.listdir(node.store.uploads_dir) == []
    fits = client.post('/upload?title=Fits&filename=fits.mp4', big[:-1],
                       headers=dict(FETCH, **{'X-CSRF-Token': csrf}), status=200)
    assert node.store.items.get(fits.json['id']).size == 1024 * 1024      # the limit itself was the refusal


# --- 7. script in comments a peer sends ------------------------------------------------------------

def test_script_in_a_peers_comments_is_escaped_on_the_watch_page(linked):
    home, peer = linked
    comment = {'id': 'c1', 'author': SCRIPT, 'body': IMG, 'created': '<img src=x onerror=alert(3)>'}
    peer.answers['comments'] = Reply(200, {}, json.dumps({'comments': [comment]}).encode())
    page_text = signed_in(home, 'ann', admin=True).get('/watch/evil:' + REMOTE_ID, status=200).text
    assert any(path.endswith('/comments') for path in peer.paths)
    assert '&lt;script&gt;alert(1)&lt;/script&gt;' in page_text and '&lt;img src=x onerror=alert(2)&gt;' in page_text
    assert '<script>alert' not in page_text and '<img src=x' not in page_text


# --- 8. passwords ----------------------------------------------------------------------------------

@pytest.mark.real_password_cost
def test_the_stored_password_hash_is_scrypt_with_strong_parameters(node):
    token = setup_token(node.node.database)
    browser(node).post('/setup', {'token': token, 'username': 'root', 'password': PASSWORD}, status=303)
    scheme, n, r, p, salt, digest = node.accounts.user('root').password_hash.split('$')
    n, r, p = int(n), int(r), int(p)
    assert scheme == 'scrypt' and n >= 2 ** 15 and (r, p) == (8, 1)
    salt, digest = base64.urlsafe_b64decode(salt), base64.urlsafe_b64decode(digest)
    assert len(salt) >= 16 and len(digest) >= 32
    assert hashlib.scrypt(PASSWORD.encode(), salt=salt, n=n, r=r, p=p, maxmem=2 ** 27, dklen=len(digest)) == digest


OVERLONG = [privtube_auth.MAX_PASSWORD + 1, 100000, 1024 * 1024]


def timed_post(client, url, fields):
    started = time.monotonic()
    response = client.post(url, fields, expect_errors=True)
    assert time.monotonic() - started < 1, 'took %.2f s' % (time.monotonic() - started)
    assert response.status_int in (400, 413), response.status
    return response


@pytest.mark.parametrize('size', OVERLONG)
def test_an_overlong_password_at_setup_is_refused_quickly(node, size):
    token = setup_token(node.node.database)
    client = browser(node)
    timed_post(client, '/setup', {'token': token, 'username': 'root', 'password': 'x' * size})
    assert node.accounts.users() == [] and COOKIE not in client.cookies
    assert setup_token(node.node.database) == token


@pytest.mark.parametrize('size', OVERLONG)
def test_an_overlong_new_password_at_account_is_refused_quickly(node, size):
    client = signed_in(node, 'ann')
    before = node.accounts.user('ann').password_hash
    timed_post(client, '/account', {'csrf': csrf_of(client), 'current': PASSWORD, 'password': 'x' * size})
    assert node.accounts.user('ann').password_hash == before
    submit_login(browser(node, '203.0.113.11'), 'ann', PASSWORD)


@pytest.mark.parametrize('size', OVERLONG)
def test_an_overlong_password_for_a_new_user_is_refused_quickly(node, size):
    admin = signed_in(node, 'root', admin=True)
    timed_post(admin, '/admin/users', {'csrf': csrf_of(admin), 'name': 'newbie', 'password': 'x' * size})
    assert [user.name for user, _ in node.accounts.users()] == ['root']


# --- 9. a peer naming a local id ---------------------------------------------------------------------

def local_state(node, item):
    row = node.store.items.get(item.id)
    return (row.title, row.description, row.path, row.private, row.origin, row.seq, node.store.items.tags_of(item.id),
            os.path.isfile(os.path.join(node.media_dir, row.path)))


def test_a_peer_naming_a_local_id_cannot_touch_the_local_item(linked):
    home, peer = linked
    local = home.add('mine.mp4', tags=['family'], title='My own film')
    before = local_state(home, local)
    peer.items = [remote_item(local.id, title='Hijacked', tags=['stolen'])]
    assert home.node.registry.sync('evil')[0]
    assert local_state(home, local) == before
    peer.items, peer.removed = [], [local.id]
    assert home.node.registry.sync('evil')[0]
    assert local_state(home, local) == before
    viewer = signed_in(home, 'ann')
    assert 'My own film' in viewer.get('/').text and 'My own film' in viewer.get('/search', {'q': 'film'}).text
    assert viewer.get('/media/' + local.id, status=200).body == DATA
    catalog = home.client.get('/api/v1/catalog', headers=home.key('reader')).json
    assert [item['id'] for item in catalog['items']] == [local.id]


# --- 10. a catalog that never ends -------------------------------------------------------------------

@pytest.mark.parametrize('limit', [('MAX_PAGES', 5), ('SYNC_DEADLINE', 0.3)], ids=['pages', 'deadline'])
def test_a_catalog_that_never_ends_fails_only_that_peer(linked, monkeypatch, limit):
    home, peer = linked
    monkeypatch.setattr(privtube_registry, *limit)
    counter = itertools.count()

    def endless():
        n = next(counter)
        return page([remote_item('E%021d' % n, title='Page %d' % n)], cursor='1.1.%d.%d' % (n, n), more=True)
    peer.catalog = endless
    started = time.monotonic()
    ok, message = home.node.registry.sync('evil')
    assert not ok and 'did not end' in message and time.monotonic() - started < 5
    assert 'Good item' in held(home, 'evil')                     # the last good listing is kept
    state = home.node.database.Peer.get(home.node.database.Peer.name == 'evil')
    assert state.status == 'failed' and 'did not end' in state.last_error
    assert home.node.registry.sync('alice')[0] and held(home, 'alice') == ['Family picnic']
    assert home.client.get('/healthz').json == {'status': 'ok'}


# --- 11, 12. peers on real sockets: slow answers and thumbnail redirects --------------------------------

class LoopbackPeer(http.server.ThreadingHTTPServer):
    """A peer on a real loopback port: a catalog of `items`, a thumbnail that redirects, or, when `slow`,
    every answer dripped a byte every 100 ms."""

    def __init__(self):
        super().__init__(('127.0.0.1', 0), LoopbackPeerHandler)
        self.items, self.slow, self.hits = [remote_item()], False, []
        self.url = 'http://127.0.0.1:%d' % self.server_port

    def answer(self, path):
        if path.startswith('/api/v1/catalog'):
            return 200, {'Content-Type': 'application/json'}, page(self.items)
        if path.endswith('/thumbnail'):
            return 302, {'Location': self.url + '/elsewhere.jpg'}, b''
        if path == '/elsewhere.jpg':
            return 200, {'Content-Type': 'image/jpeg'}, JPEG
        return 404, {'Content-Type': 'application/json'}, b'{"error": "not found"}'


class LoopbackPeerHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.hits.append(self.path)
        if self.server.slow:
            return self.drip()
        status, headers, body = self.server.answer(self.path)
        self.send_response(status)
        for name, value in dict(headers, **{'Content-Length': str(len(body))}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def drip(self):
        media = '/media' in self.path
        self.send_response(206 if media else 200)
        self.send_header('Content-Type', 'video/mp4' if media else 'application/json')
        self.send_header('Content-Length', '100')
        if media:
            self.send_header('Content-Range', 'bytes 0-99/100')
        self.end_headers()
        drip(self.wfile)

    def log_message(self, *args):
        pass


@pytest.fixture
def loopback_peer():
    with running(LoopbackPeer()) as server:
        yield server


def real_peer_home(make_node, peer, name):
    """A node with the production transport that reads `peer` under `name`, synced once."""
    home = make_node('home')
    privtube_config.add_peer(home.config_path, name, peer.url, 'pt_' + 'k' * 40)
    home.reload(None)
    assert home.node.registry.sync(name)[0]
    return home


@pytest.mark.slow
def test_a_slow_real_peer_fails_its_sync_and_its_media_at_the_deadline(make_node, loopback_peer, monkeypatch):
    monkeypatch.setattr(privtube_peer, 'REQUEST_DEADLINE', 1.0)
    home = real_peer_home(make_node, loopback_peer, 'slow')
    viewer = signed_in(home, 'ann', admin=True)
    loopback_peer.slow = True
    started = time.monotonic()
    ok, message = home.node.registry.sync('slow')
    assert not ok and 'too slow' in message and time.monotonic() - started < 4
    assert home.node.database.Peer.get(home.node.database.Peer.name == 'slow').status == 'failed'
    assert held(home, 'slow') == ['Good item']
    for headers in ({}, {'Range': 'bytes=0-9'}):
        started = time.monotonic()
        answer = viewer.get('/media/slow:' + REMOTE_ID, headers=headers, expect_errors=True)
        assert answer.status_int in (502, 504) and time.monotonic() - started < 4, (headers, answer.status)


@pytest.mark.slow
def test_a_slow_real_peers_sync_blocks_no_page(make_node, loopback_peer, monkeypatch):
    monkeypatch.setattr(privtube_peer, 'REQUEST_DEADLINE', 2.0)
    home = real_peer_home(make_node, loopback_peer, 'slow')
    viewer = signed_in(home, 'ann', admin=True)
    loopback_peer.slow = True
    syncing = threading.Thread(target=home.node.registry.sync, args=('slow',))
    syncing.start()
    try:
        time.sleep(0.3)
        started = time.monotonic()
        assert home.client.get('/healthz').json == {'status': 'ok'}
        viewer.get('/', status=200)
        viewer.get('/admin/peers', status=200)
        assert time.monotonic() - started < 1 and syncing.is_alive()
    finally:
        syncing.join(10)


def test_a_peers_thumbnail_redirect_is_not_followed_and_nothing_is_kept(make_node, loopback_peer):
    loopback_peer.items = [remote_item(thumbnail=True)]
    home = real_peer_home(make_node, loopback_peer, 'redir')
    assert any(hit.endswith('/content/%s/thumbnail' % REMOTE_ID) for hit in loopback_peer.hits)
    assert '/elsewhere.jpg' not in loopback_peer.hits
    assert not os.path.exists(home.node.registry.thumbnails.path('redir:' + REMOTE_ID))
    signed_in(home, 'ann', admin=True).get('/thumb/redir:' + REMOTE_ID, status=404)


# --- 13. active content forwarded by the gateway -------------------------------------------------------

@pytest.mark.parametrize('mime', ['image/svg+xml', 'text/html'])
def test_a_peers_active_content_is_forwarded_as_an_attachment(linked, mime):
    home, peer = linked
    body = SCRIPT.encode()
    peer.items = [remote_item(mime=mime, size=len(body))]
    peer.answers['media'] = Reply(206, {'Content-Type': mime, 'Content-Disposition': 'inline',
                                        'Content-Range': 'bytes 0-%d/%d' % (len(body) - 1, len(body)),
                                        'X-Content-Type-Options': 'sniff-away'}, body)
    assert home.node.registry.sync('evil')[0]
    viewer = signed_in(home, 'ann', admin=True)
    for headers in ({}, {'Range': 'bytes=0-'}, {'Range': 'bytes=0-9'}):
        answer = viewer.get('/media/evil:' + REMOTE_ID, headers=headers)
        assert answer.status_int in (200, 206) and body.startswith(answer.body), headers
        assert answer.headers['Content-Type'] == 'application/octet-stream', headers
        assert answer.headers['Content-Disposition'] == 'attachment', headers
        assert answer.headers['X-Content-Type-Options'] == 'nosniff', headers


# --- 14. durability --------------------------------------------------------------------------------

def test_every_database_connection_is_synchronous_full(node):
    signed_in(node, 'ann')          # a request opened this thread's serving connection
    db = node.node.database.db
    assert db.execute_sql('PRAGMA synchronous').fetchone()[0] == 2
    found = {}

    def in_a_job():
        with db.connection_context():
            found['value'] = db.execute_sql('PRAGMA synchronous').fetchone()[0]
    job = threading.Thread(target=in_a_job)
    job.start()
    job.join()
    assert found['value'] == 2
