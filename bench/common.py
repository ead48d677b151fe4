"""What the benchmarks share: loopback servers, a populated node, media files, slow clients, percentiles."""
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = '127.0.0.1'
MIB = 1024 ** 2
FILE_NAME = 'bench.mp4'
SLOW_CLIENTS = 32
SYLLABLES = ['ba', 'ke', 'lo', 'mi', 'nu', 'ra', 'se', 'ti', 'vo', 'za', 'dor', 'fen', 'gal', 'hum', 'pir']


# VmHWM, not ru_maxrss: the latter keeps the peak of the parent that forked the probe, across exec
SYNC_PROBE = r'''
import json, sys, time
sys.path.insert(0, sys.argv[1])
import privtube_config
from privtube_app import Node
def status_kib(field):
    for line in open('/proc/self/status'):
        if line.startswith(field + ':'):
            return int(line.split()[1])
node = Node(privtube_config.load(sys.argv[2]))
node.registry.client('alice')   # the transport a running node already holds (importing requests is not sync)
before = status_kib('VmRSS')
started = time.perf_counter()
ok, message = node.registry.sync('alice')
seconds = time.perf_counter() - started
peak = status_kib('VmHWM')
print(json.dumps({'ok': ok, 'message': message, 'seconds': seconds, 'growth_mib': (peak - before) / 1024}))
'''


# --- a node's config ------------------------------------------------------------------------------

def write_config(folder, name='bench', port=None):
    """A node's config.ini in `folder`: its name and, for a node that serves, its port and 4 threads."""
    path = os.path.join(folder, 'config.ini')
    with open(path, 'w') as fh:
        fh.write('[node]\nname = %s\n' % name + ('[server]\nport = %d\nthreads = 4\n' % port if port else ''))
    return path


# --- servers ---------------------------------------------------------------------------------------

def free_port():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_serve(config_path, port, *options, stderr=subprocess.DEVNULL):
    """A real `serve` of `config_path` (with `options`), once it answers on `port`."""
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, 'privtube.py'), '--config', config_path, 'serve',
                                *options], stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            requests.get('http://127.0.0.1:%d/healthz' % port, timeout=1)
            return process
        except requests.RequestException:
            time.sleep(0.2)
    process.kill()
    raise SystemExit('serve did not start')


def stop(process):
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def resident_mib(pid):
    with open('/proc/%d/status' % pid) as fh:
        for line in fh:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    raise RuntimeError('no VmRSS for %d' % pid)


def sign_in(session, base, name, password, timeout=10):
    """Post the sign-in form as a browser does: open it first for its cookie and token."""
    form = session.get(base + '/login', timeout=timeout)
    token = re.search(r'name="csrf" value="([^"]*)"', form.text).group(1)
    return session.post(base + '/login', data={'username': name, 'password': password, 'csrf': token},
                        allow_redirects=False, timeout=timeout)


# --- data --------------------------------------------------------------------------------------------

