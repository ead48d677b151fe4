"""Security audit (issue 10), the registry and the catalog: half-finished reads, forged cursors, text that
is not text (README, Security: "Peers").

6. A read a peer leaves unfinished shows nothing: its items are never listed, searched, counted or played,
   and are dropped when it fails; a peer's share of the database is capped.
11. A catalog cursor made up (or edited, or another key's) by a reader reveals nothing private.
13. Lone surrogates and bytes that are not UTF-8, from peers and from people, never crash anything.
"""
import contextlib
import http.server
import os
import re
import subprocess
import sys
import time
from urllib.parse import quote

import pytest
import webob
from conftest import in_own_thread
from test_hostile_peers import GOOD_ID, FakePeer, held, home_reading, item, page, running

import privtube
import privtube_config
from privtube_peer import Reply

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NEW_IDS = ['N%021d' % n for n in range(6)]


# --- 6. a failed sync leaves nothing half-read ------------------------------------------------------

class PagedPeer(FakePeer):
    """Answers catalog requests with `self.pages` in turn (bytes or a Reply), then with `self.after`; before
    each page past the first it calls `self.between()`, to look at the reader in the middle of its read."""

    def __init__(self, pages, after=Reply(500, {}, b'{"error": "gone"}')):
        super().__init__(None)
        self.pages, self.after, self.between, self.served = list(pages), after, None, 0

    def __call__(self, method, path, headers, body):
        if not path.startswith('/api/v1/catalog'):
            return Reply(404, {}, b'{"error": "not found"}')
        if self.served and self.between:
            self.between()
        self.served += 1
        reply = self.pages.pop(0) if self.pages else self.after
        return reply if isinstance(reply, Reply) else Reply(200, {}, reply)


@pytest.fixture
def synced(network):
    """home holds evil's one good item (and alice's picnic); an admin of home is signed in."""
    evil = FakePeer(page([item()]))
    home = home_reading(network, evil)
    assert home.node.registry.sync('alice')[0]
    viewer = home.sign_in('ann', admin=True)
    return home, viewer


def new_item(n, **changes):
    return item(NEW_IDS[n], title='Intruder %d' % n, **changes)


def what_a_person_sees(home, viewer):
    """Every place an item of a peer could show: listings, search, counts, watch, media, thumbnails, rows."""
    seen = {'home': viewer.get('/').text, 'search': viewer.get('/search?q=intruder').text,
            'everything': viewer.get('/search?q=').text, 'evil only': viewer.get('/search?q=&origin=evil').text,
            'good': viewer.get('/search?q=good').text}
    for item_id in NEW_IDS:
        for url in ('/watch/evil:', '/media/evil:', '/thumb/evil:'):
            seen[url + item_id] = viewer.get(url + item_id, expect_errors=True).status_int
    Item = home.node.database.Item
    seen['rows'] = Item.select().where(Item.origin == 'evil').count()
    seen['fts'] = home.node.database.db.execute_sql(
        "SELECT count(*) FROM item_fts WHERE origin = 'evil'").fetchone()[0]
    seen['held'] = held(home, 'evil')
    seen['views'] = Item.get_by_id('evil:' + GOOD_ID).views
    return seen


def assert_only_the_last_good_listing(home, viewer, seen=None):
    seen = seen or what_a_person_sees(home, viewer)
    for where in ('home', 'search', 'everything', 'evil only'):
        assert 'Intruder' not in seen[where], where
    assert 'Good item' in seen['good'] and 'Good item' in seen['evil only']
    for item_id in NEW_IDS:
        for url in ('/watch/evil:', '/media/evil:', '/thumb/evil:'):
            assert seen[url + item_id] == 404, url + item_id
    assert (seen['rows'], seen['fts'], seen['held'], seen['views']) == (1, 1, ['Good item'], 0)


READS_CUT_SHORT = {
    'new items, then a 500': [page([new_item(0), new_item(1)], more=True, cursor='2')],
    'new items over two pages, then malformed JSON': [
        page([new_item(0), new_item(1)], more=True, cursor='2'), page([new_item(2)], more=True, cursor='3'),
        b'{"items": ['],
    'a changed and a removed item, then a 500': [
        page([item(title='Intruder renamed', views=99), new_item(0)], removed=[GOOD_ID], more=True, cursor='2')],
    'a reset, then a 500': [page([new_item(0)], reset=True, more=True, cursor='2')],
    'a reset without the good item, then a page that is not a catalog': [
        page([new_item(0), new_item(1)], reset=True, more=True, cursor='2'), b'"no"'],
    'new items, then a revoked key': [page([new_item(0)], more=True, cursor='2'), Reply(403, {}, b'{}')],
    'new items, then an item with an invalid field': [
        page([new_item(0)], more=True, cursor='2'), page([new_item(1, size=-1)], more=False, cursor='3')],
}


