"""Security audit, gateway findings: slow browsers of a peer's item hold no worker thread (3), and the disk
that stalled readers hold on the reading node is bounded (15).

Real nodes in this process, each behind a real Waitress on a loopback port: alice is the origin, bob reads
alice's item through his gateway with the production transport; attackers are raw sockets that ask and
never read.
"""
import contextlib
import gc
import hashlib
import http.client
import os
import socket
import stat
import tempfile
import threading
import time

import pytest
import webtest

import privtube_app
import privtube_config
import privtube_gateway
from privtube_web import COOKIE

MIB = 1024 * 1024
WINDOW = MIB
# Larger than Waitress's 16 MiB of queued output, past which a worker writing a body waits for the browser.
FILM = b'\x00\x00\x00\x18ftypmp42' + os.urandom(24 * MIB)
PASSWORD = 'password-123'


@contextlib.contextmanager
def waitress_serving(app, config, threads=4):
    """`app` behind privtube's Waitress server on a loopback port for the block; yields (port, loop thread)."""
    from waitress import wasyncore
    options = dict(privtube_app.waitress_options(config), host='127.0.0.1', port=0, threads=threads)
    server = privtube_app.create_server(app, **options)
    loop = threading.Thread(target=server.run, daemon=True)
    loop.start()
    try:
        yield int(server.effective_port), loop
    finally:
        server.task_dispatcher.shutdown()
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))    # closed by the loop itself
        loop.join(10)


class Reading:
    """bob reading alice's film through his gateway, both served on loopback ports."""

    def __init__(self, make_node, bob_config='', origin_app=None):
        self.alice = make_node('alice')
        film = self.alice.add('film.mp4', title='Film', data=FILM)
        self.bob = make_node('bob', bob_config)
        self.stack = contextlib.ExitStack()
        served = (origin_app or (lambda app: app))(self.alice.app)
        if served is not self.alice.app:
            served.node = self.alice.app.node      # privtube's server asks the node who may upload
        self.alice_port, _ = self.stack.enter_context(waitress_serving(served, self.alice.config))
        _, token = self.alice.accounts.create_key('bob', ['*'])
        privtube_config.add_peer(self.bob.config_path, 'alice', 'http://127.0.0.1:%d' % self.alice_port, token)
        self.bob.reload(None)
        assert self.bob.node.registry.sync('alice')[0]
        self.port, self.loop = self.stack.enter_context(waitress_serving(self.bob.app, self.bob.config))
        self.url = '/media/alice:' + film.id
        self.cookie = session_cookie(self.bob)

    def request(self, headers=None, timeout=30):
        """(status, headers, body) of a GET of the film by a browser that reads everything."""
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=timeout)
        try:
            conn.request('GET', self.url, headers=dict(headers or {}, Cookie=self.cookie))
            answer = conn.getresponse()
            return answer.status, dict(answer.getheaders()), answer.read()
        finally:
            conn.close()

    def stalled(self, lines=()):
        """A browser that sends a GET of the film with these header lines and never reads the answer."""
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(('127.0.0.1', self.port))
        head = ['GET %s HTTP/1.1' % self.url, 'Host: bob', 'Cookie: ' + self.cookie] + list(lines)
        sock.sendall(('\r\n'.join(head) + '\r\n\r\n').encode())
        return sock

    def close(self):
        self.stack.close()


def session_cookie(home):
    home.accounts.create_user('ann', PASSWORD)
    client = webtest.TestApp(home.app)
    client.post('/login', {'username': 'ann', 'password': PASSWORD}, status=303)
    return '%s=%s' % (COOKIE, client.cookies[COOKIE])


@pytest.fixture
def reading(make_node, monkeypatch):
    monkeypatch.setattr(privtube_gateway, 'GATEWAY_WINDOW', WINDOW)
    made = []

    def build(bob_config='', origin_app=None):
        made.append(Reading(make_node, bob_config, origin_app))
        return made[-1]
    yield build
    for each in made:
        each.close()


