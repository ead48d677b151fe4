"""Audit, finding 1 and 2: ffprobe and ffmpeg read the item's one file and nothing else, and a failure
shows a short reason, never tool output or a server path.

Each attack hides a way to open another file in an upload: an HLS playlist behind an ID3 tag (stored as
audio/mpeg) or behind a media file name, an ffconcat list, an image-sequence pattern in a file name, an
MP4 data reference to an outside file. Each names the admin's private video by absolute path, by path
relative to the upload, and through the `file:`, `subfile` and `concat` protocols. It arrives through
the web upload, the API upload, `content add` and `scan`. Nothing of the private video may reach the
attacker's item (duration, size, codecs, thumbnail), and, traced with strace, the tools open no file of
the node's but the item's own.
"""
import os
import re
import shutil
import struct
import subprocess
import sys

import pytest
from media_samples import make_sample, require_ffmpeg

import privtube_probe

HERE = os.path.dirname(os.path.abspath(__file__))
PRIVTUBE = os.path.join(os.path.dirname(HERE), 'privtube.py')
ID3 = b'ID3\x03\x00\x00\x00\x00\x00\x0a' + b'\x00' * 10      # an empty ID3v2 tag: the file sniffs as MP3


def secret_video(node):
    """The admin's private 320x240, 3 s video, in the media folder."""
    require_ffmpeg()
    folder = os.path.join(node.media_dir, 'private')
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, 'secret.mp4')
    subprocess.run(['ffmpeg', '-y', '-loglevel', 'error', '-f', 'lavfi',
                    '-i', 'testsrc=duration=3:size=320x240:rate=10',
                    '-c:v', 'libx264', '-pix_fmt', 'yuv420p', path], check=True, timeout=120)
    node.store.items.create(path, 'Secret', private=True)
    return path


def entries(secret, media_dir):
    """Every way a list inside a file may name the secret file."""
    relative_to_root = os.path.relpath(secret, media_dir)
    return [secret, relative_to_root, '../' + relative_to_root, 'file:' + secret,
            'subfile,,start,0,end,0,,:' + secret, 'concat:%s|%s' % (secret, secret)]


def hls(names):
    return ('#EXTM3U\n#EXT-X-TARGETDURATION:10\n'
            + ''.join('#EXTINF:3,\n%s\n' % name for name in names) + '#EXT-X-ENDLIST\n').encode()


def ffconcat(names):
    return ('ffconcat version 1.0\n' + ''.join("file '%s'\n" % name for name in names)).encode()


PAYLOADS = {
    'id3-hls.mp3': lambda names: ID3 + hls(names),
    'hls.mp4': hls, 'hls.mkv': hls, 'hls.m3u8': hls,
    'id3-ffconcat.mp3': lambda names: ID3 + ffconcat(names),
    'ffconcat.webm': ffconcat, 'ffconcat.ffconcat': ffconcat,
}


# --- how the attacker's file arrives -----------------------------------------------------------------

def web_upload(node, name, data):
    client = node.sign_in('mallory')
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get('/upload').text).group(1)
    done = client.post('/upload', {'csrf': csrf, 'title': 'Mine'}, upload_files=[('file', name, data)], status=303)
    return done.headers['Location'].rsplit('/', 1)[1]


def api_upload(node, name, data):
    headers = dict(node.key('uploader', manage=True), **{'Content-Type': 'audio/mpeg'})
    return node.client.post('/api/v1/content?title=Mine', data, headers=headers, status=201).json['id']


