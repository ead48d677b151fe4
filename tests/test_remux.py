"""Videos whose codecs browsers play but whose container they do not (an H.264/AAC MKV, an H.264/MP3 AVI)
get one browser-playable copy, rewrapped by ffmpeg without re-encoding, served with Range at /play/ID;
what cannot play is explained in plain words; the copies' cache is capped, oldest dropped first."""
import json
import os
import struct
import subprocess
import threading
import time

import pytest
from conftest import NodeFixture
from media_samples import require_ffmpeg
from test_audit_ffmpeg import entries, hls, secret_video, traced_tools  # noqa: F401 (traced_tools: a fixture)

import privtube_probe
import privtube_remux as remux

SUBTITLES = '1\n00:00:00,000 --> 00:00:01,000\nHello\n'


def make_video(path, seconds=3, video='libx264', audio='aac', lossless=False, tone=440, options=()):
    """A real file made by ffmpeg: test pattern and a tone, plus a subtitle stream in an MKV."""
    require_ffmpeg()
    path = str(path)
    inputs = ['-f', 'lavfi', '-i', 'testsrc=duration=%d:size=320x240:rate=25' % seconds,
              '-f', 'lavfi', '-i', 'sine=frequency=%d:duration=%d' % (tone, seconds)]
    maps, extra = ['-map', '0:v', '-map', '1:a'], []
    if path.endswith('.mkv'):
        srt = path + '.srt'
        with open(srt, 'w') as fh:
            fh.write(SUBTITLES)
        inputs += ['-i', srt]
        maps += ['-map', '2:s']
        extra = ['-c:s', 'srt']
    quality = ['-preset', 'ultrafast', '-qp', '0'] if lossless else []
    subprocess.run(['ffmpeg', '-y', '-loglevel', 'error'] + inputs + maps + ['-c:v', video, '-pix_fmt', 'yuv420p']
                   + quality + (['-x265-params', 'log-level=error'] if video == 'libx265' else [])
                   + list(options) + ['-c:a', audio] + extra + ['-t', str(seconds), path], check=True, timeout=120)
    if path.endswith('.mkv'):
        os.unlink(path + '.srt')
    return path


def added(node, name, **kwargs):
    path = make_video(os.path.join(node.media_dir, name), **kwargs)
    item = node.store.items.create(path, name)
    node.node.media.run_pending()
    return node.store.items.get(item.id)


def remuxed(node):
    done = node.node.remux.run_pending()
    return done


def ffprobe_json(path):
    done = subprocess.run(['ffprobe', '-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', path],
                          capture_output=True, check=True, timeout=60)
    return json.loads(done.stdout)


def top_level_boxes(path):
    kinds = []
    with open(path, 'rb') as fh:
        while True:
            header = fh.read(8)
            if len(header) < 8:
                return kinds
            length, kind = struct.unpack('>I4s', header)
            kinds.append(kind)
            fh.seek(length - 8, 1)


@pytest.mark.slow
@pytest.mark.parametrize('name, audio, sound', [('film.mkv', 'aac', 'aac'), ('clip.avi', 'libmp3lame', 'mp3'),
                                                ('camera.mov', 'aac', 'aac')])
def test_an_h264_file_in_mkv_avi_or_mov_is_rewrapped_once_and_served_with_range(node, name, audio, sound):
    item = added(node, name, audio=audio)
    assert item.mime == {'mkv': 'video/x-matroska', 'avi': 'video/x-msvideo', 'mov': 'video/quicktime'}[name[-3:]]
    assert item.media_state == 'done' and item.remux is None
    client = node.sign_in('ann')
    assert 'being prepared for the browser' in client.get('/watch/' + item.id).text
    assert remuxed(node) == 1
    item = node.store.items.get(item.id)
    copy = node.store.remux_path(item.id, 'mp4')
    assert item.remux == 'ready' and os.path.isfile(copy)
    found = ffprobe_json(copy)
    assert 'mp4' in found['format']['format_name']
    assert [s['codec_name'] for s in found['streams']] == ['h264', sound]      # the subtitle stream is dropped
    kinds = top_level_boxes(copy)
    assert kinds.index(b'moov') < kinds.index(b'mdat')                           # fast start
    made = os.stat(copy).st_mtime_ns
    assert remuxed(node) == 0 and os.stat(copy).st_mtime_ns == made            # once
    page = client.get('/watch/' + item.id).text
    assert '<video id="player" src="/play/%s"' % item.id in page
    part = client.get('/play/' + item.id, headers={'Range': 'bytes=100-1099'}, status=206)
    assert part.headers['Content-Type'] == 'video/mp4'
    assert part.headers['Content-Range'] == 'bytes 100-1099/%d' % os.path.getsize(copy)
    assert part.body == open(copy, 'rb').read()[100:1100]
    original = client.get('/media/%s?download=1' % item.id)
    assert original.body == open(os.path.join(node.media_dir, name), 'rb').read()   # downloads: the original