def vocabulary(size, rng):
    words = set()
    while len(words) < size:
        words.add(''.join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def zipf_pick(words, rng):
    """Low ranks are common: rank r is picked with weight ~1/r."""
    return words[min(int(len(words) ** rng.random()) - 1, len(words) - 1)]


def populate(node, count, words, rng):
    """Insert `count` items straight into the database in one transaction (no media files needed).

    They are marked probed and hashed, or a running node's media worker would spend the benchmark failing to
    probe and hash files that do not exist."""
    db = node.database.db
    items, tags, states = [], [], []
    for n in range(count):
        item_id = secrets.token_urlsafe(16)
        title = ' '.join(zipf_pick(words, rng) for _ in range(rng.randint(2, 5)))
        description = ' '.join(zipf_pick(words, rng) for _ in range(rng.randint(0, 12)))
        tag = 'family' if n % 2 == 0 else 'work'
        items.append((item_id, 'bench/%d.mp4' % n, title, description, 'video/mp4', 1000, 1,
                      '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', rng.randint(0, 50), n + 1,
                      secrets.token_hex(32)))
        tags.append((item_id, tag))
        states.append((n + 1, item_id, 0, tag, 0))
    with db.atomic():
        db.cursor().executemany(
            'INSERT INTO item (id, path, title, description, mime, size, mtime_ns, created, updated, views, seq, '
            "content_hash, media_state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'done')", items)
        db.cursor().executemany('INSERT INTO item_tag (item_id, tag) VALUES (?, ?)', tags)
        db.cursor().executemany('INSERT INTO item_state (seq, item_id, private, tags, deleted) VALUES (?, ?, ?, ?, ?)',
                                states)
        node.store.search.index_many('SELECT id FROM item')
        db.execute_sql("UPDATE counter SET value = ? WHERE name = 'seq'", (count,))


def make_media_file(folder, size_mib):
    """An MP4-looking file of `size_mib` MiB of random-ish bytes (page-cached by the writing)."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, FILE_NAME)
    block = bytearray(os.urandom(MIB))
    block[:12] = b'\x00\x00\x00\x18ftypmp42'
    with open(path, 'wb') as fh:
        for n in range(size_mib):
            block[16:24] = n.to_bytes(8, 'big')     # every MiB differs: a misplaced window shows
            fh.write(block)
    return path


# --- clients and figures -----------------------------------------------------------------------------

def request_bytes(port, target, headers, byte_range='bytes=0-'):
    lines = ['GET %s HTTP/1.1' % target, 'Host: %s:%d' % (HOST, port), 'Range: %s' % byte_range,
             'Connection: close'] + ['%s: %s' % item for item in headers.items()]
    return ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')


class SlowStream:
    """One client holding a ranged stream open, reading a few KB at a time through a tiny receive buffer."""

    def __init__(self, port, target, headers):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(10)
        self.sock.connect((HOST, port))
        self.sock.sendall(request_bytes(port, target, headers))
        self.sock.setblocking(False)
        self.head, self.partial, self.body_bytes = b'', True, 0

    def read_some(self, size=4096):
        try:
            chunk = self.sock.recv(size)
        except BlockingIOError:
            return
        if b'\r\n\r\n' in self.head:
            self.body_bytes += len(chunk)
            return
        self.head += chunk
        if b'\r\n\r\n' in self.head:
            head, body = self.head.split(b'\r\n\r\n', 1)
            self.partial = head.startswith(b'HTTP/1.1 206 ')
            self.body_bytes = len(body)

    def received_data(self):
        return self.partial and self.body_bytes > 0

    def close(self):
        self.sock.close()


def drive_slow_streams(streams, stop_event):
    """Every 100 ms, let each stream read a few KB."""
    while not stop_event.is_set():
        for stream in streams:
            stream.read_some()
        stop_event.wait(0.1)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


# --- two nodes: a reader of an origin --------------------------------------------------------

def make_reader(folder, origin):
    """bob's node, reading alice (`origin`: her port and the key she issued him), with a user ann."""
    import privtube_config
    from privtube_app import Node
    port = free_port()
    os.makedirs(folder)
    config = write_config(folder, 'bob', port)
    privtube_config.add_peer(config, 'alice', 'http://%s:%d' % (HOST, origin['port']), origin['bob_key'])
    node = Node(privtube_config.load(config))
    node.accounts.create_user('ann', 'ann-password')
    node.close()
    return {'config': config, 'port': port}


def timed_sync(config):
    done = subprocess.run([sys.executable, '-c', SYNC_PROBE, ROOT, config], capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if not result['ok']:
        raise RuntimeError('sync failed: %s' % result['message'])
    return result


def timed_scan(config, timeout=3600):
    """(seconds, the command's summary line) of one `privtube scan` process."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, os.path.join(ROOT, 'privtube.py'), '--config', config, 'scan'],
                          capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return seconds, done.stdout.strip()
