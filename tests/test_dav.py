"""WebDAV under /dav/ (privtube_dav): app passwords on the account page, HTTP Basic, the folders a person
may see, PROPFIND's depths and XML, read-only methods, Range through the web's media code, and a peer's
item through the gateway."""
import base64
import logging
import re
import xml.etree.ElementTree as ET
from urllib.parse import unquote

import pytest
import webtest
from conftest import page_csrf, submit_login
from test_network import VIDEO, link

import privtube_auth
import privtube_dav
import privtube_web

pytestmark = pytest.mark.filterwarnings('ignore:Unknown REQUEST_METHOD')
DATA = b'\x00\x00\x00\x18ftypmp42' + bytes(range(256)) * 40
DAV = '{DAV:}'
WRITES = ('PUT', 'DELETE', 'MKCOL', 'COPY', 'MOVE', 'PROPPATCH', 'LOCK', 'UNLOCK', 'POST', 'PATCH')


# --- helpers ---------------------------------------------------------------------------------------

def app_password(node, name, label='Kodi'):
    """A new app password of user `name` (made as the account page makes them)."""
    user = node.accounts.find_user(name)
    return privtube_dav.AppPasswords(node.node.database, node.config).create(user, label)[1]


def basic(name, password):
    return {'Authorization': 'Basic ' + base64.b64encode(('%s:%s' % (name, password)).encode()).decode()}


def client(node, address='192.0.2.7'):
    return webtest.TestApp(node.app, extra_environ={'REMOTE_ADDR': address})


def propfind(app, path, auth, depth='1', body=b'', status=207):
    headers = dict(auth, **({'Depth': depth} if depth is not None else {}))
    return app.request(path, method='PROPFIND', headers=headers, body=body, status=status)


def listing(response):
    """{decoded href: {property: text}} of a 207 answer (its XML must parse)."""
    root = ET.fromstring(response.body)
    assert root.tag == DAV + 'multistatus'
    found = {}
    for answer in root.findall(DAV + 'response'):
        props = {}
        for block in answer.findall(DAV + 'propstat'):
            if block.find(DAV + 'status').text.endswith(' 200 OK'):
                for prop in block.find(DAV + 'prop'):
                    props[prop.tag.replace(DAV, '')] = prop.text if len(prop) == 0 else [c.tag for c in prop]
        found[unquote(answer.find(DAV + 'href').text)] = props
    return found


def names_under(response, folder):
    return sorted(href[len(folder):].rstrip('/') for href in listing(response) if href != folder)


def last_used(page):
    return re.search(r'data-label="Last used">([^<]*)<', page.text).group(1)


def owned(node, relative, user, **kwargs):
    item = node.add(relative, **kwargs)
    item.owner = user.id
    item.save()
    return item


@pytest.fixture
def home(node):
    """ann and bob of one node, bob with a private video and a video only his group may see."""
    node.accounts.create_group('family', ['tag:family'])
    ann = node.accounts.create_user('ann', 'password-123', groups=['family'])
    bob = node.accounts.create_user('bob', 'password-123', groups=['family'])
    picnic = owned(node, 'Trips/picnic.mp4', ann, tags=['family'], data=DATA)
    secret = owned(node, 'Bob/diary.mp4', bob, private=True)
    work = node.add('Work/report.mp4', tags=['work'])
    node.store.albums.create('Summer 2024', item_ids=[picnic.id])
    node.store.albums.create('Office', item_ids=[work.id])
    return node, ann, bob, picnic, secret, work


# --- app passwords on the account page -----------------------------------------------------------------

def test_an_app_password_is_made_on_the_account_page_shown_once_and_stored_hashed(node):
    browser = node.sign_in('ann')
    page = browser.get('/account')
    assert 'App passwords' in page.text and 'no app passwords yet' in page.text
    made = browser.post('/account/app-passwords', {'name': 'Living room Kodi', 'csrf': page_csrf(page.text)})
    password = re.search(r'id="app-password" readonly value="([^"]+)"', made.text).group(1)
    assert len(password) >= 43 and 'http://localhost:80/dav/' in made.text and '<code>ann</code>' in made.text
    rows = privtube_dav.AppPasswords(node.node.database, node.config).of(node.accounts.find_user('ann'))
    assert [row.name for row in rows] == ['Living room Kodi']
    assert rows[0].token_hash == privtube_auth.token_hash(password) and password not in rows[0].token_hash
    again = browser.get('/account')
    assert password not in again.text and 'Living room Kodi' in again.text and last_used(again) == 'never'
    propfind(client(node), '/dav/', basic('ann', password), depth='0')
    assert re.match(r'[0-9]{4}-', last_used(browser.get('/account')))