@pytest.mark.parametrize('pages', READS_CUT_SHORT.values(), ids=list(READS_CUT_SHORT))
def test_a_read_cut_short_shows_and_keeps_nothing_of_it(synced, network, pages):
    """A peer sent pages of new items with `more: true` and then failed: 50,000 items per failed sync stayed
    listed and searchable. Now they are invisible while the read runs and gone once it failed."""
    home, viewer = synced
    evil = PagedPeer(pages)
    network.handlers['http://evil.test'] = evil
    during = []
    evil.between = lambda: during.append(in_own_thread(lambda: what_a_person_sees(home, viewer)))
    ok, message = home.node.registry.sync('evil')
    assert not ok
    for seen in during:                           # nothing of the unfinished read showed while it ran
        assert_only_the_last_good_listing(home, viewer, seen)
    assert_only_the_last_good_listing(home, viewer)
    state = home.node.database.Peer.get_by_id('evil')
    assert state.status == 'failed' and state.last_error and state.item_count == 1
    assert home.node.registry.sync('alice')[0]


def test_an_incremental_read_cut_short_applies_nothing_and_a_complete_one_applies_all_at_once(synced, network):
    home, viewer = synced
    network.handlers['http://evil.test'] = PagedPeer([page([new_item(0), item(title='Good, renamed')],
                                                           more=True, cursor='2')])
    assert not home.node.registry.sync('evil')[0]
    assert_only_the_last_good_listing(home, viewer)
    cursor = home.node.database.Peer.get_by_id('evil').cursor
    complete = PagedPeer([page([new_item(0), item(title='Good, renamed')], more=True, cursor='2'),
                          page([new_item(1)], removed=[NEW_IDS[0]], more=True, cursor='3'),
                          page([new_item(2)], more=False, cursor='4')])
    network.handlers['http://evil.test'] = complete
    during = []
    complete.between = lambda: during.append(in_own_thread(lambda: what_a_person_sees(home, viewer)))
    ok, message = home.node.registry.sync('evil')
    assert ok, message
    assert len(during) == 2
    for seen in during:
        assert_only_the_last_good_listing(home, viewer, seen)
    assert held(home, 'evil') == ['Good, renamed', 'Intruder 1', 'Intruder 2']
    found = viewer.get('/search?q=intruder').text
    assert 'Intruder 1' in found and 'Intruder 2' in found and 'Intruder 0' not in found
    state = home.node.database.Peer.get_by_id('evil')
    assert (state.status, state.item_count, state.cursor) == ('ok', 3, '4') and cursor != '4'


def test_the_next_page_is_asked_for_while_the_reader_stages_the_one_it_has(synced, network, monkeypatch):
    """A first sync of 100,000 items spent a quarter of its time with the reader idle while the origin made
    the next page: now the next page is asked for as soon as a page's cursor is known."""
    import privtube_registry
    home, viewer = synced
    evil = PagedPeer([page([new_item(0)], more=True, cursor='2'), page([new_item(1)], more=False, cursor='3')])
    network.handlers['http://evil.test'] = evil
    add, asked_while_staging = privtube_registry.StagedRead.add, []

    def staging(self, items, removed):
        if items and items[0]['id'] == NEW_IDS[0]:
            ends = time.monotonic() + 5
            while evil.served < 2 and time.monotonic() < ends:
                time.sleep(0.01)
            asked_while_staging.append(evil.served)
        return add(self, items, removed)
    monkeypatch.setattr(privtube_registry.StagedRead, 'add', staging)
    assert home.node.registry.sync('evil')[0]
    assert asked_while_staging == [2]
    assert held(home, 'evil') == ['Good item', 'Intruder 0', 'Intruder 1']


def test_a_failed_read_leaves_nothing_staged_for_the_next(synced, network):
    home, viewer = synced
    network.handlers['http://evil.test'] = PagedPeer([page([new_item(0)], reset=True, more=True, cursor='2')])
    assert not home.node.registry.sync('evil')[0]
    network.handlers['http://evil.test'] = PagedPeer([page([new_item(1)], reset=True, more=False, cursor='3')])
    assert home.node.registry.sync('evil')[0]
    assert held(home, 'evil') == ['Intruder 1']


CAP = '[registry]\nmax_peer_items = 4\n'


