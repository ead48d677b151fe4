"""A peer that misbehaves cannot hurt the node (README, Security: "Peers").

Each fake peer answers through the test network; in every case the node stays up, other peers still
sync, and what the node held from the bad peer before is kept.
"""
import contextlib
import http.server
import json
import socket
import threading
import time

import pytest

import privtube_config
import privtube_peer
from privtube_peer import PeerError, Reply, RequestsTransport

GOOD_ID = 'G' * 22


def item(item_id=GOOD_ID, **changes):
    data = {'id': item_id, 'title': 'Good item', 'description': '', 'tags': ['family'], 'mime': 'video/mp4',
            'size': 10, 'created': '2026-01-01T00:00:00Z', 'updated': '2026-01-01T00:00:00Z', 'views': 0,
            'comments': 0, 'duration': None, 'width': None, 'height': None, 'thumbnail': False}
    data.update(changes)
    return data


def page(items, **extra):
    body = {'node': 'evil', 'items': items, 'removed': [], 'cursor': '1.1.1.1', 'more': False, 'reset': False}
    body.update(extra)
    return json.dumps(body).encode()


class FakePeer:
    """Answers the catalog with `self.catalog` (bytes or a Reply); everything else 404."""

    def __init__(self, body):
        self.catalog = body

    def __call__(self, method, path, headers, body):
        if path.startswith('/api/v1/catalog'):
            return self.catalog if isinstance(self.catalog, Reply) else Reply(200, {}, self.catalog)
        return Reply(404, {}, b'{"error": "not found"}')


def home_reading(network, evil):
    """`home` reads two peers: alice, a real node sharing one item, and evil, played by `evil`; evil synced."""
    home = network.make('home')
    alice = network.make('alice')
    alice.add('picnic.mp4', tags=['family'], title='Family picnic')
    _, token = alice.accounts.create_key('home', ['*'])
    privtube_config.add_peer(home.config_path, 'alice', 'http://alice.test', token)
    privtube_config.add_peer(home.config_path, 'evil', 'http://evil.test', 'pt_' + 'e' * 40)
    network.handlers['http://evil.test'] = evil
    home.reload(network)
    network.handlers['http://home.test'] = home.app
    assert home.node.registry.sync('evil')[0]
    return home


@pytest.fixture
def setup(network):
    evil = FakePeer(page([item()]))
    return home_reading(network, evil), evil


def held(home, origin):
    Item = home.node.database.Item
    return sorted(i.title for i in Item.select().where(Item.origin == origin))


def survives(home, evil, body, reason):
    evil.catalog = body
    ok, message = home.node.registry.sync('evil')
    assert not ok and reason in message, message
    assert held(home, 'evil') == ['Good item']                 # the last good listing is kept
    assert home.node.registry.sync('alice')[0]                 # other peers still sync
    assert held(home, 'alice') == ['Family picnic']
    assert home.client.get('/healthz').json == {'status': 'ok'}
    state = home.node.database.Peer.get(home.node.database.Peer.name == 'evil')
    assert state.status == 'failed' and reason in state.last_error


@pytest.mark.parametrize('body, reason', [
    (b'{"items": [', 'malformed JSON'),
    (b'[' * 200000 + b']' * 200000, 'malformed JSON'),
    (b'\xff\xfe{"items": []}', 'malformed JSON'),
    (b'"just a string"', 'not a JSON object'),
    (json.dumps({'items': 'all of them', 'cursor': 'x'}).encode(), 'items/removed'),
    (page([item(title=5)]), 'invalid text field'),
    (page([item(tags='family')]), 'invalid tags'),
    (page([item(size=-1)]), 'invalid size'),
    (page([item(size=2 ** 70)]), 'invalid size'),
    (page([item()]).replace(b'"size": 10', b'"size": 1e400'), 'invalid size'),
    (page([item(views=True)]), 'invalid views'),
    (page([item(mime='text/html; charset=utf-8"><script>')]), 'invalid mime'),
    (page([item(item_id='../../etc/passwd')]), 'valid id'),
    (page([item(item_id='alice:' + 'A' * 22)]), 'valid id'),
    (page([item()], cursor=7), 'cursor'),
    (page([item()], more='yes'), 'more/reset'),
    (page([item(item_id='X%021d' % n) for n in range(10001)]), 'items/removed'),
    (b' ' * (privtube_peer.MAX_CATALOG_BYTES + 10), 'more than'),
    (Reply(302, {'Location': 'http://169.254.169.254/'}, b''), 'redirect'),
    (Reply(500, {}, b'oops'), 'answered 500'),
])
def test_hostile_catalog_fails_only_that_peer(setup, body, reason):
    home, evil = setup
    survives(home, evil, body, reason)


