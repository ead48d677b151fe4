"""rclone (Debian's package, a real WebDAV client) against a real `serve`: two people who see different
things list, copy and range-read what they may see over /dav/, and never what they may not."""
import json
import os
import shutil
import subprocess

import pytest
from test_browser import home_config, served

import privtube_app
import privtube_config
import privtube_dav

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def require_rclone():
    """Skipped where rclone is not installed; CI must have it (.ci/run installs Debian's package)."""
    if shutil.which('rclone'):
        return
    if os.environ.get('CI'):
        pytest.fail('CI must install rclone (see .ci/run)')
    pytest.skip('needs rclone')


PICNIC = b'\x00\x00\x00\x18ftypmp42' + os.urandom(300 * 1024)
REPORT = b'\x00\x00\x00\x18ftypmp42' + os.urandom(50 * 1024)


def make_home(folder):
    """A node with ann (family) and wes (work), each with an app password; returns (config, port, passwords)."""
    config_path, port = home_config(folder, '[store]\nscan_minutes = 0\n')
    node = privtube_app.Node(privtube_config.load(config_path))
    try:
        with node.database.db.connection_context():
            return config_path, port, fill(node)
    finally:
        node.close()


def fill(node):
    accounts, store = node.accounts, node.store
    accounts.create_group('family', ['tag:family'])
    accounts.create_group('work', ['tag:work'])
    root = accounts.create_user('root', 'password-123', admin=True)
    people = {name: accounts.create_user(name, 'password-123', groups=[group])
              for name, group in (('ann', 'family'), ('wes', 'work'))}
    picnic = store.items.create(media_file(store, 'Family/Summer picnic #1.mp4', PICNIC), 'Picnic', ['family'])
    store.items.create(media_file(store, 'Work/report.mp4', REPORT), 'Report', ['work'])
    store.items.create(media_file(store, 'Root/diary.mp4', REPORT), 'Diary', ['family', 'work'], private=True,
                       owner_id=root.id)
    store.albums.create('Summer 2024', item_ids=[picnic.id])
    apps = privtube_dav.AppPasswords(node.database, node.config)
    return {name: apps.create(user, 'rclone')[1] for name, user in people.items()}


def media_file(store, relative, data):
    path = os.path.join(store.media_dir, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as fh:
        fh.write(data)
    return path


def rclone_env(tmp_path, base, passwords):
    """rclone configured by environment only: one webdav remote per person, HOME and the config in tmp_path."""
    env = {'HOME': str(tmp_path), 'PATH': os.environ['PATH'], 'RCLONE_CONFIG': str(tmp_path / 'rclone.conf')}
    (tmp_path / 'rclone.conf').write_text('')
    for name, password in passwords.items():
        obscured = subprocess.run(['rclone', 'obscure', password], capture_output=True, text=True, check=True,
                                  env=env).stdout.strip()
        prefix = 'RCLONE_CONFIG_%s_' % name.upper()
        env.update({prefix + 'TYPE': 'webdav', prefix + 'URL': base + '/dav/', prefix + 'VENDOR': 'other',
                    prefix + 'USER': name, prefix + 'PASS': obscured})
    return env


def rclone(env, *args, check=True):
    return subprocess.run(['rclone', '--low-level-retries', '1', '--retries', '1'] + list(args), env=env,
                          capture_output=True, timeout=60, check=check)


def listed(env, remote):
    return {entry['Path']: entry for entry in json.loads(rclone(env, 'lsjson', '-R', remote + ':').stdout)}


def test_rclone_lists_copies_and_range_reads_only_what_each_person_may_see(tmp_path):
    (tmp_path / 'node').mkdir()
    config, port, passwords = make_home(tmp_path / 'node')
    with served(config, port) as base:
        env = rclone_env(tmp_path, base, passwords)
        ann, wes = listed(env, 'ann'), listed(env, 'wes')
        ann_files = {path: entry['Size'] for path, entry in ann.items() if not entry['IsDir']}
        year = [path for path in ann if path.startswith('Years/') and ann[path]['IsDir']][0]
        assert ann_files == {'Albums/Summer 2024/Summer picnic #1.mp4': len(PICNIC),
                             'Homes/home/Summer picnic #1.mp4': len(PICNIC),
                             year + '/Summer picnic #1.mp4': len(PICNIC)}
        wes_files = {path for path, entry in wes.items() if not entry['IsDir']}
        assert wes_files == {'Homes/home/report.mp4', year + '/report.mp4'}
        assert not any('Summer' in path or 'diary' in path for path in wes)
        assert not any('diary' in path or 'report' in path for path in ann)

        rclone(env, 'copy', 'ann:Homes/home/Summer picnic #1.mp4', str(tmp_path / 'copied'))
        assert (tmp_path / 'copied' / 'Summer picnic #1.mp4').read_bytes() == PICNIC
        part = rclone(env, 'cat', '--offset', '1000', '--count', '5000', 'ann:Albums/Summer 2024/Summer picnic #1.mp4')
        assert part.stdout == PICNIC[1000:6000]

        refused = rclone(env, 'cat', 'wes:Homes/home/Summer picnic #1.mp4', check=False)
        assert refused.returncode != 0 and PICNIC[:1000] not in refused.stdout
        assert rclone(env, 'cat', 'ann:Homes/home/report.mp4', check=False).returncode != 0
        # read-only: an upload fails (rclone takes a 405 to MKCOL as "the folder exists", so not mkdir)
        (tmp_path / 'small.mp4').write_bytes(REPORT[:1000])     # a large body is refused before it is read
        upload = rclone(env, 'copyto', str(tmp_path / 'small.mp4'), 'ann:Homes/home/new.mp4', check=False)
        assert upload.returncode != 0 and b'405' in upload.stderr
        assert 'Homes/home/new.mp4' not in listed(env, 'ann')
