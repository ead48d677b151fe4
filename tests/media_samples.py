"""Tiny real media files made with ffmpeg for the tests (skipped when ffmpeg is missing, except in CI)."""
import atexit
import hashlib
import os
import shutil
import subprocess
import tempfile

import pytest

RECIPES = {
    'video_with_audio.mp4': ['-f', 'lavfi', '-i', 'testsrc=duration=2:size=160x120:rate=10', '-f', 'lavfi', '-i',
                             'sine=frequency=440:duration=2', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac',
                             '-shortest'],
    'video_only.webm': ['-f', 'lavfi', '-i', 'testsrc=duration=2:size=160x120:rate=10', '-c:v', 'libvpx-vp9',
                        '-b:v', '100k'],
    'song.mp3': ['-f', 'lavfi', '-i', 'sine=frequency=440:duration=2', '-c:a', 'libmp3lame'],
    'photo.jpg': ['-f', 'lavfi', '-i', 'testsrc=size=320x240', '-frames:v', '1'],
}


def require_ffmpeg():
    if shutil.which('ffmpeg') and shutil.which('ffprobe'):
        return
    if os.environ.get('CI'):
        pytest.fail('CI must install ffmpeg (see .ci/run)')
    pytest.skip('needs ffmpeg')


def make_sample(folder, name):
    require_ffmpeg()
    return ffmpeg(RECIPES[name], os.path.join(str(folder), name))


MADE = tempfile.mkdtemp(prefix='privtube-test-media-')     # what ffmpeg() made in this test run
atexit.register(shutil.rmtree, MADE, True)


def ffmpeg(arguments, path, timeout=120):
    """`ffmpeg ARGUMENTS PATH`, made once per test run and copied to `path` (a fresh file, its mtime now)
    after that: the same recipe gives the same bytes anyway, and encoding is most of a media test's set-up.
    An argument naming a file counts by its content, so a changed input makes a new output."""
    inputs = [hashlib.sha256(open(a, 'rb').read()).hexdigest() for a in arguments if os.path.isfile(a)]
    suffix = os.path.splitext(str(path))[1]
    key = hashlib.sha256(repr((arguments, inputs, suffix)).encode('utf-8')).hexdigest()[:32]
    made = os.path.join(MADE, key + suffix)
    if not os.path.exists(made):
        part = os.path.join(MADE, 'part-%d-%s%s' % (os.getpid(), key, suffix))
        subprocess.run(['ffmpeg', '-y', '-loglevel', 'error'] + list(arguments) + [part], check=True, timeout=timeout)
        os.replace(part, made)
    shutil.copyfile(made, str(path))
    return str(path)

RECIPES['big_photo.png'] = ['-f', 'lavfi', '-i', 'testsrc=size=640x480', '-frames:v', '1']
RECIPES['song_with_cover.mp3'] = ['-f', 'lavfi', '-i', 'sine=frequency=440:duration=2', '-f', 'lavfi', '-i',
                                  'testsrc=size=200x200:duration=0.1', '-map', '0:a', '-map', '1:v', '-frames:v', '1',
                                  '-c:a', 'libmp3lame', '-c:v', 'mjpeg', '-id3v2_version', '3',
                                  '-disposition:v', 'attached_pic']
RECIPES['hevc.mkv'] = ['-f', 'lavfi', '-i', 'testsrc=duration=1:size=160x120:rate=10', '-c:v', 'libx265',
                       '-x265-params', 'log-level=error']
RECIPES['mpeg4.avi'] = ['-f', 'lavfi', '-i', 'testsrc=duration=1:size=160x120:rate=10', '-c:v', 'mpeg4']


# Photos made with Pillow, drawn upright (red top-left quarter, blue elsewhere) and stored turned as a
# camera stores them, with the EXIF orientation that turns them upright again.
STORED_TURN = {1: None, 3: 'ROTATE_180', 6: 'ROTATE_90', 8: 'ROTATE_270'}


def make_photo(folder, name, size, orientation=1, fmt='JPEG'):
    """A photo whose upright (displayed) size is `size`, saved as `fmt` with EXIF `orientation`."""
    from PIL import Image
    if fmt == 'HEIF':
        import pillow_heif
        pillow_heif.register_heif_opener()
    upright = Image.new('RGB', size, (0, 0, 255))
    upright.paste((255, 0, 0), (0, 0, size[0] // 2, size[1] // 2))
    turn = STORED_TURN[orientation]
    stored = upright.transpose(getattr(Image.Transpose, turn)) if turn else upright
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = os.path.join(str(folder), name)
    stored.save(path, fmt, exif=exif.tobytes(), quality=90)
    return path


def is_upright(path):
    """True when the picture at `path` shows the red quarter at its top left (and blue at the bottom right)."""
    from PIL import Image
    with Image.open(path) as picture:
        rgb = picture.convert('RGB')
        width, height = rgb.size
        red, blue = rgb.getpixel((width // 8, height // 8)), rgb.getpixel((width * 7 // 8, height * 7 // 8))
    return red[0] > 200 and red[2] < 60 and blue[2] > 200 and blue[0] < 60
