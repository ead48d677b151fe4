"""Whether the browser can play a file in place; the watch page plays it or explains and offers the download."""
import re

import pytest
from media_samples import make_sample

import privtube_media as media


@pytest.mark.parametrize('mime, codecs, playable', [
    ('video/mp4', 'h264,aac', True), ('video/webm', 'vp9,opus', True), ('video/webm', 'av1', True),
    ('audio/mpeg', 'mp3', True), ('audio/flac', 'flac', True), ('audio/ogg', 'vorbis', True),
    ('audio/wav', 'pcm_s16le', True), ('image/jpeg', 'mjpeg', True), ('image/webp', None, True),
    ('video/mp4', 'hevc,aac', False), ('video/mp4', 'h264,ac3', False), ('video/x-matroska', 'h264,aac', False),
    ('video/x-msvideo', 'mpeg4', False), ('image/svg+xml', None, False), ('application/pdf', None, False),
    ('video/mp4', None, True),
])
def test_playability_rules(mime, codecs, playable):
    assert media.playability(mime, codecs)[0] is playable


@pytest.mark.parametrize('name, playable, words', [
    ('video_with_audio.mp4', True, None), ('hevc.mkv', False, 'HEVC (H.265) video'),
    ('mpeg4.avi', False, 'MPEG-4 Part 2 (DivX, Xvid) video'),
])
def test_watch_page_plays_or_explains(node, name, playable, words):
    item = node.store.items.create(make_sample(node.media_dir, name), name)
    node.node.media.run_pending()
    page = node.sign_in('ann').get('/watch/' + item.id).text
    assert ('<video id="player"' in page) is playable
    if not playable:
        assert words in page and 'VLC' in page and '/media/%s?download=1' % item.id in page
        assert 'x-matroska' not in page and 'x-msvideo' not in page and 'container' not in page


@pytest.mark.parametrize('mime, codecs', [
    ('video/x-matroska', 'hevc,aac'), ('video/x-matroska', None), ('video/x-msvideo', 'mpeg4,mp3'),
    ('video/mp4', 'h264,ac3'), ('image/heic', None), ('video/x-matroska', 'h264,dts'), ('video/x-flv', None),
])
def test_what_cannot_play_is_said_without_media_types(mime, codecs):
    """Regression: an H.264 film in an MKV file said "browsers cannot play the x-matroska container"."""
    playable, why_not = media.playability(mime, codecs)
    assert not playable and why_not.endswith('.')
    assert not re.search(r'(video|audio|image|application)/|x-|container', why_not)


def test_hevc_in_mp4_is_explained_by_its_codec(node, tmp_path):
    import os
    import subprocess
    mp4 = os.path.join(node.media_dir, 'phone.mp4')
    source = make_sample(tmp_path, 'hevc.mkv')        # skips (or fails in CI) without ffmpeg
    subprocess.run(['ffmpeg', '-y', '-loglevel', 'error', '-i', source, '-c', 'copy', mp4], check=True, timeout=60)
    item = node.store.items.create(mp4, 'phone')
    node.node.media.run_pending()
    assert 'HEVC (H.265) video' in node.sign_in('ann').get('/watch/' + item.id).text
