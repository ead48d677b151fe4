"""Serving bytes of a file: type detection, the allow-list, and RFC 9110 single ranges.

A response body is a `FileRange`: a real, seekable file limited to the bytes promised in Content-Length.
Waitress recognises it through `wsgi.file_wrapper` and sends it from its main loop, so a slow client never
holds a worker thread; servers without a wrapper iterate it and still stop at the range's end.
"""
import email.utils
import hashlib
import mimetypes
import mmap
import os
import re
import sys
import unicodedata

# Types a browser may show inline; everything else is sent as an attachment of octet-stream.
INLINE_TYPES = {
    'video/mp4', 'video/webm', 'video/ogg', 'video/quicktime', 'video/x-matroska',
    'audio/mpeg', 'audio/mp4', 'audio/aac', 'audio/ogg', 'audio/flac', 'audio/wav', 'audio/webm', 'audio/opus',
    'image/jpeg', 'image/png', 'image/gif', 'image/webp', 'image/avif',
}
MEDIA_KINDS = ('video', 'audio', 'image')
EXTENSIONS = {
    'video/mp4': '.mp4', 'video/webm': '.webm', 'video/ogg': '.ogv', 'video/quicktime': '.mov',
    'video/x-matroska': '.mkv', 'audio/mpeg': '.mp3', 'audio/mp4': '.m4a', 'audio/aac': '.aac',
    'audio/ogg': '.ogg', 'audio/flac': '.flac', 'audio/wav': '.wav', 'audio/webm': '.weba', 'audio/opus': '.opus',
    'image/jpeg': '.jpg', 'image/png': '.png', 'image/gif': '.gif', 'image/webp': '.webp', 'image/avif': '.avif',
    'image/heic': '.heic', 'image/heif': '.heif',
    'image/svg+xml': '.svg', 'text/html': '.html', 'application/pdf': '.pdf', 'text/plain': '.txt',
}
# Bytes of a file one stream maps at a time: as much as a socket's send buffer takes at once (fewer maps and
# sends), but bounded, and smaller in a 32-bit process (a Raspberry Pi) whose address space is small.
MAP_CHUNK = (4 if sys.maxsize > 2 ** 32 else 1) * 1024 * 1024
RANGE = re.compile(r'^bytes=([0-9]*)-([0-9]*)$')
BEYOND_ANY_FILE = 10 ** 30
UNSATISFIABLE = 'unsatisfiable'


def sniff_mime(path, head=None):
    """Media type from the file's first bytes, falling back to its name."""
    if head is None:
        with open(path, 'rb') as fh:
            head = fh.read(64)
    return mime_from_magic(head) or mimetypes.guess_type(path)[0] or 'application/octet-stream'


HASH_CHUNK = 1024 * 1024


def content_hash(fh):
    """SHA-256 of an open file's bytes, hex: how a moved file is known again, and a duplicate found."""
    digest = hashlib.sha256()
    fh.seek(0)
    for chunk in iter(lambda: fh.read(HASH_CHUNK), b''):
        digest.update(chunk)
    fh.seek(0)
    return digest.hexdigest()


def file_hash(path):
    """content_hash of the file at `path`; None when it cannot be read."""
    try:
        with open(path, 'rb') as fh:
            return content_hash(fh)
    except OSError:
        return None


# ISO base media files that hold pictures (iPhones' photos): HEVC-coded HEIC, or any HEIF
HEIC_BRANDS = (b'heic', b'heix', b'hevc', b'hevx', b'heim', b'heis')
HEIF_BRANDS = (b'mif1', b'msf1')


def mime_from_magic(head):
    if head[4:8] == b'ftyp':
        brand = head[8:12]
        if brand in (b'M4A ', b'M4B '):
            return 'audio/mp4'
        if brand == b'qt  ':
            return 'video/quicktime'
        if brand in (b'avif', b'avis') or (brand in HEIF_BRANDS and b'avif' in head[16:64]):
            return 'image/avif'
        if brand in HEIC_BRANDS:
            return 'image/heic'
        if brand in HEIF_BRANDS:
            return 'image/heif'
        return 'video/mp4'
    if head.startswith(b'\x1a\x45\xdf\xa3'):
        return 'video/webm' if b'webm' in head else 'video/x-matroska'
    if head.startswith(b'RIFF') and head[8:12] == b'WAVE':
        return 'audio/wav'
    if head.startswith(b'RIFF') and head[8:12] == b'WEBP':
        return 'image/webp'
    if head.startswith(b'RIFF') and head[8:12] == b'AVI ':
        return 'video/x-msvideo'
    for magic, mime in MAGIC:
        if head.startswith(magic):
            return mime
    return None