@pytest.fixture
def capped(network):
    home = network.make('home', CAP)
    evil = FakePeer(page([item()] + [new_item(n) for n in range(2)]))
    privtube_config.add_peer(home.config_path, 'evil', 'http://evil.test', 'pt_' + 'e' * 40)
    network.handlers['http://evil.test'] = evil
    home.reload(network)
    assert home.node.registry.sync('evil')[0]
    return home


OVER_THE_CAP = {
    'five items in one page': [page([item()] + [new_item(n) for n in range(4)], reset=True)],
    'five items over three pages': [page([item(), new_item(0)], reset=True, more=True, cursor='2'),
                                    page([new_item(1), new_item(2)], more=True, cursor='3'),
                                    page([new_item(3)], cursor='4')],
    'two more items in an incremental read': [page([new_item(2), new_item(3)])],
    'thousands of items': [page([item('M%021d' % n) for n in range(5000)], reset=True)],
}


@pytest.mark.parametrize('pages', OVER_THE_CAP.values(), ids=list(OVER_THE_CAP))
def test_a_peer_over_the_item_cap_fails_and_keeps_its_listing(capped, network, pages, capsys):
    home = capped
    network.handlers['http://evil.test'] = PagedPeer(pages)
    ok, message = home.node.registry.sync('evil')
    assert not ok and 'more than 4 items' in message and 'max_peer_items' in message, message
    assert held(home, 'evil') == ['Good item', 'Intruder 0', 'Intruder 1']
    state = home.node.database.Peer.get_by_id('evil')
    assert state.status == 'failed' and 'more than 4 items' in state.last_error and state.item_count == 3
    assert privtube.main(['--config', home.config_path, 'peer', 'list']) == 0
    listed = capsys.readouterr().out
    assert re.search(r'^evil\t.*\tfailed\t.*\t3\t.*more than 4 items', listed, re.M), listed


def test_a_peer_at_the_item_cap_syncs(capped, network):
    home = capped
    network.handlers['http://evil.test'] = PagedPeer([page([new_item(2)], removed=[NEW_IDS[0]]),
                                                      page([new_item(3)]),
                                                      page([item()] + [new_item(n) for n in range(1, 4)], reset=True)])
    for _ in range(3):
        ok, message = home.node.registry.sync('evil')
        assert ok, message
        assert home.node.database.Peer.get_by_id('evil').item_count <= 4
    assert held(home, 'evil') == ['Good item', 'Intruder 1', 'Intruder 2', 'Intruder 3']


def test_the_item_cap_is_an_option_with_a_default(tmp_path):
    config = privtube_config.load(str(tmp_path / 'absent.ini'))
    assert config.get('registry', 'max_peer_items') == 200000
    assert '# max_peer_items = 200000' in privtube_config.commented_template()
    with open(os.path.join(ROOT, 'config.ini'), encoding='utf-8') as fh:
        assert '# max_peer_items = 200000' in fh.read()


# --- 11. a forged cursor lists nothing private --------------------------------------------------------

@pytest.fixture
def late_key(node):
    """Shared items, two of them made private, then a key created: it may never learn the two exist."""
    shown = [node.add('s%d.mp4' % n, title='shown %d' % n) for n in range(3)]
    secret = [node.add('p%d.mp4' % n, title='secret %d' % n) for n in range(2)]
    shown += [node.add('t%d.mp4' % n, title='shown later %d' % n) for n in range(2)]
    for item_row in secret:
        node.store.items.edit(item_row, private=True)
    node.add('after.mp4', title='after')
    headers = node.key('late')
    row = node.accounts.key('late')
    return node, headers, row, {i.id for i in secret}, {i.id for i in shown}


def catalog(node, headers, since, limit=1000):
    url = '/api/v1/catalog?limit=%d' % limit + ('&since=' + quote(since, safe='') if since is not None else '')
    return node.client.get(url, headers=headers, expect_errors=True)


def assert_reveals_nothing(answer, secret):
    assert answer.status_int in (200, 400), answer.status
    assert not secret & set(re.findall(r'[A-Za-z0-9_-]{16,64}', answer.text)), 'a private id leaked'
    if answer.status_int == 400:
        assert answer.json['error']
    return answer


def last_seq(node):
    return node.node.database.db.execute_sql("SELECT value FROM counter WHERE name = 'seq'").fetchone()[0]


def test_made_up_cursors_list_nothing_private(late_key):
    """`since=5.31.13.14` with a key created after two items were made private listed their ids in `removed`."""
    node, headers, row, secret, _ = late_key
    top = last_seq(node) + 2
    for base in range(top):
        for position in range(base, top):
            for form in ('%d.%d.%d.%d', '%d.%d.%d.%d.AAAAAAAAAAAAAAAAAAAAAA'):
                since = form % (row.id, row.generation, base, position)
                answer = assert_reveals_nothing(catalog(node, headers, since), secret)
                if answer.status_int == 200:
                    assert answer.json['reset'] is True and answer.json['removed'] == [], since


