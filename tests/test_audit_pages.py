"""Security audit, issue 10: pages a slow peer held, a search notice that counted hidden items, file names the
node did not choose, and an empty API upload. Each test makes the attack and asserts what a user would notice."""
import http.server
import json
import os
import re
import threading
import time
from urllib.parse import unquote

import pytest
import requests
from test_cli import Cli
from test_hostile_peers import drip, running
from test_threats import DATA, PASSWORD, FakePeer, page, remote_item, signed_in

import privtube_app
import privtube_config
import privtube_items
import privtube_registry
import privtube_remote
import privtube_search
import privtube_store
from privtube_peer import Reply

PEER_IDS = ['P%021d' % n for n in range(6)]


# --- 4. a slow peer never blocks a page ------------------------------------------------------------

class DrippingPeer(http.server.ThreadingHTTPServer):
    """A peer on a real loopback port: its catalog comes at once; comments, posted comments and views are
    dripped a byte every 100 ms for 30 s, as a peer that wants to hold our threads would."""

    def __init__(self):
        super().__init__(('127.0.0.1', 0), DrippingHandler)
        self.items = [remote_item(item_id, title='Slow item %d' % n) for n, item_id in enumerate(PEER_IDS)]
        self.url = 'http://127.0.0.1:%d' % self.server_port
        self.dripped = []


class DrippingHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith('/api/v1/catalog'):
            body = page(self.server.items)
            self.send_response(200)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.drip()

    def do_POST(self):
        self.rfile.read(int(self.headers.get('Content-Length') or 0))
        self.drip()

    def drip(self):
        self.server.dripped.append(self.path)
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', '300')
        self.end_headers()
        drip(self.wfile, 300)

    def log_message(self, *args):
        pass


@pytest.fixture
def dripping_peer():
    with running(DrippingPeer()) as server:
        yield server


@pytest.fixture
def served_home(make_node, dripping_peer):
    """A node reading the dripping peer (synced once), served by a real Waitress with four threads."""
    import waitress
    from waitress import wasyncore
    home = make_node('home', '[server]\nthreads = 4\n')
    privtube_config.add_peer(home.config_path, 'slow', dripping_peer.url, 'pt_' + 'k' * 40)
    home.reload(None)
    assert home.node.registry.sync('slow')[0]
    home.accounts.create_user('ann', PASSWORD)
    options = dict(privtube_app.waitress_options(home.config), host='127.0.0.1', port=0)
    server = waitress.create_server(privtube_app.zero_copy_files(home.app), **options)
    threading.Thread(target=server.run, daemon=True).start()
    yield home, 'http://127.0.0.1:%s' % server.effective_port
    server.task_dispatcher.shutdown()
    wasyncore.close_all(server._map)


def browser_session(base):
    session = requests.Session()
    assert session.post(base + '/login', data={'username': 'ann', 'password': PASSWORD}, timeout=10,
                        allow_redirects=False).status_code == 303
    return session


def timed(work):
    """(result or exception, seconds) of `work()`."""
    started = time.monotonic()
    try:
        result = work()
    except Exception as exc:
        result = exc
    return result, time.monotonic() - started


def in_threads(works):
    """Run every work at once; [(result, seconds)] in order."""
    found = [None] * len(works)

    def run(n):
        found[n] = timed(works[n])
    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(works))]
    for thread in threads:
        thread.start()
    return threads, found


@pytest.mark.slow
def test_watch_pages_of_a_dripping_peers_items_block_neither_each_other_nor_healthz(served_home, dripping_peer):
    home, base = served_home
    session = browser_session(base)
    pages = [lambda i=item_id: session.get(base + '/watch/slow:' + i, timeout=60) for item_id in PEER_IDS]
    threads, answers = in_threads(pages)
    time.sleep(0.3)
    health, health_seconds = timed(lambda: requests.get(base + '/healthz', timeout=60))
    for thread in threads:
        thread.join(60)
    assert health.json() == {'status': 'ok'} and health_seconds < 4, health_seconds
    assert dripping_peer.dripped            # the peer was asked, and dripped
    for answer, seconds in answers:
        assert answer.status_code == 200 and seconds < 4, (answer, seconds)
        assert 'comments unavailable right now' in answer.text
        assert 'Slow item' in answer.text and 'name="body"' in answer.text   # the page itself is whole
    again, seconds = timed(lambda: session.get(base + '/watch/slow:' + PEER_IDS[0], timeout=60))
    assert again.status_code == 200 and seconds < 4 and 'comments unavailable right now' in again.text