def test_app_password_names_are_checked_and_what_was_typed_is_kept(node):
    browser = node.sign_in('ann')
    csrf = page_csrf(browser.get('/account').text)
    browser.post('/account/app-passwords', {'name': 'VLC', 'csrf': csrf})
    for typed, reason in (('   ', 'give the app password a name'), ('vlc', 'already have an app password named'),
                          ('x' * 65, '1-64 printable characters')):
        refused = browser.post('/account/app-passwords', {'name': typed, 'csrf': csrf}, status=400)
        assert reason in refused.text and 'value="%s"' % typed in refused.text
    browser.post('/account/app-passwords', {'name': 'Infuse'}, status=403)      # no CSRF token: refused
    other = node.sign_in('bob')
    other.post('/account/app-passwords', {'name': 'VLC', 'csrf': page_csrf(other.get('/account').text)})  # per person
    assert len(privtube_dav.AppPasswords(node.node.database, node.config).of(node.accounts.find_user('ann'))) == 1


def test_a_revoked_app_password_is_refused_at_the_next_request(node):
    browser = node.sign_in('ann')
    password = app_password(node, 'ann')
    dav = client(node)
    propfind(dav, '/dav/', basic('ann', password), depth='0')
    row_id = re.search(r'/account/app-passwords/([0-9]+)/revoke', browser.get('/account').text).group(1)
    asked = browser.get('/account/app-passwords/%s/revoke' % row_id)
    assert 'Revoke the app password Kodi?' in asked.text
    propfind(dav, '/dav/', basic('ann', password), depth='0')      # asking first changes nothing
    [form for form in asked.forms.values() if form.action.endswith('/revoke')][0].submit(status=303)
    propfind(dav, '/dav/', basic('ann', password), depth='0', status=401)
    assert 'no app passwords yet' in browser.get('/account').text
    bob = node.sign_in('bob')
    app_password(node, 'ann', 'VLC')
    theirs = re.search(r'/account/app-passwords/([0-9]+)/revoke', browser.get('/account').text).group(1)
    bob.get('/account/app-passwords/%s/revoke' % theirs, status=404)       # not bob's to revoke


def test_removing_a_person_removes_their_app_passwords(node):
    node.sign_in('ann')
    password = app_password(node, 'ann')
    node.accounts.remove_user('ann')
    assert not privtube_dav.AppPasswords(node.node.database, node.config).AppPassword.select().exists()
    node.accounts.create_user('ann', 'password-123')        # a new ann does not inherit them
    propfind(client(node), '/dav/', basic('ann', password), depth='0', status=401)


# --- who may ask ---------------------------------------------------------------------------------------

def test_every_dav_route_and_method_asks_for_basic_without_a_credential(node):
    rules = {route.rule for route in node.app.routes if route.rule.startswith('/dav')}
    assert rules == set(privtube_dav.DAV_RULES) and rules <= privtube_web.ANONYMOUS
    node.sign_in('ann')
    session = node.sign_in('bob')          # a signed-in browser's cookie is no credential here
    for path in ('/dav', '/dav/', '/dav/Albums/', '/dav/Homes/testnode/clip.mp4'):
        for method in ('GET', 'HEAD', 'OPTIONS', 'PROPFIND') + WRITES:
            for app in (client(node), session):
                answer = app.request(path, method=method, headers={'Depth': '1'}, expect_errors=True)
                assert answer.status_int == 401, (method, path, answer.status)
                assert answer.headers['WWW-Authenticate'] == 'Basic realm="privtube", charset="UTF-8"'


def test_the_sign_in_password_and_other_peoples_app_passwords_are_refused(node):
    node.sign_in('ann')
    node.sign_in('bob')
    bobs = app_password(node, 'bob')
    dav = client(node)
    for auth in (basic('ann', 'password-123'), basic('ann', bobs), basic('nobody', bobs),
                 {'Authorization': 'Basic !!!not base64'}, {'Authorization': 'Bearer ' + bobs},
                 {'Authorization': 'Basic ' + base64.b64encode(b'\xff\xfe:x').decode()}):
        propfind(dav, '/dav/', auth, depth='0', status=401)
    propfind(dav, '/dav/', basic('bob', bobs), depth='0')
    propfind(dav, '/dav/', basic('BOB', bobs), depth='0')         # user names in any case, as sign-in