def test_a_paged_read_lists_nothing_that_was_private_before_the_key(late_key):
    """Even with the cursors the node issued: a first read a page at a time listed, in `removed`, items
    made private before the key was created (their old states were taken for ones the reader could hold)."""
    node, headers, _, secret, shown = late_key
    for limit in (1, 2, 3):
        since, held_ids = None, set()
        while True:
            answer = assert_reveals_nothing(catalog(node, headers, since, limit), secret)
            assert answer.status_int == 200 and not answer.json['reset']
            held_ids |= {i['id'] for i in answer.json['items']}
            held_ids -= set(answer.json['removed'])
            since = answer.json['cursor']
            if not answer.json['more']:
                break
        assert held_ids >= shown and not held_ids & secret


def edited(cursor, index, value):
    parts = cursor.split('.')
    parts[index] = value
    return '.'.join(parts)


def test_another_keys_or_an_edited_cursor_reveals_nothing(late_key):
    node, headers, row, secret, _ = late_key
    other_headers = node.key('other')
    other = node.accounts.key('other')
    mid = catalog(node, other_headers, None, limit=2).json['cursor']       # a real cursor, of another key
    done = catalog(node, headers, None).json['cursor']                      # the late key's own, at the end
    variants = [mid, done.replace('%d.%d.' % (row.id, row.generation), '%d.%d.' % (other.id, other.generation), 1)]
    for cursor in (mid, done):
        parts = cursor.split('.')
        for index in range(len(parts)):
            for value in ('0', '1', '13', '14', str(int(parts[index]) - 1) if parts[index].isdigit() else 'A' * 22,
                          str(2 ** 64), str(2 ** 63), '9' * 30, '-1', '', '+1', ' 1', '1e3', '0x1', '\u0661',
                          'A' * 5000):
                variants.append(edited(cursor, index, value))
        variants += [cursor + '.1', cursor[:-1], cursor + 'A', '.'.join(parts[:4]), cursor.upper(),
                     '.'.join([parts[1], parts[0]] + parts[2:])]
    variants += ['', '.', '....', '1.1.1.1.', '%d.%d.0.99999999999999999999' % (row.id, row.generation),
                 '%d.%d.-1.5' % (row.id, row.generation), '1' * 100000, '\x00', 'ł.ó.d.ź']
    for since in variants:
        if since == done:
            continue
        answer = assert_reveals_nothing(catalog(node, headers, since), secret)
        if answer.status_int == 200:        # an empty `since` is a read from the start, as no `since`
            assert answer.json['reset'] is bool(since) and answer.json['removed'] == [], since
    assert catalog(node, other_headers, mid).json['reset'] is False          # the real cursor still works
    assert catalog(node, headers, done).json['reset'] is False


def test_a_cursor_of_key_a_does_not_work_for_key_b(node):
    node.add('x.mp4')
    a, b = node.key('a'), node.key('b')
    cursor = catalog(node, a, None).json['cursor']
    assert catalog(node, a, cursor).json['reset'] is False
    assert catalog(node, b, cursor).json['reset'] is True


def test_a_cursor_of_the_old_form_resets_the_reader(late_key):
    """Readers holding a cursor from before cursors were signed read again from the start, never a 400."""
    node, headers, row, secret, shown = late_key
    answer = catalog(node, headers, '%d.%d.%d.%d' % (row.id, row.generation, last_seq(node), last_seq(node)))
    assert answer.status_int == 200 and answer.json['reset'] is True
    assert {i['id'] for i in answer.json['items']} >= shown


# --- 13. text that is not text ------------------------------------------------------------------------

def raw_page(title_json):
    """A catalog page whose item's title is written as raw JSON text (so escapes reach the reader as sent)."""
    return page([item(title='@@@')]).replace(b'"@@@"', title_json)


PEER_TEXT = {
    'title': raw_page(b'"\\ud800"'),
    'title, low surrogate': raw_page(b'"ok \\udfff ok"'),
    'title, reversed pair': raw_page(b'"\\ude00\\ud83d"'),
    'description': page([item()]).replace(b'"description": ""', b'"description": "a\\ud800b"'),
    'tag': page([item()]).replace(b'"family"', b'"\\ud800"'),
    'created': page([item()]).replace(b'"created": "2026-01-01T00:00:00Z"', b'"created": "\\udbff"'),
    'cursor': page([item()]).replace(b'"cursor": "1.1.1.1"', b'"cursor": "\\ud800"'),
    'removed id': page([item()], removed=['@@@']).replace(b'"@@@"', b'"' + b'A' * 20 + b'\\ud800"'),
    'id with a line break': page([item()]).replace(GOOD_ID.encode(), GOOD_ID.encode() + b'\\n'),
}