def run_cli(node, *args):
    done = subprocess.run([sys.executable, PRIVTUBE, '--config', node.config_path] + list(args),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def content_add(node, name, data):
    outside = os.path.join(node.folder, 'incoming')
    os.makedirs(outside, exist_ok=True)
    path = os.path.join(outside, name)
    with open(path, 'wb') as fh:
        fh.write(data)
    return run_cli(node, 'content', 'add', path).stdout.strip()


def scanned(node, name, data):
    node.media_file(name, data)
    run_cli(node, 'scan')
    return node.node.database.Item.get(node.node.database.Item.path == name).id


ARRIVALS = {'web upload': web_upload, 'api upload': api_upload, 'content add': content_add, 'scan': scanned}


# --- what must hold ----------------------------------------------------------------------------------

def probed(node, item_id):
    node.node.media.run_pending()
    return node.store.items.get(item_id)


def assert_nothing_leaked(node, item):
    """Nothing read from another file is on the item, its page, its catalog entry or its thumbnail."""
    assert (item.duration, item.width, item.height, item.codecs) == (None, None, None, None)
    assert not item.thumbnail and not os.path.exists(node.store.thumbnail_path(item.id))
    listed = node.client.get('/api/v1/content/' + item.id, headers=node.key('reader-%s' % item.id[:6])).json
    assert (listed['duration'], listed['width'], listed['height'], listed['thumbnail']) == (None, None, None, False)


@pytest.mark.parametrize('arrival', ARRIVALS)
@pytest.mark.parametrize('name', PAYLOADS)
def test_a_playlist_in_an_upload_never_reads_another_file(node, arrival, name):
    secret = secret_video(node)
    data = PAYLOADS[name](entries(secret, node.media_dir))
    item = probed(node, ARRIVALS[arrival](node, name, data))
    assert_nothing_leaked(node, item)
    if privtube_probe.media.media_kind(item.mime) != 'other':
        assert item.media_state == 'failed' and item.media_error == privtube_probe.NOT_PLAYABLE


def test_an_image_sequence_pattern_in_a_file_name_reads_only_that_file(node):
    """`shot%d.jpg` read by name makes ffmpeg's image2 demuxer read shot1.jpg, shot2.jpg... instead."""
    require_ffmpeg()
    for number in (1, 2):
        subprocess.run(['ffmpeg', '-y', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240',
                        '-frames:v', '1', os.path.join(node.media_dir, 'shot%d.jpg' % number)], check=True)
    subprocess.run(['ffmpeg', '-y', '-loglevel', 'error', '-f', 'lavfi', '-i', 'color=red:size=16x16',
                    '-frames:v', '1', '-update', '1', os.path.join(node.media_dir, 'shot%d.jpg')], check=True)
    run_cli(node, 'scan')
    Item = node.node.database.Item
    pattern = probed(node, Item.get(Item.path == 'shot%d.jpg').id)
    assert (pattern.width, pattern.height, pattern.media_state) == (16, 16, 'done')


def boxes(data):
    """[(type, payload)] of the ISO boxes in `data` (32-bit sizes only, as ffmpeg writes small files)."""
    found, at = [], 0
    while at < len(data):
        size, kind = struct.unpack('>I4s', data[at:at + 8])
        found.append((kind, data[at + 8:at + size]))
        at += size
    return found


def build(parts):
    return b''.join(struct.pack('>I4s', 8 + len(payload), kind) + payload for kind, payload in parts)


def with_external_reference(data, target):
    """The MP4 `data` with its video's data reference pointing at the file `target` (moov follows mdat,
    so no chunk offset moves)."""
    def rewrite(parts, path):
        out = []
        for kind, payload in parts:
            if kind == b'dref':
                entry = struct.pack('>I', 0) + target.encode() + b'\x00'      # flags 0: data is elsewhere
                payload = payload[:4] + struct.pack('>I', 1) + build([(b'url ', entry)])
            elif kind in (b'moov', b'trak', b'mdia', b'minf', b'dinf'):
                payload = build(rewrite(boxes(payload), path + [kind]))
            out.append((kind, payload))
        return out
    return build(rewrite(boxes(data), []))


@pytest.mark.parametrize('arrival', ['api upload', 'scan'])
def test_an_mp4_data_reference_to_another_file_is_not_followed(node, arrival, tmp_path):
    secret = secret_video(node)
    decoy = make_sample(tmp_path, 'video_with_audio.mp4')              # 160x120
    data = with_external_reference(open(decoy, 'rb').read(), secret)
    item = probed(node, ARRIVALS[arrival](node, 'reference.mp4', data))
    assert (item.width, item.height) in ((160, 120), (None, None))
    assert item.duration is None or item.duration < 2.5


# --- tracing what the tools open ---------------------------------------------------------------------

@pytest.fixture
def traced_tools(tmp_path, monkeypatch):
    """ffprobe and ffmpeg run under strace; returns a function listing the node's files they opened."""
    require_ffmpeg()
    if not shutil.which('strace'):
        if os.environ.get('CI'):
            pytest.fail('CI must install strace (see .ci/run)')
        pytest.skip('needs strace')
    log_dir = tmp_path / 'trace'
    log_dir.mkdir()
    for tool in ('ffprobe', 'ffmpeg'):
        wrapper = tmp_path / ('traced-' + tool)
        wrapper.write_text('#!/bin/sh\nexec strace -f -qq -e trace=open,openat,openat2,execve -o "%s/%s.$$" %s "$@"\n'
                           % (log_dir, tool, shutil.which(tool)))
        wrapper.chmod(0o755)
        monkeypatch.setattr(privtube_probe, tool + '_path', lambda wrapper=wrapper: str(wrapper))

    def opened_node_files(root):
        found = []
        for log in log_dir.iterdir():
            for line in log.read_text(errors='replace').splitlines():
                match = re.search(r'open(?:at2?)?\(.*?"([^"]+)"', line)
                if match and os.path.abspath(match.group(1)).startswith(root) and '= -1' not in line:
                    found.append(match.group(1))
                elif match and os.path.abspath(match.group(1)).startswith(root):
                    found.append('tried ' + match.group(1))
        return found
    return opened_node_files


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(PAYLOADS) + ['song.mp3', 'video_with_audio.mp4', 'photo.jpg'])
def test_the_tools_open_no_file_of_the_node(node, traced_tools, name, tmp_path):
    """Hostile or not, the file reaches the tools on standard input; they open nothing under the node's
    folder (the secret and every other item included), not even the item's own file by name."""
    secret = secret_video(node)
    if name in PAYLOADS:
        data = PAYLOADS[name](entries(secret, node.media_dir))
    else:
        data = open(make_sample(tmp_path, name), 'rb').read()
    item = probed(node, api_upload(node, name, data))
    assert traced_tools(str(tmp_path.resolve())) == [] and traced_tools(node.folder) == []
    if name not in PAYLOADS:
        assert item.media_state == 'done' and item.codecs          # real media is still probed
        assert item.thumbnail or name == 'song.mp3'