def test_a_peer_cannot_touch_another_origins_items(setup, network):
    home, evil = setup
    assert home.node.registry.sync('alice')[0]
    alice_id = home.node.database.Item.get(home.node.database.Item.origin == 'alice').id.split(':', 1)[1]
    evil.catalog = page([item(item_id=alice_id, title='Hijacked')], removed=[alice_id])
    assert home.node.registry.sync('evil')[0]
    assert held(home, 'alice') == ['Family picnic']
    assert 'Hijacked' not in held(home, 'alice')


def test_script_in_a_peers_titles_is_escaped_everywhere(setup):
    home, evil = setup
    evil.catalog = page([item(title='<script>alert(1)</script>', description='<img src=x onerror=alert(1)>',
                              tags=['<b>bold</b>'])])
    assert home.node.registry.sync('evil')[0]
    viewer = home.sign_in('ann', admin=True)
    item_id = 'evil:' + GOOD_ID
    for url in ('/', '/search?q=script', '/search?q=', '/watch/' + item_id):
        text = viewer.get(url).text
        assert '<script>alert(1)' not in text and '<img src=x' not in text and '<b>bold' not in text


def test_hostile_media_headers_are_not_forwarded(setup, network):
    home, evil = setup

    def media(method, path, headers, body):
        if '/media' in path:
            return Reply(206, {'Content-Type': 'text/html', 'Set-Cookie': 'privtube_session=stolen',
                               'Content-Range': 'bytes 0-9/10', 'X-Evil': '1', 'Content-Disposition': 'inline',
                               'Location': 'http://evil.test/'}, b'<script>x</script>'[:10])
        return evil(method, path, headers, body)
    network.handlers['http://evil.test'] = media
    viewer = home.sign_in('ann', admin=True)
    answer = viewer.get('/media/evil:' + GOOD_ID, headers={'Range': 'bytes=0-9'}, status=206)
    assert 'Set-Cookie' not in answer.headers and 'X-Evil' not in answer.headers and 'Location' not in answer.headers
    assert answer.headers['Content-Type'] == 'video/mp4'
    assert answer.headers['X-Content-Type-Options'] == 'nosniff'


def test_urls_inside_catalog_data_are_never_fetched(setup, network):
    home, evil = setup
    evil.catalog = page([item(title='http://169.254.169.254/latest', description='http://127.0.0.1:1/')])
    network.requests.clear()
    assert home.node.registry.sync('evil')[0]
    assert all(url.startswith('http://evil.test/') for _, url in network.requests)


# --- over real sockets: slow peers and redirects with the production transport -----------------

def drip(wfile, count=100):
    """A byte every 100 ms: each read is quick, the whole is not."""
    for _ in range(count):
        try:
            wfile.write(b' ')
            wfile.flush()
        except OSError:
            return
        time.sleep(0.1)


class Handler(http.server.BaseHTTPRequestHandler):
    behaviour = 'slow'
    hits = []

    def do_GET(self):
        Handler.hits.append(self.path)
        if Handler.behaviour == 'slow-headers':      # the status line, then headers a byte at a time
            self.wfile.write(b'HTTP/1.1 206 Partial Content\r\nX-Drip: ')
            drip(self.wfile)
            return
        if Handler.behaviour == 'redirect':
            self.send_response(302)
            self.send_header('Location', 'http://127.0.0.1:%d/api/v1/catalog' % Handler.target)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        if Handler.behaviour == 'slow-media':
            self.send_header('Content-Length', '100')
        self.end_headers()
        drip(self.wfile)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def running(server):
    """`server` serving from a thread for the length of the block, then shut down and closed."""
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def slow_server():
    with running(http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)) as server:
        yield server