@pytest.mark.parametrize('body', PEER_TEXT.values(), ids=list(PEER_TEXT))
def test_text_from_a_peer_that_is_not_unicode_fails_that_peer_cleanly(synced, network, body):
    """A lone surrogate in a peer's title stopped the sync with a traceback: the peers after it were not
    synced and no error was recorded."""
    home, viewer = synced
    network.handlers['http://evil.test'] = FakePeer(body)
    results = home.node.registry.sync_all()
    assert results['alice'][0]
    ok, message = results['evil']
    assert not ok and re.search('valid|printable', message), message
    state = home.node.database.Peer.get_by_id('evil')
    assert state.status == 'failed' and state.last_error == message
    assert held(home, 'evil') == ['Good item']
    for url in ('/', '/search?q=good', '/watch/evil:' + GOOD_ID, '/admin/peers'):
        assert viewer.get(url).status_int == 200


def test_a_surrogate_pair_written_as_escapes_is_real_text(synced, network):
    home, viewer = synced
    network.handlers['http://evil.test'] = FakePeer(raw_page(b'"party \\ud83c\\udf89"'))
    assert home.node.registry.sync('evil')[0]
    assert held(home, 'evil') == ['party \U0001f389']
    assert 'party \U0001f389' in viewer.get('/search?q=party').text


class CommentingPeer(FakePeer):
    def __init__(self, catalog, comments):
        super().__init__(catalog)
        self.comments = comments

    def __call__(self, method, path, headers, body):
        if path.endswith('/comments'):
            return Reply(200, {}, self.comments)
        return super().__call__(method, path, headers, body)


COMMENT = b'{"comments": [{"id": "c1", "author": "AUTHOR", "body": "BODY", "created": "2026-01-01T00:00:00Z"}]}'


@pytest.mark.parametrize('comments', [COMMENT.replace(b'BODY', b'\\ud800'),
                                      COMMENT.replace(b'AUTHOR', b'x\\udc80'),
                                      COMMENT.replace(b'"c1"', b'"\\ud800"'),
                                      COMMENT.replace(b'BODY', b'\xed\xa0\x80')],
                         ids=['body', 'author', 'id', 'raw CESU bytes'])
def test_a_peers_comment_that_is_not_unicode_never_breaks_the_watch_page(synced, network, comments):
    home, viewer = synced
    network.handlers['http://evil.test'] = CommentingPeer(page([item()]), comments)
    answer = viewer.get('/watch/evil:' + GOOD_ID)
    assert answer.status_int == 200 and 'Good item' in answer.text
    good = COMMENT.replace(b'BODY', b'fine words')
    network.handlers['http://evil.test'] = CommentingPeer(page([item()]), good)
    home.node.remote.cache.clear()
    home.node.remote.failing.clear()        # pages skip an origin for a few seconds after it failed
    assert 'fine words' in viewer.get('/watch/evil:' + GOOD_ID).text


class CannedCatalog(http.server.BaseHTTPRequestHandler):
    """A peer over a real socket: every catalog request gets the server's `catalog` bytes."""

    def do_GET(self):
        body = self.server.catalog if self.path.startswith('/api/v1/catalog') else b'{"error": "not found"}'
        self.send_response(200 if self.path.startswith('/api/v1/catalog') else 404)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def canned_peer(catalog_body):
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), CannedCatalog)
    server.catalog = catalog_body
    with running(server):
        yield 'http://127.0.0.1:%d' % server.server_port


def run_cli(config, *args):
    done = subprocess.run([sys.executable, os.path.join(ROOT, 'privtube.py'), '--config', config] + list(args),
                          capture_output=True, text=True, timeout=120, cwd=os.path.dirname(config))
    assert 'Traceback' not in done.stderr and 'Traceback' not in done.stdout, done.stderr
    return done


@pytest.mark.parametrize('body', [raw_page(b'"\\ud800"'), PEER_TEXT['tag'], PEER_TEXT['cursor'],
                                  raw_page(b'"\xed\xa0\x80"'), raw_page(b'"\xb2"')],
                         ids=['title', 'tag', 'cursor', 'raw CESU bytes', 'raw latin-1 byte'])