def test_app_passwords_are_checked_without_scrypt(node, monkeypatch):
    node.sign_in('ann')
    password = app_password(node, 'ann')

    def no_scrypt(*args, **kwargs):
        raise AssertionError('scrypt ran for a WebDAV request')
    monkeypatch.setattr(privtube_auth, 'scrypt', no_scrypt)
    dav = client(node)
    propfind(dav, '/dav/', basic('ann', password), depth='1')
    propfind(dav, '/dav/', basic('ann', 'wrong'), depth='1', status=401)


def test_guessing_is_throttled_like_sign_in_without_locking_the_person_out(node, caplog):
    browser = node.sign_in('ann')
    password = app_password(node, 'ann')
    dav = client(node, '192.0.2.50')
    caplog.set_level(logging.WARNING, 'privtube.dav')
    for number in range(privtube_web.PAIR_LIMIT):
        propfind(dav, '/dav/', basic('ann', 'guess-%d' % number), depth='0', status=401)
    blocked = propfind(dav, '/dav/', basic('ann', password), depth='0', status=429)
    assert int(blocked.headers['Retry-After']) >= 1
    propfind(client(node, '192.0.2.51'), '/dav/', basic('ann', password), depth='0')    # another client may
    assert browser.get('/account').status_int == 200
    submit_login(webtest.TestApp(node.app, extra_environ={'REMOTE_ADDR': '192.0.2.50'}), 'ann', 'password-123')
    assert 'WebDAV sign-in failed' in caplog.text and 'guess-' not in caplog.text and password not in caplog.text


# --- the protocol ----------------------------------------------------------------------------------------

def test_options_and_every_write_method(home):
    node, *_ = home
    auth = basic('ann', app_password(node, 'ann'))
    answer = client(node).request('/dav/', method='OPTIONS', headers=auth)
    assert answer.headers['DAV'] == '1' and answer.headers['Allow'] == 'OPTIONS, GET, HEAD, PROPFIND'
    for method in WRITES:
        for path in ('/dav/', '/dav/Albums/Summer 2024/picnic.mp4', '/dav/Albums/New'):
            refused = client(node).request(path, method=method, headers=auth, body=b'x', expect_errors=True)
            assert refused.status_int == 405 and refused.headers['Allow'] == privtube_dav.ALLOW, (method, path)
    assert [item.title for item in node.store.items.visible_query(node.accounts.user_principal(
        node.accounts.find_user('ann')))] == ['picnic.mp4']         # nothing changed, nothing added


def test_propfind_depths(home):
    node, *_ = home
    auth, dav = basic('ann', app_password(node, 'ann')), client(node)
    assert list(listing(propfind(dav, '/dav/', auth, depth='0'))) == ['/dav/']
    top = listing(propfind(dav, '/dav/', auth, depth='1'))
    assert list(top) == ['/dav/', '/dav/Albums/', '/dav/Homes/', '/dav/Years/']
    assert top['/dav/Albums/']['resourcetype'] == [DAV + 'collection']
    # Windows' client asks a folder's entries without the folder; a file is answered as at Depth 1
    assert list(listing(propfind(dav, '/dav/', auth, depth='1,noroot'))) == list(top)[1:]
    assert list(listing(propfind(dav, '/dav/', auth, depth='1, noRoot'))) == list(top)[1:]
    film = '/dav/Homes/testnode/picnic.mp4'
    assert list(listing(propfind(dav, film, auth, depth='1,noroot'))) == [film]
    for depth in ('infinity', 'Infinity', None, '2', 'x', 'infinity,noroot', '0,noroot', 'noroot'):
        refused = propfind(dav, '/dav/', auth, depth=depth, status=403)
        assert ET.fromstring(refused.body).find(DAV + 'propfind-finite-depth') is not None