def healthz_answers(port, timeout=5):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        conn.request('GET', '/healthz')
        answer = conn.getresponse()
        return answer.status == 200 and answer.read() == b'{"status": "ok"}'
    finally:
        conn.close()


def sha(data):
    return hashlib.sha256(data).hexdigest()


# --- 3. no worker thread held by a slow browser of a peer's item ---------------------------------------

WHOLE_FILE_ASKS = {
    'no Range': [],
    'malformed Range': ['Range: bytes=abc'],
    'If-Range with an old ETag': ['Range: bytes=0-', 'If-Range: "old-version"'],
    'If-Range with an old date': ['Range: bytes=1000-', 'If-Range: Mon, 01 Jan 2001 00:00:00 GMT'],
    'HTTP/1.0-style close': ['Connection: close'],
}


@pytest.mark.slow
@pytest.mark.parametrize('lines', WHOLE_FILE_ASKS.values(), ids=WHOLE_FILE_ASKS.keys())
def test_browsers_that_never_read_a_download_hold_no_worker_thread(reading, lines):
    """Regression: a download streamed from a generator in a worker thread; four browsers that never read
    stopped the whole node (/healthz timed out)."""
    net = reading()
    stalled = [net.stalled(lines) for _ in range(6)]         # more than the node's 4 threads
    try:
        time.sleep(1.0)                                      # let each fill what the sockets take
        assert healthz_answers(net.port, timeout=5)
        status, headers, body = net.request()
        assert status == 200 and sha(body) == sha(FILM) and headers['Content-Length'] == str(len(FILM))
        status, _, body = net.request({'Range': 'bytes=0-', 'If-Range': '"old-version"'})
        assert status == 200 and sha(body) == sha(FILM)      # RFC 9110: the whole current file
        status, headers, body = net.request({'Range': 'bytes=100-199'})
        assert status == 206 and body == FILM[100:200]
        assert healthz_answers(net.port, timeout=5)
    finally:
        for sock in stalled:
            sock.close()


def test_an_if_range_naming_the_current_version_still_gets_its_range(reading):
    net = reading()
    status, headers, _ = net.request({'Range': 'bytes=0-9'})
    assert status == 206 and headers.get('Etag', headers.get('ETag'))     # the origin's validators pass
    for validator in (headers.get('Etag', headers.get('ETag')), headers['Last-Modified']):
        status, _, body = net.request({'Range': 'bytes=10-19', 'If-Range': validator})
        assert status == 206 and body == FILM[10:20]


@pytest.mark.slow
def test_a_browser_that_reads_slowly_gets_every_byte_of_a_download(reading):
    """The reader pauses now and then, so the node's sender waits for it and for the origin by turns."""
    net = reading()
    conn = http.client.HTTPConnection('127.0.0.1', net.port, timeout=30)
    conn.request('GET', net.url, headers={'Cookie': net.cookie})
    answer = conn.getresponse()
    received = bytearray()
    while True:
        part = answer.read(256 * 1024)
        if not part:
            break
        received += part
        if len(received) % (4 * MIB) < 256 * 1024:
            time.sleep(0.2)
    conn.close()
    assert answer.status == 200 and sha(received) == sha(FILM)


def slow_after_first_window(app, seconds):
    """The origin's app, answering every window but the first `seconds` late."""
    def slow(environ, start_response):
        if environ.get('HTTP_RANGE', '').startswith('bytes=%d-' % WINDOW):
            time.sleep(seconds)
        return app(environ, start_response)
    return slow


@pytest.mark.slow
def test_a_download_waiting_for_a_slow_origin_does_not_spin_the_main_loop(reading):
    """While the next window is on its way, the channel is not polled for writing: the sending thread
    sleeps instead of finding nothing to send again and again."""
    net = reading(origin_app=lambda app: slow_after_first_window(app, 3.0))
    clock = time.pthread_getcpuclockid(net.loop.ident)
    before = time.clock_gettime(clock)
    status, _, body = net.request(timeout=60)
    assert status == 200 and sha(body) == sha(FILM)
    assert time.clock_gettime(clock) - before < 1.5          # a spin would burn the 3 s of waiting


