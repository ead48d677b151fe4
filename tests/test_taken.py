"""When a photo or video was taken: EXIF, container times, phone and camera file names, else mtime."""
import io
import subprocess

import pytest
from media_samples import require_ffmpeg
from PIL import Image

import privtube_taken as taken


def jpeg_with_exif(path, date=None, offset=None, in_exif_ifd=True):
    """A real JPEG whose EXIF holds DateTimeOriginal (36867) and OffsetTimeOriginal (36881) as asked."""
    exif = Image.Exif()
    place = exif.get_ifd(taken.EXIF_IFD) if in_exif_ifd else exif
    if date:
        place[36867] = date
    if offset:
        place[36881] = offset
    Image.new('RGB', (16, 16), 'teal').save(path, 'JPEG', exif=exif)
    return path


@pytest.mark.parametrize('name, expected', [
    ('IMG_20240714_101500.jpg', '2024-07-14T10:15:00Z'),
    ('VID_20240714_101500.mp4', '2024-07-14T10:15:00Z'),
    ('PXL_20240714_101500123.mp4', '2024-07-14T10:15:00Z'),
    ('PXL_20240714_101500123.MP.jpg', '2024-07-14T10:15:00Z'),
    ('Screenshot_2024-07-14-10-15-00.png', '2024-07-14T10:15:00Z'),
    ('WhatsApp Image 2024-07-14 at 10.15.00.jpeg', '2024-07-14T10:15:00Z'),
    ('WhatsApp Video 2024-07-14 at 10.15.00 (1).mp4', '2024-07-14T10:15:00Z'),
    ('20240714_101500.jpg', '2024-07-14T10:15:00Z'),
    ('IMG-20240714-WA0001.jpg', '2024-07-14T00:00:00Z'),
    ('holiday 2024.jpg', None),
    ('IMG_20241340_101500.jpg', None),          # month 13: not a date
    ('clip_120240714_101500.mp4', None),        # digits run on: not a date a camera wrote
])
def test_dates_in_phone_and_camera_file_names(name, expected):
    assert taken.name_taken(name) == expected


def test_exif_date_with_its_offset_is_converted_to_utc(tmp_path):
    path = jpeg_with_exif(str(tmp_path / 'beach.jpg'), '2024:07:14 10:15:00', '+02:00')
    assert taken.taken_of_file(path, 'image/jpeg', path, mtime=0) == ('2024-07-14T08:15:00Z', 'exif')


def test_exif_date_without_offset_is_the_camera_clock_read_as_utc(tmp_path):
    path = jpeg_with_exif(str(tmp_path / 'IMG_20200101_000000.jpg'), '2009:03:01 18:30:05', in_exif_ifd=False)
    assert taken.taken_of_file(path, 'image/jpeg', path) == ('2009-03-01T18:30:05Z', 'exif')


def test_exif_wins_over_the_name_and_the_name_over_mtime(tmp_path):
    plain = jpeg_with_exif(str(tmp_path / 'IMG_20240714_101500.jpg'))     # EXIF without dates
    assert taken.taken_of_file(plain, 'image/jpeg', plain, mtime=1e9) == ('2024-07-14T10:15:00Z', 'name')
    other = jpeg_with_exif(str(tmp_path / 'scan.jpg'))
    assert taken.taken_of_file(other, 'image/jpeg', other, mtime=1e9) == ('2001-09-09T01:46:40Z', 'mtime')
    assert taken.taken_of_file(other, 'image/jpeg', other, mtime=None) == (None, None)    # an upload


@pytest.mark.parametrize('data', [b'', b'\xff\xd8\xff\xe1\x00\x10Exif\x00\x00MM\x00*\xff\xff', b'not a picture'])
def test_damaged_or_false_pictures_fall_back_quietly(tmp_path, data):
    path = tmp_path / 'IMG_20240714_101500.jpg'
    path.write_bytes(data)
    assert taken.taken_of_file(str(path), 'image/jpeg', str(path)) == ('2024-07-14T10:15:00Z', 'name')


def test_zero_and_unset_exif_dates_are_no_dates(tmp_path):
    path = jpeg_with_exif(str(tmp_path / 'a.jpg'), '0000:00:00 00:00:00')
    assert taken.exif_taken(path) is None
    assert taken.exif_moment('1970:01:01 00:00:00', None) is None


def test_heic_photos_are_read_through_pillow_heif(tmp_path):
    pillow_heif = pytest.importorskip('pillow_heif')
    pillow_heif.register_heif_opener()
    exif = Image.Exif()
    exif.get_ifd(taken.EXIF_IFD)[36867] = '2023:12:24 19:00:00'
    exif.get_ifd(taken.EXIF_IFD)[36881] = '-05:00'
    buffer = io.BytesIO()
    try:
        Image.new('RGB', (16, 16), 'red').save(buffer, 'HEIF', exif=exif.tobytes())
    except (KeyError, OSError, ValueError) as exc:      # no HEVC encoder in this build
        pytest.skip('cannot write HEIC here: %s' % exc)
    path = tmp_path / 'IMG_0001.HEIC'
    path.write_bytes(buffer.getvalue())
    # sniffed as an MP4 (the same box format): the brand tells it is a photo
    assert taken.taken_of_file(str(path), 'video/mp4', str(path)) == ('2023-12-25T00:00:00Z', 'exif')


def test_container_creation_times():
    assert taken.container_taken({'creation_time': '2019-05-04T03:02:01.000000Z'}) == '2019-05-04T03:02:01Z'
    assert taken.container_taken({'creation_time': '2019-05-04T03:02:01Z',
                                  'com.apple.quicktime.creationdate': '2019-05-04T05:02:01+0200'}) == \
        '2019-05-04T03:02:01Z'
    for zero in ('1904-01-01T00:00:00.000000Z', '1970-01-01T00:00:00.000000Z', 'yesterday', 7):
        assert taken.container_taken({'creation_time': zero}) is None
    assert taken.container_taken(None) is None


def test_ffprobe_reports_an_mp4s_creation_time(tmp_path):
    import privtube_probe
    require_ffmpeg()
    path = str(tmp_path / 'clip.mp4')
    subprocess.run(['ffmpeg', '-y', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=duration=1:size=64x48:rate=5',
                    '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-metadata', 'creation_time=2019-05-04T03:02:01Z', path],
                   check=True, timeout=60)
    with open(path, 'rb') as fh:
        assert privtube_probe.probe(fh, 'mov')['taken'] == '2019-05-04T03:02:01Z'


def test_a_better_source_replaces_a_worse_one():
    assert taken.better('container', 'mtime') and taken.better('container', 'name') and taken.better('exif', None)
    assert not taken.better('container', 'exif') and not taken.better('mtime', 'mtime')