def test_each_person_sees_exactly_what_the_web_shows_them(home):
    node, ann, bob, picnic, secret, work = home
    dav = client(node)
    as_ann = basic('ann', app_password(node, 'ann'))
    assert names_under(propfind(dav, '/dav/Albums/', as_ann), '/dav/Albums/') == ['Summer 2024']
    assert names_under(propfind(dav, '/dav/Albums/Summer 2024/', as_ann), '/dav/Albums/Summer 2024/') == ['picnic.mp4']
    assert names_under(propfind(dav, '/dav/Homes/testnode/', as_ann), '/dav/Homes/testnode/') == ['picnic.mp4']
    years = names_under(propfind(dav, '/dav/Years/', as_ann), '/dav/Years/')
    files = [name for year in years for name in names_under(
        propfind(dav, '/dav/Years/%s/' % year, as_ann), '/dav/Years/%s/' % year)]
    assert files == ['picnic.mp4']
    for hidden in ('/dav/Albums/Office/', '/dav/Albums/Office/report.mp4', '/dav/Homes/testnode/diary.mp4',
                   '/dav/Homes/testnode/report.mp4'):
        propfind(dav, hidden, as_ann, status=404)
        dav.get(hidden, headers=as_ann, status=404)
    as_bob = basic('bob', app_password(node, 'bob'))
    assert names_under(propfind(dav, '/dav/Homes/testnode/', as_bob), '/dav/Homes/testnode/') == [
        'diary.mp4', 'picnic.mp4']
    node.accounts.create_user('root', 'password-123', admin=True)
    as_root = basic('root', app_password(node, 'root'))
    assert names_under(propfind(dav, '/dav/Albums/', as_root), '/dav/Albums/') == ['Office', 'Summer 2024']


def test_properties_asked_by_name_and_unknown_ones(home):
    node, ann, bob, picnic, *_ = home
    auth, dav = basic('ann', app_password(node, 'ann')), client(node)
    body = (b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop>'
            b'<d:getcontentlength/><d:getlastmodified/><d:getetag/><d:resourcetype/><oc:checksums/></d:prop>'
            b'</d:propfind>')
    answer = propfind(dav, '/dav/Albums/Summer%202024/', auth, body=body)
    root = ET.fromstring(answer.body)
    file_answer = [r for r in root.findall(DAV + 'response') if r.find(DAV + 'href').text.endswith('.mp4')][0]
    blocks = {block.find(DAV + 'status').text: [p.tag for p in block.find(DAV + 'prop')]
              for block in file_answer.findall(DAV + 'propstat')}
    assert blocks['HTTP/1.1 404 Not Found'] == ['{http://owncloud.org/ns}checksums']
    assert sorted(blocks['HTTP/1.1 200 OK']) == sorted(DAV + name for name in (
        'getcontentlength', 'getlastmodified', 'getetag', 'resourcetype'))
    found = listing(answer)['/dav/Albums/Summer 2024/picnic.mp4']
    assert found['getcontentlength'] == str(len(DATA))
    assert re.fullmatch(r'[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT', found['getlastmodified'])
    got = dav.get('/dav/Albums/Summer%202024/picnic.mp4', headers=auth)
    assert got.headers['ETag'] == found['getetag'] and got.body == DATA
    everything = listing(propfind(dav, '/dav/Albums/Summer%202024/picnic.mp4', auth, depth='0'))
    assert set(everything['/dav/Albums/Summer 2024/picnic.mp4']) == set(privtube_dav.PROPS)
    names = propfind(dav, '/dav/', auth, depth='0',
                     body=b'<propfind xmlns="DAV:"><propname/></propfind>')
    assert set(listing(names)['/dav/']) == {'resourcetype', 'displayname'}
    plain = propfind(dav, '/dav/', auth, depth='0', body=b'<D:propfind xmlns:D="DAV:"><D:prop><D:displayname/>'
                                                         b'<plain/></D:prop></D:propfind>')
    blocks = ET.fromstring(plain.body).find(DAV + 'response').findall(DAV + 'propstat')
    assert [[p.tag for p in block.find(DAV + 'prop')] for block in blocks] == [[DAV + 'displayname'], ['plain']]


def test_hostile_propfind_bodies_are_refused(home):
    node, *_ = home
    auth, dav = basic('ann', app_password(node, 'ann')), client(node)
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
            b'<propfind xmlns="DAV:"><prop><displayname>&lol2;</displayname></prop></propfind>')
    external = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                b'<propfind xmlns="DAV:"><prop>&e;</prop></propfind>')
    for body in (bomb, external, b'<propfind', b'<other xmlns="DAV:"/>', b'<propfind xmlns="DAV:"/>'):
        refused = propfind(dav, '/dav/', auth, body=body, status=400)
        assert b'root:' not in refused.body
    propfind(dav, '/dav/', auth, body=b' ' * (privtube_dav.MAX_BODY + 1), status=413)