def test_a_download_whose_origin_stops_midway_is_cut_off_not_hung(reading):
    net = reading(origin_app=lambda app: refusing_after_first_window(app))
    conn = http.client.HTTPConnection('127.0.0.1', net.port, timeout=20)
    conn.request('GET', net.url, headers={'Cookie': net.cookie})
    answer = conn.getresponse()
    assert answer.status == 200
    with pytest.raises(http.client.IncompleteRead):
        answer.read()
    conn.close()
    assert healthz_answers(net.port)


def refusing_after_first_window(app):
    def refusing(environ, start_response):
        if '/media' in environ['PATH_INFO'] and not environ.get('HTTP_RANGE', '').startswith('bytes=0-'):
            start_response('404 Not Found', [('Content-Type', 'application/json'), ('Content-Length', '2')])
            return [b'{}']
        return app(environ, start_response)
    return refusing


# --- 15. disk held by stalled readers is bounded ---------------------------------------------------------

def spooled_bytes():
    """Bytes of deleted temporary files this process holds open or mapped: spooled windows and any
    output Waitress itself moved to disk."""
    tmp = os.path.realpath(tempfile.gettempdir())
    sizes = {}
    for fd in os.listdir('/proc/self/fd'):
        try:
            target, info = os.readlink('/proc/self/fd/' + fd), os.stat('/proc/self/fd/' + fd)
        except OSError:
            continue
        if target.startswith(tmp) and target.endswith('(deleted)') and stat.S_ISREG(info.st_mode):
            sizes[info.st_ino] = info.st_size
    mapped = {}
    with open('/proc/self/maps') as maps:
        for line in maps:
            fields = line.split(None, 5)
            if len(fields) == 6 and fields[5].startswith(tmp) and fields[5].rstrip().endswith('(deleted)'):
                start, end = (int(x, 16) for x in fields[0].split('-'))
                mapped[int(fields[4])] = max(mapped.get(int(fields[4]), 0), end - start)
    return sum(sizes.values()) + sum(size for inode, size in mapped.items() if inode not in sizes)


def first_answer(sock):
    """The status and headers a stalled browser received (it reads the head, never the body)."""
    sock.settimeout(30)
    head = b''
    while b'\r\n\r\n' not in head:
        part = sock.recv(1)
        if not part:
            break
        head += part
    lines = head.decode('latin-1').split('\r\n')
    headers = dict(line.split(': ', 1) for line in lines[1:] if ': ' in line)
    return int(lines[0].split()[1]), headers


BIG_WINDOW = 4 * MIB     # more than the kernel takes into a socket's buffers: a stalled reader holds its window


@pytest.mark.parametrize('asks', [
    lambda n: ['Range: bytes=0-'],                                   # all the same window
    lambda n: ['Range: bytes=%d-' % (n % 6 * BIG_WINDOW)],            # each its own
    lambda n: ['Range: bytes=%d-' % (n * 1000)] if n % 2 else [],     # ranged readers and downloads
], ids=['same window', 'different windows', 'windows and downloads'])
def test_stalled_readers_hold_at_most_the_spool_budget_on_disk(reading, monkeypatch, asks):
    """Regression: windows spilled to temporary files without a limit once the memory budget was spent
    (24 stalled ranged readers held 672 MiB); now past the budget the answer is 503 with Retry-After."""
    monkeypatch.setattr(privtube_gateway, 'GATEWAY_WINDOW', BIG_WINDOW)
    monkeypatch.setattr(privtube_gateway, 'MIN_WINDOW', BIG_WINDOW)     # whole windows or none: see below
    net = reading('[server]\nspool_mb = 16\n')
    buffers = net.bob.node.window_buffers
    monkeypatch.setattr(buffers, 'limit', 2 * BIG_WINDOW)           # two windows in memory, four on disk
    gc.collect()                                                   # maps of earlier tests' windows
    before = spooled_bytes()
    stalled = [net.stalled(asks(n)) for n in range(12)]
    try:
        answers = [first_answer(sock) for sock in stalled]
        statuses = sorted(status for status, _ in answers)
        assert set(statuses) <= {200, 206, 503} and 503 in statuses and statuses[0] in (200, 206), statuses
        assert all(headers.get('Retry-After') == '5' for status, headers in answers if status == 503)
        held = spooled_bytes() - before
        assert 0 < buffers.disk_used <= 16 * MIB and held <= 16 * MIB, (buffers.disk_used, held)
        assert buffers.used <= 2 * BIG_WINDOW
        assert healthz_answers(net.port)
    finally:
        for sock in stalled:
            sock.close()
    ends = time.monotonic() + 10
    while buffers.disk_used and time.monotonic() < ends:       # Waitress closes the bodies of gone browsers
        time.sleep(0.1)
    assert buffers.disk_used == 0
    status, _, body = net.request({'Range': 'bytes=%d-' % BIG_WINDOW})
    assert status == 206 and body == FILM[BIG_WINDOW:2 * BIG_WINDOW]
    status, _, body = net.request()
    assert status == 200 and sha(body) == sha(FILM)