@pytest.mark.slow
def test_a_comment_or_view_sent_to_a_dripping_peer_holds_no_worker_for_long(served_home):
    home, base = served_home
    session = browser_session(base)
    watch = session.get(base + '/watch/slow:' + PEER_IDS[0], timeout=60)
    csrf = re.search(r'name="csrf" value="([^"]+)"', watch.text).group(1)
    sends = [lambda: session.post(base + '/watch/slow:%s/comments' % PEER_IDS[1], data={'csrf': csrf, 'body': 'hi'},
                                  timeout=60, allow_redirects=False),
             lambda: session.post(base + '/watch/slow:%s/view' % PEER_IDS[2], headers={'X-CSRF-Token': csrf},
                                  timeout=60),
             lambda: session.post(base + '/watch/slow:%s/view' % PEER_IDS[3], headers={'X-CSRF-Token': csrf},
                                  timeout=60)] * 2
    threads, answers = in_threads(sends)
    time.sleep(0.3)
    health, health_seconds = timed(lambda: requests.get(base + '/healthz', timeout=60))
    for thread in threads:
        thread.join(60)
    assert health.json() == {'status': 'ok'} and health_seconds < 4, health_seconds
    for answer, seconds in answers:
        assert answer.status_code in (502, 503, 504) and seconds < 4, (answer, seconds)
        assert 'Traceback' not in answer.text


def test_a_watch_page_shows_cached_comments_at_once_while_the_origin_turns_slow(linked_home, monkeypatch):
    home, peer, viewer = linked_home
    url = '/watch/evil:' + PEER_IDS[0]
    monkeypatch.setattr(privtube_remote, 'COMMENT_CACHE_SECONDS', 0)     # every copy is stale at once
    assert 'First comment' in viewer.get(url).text
    peer.delay = 5
    for _ in range(3):
        answer, seconds = timed(lambda: viewer.get(url))
        assert seconds < 1 and 'First comment' in answer.text and 'unavailable' not in answer.text


def test_a_comment_posted_to_a_peer_is_shown_on_the_next_page(linked_home):
    home, peer, viewer = linked_home
    url = '/watch/evil:' + PEER_IDS[0]
    watch = viewer.get(url)
    csrf = re.search(r'name="csrf" value="([^"]+)"', watch.text).group(1)
    peer.comments.append({'id': 'c2', 'author': 'ann@home', 'body': 'Second comment', 'created': ''})
    viewer.post(url + '/comments', {'csrf': csrf, 'body': 'Second comment'}, status=303)
    assert 'Second comment' in viewer.get(url).text


class SlowFakePeer(FakePeer):
    """A FakePeer whose comments wait `delay` seconds before answering."""

    def __init__(self, items):
        super().__init__(items)
        self.delay = 0
        self.comments = [{'id': 'c1', 'author': 'bob@evil', 'body': 'First comment', 'created': ''}]

    def __call__(self, method, path, headers, body):
        if path.endswith('/comments'):
            time.sleep(self.delay)
            return Reply(200 if method == 'GET' else 201, {}, json.dumps({'comments': self.comments}).encode())
        return super().__call__(method, path, headers, body)


@pytest.fixture
def linked_home(network):
    peer = SlowFakePeer([remote_item(PEER_IDS[0])])
    home = network.make('home')
    privtube_config.add_peer(home.config_path, 'evil', 'http://evil.test', 'pt_' + 'e' * 40)
    network.handlers['http://evil.test'] = peer
    home.reload(network)
    assert home.node.registry.sync('evil')[0]
    return home, peer, home.sign_in('ann')


# --- 10. no search count is an oracle ---------------------------------------------------------------

