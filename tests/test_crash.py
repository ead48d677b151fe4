"""A pulled plug: `serve` killed with SIGKILL at random moments while it takes uploads, syncs a peer and
a `scan` runs beside it; after every kill the database is intact and nothing acknowledged is lost."""
import hashlib
import http.client
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from test_serve import ROOT, free_port, run_cli, wait_for

import privtube_config

pytestmark = pytest.mark.slow

# each kind of work (upload, scan, sync) is cut in several of them; PRIVTUBE_CRASH_CYCLES=100 looks harder
CYCLES = int(os.environ.get('PRIVTUBE_CRASH_CYCLES', '18'))
ORIGIN_FILES = 2000          # a full re-read of alice's catalog takes a while: kills land inside syncs
FILES_PER_CYCLE = 60         # new files for each cycle's scan
HIDDEN = ('.', )


def start_serve(config):
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, 'privtube.py'), '--config', config, 'serve'],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return process


def make_node(folder, name, files):
    port = free_port()
    os.makedirs(os.path.join(folder, 'media', 'start'))
    config = os.path.join(folder, 'config.ini')
    with open(config, 'w') as fh:
        fh.write('[node]\nname = %s\n[server]\nport = %d\n' % (name, port))
    write_files(os.path.join(folder, 'media', 'start'), files, random.Random(name))
    assert run_cli(config, 'scan').returncode == 0
    return config, 'http://127.0.0.1:%d' % port


def write_files(folder, count, rng):
    os.makedirs(folder, exist_ok=True)
    for n in range(count):
        with open(os.path.join(folder, 'clip%04d.mp4' % n), 'wb') as fh:
            fh.write(b'\x00\x00\x00\x18ftypmp42' + rng.randbytes(rng.randint(100, 3000)))


class Uploader(threading.Thread):
    """Uploads until the node dies; remembers (id, sha256) of every upload the node acknowledged."""

    def __init__(self, base, key, rng, acknowledged):
        super().__init__(daemon=True)
        self.base, self.key, self.rng, self.acknowledged = base, key, rng, acknowledged

    def run(self):
        while True:
            body = b'\xff\xd8\xff' + self.rng.randbytes(self.rng.randint(1000, 300_000))
            request = urllib.request.Request(self.base + '/api/v1/content?title=upload', data=body, method='POST',
                                             headers={'Authorization': 'Bearer ' + self.key})
            try:
                with urllib.request.urlopen(request, timeout=20) as response:
                    item_id = json.loads(response.read())['id']
            except (OSError, http.client.HTTPException, ValueError):
                return                  # the node died before or while answering: never acknowledged
            self.acknowledged[item_id] = hashlib.sha256(body).hexdigest()


def local_items(database):
    conn = sqlite3.connect(database)
    try:
        assert conn.execute('PRAGMA integrity_check').fetchone()[0] == 'ok'
        return dict(conn.execute("SELECT id, path FROM item WHERE origin = 'local'").fetchall())
    finally:
        conn.close()


def synced_since(database, moment):
    conn = sqlite3.connect(database)
    try:
        row = conn.execute("SELECT last_success FROM peer WHERE name = 'alice'").fetchone()
        return bool(row and row[0] and row[0] >= moment)
    finally:
        conn.close()


def media_files(media_dir):
    found = set()
    for folder, dirs, names in os.walk(media_dir):
        dirs[:] = [d for d in dirs if not d.startswith(HIDDEN)]
        found.update(os.path.relpath(os.path.join(folder, n), media_dir) for n in names if not n.startswith(HIDDEN))
    return found


def sha256_of(path):
    with open(path, 'rb') as fh:
        return hashlib.sha256(fh.read()).hexdigest()


@pytest.fixture
def homes(tmp_path):
    """alice (kept running, 2,000 items) and home (to be killed), linked by two keys used in turn."""
    alice_config, alice_url = make_node(str(tmp_path / 'alice'), 'alice', ORIGIN_FILES)
    keys = [run_cli(alice_config, 'key', 'create', 'home%d' % n, '--allow', '*').stdout.strip() for n in (1, 2)]
    home_config, home_url = make_node(str(tmp_path / 'home'), 'home', 20)
    uploader_key = run_cli(home_config, 'key', 'create', 'uploader', '--allow', '*', '--manage').stdout.strip()
    alice = start_serve(alice_config)
    try:
        wait_for(alice_url + '/healthz')
        yield home_config, home_url, uploader_key, alice_url, keys
    finally:
        alice.kill()
        alice.communicate(timeout=10)


def test_sigkill_at_random_moments_loses_nothing_acknowledged(homes):
    home_config, home_url, uploader_key, alice_url, keys = homes
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    config = privtube_config.load(home_config)
    database, media_dir = config.get('registry', 'database'), config.get('store', 'media_dir')
    acknowledged, moments = {}, {'upload': 0, 'scan': 0, 'sync': 0}
    for cycle in range(CYCLES):
        context = 'cycle %d (seed %d)' % (cycle, seed)
        if cycle:                       # another key: alice answers `reset`, a full re-read of her catalog
            privtube_config.remove_peer(home_config, 'alice')
        privtube_config.add_peer(home_config, 'alice', alice_url, keys[cycle % 2])
        write_files(os.path.join(media_dir, 'cycle%02d' % cycle), FILES_PER_CYCLE, rng)
        started = time.time()
        serve = start_serve(home_config)
        try:
            wait_for(home_url + '/healthz')
        except AssertionError:
            serve.kill()
            raise AssertionError('%s: serve did not start: %s' % (context, serve.communicate()[1][-2000:]))
        scan = subprocess.Popen([sys.executable, os.path.join(ROOT, 'privtube.py'), '--config', home_config, 'scan'],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        uploader = Uploader(home_url, uploader_key, rng, acknowledged)
        uploader.start()
        time.sleep(rng.uniform(0, 0.25) if rng.random() < 0.3 else rng.uniform(0.05, 1.5))   # some early: syncs
        moments['scan'] += scan.poll() is None
        moments['upload'] += uploader.is_alive()
        for process in (serve, scan):
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.communicate(timeout=10)
        uploader.join(timeout=30)
        assert serve.returncode == -signal.SIGKILL, context

        items = local_items(database)                    # integrity_check = ok, or this fails
        moments['sync'] += not synced_since(database, started)
        for item_id, digest in acknowledged.items():
            assert item_id in items, '%s: acknowledged upload %s lost' % (context, item_id)
            assert sha256_of(os.path.join(media_dir, items[item_id])) == digest, context
        done = run_cli(home_config, 'scan')
        assert done.returncode == 0, '%s: %s' % (context, done.stderr)
        paths = set(local_items(database).values())
        files = media_files(media_dir)
        assert paths - files == set(), '%s: items without a file' % context
        assert files - paths == set(), '%s: files without an item after scan' % context
    print('%d kills (seed %d): during an upload %d, a scan %d, before the sync finished %d; %d uploads kept'
          % (CYCLES, seed, moments['upload'], moments['scan'], moments['sync'], len(acknowledged)))
    assert len(acknowledged) >= CYCLES            # uploads were really under way when the plug was pulled
    assert min(moments.values()) >= 1             # and kills landed inside each kind of work