@pytest.mark.slow
def test_a_vp9_opus_mkv_becomes_a_webm(node):
    item = added(node, 'talk.mkv', seconds=1, video='libvpx-vp9', audio='libopus',
                 options=['-deadline', 'realtime', '-cpu-used', '8', '-b:v', '200k'])
    assert remuxed(node) == 1
    copy = node.store.remux_path(item.id, 'webm')
    found = ffprobe_json(copy)
    assert 'webm' in found['format']['format_name'] and [s['codec_name'] for s in found['streams']] == ['vp9', 'opus']
    served = node.sign_in('ann').get('/play/' + item.id, headers={'Range': 'bytes=0-9'}, status=206)
    assert served.headers['Content-Type'] == 'video/webm' and served.body == open(copy, 'rb').read(10)


@pytest.mark.slow
def test_an_hevc_mkv_is_not_rewrapped_and_its_page_says_why_in_plain_words(node):
    require_ffmpeg()
    encoders = subprocess.run(['ffmpeg', '-hide_banner', '-encoders'], capture_output=True, text=True).stdout
    if 'libx265' not in encoders:
        pytest.skip("this ffmpeg has no HEVC encoder")
    item = added(node, 'phone.mkv', video='libx265', seconds=1)
    assert item.codecs.startswith('hevc')
    assert remuxed(node) == 0
    item = node.store.items.get(item.id)
    assert item.remux is None and not os.path.exists(node.store.remux_path(item.id, 'mp4'))
    page = node.sign_in('ann').get('/watch/' + item.id).text
    assert 'HEVC (H.265) video' in page and 'most phones, Apple devices' in page and 'VLC' in page
    assert '/media/%s?download=1' % item.id in page and 'being prepared' not in page
    assert 'x-matroska' not in page and 'container' not in page and '<video' not in page
    assert node.sign_in('bo').get('/play/' + item.id, status=302).headers['Location'].endswith('/media/' + item.id)


def test_the_media_worker_wakes_the_rewrap_when_it_has_probed_a_film(node):
    """A probed MKV starts its copy at once, not at the rewrap worker's next poll; a probed MP4 wakes nothing."""
    require_ffmpeg()
    wake = node.node.remux.wake
    wake.clear()
    added(node, 'plain.mp4')
    assert not wake.is_set()
    added(node, 'holiday.mkv')
    assert wake.is_set()


def test_which_files_get_a_copy():
    assert remux.remux_target('video/x-matroska', 'h264,aac').extension == 'mp4'
    assert remux.remux_target('video/x-msvideo', 'h264,mp3').extension == 'mp4'
    assert remux.remux_target('video/x-matroska', 'vp9,opus').extension == 'webm'
    assert remux.remux_target('video/x-matroska', 'h264,aac,ac3').extension == 'mp4'   # AC-3 track dropped
    for mime, codecs in [('video/x-matroska', 'hevc,aac'), ('video/x-matroska', 'h264,ac3'),
                         ('video/mp4', 'h264,aac'), ('video/x-msvideo', 'mpeg4,mp3'), ('video/x-matroska', None),
                         ('video/x-matroska', 'h264,opus'), ('video/mp2t', 'h264,aac')]:
        assert remux.remux_target(mime, codecs) is None, (mime, codecs)