# --- the faststart hand-over, and real media still probed ------------------------------------------

def test_an_mp4_whose_index_follows_its_media_still_gets_a_thumbnail(node, tmp_path):
    """ffmpeg writes `moov` after `mdat` by default, as phones do; a pipe cannot seek back to it, so the
    index is handed over first with its chunk offsets shifted."""
    path = make_sample(node.media_dir, 'video_with_audio.mp4')
    data = open(path, 'rb').read()
    assert data.index(b'moov') > data.index(b'mdat')
    item = probed(node, node.store.items.create(path, 'clip').id)
    assert item.media_state == 'done' and item.thumbnail and (item.width, item.height) == (160, 120)
    assert item.duration == pytest.approx(2.0, abs=0.2)


def test_a_file_whose_bytes_are_not_its_type_is_not_handed_to_the_tools(node, monkeypatch):
    ran = []
    monkeypatch.setattr(privtube_probe, 'run_on_file', lambda *args: ran.append(args))
    item = node.add('clip.mkv', data=b'#EXTM3U\n' + b'x' * 100)
    assert item.mime == 'video/x-matroska'             # the name said so
    done = probed(node, item.id)
    assert ran == [] and done.media_state == 'failed' and done.media_error == privtube_probe.NOT_PLAYABLE


# --- finding 2: reasons, not paths -------------------------------------------------------------------

def test_a_failure_shows_a_short_reason_and_never_a_server_path(node, caplog):
    path = make_sample(node.media_dir, 'video_with_audio.mp4')
    with open(path, 'r+b') as fh:
        fh.truncate(300)
    item = probed(node, node.store.items.create(path, 'broken').id)
    assert item.media_state == 'failed' and item.media_error in privtube_probe.REASONS
    page = node.sign_in('ann').get('/watch/' + item.id).text
    assert node.folder not in page and node.media_dir not in page and 'pipe:0' not in page
    assert 'could not read this file (%s)' % item.media_error in page
    assert any('could not probe' in record.message for record in caplog.records)     # the detail is logged


def test_an_old_failure_holding_tool_output_is_probed_again_after_the_upgrade(node):
    """Rows an older node probed (maybe made to read other files; errors with server paths) are probed
    again by the safe reader once the database is upgraded."""
    from privtube_db import migrate
    item = node.add('old.mp4')
    db, Item = node.node.database.db, node.node.database.Item
    Item.update(media_state='failed', media_error='%s/old.mp4: Invalid data found' % node.media_dir
                ).where(Item.id == item.id).execute()
    db.execute_sql('PRAGMA user_version = 8')
    migrate(db, 9)
    assert (node.store.items.get(item.id).media_state, node.store.items.get(item.id).media_error) == ('pending', '')
    assert probed(node, item.id).media_state == 'failed'
    page = node.sign_in('ann').get('/watch/' + item.id).text
    assert node.media_dir not in page and 'could not read this file (not a playable file)' in page


def test_a_file_that_fails_now_loses_what_an_earlier_probe_found(node):
    """A file probed by an older node keeps no metadata or thumbnail once it fails to probe safely."""
    item = node.add('song.mp3', data=ID3 + hls(['/etc/hostname']))
    Item = node.node.database.Item
    Item.update(media_state='pending', duration=3.0, width=320, height=240, codecs='h264', thumbnail=True
                ).where(Item.id == item.id).execute()
    os.makedirs(os.path.dirname(node.store.thumbnail_path(item.id)), exist_ok=True)
    open(node.store.thumbnail_path(item.id), 'wb').write(b'\xff\xd8\xff leaked frame')
    before = node.store.items.get(item.id).seq
    done = probed(node, item.id)
    assert_nothing_leaked(node, done)
    assert done.seq > before            # peers are told the metadata went