def test_a_slow_peer_meets_the_total_deadline(slow_server):
    Handler.behaviour = 'slow'
    client = privtube_peer.PeerClient('slow', 'http://127.0.0.1:%d' % slow_server.server_port, 'pt_x',
                                          RequestsTransport())
    started = time.monotonic()
    with pytest.raises(PeerError, match='too slow'):
        client.request('GET', '/catalog', deadline=1.0)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize('fetch', [lambda client: client.catalog(''),
                                   lambda client: client.media_window(GOOD_ID, 'bytes=0-99', bytearray(1000))],
                         ids=['catalog', 'media window'])
def test_redirects_are_not_followed(slow_server, fetch):
    with socket.socket() as other:
        other.bind(('127.0.0.1', 0))
        other.listen(1)
        Handler.behaviour, Handler.target = 'redirect', other.getsockname()[1]
        client = privtube_peer.PeerClient('redir', 'http://127.0.0.1:%d' % slow_server.server_port, 'pt_x',
                                              RequestsTransport())
        with pytest.raises(PeerError, match='redirect'):
            fetch(client)
        other.settimeout(0.3)
        with pytest.raises(socket.timeout):
            other.accept()                 # nobody was sent to the redirect's target


@pytest.mark.parametrize('behaviour', ['slow-media', 'slow-headers'])
def test_a_slow_origin_meets_the_total_deadline_of_a_media_window(slow_server, behaviour):
    """A body, or the status line and headers, a byte at a time: socket timeouts bound each read only
    (without the watchdog the dripping headers took the dripper's 10 seconds)."""
    Handler.behaviour = behaviour
    url = 'http://127.0.0.1:%d/api/v1/content/x/media' % slow_server.server_port
    started = time.monotonic()
    with pytest.raises(PeerError, match='too slow'):
        RequestsTransport().read_window(url, {'Range': 'bytes=0-99'}, bytearray(1000), deadline=1.0)
    assert time.monotonic() - started < 3


class KeepAliveOrigin(http.server.BaseHTTPRequestHandler):
    """Keeps connections open: a redirect without a length, a chunked media reply, or 5 bytes."""
    protocol_version = 'HTTP/1.1'

    def do_GET(self):
        if self.path.endswith('/redirect'):
            self.send_response(302)
            self.send_header('Location', '/elsewhere')
            self.end_headers()
            return
        self.send_response(206)
        if self.path.endswith('/chunked'):
            self.send_header('Transfer-Encoding', 'chunked')
            self.send_header('Content-Length', '5')
            self.end_headers()
            self.wfile.write(b'5\r\nhello\r\n0\r\n\r\n')
            return
        self.send_header('Content-Length', '5')
        self.end_headers()
        self.wfile.write(b'hello')

    def log_message(self, *args):
        pass


def test_odd_media_replies_leave_kept_alive_connections_usable():
    """A redirect without a length is passed up unread; a chunked media reply is refused (its raw bytes
    are chunk framing, not media); either way the next window reads cleanly."""
    with running(http.server.ThreadingHTTPServer(('127.0.0.1', 0), KeepAliveOrigin)) as server:
        base, transport = 'http://127.0.0.1:%d' % server.server_port, RequestsTransport()
        for path, expected in (('/redirect', 302), ('/ok', 206), ('/chunked', None), ('/ok', 206)):
            if expected is None:
                with pytest.raises(PeerError, match='Content-Length'):
                    transport.read_window(base + path, {}, bytearray(100), deadline=2)
                continue
            reply = transport.read_window(base + path, {}, bytearray(100), deadline=2)
            assert reply.status == expected and bytes(reply.body) == (b'hello' if expected == 206 else b'')