@pytest.mark.slow
def test_privtube_sync_with_an_evil_peer_never_prints_a_traceback(tmp_path, body):
    config = str(tmp_path / 'config.ini')
    with open(config, 'w', encoding='utf-8') as fh:
        fh.write('[node]\nname = home\n')
    with canned_peer(body) as evil_url, canned_peer(page([item(title='Honest item')])) as good_url:
        privtube_config.add_peer(config, 'aaa-evil', evil_url, 'pt_' + 'e' * 40)
        privtube_config.add_peer(config, 'zzz-good', good_url, 'pt_' + 'g' * 40)
        done = run_cli(config, 'sync')
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = dict(line.split('\t', 1) for line in done.stdout.splitlines())
    assert re.match('failed\t.*(valid|malformed|printable)', lines['aaa-evil']), lines
    assert lines['zzz-good'].startswith('ok\t'), lines
    listed = run_cli(config, 'peer', 'list').stdout
    assert re.search(r'^aaa-evil\t.*\tfailed\t.*\t0\t.*(valid|malformed|printable)', listed, re.M), listed
    assert re.search(r'^zzz-good\t.*\tok\t.*\t1\t', listed, re.M), listed


def test_a_file_name_that_is_not_utf8_is_indexed_and_reported(tmp_path):
    """A name with bytes that are not UTF-8 (Python decodes them to lone surrogates) stopped `scan`; now
    every file is indexed and the odd names are reported by their escaped bytes."""
    config = str(tmp_path / 'config.ini')
    with open(config, 'w', encoding='utf-8') as fh:
        fh.write('[node]\nname = home\n')
    media = os.fsencode(str(tmp_path / 'media'))
    os.makedirs(os.path.join(media, b'folder \xff'))
    clip = b'\x00\x00\x00\x18ftypmp42' + b'x' * 100
    for name in (b'bad \xff\xfe.mp4', b'cesu \xed\xa0\x80.mp4', b'folder \xff/inside.mp4', b'good.mp4'):
        with open(os.path.join(media, name), 'wb') as fh:
            fh.write(clip)
    done = run_cli(config, 'scan')
    assert done.returncode == 0 and '4 added' in done.stdout, done.stderr
    for escaped in (r'bad \xff\xfe.mp4', r'cesu \xed\xa0\x80.mp4', r'folder \xff/inside.mp4'):
        assert escaped in done.stderr, done.stderr
    assert 'good.mp4' not in done.stderr
    assert len(run_cli(config, 'content', 'list').stdout.splitlines()) == 4
    assert '0 added' in run_cli(config, 'scan').stdout          # found again, not added twice


# people: the API

@pytest.fixture
def api(node):
    node.item = node.add('clip.mp4', title='Clip', tags=['family'])
    node.manager = node.key('manager', manage=True)
    node.manager_row = node.accounts.key('manager')
    return node


BAD_JSON_TEXT = [b'"\\ud800"', b'"a\\udfffb"', b'"\\ude00\\ud83d"', b'"\xed\xa0\x80"', b'"\xb2"', b'"\xff"']


@pytest.mark.parametrize('text', BAD_JSON_TEXT)
def test_api_bodies_with_text_that_is_not_unicode_are_400(api, text):
    """A lone surrogate in a PATCH, comment or view body gave 500."""
    content = '/api/v1/content/' + api.item.id
    bodies = [('PATCH', content, b'{"title": %s}' % text), ('PATCH', content, b'{"description": %s}' % text),
              ('PATCH', content, b'{"tags": [%s]}' % text),
              ('POST', content + '/comments', b'{"author": "me", "body": %s}' % text),
              ('POST', content + '/comments', b'{"author": %s, "body": "hello"}' % text),
              ('POST', content + '/views', b'{"viewer": %s}' % text)]
    for method, url, body in bodies:
        answer = api.client.request(url, method=method, body=body, expect_errors=True,
                                    headers=dict(api.manager, **{'Content-Type': 'application/json'}))
        assert answer.status_int == 400 and answer.json['error'], (method, url, body, answer.status)
    after = api.client.get(content, headers=api.manager).json
    assert (after['title'], after['description'], after['tags'], after['comments'], after['views']) == \
        ('Clip', '', ['family'], 0, 0)