def test_files_are_served_with_range_as_the_web_serves_them(home):
    node, ann, bob, picnic, *_ = home
    auth, dav = basic('ann', app_password(node, 'ann')), client(node)
    url = '/dav/Homes/testnode/picnic.mp4'
    part = dav.get(url, headers=dict(auth, Range='bytes=100-199'), status=206)
    assert part.body == DATA[100:200] and part.headers['Content-Range'] == 'bytes 100-199/%d' % len(DATA)
    head = dav.head(url, headers=auth)
    assert head.headers['Content-Length'] == str(len(DATA)) and head.headers['Accept-Ranges'] == 'bytes'
    stale = dav.get(url, headers=dict(auth, Range='bytes=0-9', **{'If-Range': '"old"'}), status=200)
    assert stale.body == DATA
    dav.get(url, headers=dict(auth, Range='bytes=%d-' % len(DATA)), status=416)
    web = node.sign_in('carl', groups=['family'])
    assert web.get('/media/' + picnic.id, headers={'Range': 'bytes=100-199'}).body == part.body
    folder = dav.get('/dav/Homes/testnode/', headers=auth)
    assert 'href="/dav/Homes/testnode/picnic.mp4"' in folder.text


def test_unknown_paths_and_traversal_are_not_found(home):
    node, *_ = home
    auth, dav = basic('ann', app_password(node, 'ann')), client(node)
    for path in ('/dav/Nothing/', '/dav/Albums/Nope/', '/dav/Years/1999/', '/dav/Homes/testnode/nope.mp4',
                 '/dav/Homes/testnode/picnic.mp4/more', '/dav/..%2F..%2Fconfig.ini', '/dav/Albums/..%2F..',
                 '/dav/Homes/%2e%2e/%2e%2e/config.ini', '/dav/Albums/Summer 2024/picnic.mp4%00'):
        assert dav.get(path, headers=auth, expect_errors=True).status_int == 404, path
        assert propfind(dav, path, auth, status='*').status_int == 404, path


def test_hostile_names_are_made_safe_unique_and_encoded(node):
    ann = node.accounts.create_user('ann', 'password-123')
    weird = ['Trip/a b#1%.mp4', 'Trip/Ünï©ødé 東京.mp4', 'A/clip.mp4', 'B/clip.mp4', 'C/CLIP.mp4',
             'D/clip (2).mp4', 'E/tab\tand\x7fdel.mp4', 'F/?query&x=1.mp4']
    for relative in weird:
        owned(node, relative, ann)
    upload = node.store.uploads.save_stream(__import__('io').BytesIO(DATA), len(DATA), '.mp4', 'my/slashed\r\ntitle',
                                            owner_id=ann.id)
    assert upload.path.startswith('uploads/')
    auth, dav = basic('ann', app_password(node, 'ann')), client(node)
    answer = propfind(dav, '/dav/Homes/testnode/', auth)
    raw_hrefs = [href.text for href in ET.fromstring(answer.body).iter(DAV + 'href')]
    assert all(re.fullmatch(r"[A-Za-z0-9/%._~-]+", href) for href in raw_hrefs), raw_hrefs
    names = names_under(answer, '/dav/Homes/testnode/')
    # clip.mp4 twice, CLIP.mp4 and a real clip (2).mp4: unique regardless of case, the real name kept
    assert sorted(names) == sorted(['a b#1%.mp4', 'Ünï©ødé 東京.mp4', 'CLIP.mp4', 'clip (3).mp4', 'clip (4).mp4',
                                    'clip (2).mp4', 'tabanddel.mp4', '?query&x=1.mp4', 'my_slashedtitle.mp4'])
    assert names == names_under(propfind(dav, '/dav/Homes/testnode/', auth), '/dav/Homes/testnode/')  # the same again
    for href in raw_hrefs[1:]:
        got = dav.get(href, headers=auth)
        assert got.body.startswith(b'\x00\x00\x00\x18ftypmp42'), href
    assert listing(answer)['/dav/Homes/testnode/a b#1%.mp4']['displayname'] == 'a b#1%.mp4'


# --- a peer's items ----------------------------------------------------------------------------------------