def test_only_the_first_video_and_playable_sound_are_kept():
    mp4 = remux.TARGETS[0]
    streams = [{'index': 0, 'codec_type': 'video', 'codec_name': 'h264'},
               {'index': 1, 'codec_type': 'audio', 'codec_name': 'ac3'},
               {'index': 2, 'codec_type': 'audio', 'codec_name': 'aac'},
               {'index': 3, 'codec_type': 'subtitle', 'codec_name': 'subrip'},
               {'index': 4, 'codec_type': 'video', 'codec_name': 'h264'}]
    assert remux.chosen_streams(streams, mp4) == [0, 2]
    assert remux.chosen_streams(streams[:2], mp4) is None            # sound, but none a browser plays
    assert remux.chosen_streams([dict(streams[0], codec_name='hevc')] + streams[2:3], mp4) is None


# --- hostile files -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_real_mkv_is_rewrapped_without_ffmpeg_opening_any_file_but_its_copy(node, traced_tools):  # noqa: F811
    item = added(node, 'film.mkv')
    assert remuxed(node) == 1 and node.store.items.get(item.id).remux == 'ready'
    opened = traced_tools(node.folder)
    assert opened and all(path.startswith(node.store.remux_dir + os.sep) for path in opened), opened


@pytest.mark.slow
def test_an_mkv_holding_a_playlist_of_another_file_is_never_rewrapped(node, traced_tools):  # noqa: F811
    secret = secret_video(node)
    playlist = hls(entries(secret, node.media_dir))
    for name, data in [('hls.mkv', playlist), ('ebml-hls.mkv', b'\x1a\x45\xdf\xa3' + playlist)]:
        path = node.media_file(name, data)
        item = node.store.items.create(path, name)
        node.node.media.run_pending()
        remuxed(node)
        item = node.store.items.get(item.id)
        assert item.remux != 'ready' and not os.path.exists(node.store.remux_path(item.id, 'mp4'))
        assert item.codecs is None and item.duration is None
    assert os.listdir(node.store.remux_dir) == [] if os.path.isdir(node.store.remux_dir) else True
    assert traced_tools(os.path.dirname(secret)) == []


# --- the cache ---------------------------------------------------------------------------------------

@pytest.fixture
def small_cache(tmp_path):
    """A node whose copies may take 1 MiB."""
    made = NodeFixture(tmp_path, '[store]\nremux_cache_mb = 1\n')
    yield made
    made.close()


@pytest.mark.slow
def test_the_cache_drops_the_oldest_copy_first_and_refuses_one_too_big(small_cache):
    node = small_cache
    items = [added(node, '%s.mkv' % name, seconds=5, lossless=True) for name in ('a', 'b', 'c')]
    sizes = [item.size for item in items]
    assert 300000 < min(sizes) and sum(sizes[:2]) < 1024 * 1024 < sum(sizes)     # two fit, three do not
    for item in items:
        assert node.node.remux.run_pending(limit=1) == 1
        time.sleep(0.05)            # each copy a little older than the next
    first, second, third = [node.store.items.get(item.id) for item in items]
    assert (first.remux, second.remux, third.remux) == ('dropped', 'ready', 'ready')
    assert not os.path.exists(node.store.remux_path(first.id, 'mp4'))

    client = node.sign_in('ann')
    assert 'being prepared' in client.get('/watch/' + first.id).text          # asked for: made again
    assert remuxed(node) == 1
    assert [node.store.items.get(item.id).remux for item in items] == ['ready', 'dropped', 'ready']

    big = added(node, 'big.mkv', seconds=16, lossless=True)
    assert big.size > 1024 * 1024
    assert remuxed(node) == 1
    assert node.store.items.get(big.id).remux == 'too_big' and not os.path.exists(node.store.remux_path(big.id, 'mp4'))
    page = client.get('/watch/' + big.id).text
    assert 'more room than this node keeps' in page and '/media/%s?download=1' % big.id in page
    assert [node.store.items.get(item.id).remux for item in items] == ['ready', 'dropped', 'ready']   # untouched


