"""Three real `serve` processes on loopback ports, linked with the command line, talking over HTTP."""
import os
import re
import subprocess
import sys

import pytest
import requests
from conftest import login_token
from test_serve import free_port, wait_for

pytestmark = pytest.mark.slow      # real processes and sockets: CI runs these, the fast loop does not

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = b'\x00\x00\x00\x18ftypmp42' + os.urandom(6 * 1024 * 1024)


class Home:
    def __init__(self, folder, name):
        self.name, self.port = name, free_port()
        self.folder = folder / name
        (self.folder / 'media').mkdir(parents=True)
        self.config = str(self.folder / 'config.ini')
        with open(self.config, 'w') as fh:
            fh.write('[node]\nname = %s\n[server]\nport = %d\n' % (name, self.port))
        self.base = 'http://127.0.0.1:%d' % self.port
        self.process = None

    def cli(self, *args, stdin=None, check=True):
        done = subprocess.run([sys.executable, os.path.join(ROOT, 'privtube.py'), '--config', self.config]
                              + list(args), input=stdin, capture_output=True, text=True, timeout=120)
        assert 'Traceback' not in done.stderr, done.stderr
        if check:
            assert done.returncode == 0, done.stderr
        return done

    def start(self):
        """`serve` in the background; what it logs goes to serve.log in the home's folder (see log())."""
        with open(self.folder / 'serve.log', 'ab') as log:
            self.process = subprocess.Popen([sys.executable, os.path.join(ROOT, 'privtube.py'), '--config',
                                             self.config, 'serve'], stdout=log, stderr=subprocess.STDOUT)
        wait_for(self.base + '/healthz')

    def log(self):
        """What `serve` has logged so far (for a failing test's message)."""
        path = self.folder / 'serve.log'
        return path.read_text(errors='replace') if path.exists() else ''

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def browser(self, user, password='password-123'):
        self.cli('user', 'add', user, '--password-stdin', stdin=password + '\n')
        session = requests.Session()
        token = login_token(session.get(self.base + '/login', timeout=10).text)
        session.post(self.base + '/login', data={'username': user, 'password': password, 'csrf': token}, timeout=10)
        return session


@pytest.fixture
def homes(tmp_path):
    made = [Home(tmp_path, name) for name in ('alice', 'bob', 'carol')]
    try:
        yield made
    finally:
        for home in made:
            home.stop()


def test_three_homes_share_stream_comment_and_revoke(homes):
    alice, bob, carol = homes
    (alice.folder / 'media' / 'picnic.mp4').write_bytes(DATA)
    (alice.folder / 'media' / 'tax return.mp4').write_bytes(DATA[:1000])
    alice.cli('scan')
    picnic = [line.split('\t')[0] for line in alice.cli('content', 'list').stdout.splitlines() if 'picnic' in line][0]
    alice.cli('content', 'edit', picnic, '--tag', 'family')
    (bob.folder / 'media' / 'bikes.mp4').write_bytes(DATA[:2000])
    bob.cli('scan')
    for home in homes:
        home.start()

    made = alice.cli('key', 'create', 'bob', '--allow', 'tag:family')
    line = re.search(r'privtube peer add (\S+) (\S+) --key (\S+)', made.stderr)
    assert line.group(1) == 'alice' and line.group(3) == made.stdout.strip()
    bob.cli('peer', 'add', 'alice', alice.base, '--key', made.stdout.strip())
    assert 'alice\tok' in bob.cli('sync').stdout
    assert re.search(r'alice\t\S+\tok\t\S+\t1\t', bob.cli('peer', 'list').stdout)

    ann = bob.browser('ann')
    found = ann.get(bob.base + '/search', params={'q': 'picnic'}, timeout=10).text
    assert 'picnic' in found and 'tax return' not in found
    item_id = re.search(r'href="/watch/(alice:[^"]+)"', found).group(1)
    part = ann.get(bob.base + '/media/' + item_id, headers={'Range': 'bytes=1000-1999'}, timeout=10)
    assert part.status_code == 206 and part.content == DATA[1000:2000]
    whole = ann.get(bob.base + '/media/' + item_id, timeout=30)
    assert whole.status_code == 200 and whole.content == DATA

    page = ann.get(bob.base + '/watch/' + item_id, timeout=10).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    ann.post(bob.base + '/watch/%s/comments' % item_id, data={'csrf': csrf, 'body': 'Hello from Bob'}, timeout=10)
    key = alice.cli('key', 'create', 'script', '--allow', '*').stdout.strip()
    comments = requests.get(alice.base + '/api/v1/content/%s/comments' % item_id.split(':')[1],
                            headers={'Authorization': 'Bearer ' + key}, timeout=10).json()['comments']
    assert [(c['author'], c['body']) for c in comments] == [('ann@bob', 'Hello from Bob')]

    carol_key = bob.cli('key', 'create', 'carol', '--allow', '*').stdout.strip()
    carol.cli('peer', 'add', 'bob', bob.base, '--key', carol_key)
    assert 'bob\tok' in carol.cli('sync', 'bob').stdout
    cy = carol.browser('cy')
    listing = cy.get(carol.base + '/search', params={'q': ''}, timeout=10).text
    assert 'bikes' in listing and 'picnic' not in listing and 'alice:' not in listing   # never transitive

    alice.cli('key', 'revoke', 'bob')
    refused = ann.get(bob.base + '/media/' + item_id, headers={'Range': 'bytes=0-99'}, timeout=10)
    assert refused.status_code == 404
    done = bob.cli('sync', 'alice', check=False)
    assert done.returncode == 1 and 'failed' in done.stdout
    assert 'href="/watch/alice:' not in ann.get(bob.base + '/search', params={'q': 'picnic'}, timeout=10).text


def test_an_origin_going_offline_and_coming_back(homes):
    alice, bob, carol = homes
    (alice.folder / 'media' / 'concert.mp4').write_bytes(DATA[:50000])
    alice.cli('scan')
    alice.start()
    bob.start()
    key = alice.cli('key', 'create', 'bob', '--allow', '*').stdout.strip()
    bob.cli('peer', 'add', 'alice', alice.base, '--key', key)
    bob.cli('sync')
    ann = bob.browser('ann')
    alice.stop()
    done = bob.cli('sync', check=False)
    assert done.returncode == 1 and 'cannot reach' in done.stdout
    listing = ann.get(bob.base + '/search', params={'q': 'concert'}, timeout=10).text
    item_id = re.search(r'href="/watch/(alice:[^"]+)"', listing).group(1)
    assert 'alice is offline' in ann.get(bob.base + '/watch/' + item_id, timeout=10).text
    assert ann.get(bob.base + '/media/' + item_id, headers={'Range': 'bytes=0-9'}, timeout=40).status_code == 502
    assert ann.get(bob.base + '/healthz', timeout=5).status_code == 200
    alice.start()
    assert bob.cli('sync').returncode == 0
    assert 'offline' not in ann.get(bob.base + '/watch/' + item_id, timeout=10).text
