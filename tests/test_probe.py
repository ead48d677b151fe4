"""Probing real files in the background: duration, size and codecs into the item and the catalog."""
import os
import shutil

import pytest
from media_samples import make_sample

import privtube_probe


def add_sample(node, name):
    path = make_sample(node.media_dir, name)
    return node.store.items.create(path, name)


@pytest.mark.parametrize('name, duration, size, codecs', [
    ('video_with_audio.mp4', 2.0, (160, 120), 'h264,aac'),
    ('video_only.webm', 2.0, (160, 120), 'vp9'),
    ('song.mp3', 2.0, (None, None), 'mp3'),
    ('photo.jpg', None, (320, 240), 'mjpeg'),
])
def test_probing_fills_the_item_and_the_catalog(node, name, duration, size, codecs):
    item = add_sample(node, name)
    assert node.store.items.get(item.id).media_state == 'pending'
    assert node.node.media.run_pending() == 1
    probed = node.store.items.get(item.id)
    assert probed.media_state == 'done' and probed.codecs == codecs
    assert (probed.width, probed.height) == size
    assert probed.duration == (pytest.approx(duration, abs=0.2) if duration else None)
    listed = node.client.get('/api/v1/catalog', headers=node.key('bob')).json['items'][0]
    assert (listed['width'], listed['height']) == size
    assert listed['duration'] == (pytest.approx(duration, abs=0.2) if duration else None)


def test_a_truncated_file_is_recorded_as_failed_once(node, caplog):
    path = make_sample(node.media_dir, 'video_with_audio.mp4')
    with open(path, 'r+b') as fh:
        fh.truncate(200)
    item = node.store.items.create(path, 'broken')
    assert node.node.media.run_pending() == 1
    broken = node.store.items.get(item.id)
    assert broken.media_state == 'failed' and broken.media_error
    assert broken.duration is None
    assert node.node.media.run_pending() == 0          # not retried forever
    assert sum('could not probe' in r.message for r in caplog.records) == 1


def test_a_changed_file_is_probed_again(node):
    item = add_sample(node, 'song.mp3')
    node.node.media.run_pending()
    path = os.path.join(node.media_dir, 'song.mp3')
    shutil.copy(make_sample(node.folder, 'video_with_audio.mp4'), path)
    os.utime(path, ns=(1, 2 * 10 ** 18))
    node.store.scanner.scan()
    assert node.store.items.get(item.id).media_state == 'pending'
    node.node.media.run_pending()
    assert node.store.items.get(item.id).codecs == 'h264,aac'


def test_without_ffprobe_everything_works_and_fields_are_null(node, monkeypatch):
    monkeypatch.setattr(privtube_probe, 'ffprobe_path', lambda: None)
    item = node.add('clip.mp4')
    assert node.node.media.run_pending() == 1
    done = node.store.items.get(item.id)
    assert done.media_state == 'done' and (done.duration, done.width, done.codecs) == (None, None, None)
    assert node.client.get('/api/v1/content/' + item.id, headers=node.key('bob')).json['duration'] is None


def test_the_worker_thread_probes_uploads_and_stops_cleanly(node):
    import time
    node.node.media.start()
    try:
        item = add_sample(node, 'song.mp3')
        node.node.media.wake.set()
        deadline = time.time() + 30
        while node.store.items.get(item.id).media_state == 'pending' and time.time() < deadline:
            time.sleep(0.1)
        assert node.store.items.get(item.id).media_state == 'done'
    finally:
        node.node.media.stop()
    assert not node.node.media.thread.is_alive()


def test_the_watch_page_shows_duration_and_size(node):
    item = add_sample(node, 'video_with_audio.mp4')
    node.node.media.run_pending()
    page = node.sign_in('ann').get('/watch/' + item.id).text
    assert '0:02' in page and '160×120' in page


def test_with_no_ffmpeg_on_the_path_nothing_breaks(node, tmp_path, monkeypatch):
    item = node.store.items.create(make_sample(node.media_dir, 'video_with_audio.mp4'), 'clip')
    monkeypatch.setenv('PATH', str(tmp_path))           # an empty folder: no ffprobe, no ffmpeg
    assert node.node.media.run_pending() == 1
    done = node.store.items.get(item.id)
    assert (done.media_state, done.duration, done.thumbnail) == ('done', None, False)
    page = node.sign_in('ann').get('/watch/' + item.id).text
    assert '<video id="player"' in page                  # mp4 plays; only the details are unknown


def test_a_damaged_file_says_so_on_its_page(node):
    path = make_sample(node.media_dir, 'video_with_audio.mp4')
    with open(path, 'r+b') as fh:
        fh.truncate(200)
    item = node.store.items.create(path, 'broken')
    node.node.media.run_pending()
    assert 'could not read this file' in node.sign_in('ann').get('/watch/' + item.id).text
