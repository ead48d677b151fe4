"""Upgrades keep everything (README, "Upgrades"): a node made and filled by release 0.1.0's own code,
opened by this code, still has every user, item, tag, comment, view, key and peer, and serves them.

Release 0.1.0 is taken from this repository's history (no tags exist): FIRST_RELEASE is the earliest
commit that had users, items, comments, views, keys and peers together. The very first commit with a
schema (7a7e1a4, "Node core: config, schema with migrations, …") has no peers at all: neither the `peer`
commands nor the peer table (schema step 6) came before 31472bd. That version's database has schema 6.

Everything is filled through that version's command line (`init`, `user add --password-stdin`,
`content add` with tags, `--private` and `--owner`, `key create`, `peer add`) and, since its command line
has no commands for them, comments and views through its own API: its `serve` runs on a loopback port
and a key posts them, as a peer would. Its dependencies (bottle, peewee, schedule, requests, waitress)
are a subset of ours, so it runs with this interpreter.
"""
import logging
import os
import re
import secrets
import subprocess
import sys

import pytest
import webtest
from conftest import submit_login
from media_samples import make_sample
from test_serve import free_port, wait_for

import privtube_app
import privtube_config
import privtube_db

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRST_RELEASE = '31472bd131c83ceb86ab3b8008264015bc707d79'
FIRST_RELEASE_SCHEMA = 6
PASSWORDS = {'ann': 'ann-password-1', 'bob': 'bob-password-2'}


def first_release(folder):
    """Release 0.1.0's files, taken from this repository's history into `folder`."""
    if not os.path.exists(os.path.join(ROOT, '.git')):
        pytest.skip('not a git checkout: the first release comes from its history')
    found = subprocess.run(['git', '-C', ROOT, 'cat-file', '-e', FIRST_RELEASE + '^{commit}'], capture_output=True)
    if found.returncode != 0:
        pytest.fail('commit %s (release 0.1.0) is not in this clone; a shallow clone lacks it: '
                    'run `git fetch --unshallow`' % FIRST_RELEASE)
    archive = subprocess.run(['git', '-C', ROOT, 'archive', FIRST_RELEASE], capture_output=True, check=True,
                             timeout=60).stdout
    os.makedirs(folder)
    subprocess.run(['tar', '-x', '-C', folder], input=archive, check=True, timeout=60)
    missing = requirements(folder) - requirements(ROOT)
    assert not missing, 'release 0.1.0 needs %s, which this version does not install' % ', '.join(sorted(missing))
    return folder


def requirements(folder):
    """The package names of the requirements.txt in `folder`."""
    with open(os.path.join(folder, 'requirements.txt'), encoding='utf-8') as fh:
        return {re.split(r'[<>=!~\[; ]', line.strip(), maxsplit=1)[0].lower() for line in fh
                if line.strip() and not line.startswith(('#', '-'))}


class OldNode:
    """Release 0.1.0's command line on one config, run with this interpreter."""

    def __init__(self, code, folder):
        self.code, self.config = code, os.path.join(folder, 'config.ini')

    def __call__(self, *args, stdin=None):
        done = subprocess.run([sys.executable, os.path.join(self.code, 'privtube.py'), '--config', self.config]
                              + list(args), input=stdin, capture_output=True, text=True, timeout=60, cwd=self.code)
        assert done.returncode == 0, (args, done.stderr)
        return done.stdout.strip()

    def serve(self, port):
        return subprocess.Popen([sys.executable, os.path.join(self.code, 'privtube.py'), '--config', self.config,
                                 'serve', '--port', str(port)], cwd=self.code,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope='module')
def old_home(tmp_path_factory):
    """A home made and filled by release 0.1.0: its config path and what was put in it."""
    base = tmp_path_factory.mktemp('upgrade')
    old = OldNode(first_release(str(base / 'release-0.1.0')), str(base / 'home'))
    old('init', old.config)
    for name, password in PASSWORDS.items():
        old('user', 'add', name, *(['--admin'] if name == 'ann' else []), '--password-stdin', stdin=password + '\n')
    files = {name: make_sample(base, name) for name in ('video_with_audio.mp4', 'song.mp3', 'photo.jpg')}
    made = {
        'picnic': old('content', 'add', files['video_with_audio.mp4'], '--title', 'Picnic', '--tag', 'family',
                      '--tag', 'summer', '--owner', 'bob'),
        'song': old('content', 'add', files['song.mp3'], '--title', 'Lullaby', '--tag', 'music'),
        'secret': old('content', 'add', files['photo.jpg'], '--title', 'Passport', '--private', '--owner', 'ann'),
    }
    keys = {'friend': old('key', 'create', 'friend', '--allow', 'tag:family'),
            'script': old('key', 'create', 'script', '--allow', '*', '--manage')}
    cousin_key = 'pt_' + secrets.token_urlsafe(32)          # a key the cousin's node issued
    old('peer', 'add', 'cousin', 'http://127.0.0.1:9/', '--key', cousin_key)
    comment_and_view(old, keys['friend'], made['picnic'])
    contents = {what: read(files[name]) for what, name in
                (('picnic', 'video_with_audio.mp4'), ('song', 'song.mp3'), ('secret', 'photo.jpg'))}
    return {'config': old.config, 'ids': made, 'keys': keys, 'cousin_key': cousin_key, 'bytes': contents}


def read(path):
    with open(path, 'rb') as fh:
        return fh.read()


