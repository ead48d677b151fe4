"""`serve` as a real process on a loopback port: health, ranged media over a socket, clean stop."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytestmark = pytest.mark.slow      # real processes and sockets: CI runs these, the fast loop does not

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def run_cli(config, *args):
    return subprocess.run([sys.executable, os.path.join(ROOT, 'privtube.py'), '--config', config] + list(args),
                          capture_output=True, text=True, timeout=60)


def wait_for(url, deadline=20):
    end = time.time() + deadline
    while time.time() < end:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read()
        except OSError:
            time.sleep(0.1)
    raise AssertionError('%s did not answer' % url)


@pytest.fixture
def served(tmp_path):
    port = free_port()
    config = str(tmp_path / 'config.ini')
    with open(config, 'w') as fh:
        fh.write('[node]\nname = realnode\n[server]\nport = %d\n' % port)
    os.makedirs(tmp_path / 'media')
    (tmp_path / 'media' / 'clip.mp4').write_bytes(b'\x00\x00\x00\x18ftypmp42' + os.urandom(300_000))
    key = run_cli(config, 'key', 'create', 'bob', '--allow', '*').stdout.strip()
    run_cli(config, 'scan')
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, 'privtube.py'), '--config', config, 'serve'],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = 'http://127.0.0.1:%d' % port
    try:
        try:
            wait_for(base + '/healthz')
        except AssertionError:
            process.kill()
            raise AssertionError(process.communicate(timeout=10)[1].decode()[-3000:])
        yield process, base, key, tmp_path
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def get(url, key, **headers):
    request = urllib.request.Request(url, headers=dict(headers, Authorization='Bearer ' + key))
    return urllib.request.urlopen(request, timeout=10)


def test_serve_answers_health_and_streams_ranges(served):
    process, base, key, folder = served
    assert json.loads(wait_for(base + '/healthz')) == {'status': 'ok'}
    catalog = json.loads(get(base + '/api/v1/catalog', key).read())
    url = base + '/api/v1/content/%s/media' % catalog['items'][0]['id']
    data = (folder / 'media' / 'clip.mp4').read_bytes()
    with get(url, key, Range='bytes=1000-') as response:
        assert response.status == 206
        assert response.read() == data[1000:]
    with get(url, key, Range='bytes=-10') as response:
        assert response.read() == data[-10:]
    with get(url, key) as response:
        assert response.status == 200 and response.read() == data


def test_serve_prints_a_one_time_setup_link_that_works(served):
    process, base, key, folder = served
    process.send_signal(signal.SIGTERM)
    out = process.communicate(timeout=10)[0].decode()
    link = [word for word in out.split() if '/setup?token=' in word][0]
    assert link.startswith(base + '/setup?token=')
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, 'privtube.py'), '--config',
                                str(folder / 'config.ini'), 'serve'], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert b'Create the administrator' in wait_for(link)
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_serve_stops_on_sigterm(served):
    process, base, key, folder = served
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert b'stopped' in process.communicate(timeout=5)[1]


def test_sigterm_cuts_a_stream_in_progress_and_stops_within_five_seconds(served):
    process, base, key, folder = served
    with open(folder / 'media' / 'film.mp4', 'wb') as fh:
        fh.write(b'\x00\x00\x00\x18ftypmp42' + os.urandom(32 * 1024 * 1024))
    assert run_cli(str(folder / 'config.ini'), 'scan').returncode == 0
    catalog = json.loads(get(base + '/api/v1/catalog', key).read())
    film = next(item['id'] for item in catalog['items'] if item['size'] > 1024 * 1024)
    port = int(base.rsplit(':', 1)[1])
    stream = socket.socket()
    stream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)       # a slow browser: the file cannot all fit
    stream.connect(('127.0.0.1', port))
    stream.sendall(('GET /api/v1/content/%s/media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n'
                    'Range: bytes=0-\r\n\r\n' % (film, key)).encode())
    assert b'206' in stream.recv(1000)
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert time.monotonic() - started < 5
    stream.settimeout(5)
    received = 0
    try:
        while True:                        # the rest of the stream ends (cut), it does not hang
            chunk = stream.recv(1 << 20)
            if not chunk:
                break
            received += len(chunk)
    except ConnectionResetError:
        pass
    stream.close()
    assert received < 32 * 1024 * 1024
    with pytest.raises(OSError):
        urllib.request.urlopen(base + '/healthz', timeout=2)           # no longer accepting
    assert b'stopped' in process.communicate(timeout=5)[1]


def test_second_serve_on_the_same_port_fails_clearly(served):
    process, base, key, folder = served
    other = str(folder / 'same-port.ini')
    with open(other, 'w') as fh:
        fh.write('[server]\nport = %s\n[registry]\ndatabase = other.db\n' % base.rsplit(':', 1)[1])
    done = subprocess.run([sys.executable, os.path.join(ROOT, 'privtube.py'), '--config', other, 'serve'],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert 'Traceback' not in done.stderr and 'in use' in done.stderr


def test_second_serve_on_the_same_database_fails_clearly(served):
    process, base, key, folder = served
    other = str(folder / 'other.ini')
    with open(other, 'w') as fh:
        fh.write('[server]\nport = %d\n[registry]\ndatabase = privtube.db\n' % free_port())
    done = subprocess.run([sys.executable, os.path.join(ROOT, 'privtube.py'), '--config', other, 'serve'],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert 'Traceback' not in done.stderr and 'already using' in done.stderr
    assert json.loads(wait_for(base + '/healthz')) == {'status': 'ok'}


def test_backup_while_serving_and_writing_is_complete_and_serves(served):
    process, base, key, folder = served
    manage = subprocess.run([sys.executable, os.path.join(ROOT, 'privtube.py'), '--config', str(folder / 'config.ini'),
                             'key', 'create', 'uploader', '--allow', '*', '--manage'],
                            capture_output=True, text=True, timeout=60).stdout.strip()
    import threading
    stop, uploaded = threading.Event(), []

    def upload():
        while not stop.is_set():
            request = urllib.request.Request(base + '/api/v1/content?title=t%d' % len(uploaded),
                                             data=b'\xff\xd8\xff' + os.urandom(2000), method='POST',
                                             headers={'Authorization': 'Bearer ' + manage})
            uploaded.append(json.loads(urllib.request.urlopen(request, timeout=10).read())['id'])
    writer = threading.Thread(target=upload)
    writer.start()
    try:
        while len(uploaded) < 5:
            time.sleep(0.05)
        done = subprocess.run([sys.executable, os.path.join(ROOT, 'privtube.py'), '--config',
                               str(folder / 'config.ini'), 'backup', str(folder / 'copy.db')],
                              capture_output=True, text=True, timeout=60)
    finally:
        stop.set()
        writer.join(timeout=20)
    assert done.returncode == 0, done.stderr
    import sqlite3
    conn = sqlite3.connect(str(folder / 'copy.db'))
    assert conn.execute('PRAGMA integrity_check').fetchone()[0] == 'ok'
    backed_up = {row[0] for row in conn.execute("SELECT id FROM item WHERE origin = 'local'")}
    conn.close()
    assert len(backed_up) >= 6                            # the scanned clip and the uploads so far
    restored = str(folder / 'restored.ini')
    with open(restored, 'w') as fh:
        fh.write('[node]\nname = restored\n[server]\nport = %d\n[store]\nmedia_dir = media\n'
                 '[registry]\ndatabase = copy.db\n' % free_port())
    import webtest

    import privtube_app
    import privtube_config
    app = privtube_app.make_app(privtube_config.load(restored))
    client = webtest.TestApp(app)
    _, token = app.node.accounts.create_key('check', ['*'])
    for item_id in backed_up:
        client.get('/api/v1/content/%s/media' % item_id, headers={'Authorization': 'Bearer ' + token}, status=200)
    app.node.close()