NOTICE = 'Many items match'


def search_page(client, **query):
    """(titles in order, notice shown, next link shown) of a search page."""
    text = client.get('/search', dict({'q': 'sunset'}, **query)).text
    return re.findall(r'<span class="title">([^<]*)</span>', text), NOTICE in text, '>Next<' in text


@pytest.fixture
def searchers(node, monkeypatch):
    """ann (group kids: tag:cartoons) sees exactly three 'sunset' items; bob and an admin see more."""
    monkeypatch.setattr(privtube_search, 'RANKED_MATCHES', 3)
    node.accounts.create_group('kids', ['tag:cartoons'])
    ann = signed_in(node, 'ann', groups=['kids'])
    bob = signed_in(node, 'bob', groups=['kids'], address='203.0.113.10')
    root = signed_in(node, 'root', admin=True, address='203.0.113.11')
    for n in range(3):
        node.add('sunset%d.mp4' % n, tags=['cartoons'], title='Sunset cartoon %d' % n)
    return ann, bob, root


def hide_matches(node, count=1):
    """Items matching 'sunset' that ann may not see: bob's private one, one of a hidden tag, a peer's."""
    Item, bob = node.node.database.Item, node.accounts.user('bob')
    first = Item.select().count()
    for n in range(first, first + count):
        item = node.add('private%d.mp4' % n, tags=['cartoons'], private=True, title='Sunset private %d' % n)
        Item.update(owner=bob.id).where(Item.id == item.id).execute()
        node.add('secret%d.mp4' % n, tags=['secret'], title='Sunset secret %d' % n)
    peer_items = [privtube_items.checked_item(remote_item('R%021d' % n, title='Sunset far %d' % n,
                                                          tags=['secret'])) for n in range(first, first + count)]
    registry = node.node.registry
    staged = privtube_registry.StagedRead(registry.db, registry.max_items)
    staged.add(peer_items, [])
    with registry.db.atomic():
        registry.apply_staged('evil', staged)


@pytest.mark.parametrize('query', [{}, {'sort': 'relevance'}, {'tag': 'cartoons'}, {'kind': 'video'},
                                   {'origin': 'testnode'}, {'q': 'sun'}, {'q': 'sunset cartoon'}],
                         ids=['plain', 'relevance', 'tag', 'kind', 'origin', 'prefix', 'two words'])
def test_hidden_matching_items_change_nothing_a_user_sees_in_search(node, searchers, query):
    ann, _, _ = searchers
    before = search_page(ann, **query)
    assert len(before[0]) == 3 and not before[1] and not before[2]       # at the threshold: ranked, no notice
    for count in (1, 2, 5):
        hide_matches(node, 1 if count == 1 else count - 1)
        assert search_page(ann, **query) == before, count


def test_the_many_matches_notice_still_shows_when_the_user_sees_many(node, searchers):
    ann, _, root = searchers
    hide_matches(node, 2)
    node.add('sunset9.mp4', tags=['cartoons'], title='Sunset cartoon 9')     # a fourth ann may see
    assert search_page(ann)[1]
    assert search_page(root)[1]                                             # the admin sees them all


def test_an_owner_counts_their_own_private_items(node, searchers):
    ann, bob, _ = searchers
    hide_matches(node, 1)          # bob's private item is bob's: four matches for him, three for ann
    assert search_page(bob)[1] and not search_page(ann)[1]


# --- 14. file names the node did not choose ---------------------------------------------------------

ODD_NAMES = {
    b'caf\xe9.mp4': 'caf\ufffd',                       # Latin-1, not UTF-8
    b'\xff\xfe\xed\xa0\x80.mp4': '\ufffd\ufffd\ufffd\ufffd\ufffd',   # no UTF-8 at all, an encoded surrogate
    b'line\r\nbreak.mp4': 'line break',
    b'new\nline.mp4': 'new line',
    b'say "cheese"; ok=1.mp4': 'say "cheese"; ok=1',
    b"it's \\ back.mp4": "it's \\ back",
    'gpj\u202e.exe.mp4'.encode(): 'gpj.exe',           # a right-to-left override
    b'tab\there\x01\x1b[31m.mp4': 'tab here[31m',
    b'   .mp4': 'untitled',
    b'x' * 251 + b'.mp4': 'x' * 200,                    # 255 bytes, longer than a title may be
    'na\u00efve caf\u00e9 \u65e5\u672c.mp4'.encode(): 'na\u00efve caf\u00e9 \u65e5\u672c',
}
GOOD_NAME = b'good.mp4'
HEADER_VALUE = re.compile(r'^attachment; filename="([ !#-$&-:<-\[\]-~]+)"; filename\*=UTF-8\'\'([A-Za-z0-9%._~-]+)$')


