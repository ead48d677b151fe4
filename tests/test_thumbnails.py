"""Thumbnails made with ffmpeg in the background: cached, served, regenerated, removed; placeholders."""
import os
import struct

import pytest
from media_samples import make_sample

import privtube_probe


def jpeg_size(data):
    """(width, height) from a JPEG's SOF marker."""
    at = 2
    while at < len(data):
        marker, length = data[at + 1], struct.unpack('>H', data[at + 2:at + 4])[0]
        if marker in (0xc0, 0xc1, 0xc2):
            height, width = struct.unpack('>HH', data[at + 5:at + 9])
            return width, height
        at += 2 + length
    raise AssertionError('no SOF marker')


def probed(node, name):
    item = node.store.items.create(make_sample(node.media_dir, name), name)
    node.node.media.run_pending()
    return node.store.items.get(item.id)


@pytest.mark.parametrize('name, width', [
    ('video_with_audio.mp4', 160), ('video_only.webm', 160), ('big_photo.png', 480), ('song_with_cover.mp3', 200),
])
def test_thumbnail_is_a_small_jpeg_served_by_api_and_pages(node, name, width):
    item = probed(node, name)
    assert item.thumbnail
    data = node.client.get('/api/v1/content/%s/thumbnail' % item.id, headers=node.key('bob')).body
    assert data[:3] == b'\xff\xd8\xff' and jpeg_size(data)[0] == width <= 480
    viewer = node.sign_in('ann')
    assert viewer.get('/thumb/' + item.id).body == data
    assert '/thumb/%s' % item.id in viewer.get('/').text


def test_audio_without_cover_gets_a_placeholder(node):
    item = probed(node, 'song.mp3')
    assert not item.thumbnail
    node.client.get('/api/v1/content/%s/thumbnail' % item.id, headers=node.key('bob'), status=404)
    viewer = node.sign_in('ann')
    assert '/static/audio.svg' in viewer.get('/').text
    assert viewer.get('/static/audio.svg').content_type == 'image/svg+xml'


def test_thumbnail_follows_the_file_and_leaves_with_the_item(node):
    item = probed(node, 'big_photo.png')
    path = node.store.thumbnail_path(item.id)
    first = open(path, 'rb').read()
    os.replace(make_sample(node.folder, 'photo.jpg'), os.path.join(node.media_dir, 'big_photo.png'))
    os.utime(os.path.join(node.media_dir, 'big_photo.png'), ns=(1, 2 * 10 ** 18))
    node.store.scanner.scan()
    node.node.media.run_pending()
    assert open(path, 'rb').read() != first and jpeg_size(open(path, 'rb').read()) == (320, 240)
    node.store.items.delete(node.store.items.get(item.id))
    assert not os.path.exists(path)


def test_without_ffmpeg_there_are_placeholders_and_no_errors(node, monkeypatch):
    monkeypatch.setattr(privtube_probe, 'ffmpeg_path', lambda: None)
    item = probed(node, 'video_with_audio.mp4')
    assert not item.thumbnail and item.media_state == 'done'
    assert '/static/video.svg' in node.sign_in('ann').get('/').text