def test_api_query_values_that_are_not_numbers_are_400(api):
    since = '%d.%d.1.' % (api.manager_row.id, api.manager_row.generation)
    for query in ('limit=%B2', 'limit=%B9', 'limit=' + '1' * 5000, 'limit=' + '0' * 4999 + '5', 'limit=%D9%A1',
                  'limit=%ED%A0%80', 'since=1.1.1.%B2', 'since=' + quote(since) + '%B2', 'since=%ED%A0%80',
                  'since=' + quote(since) + str(2 ** 64), 'since=' + quote(since) + str(2 ** 63),
                  'since=' + quote(since) + '9' * 5000, 'since=%FF.%FF.%FF.%FF'):
        answer = api.client.get('/api/v1/catalog?' + query, headers=api.manager, expect_errors=True)
        assert answer.status_int in (200, 400), (query[:60], answer.status)
        if answer.status_int == 200:
            assert answer.json['reset'] is True, query[:60]
    answer = api.client.post('/api/v1/content?title=%ED%A0%80&tags=%FF,%ED%A0%80', b'\x00' * 10,
                             headers=api.manager, expect_errors=True)
    assert answer.status_int in (201, 400), answer.status


HUGE = '9' * 5000

RANGES = [  # (Range header, status, Content-Range of a 10240-byte file)
    ('bytes=0-' + HUGE, 206, 'bytes 0-10239/10240'),
    ('bytes=100-' + HUGE, 206, 'bytes 100-10239/10240'),
    ('bytes=0-' + '0' * 4999 + '5', 206, 'bytes 0-5/10240'),
    ('bytes=' + '0' * 4999 + '7-' + '0' * 4990 + '9', 206, 'bytes 7-9/10240'),
    ('bytes=' + HUGE + '-', 416, 'bytes */10240'),
    ('bytes=' + HUGE + '-' + HUGE, 416, 'bytes */10240'),
    ('bytes=-' + HUGE, 206, 'bytes 0-10239/10240'),
    ('bytes=0-18446744073709551616', 206, 'bytes 0-10239/10240'),
    ('bytes=18446744073709551616-', 416, 'bytes */10240'),
]
DATA = bytes(range(256)) * 40


def media_routes(api, network):
    """{route: get(environ)} for one 10240-byte file through the API, the web app and another node's gateway."""
    data = b'\x00\x00\x00\x18ftypmp42' + DATA[12:]
    mine = api.add('data.mp4', data=data, title='Data')
    viewer = api.sign_in('ann', admin=True)
    origin = network.make('origin')
    remote = origin.add('data.mp4', data=data)
    reader = network.make('reader')
    _, token = origin.accounts.create_key('reader', ['*'])
    privtube_config.add_peer(reader.config_path, 'origin', 'http://origin.test', token)
    reader.reload(network)
    assert reader.node.registry.sync('origin')[0]
    reading = reader.sign_in('bo', admin=True)
    return data, {
        'api': lambda environ: api.client.get('/api/v1/content/%s/media' % mine.id, headers=api.manager,
                                              extra_environ=environ, expect_errors=True),
        'web': lambda environ: viewer.get('/media/' + mine.id, extra_environ=environ, expect_errors=True),
        'gateway': lambda environ: reading.get('/media/origin:' + remote.id, extra_environ=environ,
                                               expect_errors=True)}


@pytest.mark.parametrize('header, status, content_range', RANGES, ids=[r[0][:30] for r in RANGES])
def test_ranges_with_numbers_too_long_for_int_follow_rfc_9110(api, network, header, status, content_range):
    """`Range: bytes=0-` and 5,000 digits: int() refuses strings over 4300 digits, and every media route
    answered 500. An end beyond the file is clamped; a start beyond it is 416."""
    data, routes = media_routes(api, network)
    for route, get in routes.items():
        answer = get({'HTTP_RANGE': header})
        assert answer.status_int == status, (route, answer.status)
        assert answer.headers['Content-Range'] == content_range, route
        if status == 206:
            start, end = map(int, content_range[6:].split('/')[0].split('-'))
            assert answer.body == data[start:end + 1], route


def test_media_request_headers_that_are_not_utf8_never_give_500(api, network):
    """Bottle's request.headers decodes values as UTF-8 and raised on a Range (or If-Range, If-None-Match)
    carrying other bytes: every media route answered 500. Such a header now matches nothing."""
    data, routes = media_routes(api, network)
    for environ in ({'HTTP_RANGE': '\xff'}, {'HTTP_RANGE': 'bytes=0-\xb2'}, {'HTTP_RANGE': 'bytes=\xed\xa0\x80-'},
                    {'HTTP_RANGE': 'bytes=0-9', 'HTTP_IF_RANGE': '"\xff"'}, {'HTTP_IF_NONE_MATCH': '"\xff"'}):
        for route, get in routes.items():
            answer = get(environ)
            assert answer.status_int == 200 and answer.body == data, (route, environ, answer.status)


class MediaPeer(FakePeer):
    """Answers media windows with 206 and the given Content-Range."""

    def __init__(self, content_range):
        super().__init__(page([item()]))
        self.content_range = content_range

    def __call__(self, method, path, headers, body):
        if path.endswith('/media'):
            return Reply(206, {'Content-Range': self.content_range, 'Content-Type': 'video/mp4'}, b'0123456789')
        return super().__call__(method, path, headers, body)