# --- TLS: verification on, with a per-peer CA file for self-signed certificates --------------------

@pytest.fixture
def tls_server(tmp_path):
    import ssl
    import subprocess
    cert, key = tmp_path / 'cert.pem', tmp_path / 'key.pem'
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=peer',
                    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', str(key), '-out', str(cert)],
                   check=True, capture_output=True, timeout=60)

    class CatalogHandler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = page([item()])
            self.send_response(200)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), CatalogHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with running(server):
        yield 'https://127.0.0.1:%d' % server.server_port, str(cert)


def test_a_self_signed_peer_is_refused_without_its_ca_file(tls_server):
    url, _ = tls_server
    client = privtube_peer.PeerClient('tls', url, 'pt_x', RequestsTransport())
    with pytest.raises(PeerError, match='cannot reach'):
        client.catalog('')


def test_a_self_signed_peer_is_trusted_with_its_ca_file(tls_server):
    url, cert = tls_server
    client = privtube_peer.PeerClient('tls', url, 'pt_x', RequestsTransport(), ca_file=cert)
    assert client.catalog('')['items'][0]['id'] == GOOD_ID


def test_media_windows_verify_tls_the_same_way(tls_server):
    url, cert = tls_server
    refused = privtube_peer.PeerClient('tls', url, 'pt_x', RequestsTransport())
    with pytest.raises(PeerError, match='cannot reach'):
        refused.media_window(GOOD_ID, 'bytes=0-99', bytearray(100000))
    trusted = privtube_peer.PeerClient('tls', url, 'pt_x', RequestsTransport(), ca_file=cert)
    reply = trusted.media_window(GOOD_ID, 'bytes=0-99', bytearray(100000))
    assert reply.status == 200 and GOOD_ID in bytes(reply.body).decode()
    with pytest.raises(PeerError, match='more than 10 bytes'):
        trusted.media_window(GOOD_ID, 'bytes=0-99', bytearray(10))


# --- thumbnails of peers' items: fetched at sync, cached, served while the peer is offline -----------

JPEG = b'\xff\xd8\xff\xe0' + b'jpeg bytes' * 50


class ThumbnailPeer(FakePeer):
    def __init__(self, body, thumbnail):
        super().__init__(body)
        self.thumbnail, self.thumbnail_requests = thumbnail, 0

    def __call__(self, method, path, headers, body):
        if path.endswith('/thumbnail'):
            self.thumbnail_requests += 1
            return Reply(200, {'Content-Type': 'image/jpeg'}, self.thumbnail)
        return super().__call__(method, path, headers, body)


def test_peer_thumbnails_are_cached_and_outlive_the_peer(setup, network):
    home, _ = setup
    peer = ThumbnailPeer(page([item(thumbnail=True)]), JPEG)
    network.handlers['http://evil.test'] = peer
    assert home.node.registry.sync('evil')[0]
    viewer = home.sign_in('ann', admin=True)
    assert '<img class="thumb" src="/thumb/evil:%s"' % GOOD_ID in viewer.get('/').text
    del network.handlers['http://evil.test']
    answer = viewer.get('/thumb/evil:' + GOOD_ID, status=200)
    assert answer.body == JPEG and answer.headers['Content-Type'] == 'image/jpeg'
    network.handlers['http://evil.test'] = peer
    assert home.node.registry.sync('evil')[0] and peer.thumbnail_requests == 1      # not fetched again
    peer.catalog = page([], removed=[GOOD_ID])
    assert home.node.registry.sync('evil')[0]
    viewer.get('/thumb/evil:' + GOOD_ID, status=404)


def test_a_thumbnail_that_is_not_a_jpeg_is_not_kept(setup, network):
    home, _ = setup
    network.handlers['http://evil.test'] = ThumbnailPeer(page([item(thumbnail=True)]), b'<svg onload=alert(1)>')
    assert home.node.registry.sync('evil')[0]
    home.sign_in('ann', admin=True).get('/thumb/evil:' + GOOD_ID, status=404)