MAGIC = [
    (b'\xff\xd8\xff', 'image/jpeg'), (b'\x89PNG\r\n\x1a\n', 'image/png'), (b'GIF87a', 'image/gif'),
    (b'GIF89a', 'image/gif'), (b'ID3', 'audio/mpeg'), (b'\xff\xfb', 'audio/mpeg'), (b'\xff\xf3', 'audio/mpeg'),
    (b'\xff\xf2', 'audio/mpeg'), (b'fLaC', 'audio/flac'), (b'OggS', 'audio/ogg'), (b'%PDF', 'application/pdf'),
    (b'\xff\xf1', 'audio/aac'), (b'\xff\xf9', 'audio/aac'), (b'\x00\x00\x01\xba', 'video/mpeg'),
]


def media_kind(mime):
    kind = (mime or '').split('/')[0]
    return kind if kind in MEDIA_KINDS else 'other'


def served_type(mime):
    """(Content-Type, Content-Disposition or None) for a stored type: allow-listed types inline only."""
    if mime in INLINE_TYPES:
        return mime, None
    return 'application/octet-stream', 'attachment'


def parse_range(header, size):
    """(start, end) inclusive for one satisfiable range, UNSATISFIABLE, or None to send the whole file.

    Malformed or multi-range headers are ignored, as RFC 9110 allows.
    """
    match = RANGE.match(header.strip().replace(' ', ''))
    if not match or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.groups()
    if not first:
        suffix = range_number(last)
        if suffix == 0 or size == 0:
            return UNSATISFIABLE
        return max(0, size - suffix), size - 1
    start = range_number(first)
    end = range_number(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        return UNSATISFIABLE
    return start, min(end, size - 1)


def range_number(digits):
    """A number of a Range header. One longer than 30 digits is past the end of any file, whatever it
    says (and int() refuses strings of over 4300 digits)."""
    digits = digits.lstrip('0') or '0'
    return int(digits) if len(digits) <= 30 else BEYOND_ANY_FILE


def etag_for(stat):
    return '"%x-%x-%x"' % (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def http_date(timestamp):
    return email.utils.formatdate(timestamp, usegmt=True)


def if_range_allows(if_range, etag, last_modified):
    """A Range is honoured when If-Range is absent or names the current (strong) validator."""
    if not if_range:
        return True
    if_range = if_range.strip()
    if if_range.startswith('"'):
        return if_range == etag
    return if_range == last_modified


def etag_matches(if_none_match, etag):
    if not if_none_match:
        return False
    tags = [tag.strip() for tag in if_none_match.split(',')]
    return '*' in tags or etag in tags or ('W/' + etag) in tags


class FileRange:
    """A seekable view of `length` bytes of an open file starting at `start`.

    `read` returns bytes, as WSGI iteration requires. A server that hands each read straight to send()
    sets `zero_copy` (`privtube_app.zero_copy_files` does, for Waitress): reads are then memoryviews of
    a bounded memory map of the file, so no bytes are copied, and bytes read again after a partial send
    cost nothing. Only the kernel touches mapped bytes, so a file truncated meanwhile makes send() fail
    with EFAULT rather than kill the server with SIGBUS.
    """

    def __init__(self, fh, start, length):
        self.fh = fh
        self.start = start
        self.end = start + length
        self.position = start
        self.zero_copy = False
        self.mapped, self.mapped_at = None, 0

    def read(self, size=-1):
        left = self.end - self.position
        size = left if size is None or size < 0 else min(size, left)
        if size <= 0:
            return b''
        data = self.view(size) if self.zero_copy else self.read_copy(size)
        self.position += len(data)
        return data

    def read_copy(self, size):
        self.fh.seek(self.position)
        return self.fh.read(size)

    def view(self, size):
        """Up to `size` bytes from the position: a memoryview of the mapped chunk holding them."""
        if self.mapped is None or not 0 <= self.position - self.mapped_at < len(self.mapped):
            self.map_chunk()
        offset = self.position - self.mapped_at
        return memoryview(self.mapped)[offset:offset + size]

    def map_chunk(self):
        # Dropped, not closed: a view still queued for send() keeps the old map alive until it is sent.
        self.mapped = None
        self.mapped_at = self.position - self.position % mmap.ALLOCATIONGRANULARITY
        length = min(MAP_CHUNK, self.end - self.mapped_at)
        # mmap raises ValueError if the file is now shorter than the chunk; the server drops the stream.
        self.mapped = mmap.mmap(self.fh.fileno(), length, offset=self.mapped_at, access=mmap.ACCESS_READ)

    def seek(self, offset, whence=0):
        self.position = {0: 0, 1: self.position, 2: self.end}[whence] + offset
        return self.position

    def tell(self):
        return self.position

    def close(self):
        self.mapped = None
        self.fh.close()


class BufferWindow(FileRange):
    """The same seekable view over bytes held in memory (a window fetched from a peer)."""

    def __init__(self, data, on_close=None):
        self.data, self.on_close = data, on_close
        self.fh, self.start, self.end, self.position = None, 0, len(data), 0
        self.zero_copy = False

    def read_copy(self, size):
        return bytes(self.data[self.position:self.position + size])

    def view(self, size):
        return memoryview(self.data)[self.position:self.position + size]

    def close(self):
        if self.data is not None and self.on_close:
            self.on_close()
        self.data = None


BIDI_CONTROLS = re.compile('[\u200e\u200f\u202a-\u202e\u2066-\u2069]')


def readable_name(name):
    """A file name the node did not choose, as text for people: bytes that are not UTF-8 replaced, control
    and bidirectional override characters (which would disguise the name) dropped."""
    try:
        raw = name.encode('utf-8', 'surrogateescape')
    except UnicodeEncodeError:          # a lone surrogate that no file name decoded to
        raw = name.encode('utf-8', 'replace')
    text = raw.decode('utf-8', 'replace')
    return BIDI_CONTROLS.sub('', ''.join(c for c in text if unicodedata.category(c) not in ('Cc', 'Zl', 'Zp')))


def content_disposition(kind, name):
    """`kind` with the file name as RFC 6266 sends it: an ASCII stand-in in `filename`, the name itself
    percent-encoded in `filename*`; a valid header value whatever the name holds."""
    from urllib.parse import quote
    name = readable_name(name).strip() or 'download'
    return "%s; filename=\"%s\"; filename*=UTF-8''%s" % (kind, ascii_stand_in(name), quote(name, safe=''))


def ascii_stand_in(name):
    """The name in printable ASCII for `filename=`: accents dropped, quotes and other letters as '_'."""
    plain = ''.join(c for c in unicodedata.normalize('NFKD', name) if not unicodedata.combining(c))
    return ''.join(c if ' ' <= c <= '~' and c not in '"\\%;' else '_' for c in plain).strip() or 'download'


def request_headers(environ):
    """The request headers that serving media reads, as the WSGI server handed them over (Latin-1 text):
    Bottle's `request.headers` decodes them as UTF-8 and raises on other bytes, e.g. a Range of b'\\xff'."""
    found = {}
    for name in ('Range', 'If-Range', 'If-None-Match'):
        value = environ.get('HTTP_' + name.upper().replace('-', '_'))
        if value is not None:
            found[name] = value
    return found


def file_response(response, headers, fh, mime, download_name=None):
    """Fill `response` for the file `fh` (opened by the caller); return the body to hand to Bottle."""
    stat = os.fstat(fh.fileno())
    size = stat.st_size
    etag, last_modified = etag_for(stat), http_date(stat.st_mtime)
    content_type, disposition = served_type(mime)
    response.set_header('Content-Type', content_type)
    if disposition or download_name:
        response.set_header('Content-Disposition', content_disposition(disposition or 'inline',
                                                                       download_name or 'download'))
    for name, value in (('Accept-Ranges', 'bytes'), ('ETag', etag), ('Last-Modified', last_modified),
                        ('X-Content-Type-Options', 'nosniff'), ('Cache-Control', 'private, max-age=0')):
        response.set_header(name, value)
    if etag_matches(headers.get('If-None-Match'), etag):
        fh.close()
        response.status = 304
        return b''
    asked = None
    if headers.get('Range') and if_range_allows(headers.get('If-Range'), etag, last_modified):
        asked = parse_range(headers['Range'], size)
    if asked == UNSATISFIABLE:
        fh.close()
        response.status = 416
        response.set_header('Content-Range', 'bytes */%d' % size)
        response.set_header('Content-Length', '0')
        return b''
    start, end = asked or (0, size - 1)
    if asked:
        response.status = 206
        response.set_header('Content-Range', 'bytes %d-%d/%d' % (start, end, size))
    response.set_header('Content-Length', str(end - start + 1))
    if size == 0:
        fh.close()
        return b''
    return FileRange(fh, start, end - start + 1)


# What common browsers (Chromium, Firefox, Safari) play in place, by container and codecs.
PLAYABLE_VIDEO = {'h264', 'vp8', 'vp9', 'av1'}
PLAYABLE_AUDIO = {'aac', 'mp3', 'opus', 'vorbis', 'flac'}
PLAYABLE_CONTAINERS = {'video/mp4', 'video/webm', 'audio/mp4', 'audio/webm', 'video/ogg', 'audio/ogg', 'audio/mpeg',
                       'audio/aac', 'audio/flac', 'audio/wav', 'audio/opus'}
PLAYABLE_IMAGES = {'image/jpeg', 'image/png', 'image/gif', 'image/webp', 'image/avif'}


def playability(mime, codecs, preview=False):
    """(True, '') when browsers can play the file in place, else (False, why, in words a person knows:
    the format's common name and what does play it; never a media type).
    `preview`: the photo has (or is getting) a JPEG preview, which pages show instead of the file.

    Without probe results (no ffprobe, or a peer's item) the container type alone decides.
    """
    kind = media_kind(mime)
    if kind == 'image':
        if mime in PLAYABLE_IMAGES or preview:
            return True, ''
        return False, 'Browsers cannot show %s pictures.' % format_name(mime)
    if kind == 'other':
        return False, 'This is not a video, a song or a photo, so it is not shown here.'
    unknown = [c for c in (codecs or '').split(',') if c and c not in PLAYABLE_VIDEO | PLAYABLE_AUDIO
               and not c.startswith('pcm_') and c != 'mjpeg']
    if unknown:
        return False, codecs_explained(unknown)
    if mime not in PLAYABLE_CONTAINERS:
        return False, ('Browsers cannot open %s files. It plays in VLC (videolan.org) on any computer or phone, '
                       'and on most TVs.' % format_name(mime))
    return True, ''


# The common name of each codec browsers do not play, and what does play it.
CODECS = {
    'hevc': ('HEVC (H.265) video', 'most phones, Apple devices, and Windows 10/11 with the HEVC extension'),
    'mpeg4': ('MPEG-4 Part 2 (DivX, Xvid) video', 'most TVs and DVD players'),
    'msmpeg4v3': ('DivX 3 video', 'Windows and most TVs'),
    'mpeg2video': ('MPEG-2 (DVD) video', 'DVD players and most TVs'),
    'mpeg1video': ('MPEG-1 video', 'Windows, Apple devices and most TVs'),
    'vc1': ('VC-1 video', 'Windows and Blu-ray players'),
    'wmv3': ('Windows Media video', 'Windows'),
    'wmav2': ('Windows Media sound', 'Windows'),
    'prores': ('Apple ProRes video', 'Macs'),
    'theora': ('Theora video', 'Firefox'),
    'ac3': ('Dolby Digital (AC-3) sound', 'TVs, home cinema systems and Apple devices'),
    'eac3': ('Dolby Digital Plus sound', 'TVs, home cinema systems and Apple devices'),
    'truehd': ('Dolby TrueHD sound', 'home cinema systems'),
    'dts': ('DTS sound', 'home cinema systems and most TVs'),
    'alac': ('Apple Lossless sound', 'Apple devices'),
    'amr_nb': ('AMR (phone call) sound', 'most phones'),
}
FORMATS = {
    'video/x-matroska': 'MKV (Matroska)', 'video/x-msvideo': 'AVI', 'video/quicktime': 'QuickTime (MOV)',
    'video/mpeg': 'MPEG', 'video/mp2t': 'MPEG transport stream (TS)', 'video/x-ms-wmv': 'Windows Media (WMV)',
    'video/x-flv': 'Flash video (FLV)', 'image/heic': 'HEIC (iPhone)', 'image/heif': 'HEIF', 'image/tiff': 'TIFF',
    'image/bmp': 'BMP', 'image/svg+xml': 'SVG drawing', 'image/x-icon': 'icon',
}


def codec_names(codecs):
    """The common names of codecs ('HEVC (H.265) video'); an unknown one by its short name in capitals."""
    return [CODECS[c][0] if c in CODECS else c.upper() for c in codecs]


def codecs_explained(codecs):
    """Which formats of the file browsers cannot play, and which devices play each."""
    where = ', '.join(dict.fromkeys(CODECS[c][1] for c in codecs if c in CODECS))
    return 'Most browsers cannot play %s. It plays %sin VLC (videolan.org) on any computer or phone.' % (
        ' or '.join(codec_names(codecs)), 'on %s, or ' % where if where else '')


def format_name(mime):
    """A file format as people call it: 'MKV (Matroska)', not a media type."""
    return FORMATS.get(mime) or (mime or '').split('/')[-1].replace('x-', '').upper() or 'these'