def test_past_the_full_windows_stalled_readers_get_smaller_ones_within_the_budget(reading, monkeypatch):
    monkeypatch.setattr(privtube_gateway, 'GATEWAY_WINDOW', BIG_WINDOW)
    net = reading('[server]\nspool_mb = 16\n')
    buffers = net.bob.node.window_buffers
    monkeypatch.setattr(buffers, 'limit', 2 * BIG_WINDOW)
    stalled = [net.stalled(['Range: bytes=%d-' % (n * 1000)]) for n in range(20)]
    try:
        answers = [first_answer(sock) for sock in stalled]
        assert all(status == 206 and int(headers['Content-Length']) <= BIG_WINDOW or
                   status == 503 and headers['Retry-After'] == '5' for status, headers in answers)
        lengths = sorted(int(headers['Content-Length']) for status, headers in answers if status == 206)
        assert lengths[0] < BIG_WINDOW // 2 and lengths[-1] == BIG_WINDOW
        assert buffers.disk_used <= 16 * MIB
    finally:
        for sock in stalled:
            sock.close()
    status, _, body = net.request({'Range': 'bytes=0-'})
    assert status == 206 and body == FILM[:len(body)]


def test_the_spool_budget_comes_from_config_ini(make_node):
    assert make_node('plain').node.window_buffers.disk_limit == 256 * MIB
    assert make_node('small', '[server]\nspool_mb = 3\n').node.window_buffers.disk_limit == 3 * MIB


def test_window_buffers_go_to_disk_within_the_budget_then_run_out():
    buffers = privtube_gateway.WindowBuffers(2 * WINDOW, 3 * WINDOW, keep=0)
    taken = [buffers.take_window(WINDOW, WINDOW) for _ in range(5)]
    assert [type(b).__name__ for b in taken] == ['bytearray'] * 2 + ['mmap'] * 3
    assert buffers.take_window(WINDOW, WINDOW) is None and buffers.disk_used == 3 * WINDOW
    taken[3][:5] = b'hello'                                    # a mapped file takes a window like memory
    assert bytes(memoryview(taken[3])[:5]) == b'hello'
    for buffer in taken:
        buffers.give_back(buffer)
    assert buffers.used == 0 and buffers.disk_used == 0


def test_windows_on_disk_shrink_as_the_room_runs_out():
    """The default budgets: 4 windows in memory, 9 whole ones on disk, then ever smaller ones down to the
    floor (51 windows in all), and never more than the budget."""
    window, floor = 16 * MIB, privtube_gateway.MIN_WINDOW
    buffers = privtube_gateway.WindowBuffers(64 * MIB, 256 * MIB, keep=0)
    sizes = []
    while True:
        buffer = buffers.take_window(window, floor)
        if buffer is None:
            break
        sizes.append(len(buffer))
    assert sizes[:13] == [window] * 13 and sizes[13] < window and min(sizes) == floor
    assert sizes == sorted(sizes, reverse=True) and len(sizes) >= 32
    assert sum(sizes) - 64 * MIB == buffers.disk_used <= 256 * MIB