def odd_media(folder):
    os.makedirs(folder, exist_ok=True)
    for name in list(ODD_NAMES) + [GOOD_NAME]:
        with open(os.path.join(os.fsencode(folder), name), 'wb') as fh:
            fh.write(DATA + name)
    return folder


def titles_by_content(node):
    Item = node.node.database.Item
    return {item.title: item for item in Item.select().where(Item.origin == 'local')}


def test_scan_indexes_every_odd_name_and_finds_each_file_again(node):
    odd_media(node.media_dir)
    summary = node.store.scanner.scan()
    assert summary['added'] == len(ODD_NAMES) + 1 and summary['seen'] == len(ODD_NAMES) + 1
    found = titles_by_content(node)
    assert sorted(found) == sorted(list(ODD_NAMES.values()) + ['good'])
    assert all(len(title) <= privtube_store.MAX_TITLE for title in found)
    again = node.store.scanner.scan()                   # every path read back from the database is the file's own
    assert (again['added'], again['changed'], again['removed']) == (0, 0, 0)
    viewer = node.sign_in('ann', admin=True)
    for name, title in ODD_NAMES.items():
        item = found[title]
        assert viewer.get('/media/' + item.id).body == DATA + name
        assert node.store.open_media(item).read() == DATA + name
    os.unlink(os.path.join(os.fsencode(node.media_dir), b'caf\xe9.mp4'))
    assert node.store.scanner.scan()['removed'] == 1 and 'caf\ufffd' not in titles_by_content(node)


def test_odd_names_are_searchable_and_the_catalog_still_reads(network):
    alice = network.make('alice')
    odd_media(alice.media_dir)
    alice.store.scanner.scan()
    home = network.make('home')
    _, token = alice.accounts.create_key('home', ['*'])
    privtube_config.add_peer(home.config_path, 'alice', 'http://alice.test', token)
    home.reload(network)
    ok, message = home.node.registry.sync('alice')
    assert ok, message                          # no title too long or too odd for a peer to take
    Item = home.node.database.Item
    assert Item.select().where(Item.origin == 'alice').count() == len(ODD_NAMES) + 1
    assert 'caf\ufffd' in alice.sign_in('ann').get('/search', {'q': 'caf'}).text


def check_disposition(header, expected_name):
    """The header is one valid value: an ASCII stand-in quoted, and the real name percent-encoded."""
    assert not re.search(r'[\x00-\x1f\x7f]', header), header
    match = HEADER_VALUE.match(header)
    assert match, header
    fallback, encoded = match.groups()
    assert '"' not in fallback and '\\' not in fallback and fallback.strip() == fallback
    assert expected_name is None or unquote(encoded, errors='strict') == expected_name, header
    assert not re.search('[\x00-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]', unquote(encoded))


def expected_download_name(name):
    text = name.decode('utf-8', 'replace')
    return ''.join(c for c in text if not (c < ' ' or c == '\x7f' or '\u202a' <= c <= '\u202e'))


def test_web_downloads_of_odd_names_have_a_valid_rfc6266_header(node):
    odd_media(node.media_dir)
    node.store.scanner.scan()
    found = titles_by_content(node)
    viewer = node.sign_in('ann', admin=True)
    for name, title in ODD_NAMES.items():
        answer = viewer.get('/media/%s?download=1' % found[title].id)
        assert answer.status_int == 200 and answer.body == DATA + name
        check_disposition(answer.headers['Content-Disposition'], expected_download_name(name).strip())