@pytest.mark.parametrize('content_range', ['bytes 0-9/' + HUGE, 'bytes 0-%s/10' % HUGE, 'bytes %s-9/10' % HUGE])
def test_an_origins_content_range_too_long_for_int_never_gives_500(synced, network, content_range):
    home, viewer = synced
    network.handlers['http://evil.test'] = MediaPeer(content_range)
    for headers in ({}, {'Range': 'bytes=0-'}):
        answer = viewer.get('/media/evil:' + GOOD_ID, headers=headers, expect_errors=True)
        assert answer.status_int in (206, 502), (headers, answer.status)


# people: the web app

def nasty_posts(viewer, item_id, csrf):
    form = 'application/x-www-form-urlencoded'
    for value in ('%ED%A0%80', '%FF', '%B2', 'a%C3', '%ED%A0%80%ED%B0%80'):
        yield viewer.post('/watch/%s/comments' % item_id, 'csrf=%s&body=%s' % (csrf, value),
                          headers={'Content-Type': form}, expect_errors=True)
        yield viewer.post('/watch/%s/comments' % item_id, 'csrf=%s&body=hi' % value,
                          headers={'Content-Type': form}, expect_errors=True)
        yield viewer.post('/edit/' + item_id, 'csrf=%s&title=%s&description=%s&tags=%s' % (csrf, value, value, value),
                          headers={'Content-Type': form}, expect_errors=True)
        yield viewer.post('/watch/%s/view' % item_id, 'csrf=%s' % value, headers={'Content-Type': form},
                          expect_errors=True)
        yield viewer.post('/admin/groups', 'csrf=%s&name=%s&rules=tag:%s' % (csrf, value, value),
                          headers={'Content-Type': form}, expect_errors=True)
        yield viewer.post('/upload?title=%s&tags=%s&filename=%s.mp4' % (value, value, value), b'\x00' * 20,
                          headers={'X-CSRF-Token': csrf, 'Content-Type': 'video/mp4'}, expect_errors=True)
    for header in ('\xff', '\xed\xa0\x80', '\xe9' * 40):     # as a WSGI server hands over raw header bytes
        yield viewer.post('/watch/%s/comments' % item_id, 'body=hi', headers={'Content-Type': form},
                          extra_environ={'HTTP_X_CSRF_TOKEN': header}, expect_errors=True)


def test_web_forms_and_queries_that_are_not_unicode_never_give_500(node):
    """Surrogates (%ED%A0%80 is the WTF-8/CESU form of one) and bare invalid UTF-8 bytes in query strings,
    form fields and headers: a page or a 400-class answer, never a 500."""
    import privtube_web
    setup = node.client.get('/setup?token=' + privtube_web.setup_token(node.node.database))
    assert setup.status_int == 200
    for value in ('%ED%A0%80', '%FF', '%B2'):
        assert node.client.get('/setup?token=' + value, expect_errors=True).status_int < 500
        assert node.client.post('/setup', 'token=%s&username=%s&password=%s' % (value, value, value),
                                headers={'Content-Type': 'application/x-www-form-urlencoded'},
                                expect_errors=True).status_int < 500
        assert node.client.post('/login', 'username=%s&password=%s' % (value, value),
                                headers={'Content-Type': 'application/x-www-form-urlencoded'},
                                expect_errors=True).status_int < 500
    mine = node.add('mine.mp4', title='Mine')
    viewer = node.sign_in('ann', admin=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', viewer.get('/watch/' + mine.id).text).group(1)
    for answer in nasty_posts(viewer, mine.id, csrf):
        assert answer.status_int < 500, (answer.request.url, answer.status)
    cookie = 'privtube_session=' + viewer.cookies['privtube_session']
    for url in ('/search?q=%ED%A0%80', '/search?q=%FF&tag=%ED%A0%80&origin=%ED%A0%80', '/watch/%ED%A0%80',
                '/watch/' + mine.id + '%ED%A0%80', '/media/%FF', '/login?next=%ED%A0%80', '/search?origin=%FF',
                '/thumb/%B2', '/edit/%ED%A0%80'):
        # straight to the app: WebTest's own cookie handling cannot decode such paths
        answer = webob.Request.blank(url, headers={'Cookie': cookie}).get_response(node.app)
        assert answer.status_int < 500, (url, answer.status)
    after = node.store.items.get(mine.id)
    assert after.title == 'Mine'
    assert all(c.body.encode('utf-8') for c in node.node.database.Comment.select())