def test_a_peers_items_are_listed_and_served_through_the_gateway(network):
    alice, bob = network.make('alice'), network.make('bob')
    picnic = alice.add('picnic.mp4', tags=['family'], title='Family picnic', data=VIDEO)
    alice.add('diary.mp4', tags=['family'], title='Secret diary', private=True)
    alice.add('report.mp4', tags=['work'], title='Quarterly report')
    alice.store.albums.create('Summer', item_ids=[picnic.id])
    link(network, alice, bob, ['tag:family'])
    assert bob.node.registry.sync('alice')[0]
    bob.accounts.create_group('far', ['origin:alice'])
    bob.accounts.create_group('near', ['origin:local'])
    bob.accounts.create_user('ann', 'password-123', groups=['far'])
    bob.accounts.create_user('cy', 'password-123', groups=['near'])
    dav = client(bob)
    as_ann, as_cy = basic('ann', app_password(bob, 'ann')), basic('cy', app_password(bob, 'cy'))
    assert names_under(propfind(dav, '/dav/Homes/', as_ann), '/dav/Homes/') == ['alice']
    found = listing(propfind(dav, '/dav/Homes/alice/', as_ann))
    assert found['/dav/Homes/alice/Family picnic.mp4']['getcontentlength'] == str(len(VIDEO))
    assert names_under(propfind(dav, '/dav/Albums/', as_ann), '/dav/Albums/') == ['Summer (from alice)']
    url = '/dav/Albums/Summer%20(from%20alice)/Family%20picnic.mp4'
    part = dav.get(url, headers=dict(as_ann, Range='bytes=1000-1999'), status=206)
    assert part.body == VIDEO[1000:2000] and part.headers['Content-Range'] == 'bytes 1000-1999/%d' % len(VIDEO)
    assert dav.get(url, headers=as_ann).body == VIDEO
    assert names_under(propfind(dav, '/dav/Homes/', as_cy), '/dav/Homes/') == []
    propfind(dav, '/dav/Homes/alice/', as_cy, status=404)
    dav.get(url, headers=as_cy, status=404)


def test_leaving_a_group_stops_the_next_range_request_of_a_file_being_played(home):
    node, ann, bob, picnic, *_ = home
    auth, dav = basic('bob', app_password(node, 'bob')), client(node)
    url = '/dav/Albums/Summer%202024/picnic.mp4'
    for start in (0, 100):
        assert dav.get(url, headers=dict(auth, Range='bytes=%d-%d' % (start, start + 9)), status=206).body == \
            DATA[start:start + 10]
    node.accounts.set_user_groups('bob', [], admin=False)
    dav.get(url, headers=dict(auth, Range='bytes=200-209'), status=404)
    propfind(dav, url, auth, depth='0', status=404)
    node.accounts.set_user_groups('bob', ['family'], admin=False)
    node.store.items.edit(picnic, private=True)         # ann's own item, made private: bob no longer sees it
    dav.get(url, headers=dict(auth, Range='bytes=200-209'), status=404)


def test_a_peers_item_whose_home_is_offline_is_a_short_refusal(network):
    alice, bob = network.make('alice'), network.make('bob')
    alice.add('picnic.mp4', tags=['family'], title='Family picnic', data=VIDEO)
    link(network, alice, bob, ['*'])
    assert bob.node.registry.sync('alice')[0]
    bob.accounts.create_user('ann', 'password-123')
    auth, dav = basic('ann', app_password(bob, 'ann')), client(bob)
    del network.handlers['http://alice.test']
    refused = dav.get('/dav/Homes/alice/Family%20picnic.mp4', headers=dict(auth, Range='bytes=0-9'), status=502)
    assert refused.content_type == 'text/plain' and 'Traceback' not in refused.text


def test_an_app_password_never_begins_with_a_dash(monkeypatch):
    """`rclone obscure -aTJ…` read a new app password as options (1 in 64 of them began with `-`)."""
    made = iter(['-aTJCVSaO455xDT9ILArEURuz7sTETuQO-YpTCLBw8g', 'bTJCVSaO455xDT9ILArEURuz7sTETuQO-YpTCLBw8g'])
    monkeypatch.setattr(privtube_dav.secrets, 'token_urlsafe', lambda size: next(made))
    assert privtube_dav.new_password() == 'bTJCVSaO455xDT9ILArEURuz7sTETuQO-YpTCLBw8g'