@pytest.mark.parametrize('name', ['a\r\nSet-Cookie: x=1.svg', 'q"uo"te;s.html', '\u202egpj.svg', 'caf\u00e9.pdf',
                                  ' .txt', 'x' * 240 + '.svg'])
def test_active_content_with_an_odd_name_is_an_attachment_with_a_valid_header(node, name):
    path = os.path.join(node.media_dir, name)
    with open(path, 'w') as fh:
        fh.write('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    node.store.scanner.scan()
    [item] = titles_by_content(node).values()
    viewer = node.sign_in('ann', admin=True)
    for url, expected in (('/media/%s' % item.id, None),
                          ('/media/%s?download=1' % item.id, expected_download_name(name.encode()).strip())):
        answer = viewer.get(url)
        assert answer.headers['Content-Type'] == 'application/octet-stream'
        check_disposition(answer.headers['Content-Disposition'], expected)
        assert 'Set-Cookie' not in answer.headers


@pytest.mark.parametrize('title', ['line\r\nbreak', 'say "cheese"; x=1', '\u202egpj.exe', 'caf\u00e9', 'tab\there'])
def test_api_media_of_an_item_with_an_odd_title_has_a_valid_rfc6266_header(node, title):
    item = node.add('page.svg', data=b'<svg xmlns="http://www.w3.org/2000/svg"></svg>')
    node.store.items.edit(item, title=title)
    answer = node.client.get('/api/v1/content/%s/media' % item.id, headers=node.key('script'))
    assert answer.status_int == 200 and answer.headers['Content-Type'] == 'application/octet-stream'
    check_disposition(answer.headers['Content-Disposition'], expected_download_name(title.encode()) + '.svg')


def test_privtube_scan_indexes_the_other_files_and_names_the_odd_one(tmp_path):
    cli = Cli(tmp_path)
    assert cli('init', config=False).returncode == 0
    odd_media(str(tmp_path / 'media'))
    done = cli('scan')
    assert done.returncode == 0, done.stderr
    assert '%d files: %d added' % (len(ODD_NAMES) + 1, len(ODD_NAMES) + 1) in done.stdout
    assert 'caf\\xe9.mp4' in done.stderr and '\\xff\\xfe\\xed\\xa0\\x80.mp4' in done.stderr
    listing = cli('content', 'list').stdout
    assert 'good' in listing and 'caf\ufffd' in listing and listing.count('\n') == len(ODD_NAMES) + 1
    again = cli('scan')
    assert again.returncode == 0 and '0 added, 0 changed, 0 removed' in again.stdout


def test_content_add_of_a_file_with_a_non_utf8_name_outside_the_media_folder(tmp_path):
    cli = Cli(tmp_path)
    assert cli('init', config=False).returncode == 0
    outside = os.path.join(os.fsencode(str(tmp_path)), b'caf\xe9 outside.mp4')
    with open(outside, 'wb') as fh:
        fh.write(DATA)
    done = cli('content', 'add', os.fsdecode(outside))
    assert done.returncode == 0, done.stderr
    assert 'caf\ufffd outside' in cli('content', 'list').stdout


# --- 16b. an empty upload through the API -----------------------------------------------------------

@pytest.mark.parametrize('query', ['', '?title=empty', '?title=empty&private=1'])
def test_an_empty_api_upload_is_refused_like_the_web_upload(node, query):
    manage = dict(node.key('script', manage=True), **{'Content-Type': 'video/mp4'})
    answer = node.client.post('/api/v1/content' + query, b'', headers=manage, status=400)
    assert answer.json == {'error': 'the file is empty'}
    assert node.node.database.Item.select().count() == 0
    assert [n for n in os.listdir(node.store.uploads_dir)] == []
    web = node.sign_in('ann')
    csrf = re.search(r'name="csrf" value="([^"]+)"', web.get('/upload').text).group(1)
    refused = web.post('/upload?title=empty', b'', headers={'X-CSRF-Token': csrf, 'Content-Type': 'video/mp4',
                                                           'X-Requested-With': 'fetch'}, status=400)
    assert answer.json['error'] in refused.text