def comment_and_view(old, key, item_id):
    """Through release 0.1.0's API, its command line having no command for either."""
    import requests
    port = free_port()
    process = old.serve(port)
    base, auth = 'http://127.0.0.1:%d/api/v1/content/%s' % (port, item_id), {'Authorization': 'Bearer ' + key}
    try:
        wait_for('http://127.0.0.1:%d/healthz' % port)
        posted = requests.post(base + '/comments', json={'author': 'zoe', 'body': 'What a lovely day'},
                               headers=auth, timeout=10)
        assert posted.status_code == 201, posted.text
        assert requests.post(base + '/views', json={'viewer': 'zoe-phone'}, headers=auth,
                             timeout=10).status_code == 204
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


@pytest.fixture(scope='module')
def upgraded(old_home):
    """The same home opened by this code, and the log of its database upgrade."""
    handler, database_log = Remember(), logging.getLogger('privtube.db')
    level = database_log.level
    database_log.setLevel(logging.INFO)
    database_log.addHandler(handler)
    try:
        app = privtube_app.make_app(privtube_config.load(old_home['config']))
    finally:
        database_log.removeHandler(handler)
        database_log.setLevel(level)
    yield app, handler.lines
    app.node.close()


class Remember(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_the_upgrade_is_one_line_of_the_log(upgraded):
    app, lines = upgraded
    assert lines == ['database %s upgraded from schema %d to %d' % (
        app.node.database.path, FIRST_RELEASE_SCHEMA, privtube_db.SCHEMA_VERSION)]


def test_every_user_signs_in_with_their_password(upgraded):
    app, _ = upgraded
    assert sorted((user.name, user.is_admin) for user, _ in app.node.accounts.users()) == [
        ('ann', True), ('bob', False)]
    for name, password in PASSWORDS.items():
        client = webtest.TestApp(app)
        submit_login(client, name, password)
        assert client.get('/account').status_code == 200
    submit_login(webtest.TestApp(app), 'bob', PASSWORDS['ann'], status=401)    # and only with their own


def test_every_item_keeps_its_title_tags_owner_and_visibility(upgraded, old_home):
    app, _ = upgraded
    items, ids = app.node.store.items, old_home['ids']
    kept = {what: items.get(ids[what]) for what in ids}
    assert {what: (item.title, sorted(items.tags_of(item.id)), item.private) for what, item in kept.items()} == {
        'picnic': ('Picnic', ['family', 'summer'], False), 'song': ('Lullaby', ['music'], False),
        'secret': ('Passport', [], True)}
    users = {user.id: user.name for user, _ in app.node.accounts.users()}
    assert users[kept['picnic'].owner_id] == 'bob' and users[kept['secret'].owner_id] == 'ann'


def test_every_key_still_reads_what_it_read(upgraded, old_home):
    app, _ = upgraded
    client, ids = webtest.TestApp(app), old_home['ids']
    listed = {name: {item['id']: item for item in client.get('/api/v1/catalog', headers=bearer(key)).json['items']}
              for name, key in old_home['keys'].items()}
    assert set(listed['friend']) == {ids['picnic']}                 # tag:family
    assert set(listed['script']) == {ids['picnic'], ids['song']}    # '*', but never a private item
    picnic = listed['friend'][ids['picnic']]
    assert (picnic['views'], picnic['comments'], picnic['tags']) == (1, 1, ['family', 'summer'])
    assert sorted(key.name for key in app.node.accounts.keys()) == ['friend', 'script']


def test_the_comment_and_the_view_are_kept(upgraded, old_home):
    app, _ = upgraded
    picnic = old_home['ids']['picnic']
    comments = webtest.TestApp(app).get('/api/v1/content/%s/comments' % picnic,
                                        headers=bearer(old_home['keys']['friend'])).json['comments']
    assert [(c['author'], c['body']) for c in comments] == [('zoe@friend', 'What a lovely day')]
    assert app.node.store.items.get(picnic).views == 1


def test_the_peer_is_kept(upgraded, old_home):
    app, _ = upgraded
    assert app.node.config.peers['cousin']['url'] == 'http://127.0.0.1:9'
    assert app.node.config.peers['cousin']['key'] == old_home['cousin_key']
    assert 'cousin' in app.node.registry.peers()


def test_the_web_app_serves_the_pages_and_media_and_private_stays_private(upgraded, old_home):
    app, _ = upgraded
    ids, data = old_home['ids'], old_home['bytes']
    bob = webtest.TestApp(app)
    submit_login(bob, 'bob', PASSWORDS['bob'])
    page = bob.get('/watch/%s' % ids['picnic'])
    assert re.search(r'<video[^>]* src="/media/%s"' % re.escape(ids['picnic']), page.text), page.text
    assert 'What a lovely day' in page.text
    ranged = bob.get('/media/%s' % ids['picnic'], headers={'Range': 'bytes=100-299'}, status=206)
    assert ranged.headers['Content-Range'] == 'bytes 100-299/%d' % len(data['picnic'])
    assert ranged.body == data['picnic'][100:300]
    assert bob.get('/media/%s' % ids['song']).body == data['song']
    bob.get('/watch/%s' % ids['secret'], status=404)          # ann's private photo
    bob.get('/media/%s' % ids['secret'], status=404)
    ann = webtest.TestApp(app)
    submit_login(ann, 'ann', PASSWORDS['ann'])
    assert ann.get('/media/%s' % ids['secret']).body == data['secret']


def bearer(key):
    return {'Authorization': 'Bearer ' + key}