@pytest.mark.slow
def test_a_changed_file_is_rewrapped_again(node):
    item = added(node, 'film.mkv', seconds=2)
    remuxed(node)
    copy = node.store.remux_path(item.id, 'mp4')
    assert float(ffprobe_json(copy)['format']['duration']) < 3
    make_video(os.path.join(node.media_dir, 'film.mkv'), seconds=4, tone=660)
    node.store.scanner.scan()
    assert node.store.items.get(item.id).remux is None
    node.node.remux.run_pending()
    assert not os.path.exists(copy)                  # stale: dropped (the new file waits for its probe first)
    node.node.media.run_pending()
    assert remuxed(node) == 1
    assert node.store.items.get(item.id).remux == 'ready' and float(ffprobe_json(copy)['format']['duration']) > 3


@pytest.mark.slow
def test_an_item_removed_for_good_loses_its_copy_and_a_trashed_one_keeps_it(node):
    item = added(node, 'film.mkv', seconds=1)
    remuxed(node)
    copy = node.store.remux_path(item.id, 'mp4')
    assert os.path.exists(copy)
    node.store.trash.move(node.store.items.get(item.id))
    assert os.path.exists(copy)                      # restorable, and so is its copy
    node.store.trash.delete_forever(node.store.items.get(item.id))
    assert not os.path.exists(copy)


@pytest.mark.slow
def test_a_copy_left_by_a_deleted_item_is_swept(node):
    item = added(node, 'film.mkv', seconds=1)
    remuxed(node)
    node.node.database.Item.delete_by_id(item.id)         # gone without the store's clean-up
    remuxed(node)
    assert os.listdir(node.store.remux_dir) == []


def test_no_copies_when_the_cache_percent_is_0(tmp_path):
    require_ffmpeg()
    made = NodeFixture(tmp_path, '[store]\nremux_cache_percent = 0\n')
    try:
        item = added(made, 'film.mkv', seconds=1)
        assert remuxed(made) == 0 and made.store.items.get(item.id).remux is None
        page = made.sign_in('ann').get('/watch/' + item.id).text
        assert 'being prepared' not in page and 'MKV (Matroska)' in page and 'VLC' in page
    finally:
        made.close()


def test_stopping_the_node_ends_a_running_rewrap(node, tmp_path, monkeypatch):
    """A copy of a long film may take minutes: stopping the node ends ffmpeg rather than wait for it."""
    item = added(node, 'film.mkv', seconds=1)
    slow = tmp_path / 'slow-ffmpeg'
    slow.write_text('#!/bin/sh\nexec sleep 60\n')
    slow.chmod(0o755)
    monkeypatch.setattr(privtube_probe, 'ffmpeg_path', lambda: str(slow))
    worker = node.node.remux
    started = threading.Event()
    running = worker.running
    monkeypatch.setattr(worker, 'running', lambda process: (running(process), process and started.set()))
    worker.start()
    worker.wake.set()
    assert started.wait(20)
    began = time.time()
    worker.stop()
    assert not worker.thread.is_alive() and time.time() - began < 5
    assert node.store.items.get(item.id).remux == 'pending'     # not marked failed: made on the next start
    assert not [name for name in os.listdir(node.store.remux_dir) if name.endswith(remux.TEMP)]


def test_a_peers_mkv_says_it_plays_after_download(node):
    class PeerItem:
        id, mime, codecs, origin, is_local, remux, media_state = 'x' * 16, 'video/x-matroska', None, 'alice', False, \
            None, 'done'
        preview = thumbnail = False
    play = remux.playback(node.node, PeerItem())
    assert play.src is None and 'alice' in play.why_not and 'after you download it' in play.why_not
    assert 'x-matroska' not in play.why_not


def test_the_play_route_shows_nothing_of_an_item_one_may_not_see(node):
    item = node.add('private.mkv', private=True, data=b'\x1a\x45\xdf\xa3' + b'\x00' * 100)
    node.sign_in('ann').get('/play/' + item.id, status=404)
    assert '/login' in node.client.get('/play/' + item.id, status=303).headers['Location']   # signed out


@pytest.mark.slow
def test_a_ten_second_mkv_gets_a_thumbnail_though_a_pipe_cannot_seek_in_it(node):
    """Regression: ffmpeg seeking to 10% of an MKV on its standard input reads to the end looking for the
    index and gives no frame, so MKVs longer than a moment had no thumbnail (and no poster)."""
    item = added(node, 'film.mkv', seconds=10)
    assert item.thumbnail and os.path.getsize(node.store.thumbnail_path(item.id)) > 1000
