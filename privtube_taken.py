"""When a photo or video was taken: `taken` (ISO 8601 UTC, or None) and where that came from.

Sources, best first (SOURCES): 'exif' (DateTimeOriginal of JPEG, HEIC and TIFF, with OffsetTimeOriginal
when present), 'container' (a video's or audio file's `creation_time`, found by privtube_probe), 'name'
(the date phones and cameras write into file names) and 'mtime' (the file's modification time, for files
indexed in place; an upload's is only the moment of the upload, so uploads have none).

A camera's clock without an offset (EXIF without OffsetTimeOriginal, a date in a file name) is read as UTC:
pages show times in UTC, so the stored time shows exactly what the camera showed, and its day is the day
the family remembers, whatever time zone the node runs in. Only what the file says with an offset (EXIF
with OffsetTimeOriginal, container times, which are UTC) is converted.
"""
import datetime
import os
import re
import struct

from privtube_items import iso, iso_of
from privtube_photos import register_heif

SOURCES = ('exif', 'container', 'name', 'mtime')      # best first
EXIF_IFD = 0x8769
EXIF_DATES = ((36867, 36881), (36868, 36882))   # DateTimeOriginal + OffsetTimeOriginal, then ...Digitized
EXIF_TYPES = ('image/jpeg', 'image/tiff', 'image/heic', 'image/heif', 'image/webp', 'image/png')
HEIF_BRANDS = (b'heic', b'heix', b'heim', b'heis', b'hevc', b'hevx', b'mif1', b'msf1')
EARLIEST, LATEST = 1970, 2100       # a year outside is a camera's unset clock (or a file's zero date)

# a date with a time in a file name: IMG_20240714_101500, VID_…, PXL_20240714_101500123, 20240714_101500,
# Screenshot_2024-07-14-10-15-00, WhatsApp Image 2024-07-14 at 10.15.00, 2024-07-14 10.15.00
NAME_DATES = (
    re.compile(r'(?<!\d)((?:19|20)\d{2})(\d{2})(\d{2})[_-](\d{2})(\d{2})(\d{2})'),
    re.compile(r'(?<!\d)((?:19|20)\d{2})-(\d{2})-(\d{2})(?:[ _-]|_at_| at )(\d{2})[.:_-](\d{2})[.:_-](\d{2})'),
)
NAME_DAY = re.compile(r'(?<!\d)((?:19|20)\d{2})(\d{2})(\d{2})-WA\d')      # IMG-20240714-WA0001: a day only


def better(source, than):
    """True when `source` is a better reason for `taken` than `than` (None: there is none yet)."""
    return than not in SOURCES or (source in SOURCES and SOURCES.index(source) < SOURCES.index(than))


def taken_of_file(path, mime, name, mtime=None, head=None):
    """(taken, source) of the file at `path`: its EXIF date, else a date in `name` (the file's name, or an
    upload's original name), else `mtime` (a Unix time; None for uploads); (None, None) when none is known.
    `head`, the file's first bytes when the caller has them, saves opening it again."""
    found = exif_taken(path) if reads_exif(path, mime, head) else None
    if found:
        return found, 'exif'
    found = name_taken(name)
    if found:
        return found, 'name'
    if mtime is not None and plausible_year(datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc).year):
        return iso_of(mtime), 'mtime'
    return None, None


def reads_exif(path, mime, head=None):
    """True for the types whose EXIF we read; a HEIC photo is sniffed as an MP4 (same box format), so its
    brand is checked here."""
    if mime in EXIF_TYPES:
        return True
    if not mime.startswith('video/'):
        return False
    if head is None:
        try:
            with open(path, 'rb') as fh:
                head = fh.read(12)
        except OSError:
            return False
    return head[4:8] == b'ftyp' and head[8:12] in HEIF_BRANDS


def exif_taken(path):
    """The EXIF date the picture was taken, as ISO 8601 UTC; None when it has none or cannot be read.
    Pillow reads the headers only; no pixel is decoded."""
    from PIL import Image, UnidentifiedImageError
    register_heif()
    try:
        with Image.open(path) as picture:
            exif = picture.getexif()
            places = (exif.get_ifd(EXIF_IFD), exif)     # cameras write the Exif IFD; some tools IFD0
            for date_tag, offset_tag in EXIF_DATES:
                for place in places:
                    found = exif_moment(place.get(date_tag), place.get(offset_tag))
                    if found:
                        return found
    except (OSError, ValueError, SyntaxError, UnidentifiedImageError, KeyError, TypeError, IndexError,
            struct.error, Image.DecompressionBombError):    # Pillow raises all of these on damaged headers
        return None
    return None


def exif_moment(value, offset):
    """'YYYY:MM:DD HH:MM:SS' (with '+HH:MM' apart) as ISO 8601 UTC; None unless it is a real moment."""
    if isinstance(value, bytes):
        value = value.decode('ascii', 'replace')
    match = re.match(r'\s*(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})', value or '')
    if not match:
        return None
    return moment(*match.groups(), offset=offset if isinstance(offset, str) else None)


def name_taken(name):
    """The moment a camera or phone wrote into a file name, as ISO 8601 UTC; None when it holds none."""
    stem = os.path.splitext(os.path.basename(name or ''))[0]
    for pattern in NAME_DATES:
        for match in pattern.finditer(stem):
            found = moment(*match.groups())
            if found:
                return found
    match = NAME_DAY.search(stem)
    return moment(*match.groups(), '00', '00', '00') if match else None


def container_taken(tags):
    """A video's or audio file's creation time from ffprobe's format tags (Apple's creationdate, which
    carries the offset, first); ISO 8601 UTC, or None when absent or a zero date (1904, 1970)."""
    if not isinstance(tags, dict):
        return None
    for key in ('com.apple.quicktime.creationdate', 'creation_time', 'date'):
        value = tags.get(key)
        match = isinstance(value, str) and re.match(
            r'\s*(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?\s*(Z|[+-]\d{2}:?\d{2})?', value)
        if match:
            found = moment(*match.groups()[:6], offset=match.group(7))
            if found:
                return found
    return None


def moment(year, month, day, hour, minute, second, offset=None):
    """ISO 8601 UTC of a wall-clock time and its UTC offset ('+02:00', '-0500', 'Z'; None: read as UTC);
    None when the parts are not a real date in the years cameras have clocks for."""
    try:
        when = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError:
        return None
    shift = utc_offset(offset)
    if shift is not None:
        when -= shift
    return iso(when) if plausible_year(when.year) else None


def utc_offset(text):
    match = re.match(r'\s*([+-])(\d{2}):?(\d{2})\s*$', text or '')
    if not match or int(match.group(2)) > 14 or int(match.group(3)) > 59:
        return None
    minutes = int(match.group(2)) * 60 + int(match.group(3))
    return datetime.timedelta(minutes=-minutes if match.group(1) == '-' else minutes)


def plausible_year(year):
    return EARLIEST < year < LATEST
