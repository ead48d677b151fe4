"""Thumbnails and display previews of photos, decoded in process by Pillow (ffmpeg stays for video and audio).

A JPEG is decoded at reduced scale (`draft`: the decoder skips what the target size does not need, so a
12-megapixel photo becomes a 480 px thumbnail several times faster than through ffmpeg); EXIF orientation
is applied, so a portrait phone photo is never shown sideways; one decode serves both the preview and the
thumbnail when both are made. HEIC/HEIF (iPhones) is read through pillow-heif when it is installed.

Pillow reads only the open file it is handed. A picture whose decoded pixels would not fit the memory
budget (a decompression bomb, or an honest but enormous panorama) fails with a reason a person can read
before any pixel is decoded.
"""
import functools
import io
import json
import os
import subprocess
import sys
import threading

import privtube_media as media

THUMBNAIL_WIDTH = 480           # as wide as today's thumbnails (cards are at most this wide)
PREVIEW_SIZE = 1920             # the long side of a display preview
THUMBNAIL_QUALITY, PREVIEW_QUALITY = 80, 85
MAX_DECODED_BYTES = 64 * 1024 * 1024    # what one decoded picture may take, so the worker stays small
MAX_PIXELS = 250 * 1000 * 1000  # what a file may claim at all, whatever its format (Pillow's bomb check)
# Types Pillow reads here, each with the one decoder it may use (so no other of Pillow's plugins, EPS with its
# Ghostscript say, ever sees an upload); browsers show all but HEIC/HEIF, whose previews pages show instead.
DECODERS = {'image/jpeg': 'JPEG', 'image/png': 'PNG', 'image/gif': 'GIF', 'image/webp': 'WEBP',
            'image/heic': 'HEIF', 'image/heif': 'HEIF'}
TYPES = tuple(DECODERS)
CODECS = {'JPEG': 'mjpeg', 'PNG': 'png', 'GIF': 'gif', 'WEBP': 'webp', 'HEIF': 'hevc'}   # as ffprobe names them
TURNED = (5, 6, 7, 8)           # EXIF orientations that swap width and height
UNREADABLE = 'not a picture this node can read'
TOO_LARGE = 'the picture is too large to show'
NO_HEIF = 'HEIC photos need pillow-heif, which is not installed'


class PhotoError(Exception):
    """A picture could not be read: `reason` is stored on the item, `detail` only logged."""

    def __init__(self, reason, detail=''):
        super().__init__(reason)
        self.reason, self.detail = reason, detail or reason


def is_photo(mime):
    return mime in TYPES


@functools.cache
def register_heif():
    """Teach Pillow HEIC/HEIF (once) when pillow-heif is installed; False when it is not."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def render(fh, mime, thumbnail=None, preview=None):
    """Decode the photo in `fh` once and write a JPEG thumbnail to the path `thumbnail` and/or a preview
    to `preview` (either may be None; the preview only when `needs_preview`). Returns {'width', 'height'}
    as displayed (after orientation), 'frames', and 'preview': whether one was written. Raises PhotoError."""
    picture = open_picture(fh, mime)
    try:
        width, height = displayed_size(picture)
        frames = getattr(picture, 'n_frames', 1)
        preview = preview if needs_preview(mime, width, height, frames) else None
        if thumbnail or preview:
            draw(picture, width, height, thumbnail, preview)
        return {'width': width, 'height': height, 'frames': frames, 'preview': preview is not None,
                'container': (picture.format or '').lower()[:100] or None,
                'codecs': CODECS.get(picture.format)}
    except (OSError, ValueError, SyntaxError, MemoryError) as exc:
        raise PhotoError(UNREADABLE, 'Pillow: %s' % exc)
    finally:
        picture.close()


def draw(picture, width, height, thumbnail, preview):
    """Decode once, at the larger of the sizes asked for, and write each JPEG."""
    check_pixels(picture)
    shown = decoded(picture, preview_size(width, height) if preview else thumbnail_size(width, height))
    if preview:
        write_jpeg(shown, preview, PREVIEW_QUALITY)
    if thumbnail:
        small = shown.resize(thumbnail_size(width, height), reducing_gap=2.0) if preview else shown
        write_jpeg(small, thumbnail, THUMBNAIL_QUALITY)


def open_picture(fh, mime):
    """The picture of `fh`, headers read, no pixel decoded yet."""
    from PIL import Image, UnidentifiedImageError
    if mime in ('image/heic', 'image/heif') and not register_heif():
        raise PhotoError(NO_HEIF)
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS // 2        # Pillow refuses twice this with DecompressionBombError
    fh.seek(0)
    try:
        return Image.open(fh, formats=[DECODERS[mime]])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoError(TOO_LARGE, str(exc))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise PhotoError(UNREADABLE, 'Pillow: %s' % exc)


def transposes():
    """What turns a picture of each EXIF orientation upright (as ImageOps.exif_transpose does)."""
    from PIL import Image
    turn = Image.Transpose
    return {2: turn.FLIP_LEFT_RIGHT, 3: turn.ROTATE_180, 4: turn.FLIP_TOP_BOTTOM, 5: turn.TRANSPOSE,
            6: turn.ROTATE_270, 7: turn.TRANSVERSE, 8: turn.ROTATE_90}


def orientation(picture):
    try:
        return int(picture.getexif().get(0x0112) or 1)
    except (ValueError, TypeError, SyntaxError, OSError):
        return 1


def displayed_size(picture):
    width, height = picture.size
    return (height, width) if orientation(picture) in TURNED else (width, height)


def thumbnail_size(width, height):
    """THUMBNAIL_WIDTH wide at the photo's aspect ratio (never enlarged)."""
    if width <= THUMBNAIL_WIDTH:
        return width, height
    return THUMBNAIL_WIDTH, max(1, round(height * THUMBNAIL_WIDTH / width))


def preview_size(width, height):
    """PREVIEW_SIZE on the long side at the photo's aspect ratio (never enlarged)."""
    scale = min(1.0, PREVIEW_SIZE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def check_pixels(picture):
    """Refuse a picture whose decode would take more than MAX_DECODED_BYTES. A JPEG is decoded at reduced
    scale, so for it the smallest scale (1/8) counts."""
    width, height = picture.size
    if width * height > MAX_PIXELS:
        raise PhotoError(TOO_LARGE, '%dx%d pixels' % (width, height))
    shrink = 64 if picture.format == 'JPEG' else 1
    if width * height * max(3, len(picture.getbands())) / shrink > MAX_DECODED_BYTES:
        raise PhotoError(TOO_LARGE, '%dx%d %s pixels' % (width, height, picture.format))


def decoded(picture, size):
    """The first frame, upright and RGB, at `size` (as displayed): a JPEG is decoded at the smallest scale
    that is still at least that large."""
    from PIL import Image
    turn = orientation(picture)
    stored = (size[1], size[0]) if turn in TURNED else size
    if picture.format == 'JPEG':
        picture.draft('RGB', stored)
        if picture.size[0] * picture.size[1] * 3 > MAX_DECODED_BYTES:
            raise PhotoError(TOO_LARGE, 'still %dx%d after draft' % picture.size)
    picture.seek(0)
    frame = opaque(picture)
    if frame.size != stored:
        frame = frame.resize(stored, Image.Resampling.LANCZOS, reducing_gap=3.0)
    method = transposes().get(turn)
    return frame.transpose(method) if method is not None else frame


def opaque(picture):
    """The picture in RGB; transparent parts (PNG, GIF, WebP) on white, as a page shows them."""
    from PIL import Image
    if picture.mode == 'RGB':
        return picture
    if 'A' not in picture.getbands() and 'transparency' not in picture.info:
        return picture.convert('RGB')
    clear = picture.convert('RGBA')
    white = Image.new('RGB', clear.size, (255, 255, 255))
    white.paste(clear, mask=clear.getchannel('A'))
    return white


def write_jpeg(picture, target, quality):
    """Write `picture` as a JPEG to `target` through a temporary file, so a reader never sees half of one."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    temp = target + '.tmp.jpg'
    buffer = io.BytesIO()
    picture.save(buffer, 'JPEG', quality=quality, optimize=False, progressive=False)
    try:
        with open(temp, 'wb') as out:
            out.write(buffer.getbuffer())
        os.replace(temp, target)
    except OSError:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


def needs_preview(mime, width, height, frames=1):
    """A preview is made when pages cannot show the file itself (HEIC) or it is larger than a screen;
    a moving GIF or WebP keeps showing itself."""
    if mime not in media.PLAYABLE_IMAGES:
        return True
    return frames <= 1 and max(width or 0, height or 0) > PREVIEW_SIZE


# --- one job of the worker: what a process of the pool runs ----------------------------------------------

def examine(path, mime, thumbnail=None, preview=None):
    """The work for one photo, run in a decoding process (or inline): open the file at `path` (checked by
    the caller to be inside the media folder) and render what is asked. Returns a dict of what was found
    (with 'preview_owed' when a preview is wanted but was not asked for now), or {'error': reason,
    'detail': ...}; never raises, so a decoding process keeps going. The file is not hashed here: the
    worker hashes it after every photo is shown (privtube_probe's hash pass)."""
    try:
        with open(path, 'rb') as fh:
            found = render(fh, mime, thumbnail, preview)
    except PhotoError as exc:
        return {'error': exc.reason, 'detail': exc.detail}
    except OSError as exc:
        return {'error': 'the file is missing', 'detail': str(exc)}
    frames = found.pop('frames')
    owed = preview is None and needs_preview(mime, found['width'], found['height'], frames)
    return dict(found, thumbnail=thumbnail is not None, preview_owed=owed)


# --- the pool: both cores for decoding, the worker's thread for the database ------------------------------

PROCESSES = 2
STOP_SECONDS = 5


class PhotoPool:
    """Runs `examine` jobs in a few decoding processes once `start`ed, else inline in the caller's thread
    (commands and tests). Each process is this file run by the same Python (it imports Pillow and nothing
    of the node, so it stays small), started at the first job (a node without photos starts none), fed
    one JSON line per job on its standard input and answering one per job on its standard output."""

    def __init__(self, processes=PROCESSES):
        self.processes = processes
        self.started = False
        self.workers = []
        self.lock = threading.Lock()        # the node's stop and the worker's thread both change `workers`

    def start(self):
        """From now on jobs go to the decoding processes, started at the first job."""
        self.started = True

    def stop(self):
        """Stop the decoding processes now (what they were doing is done again at the next start)."""
        with self.lock:
            self.started = False
        self.close_workers()

    def close_workers(self):
        with self.lock:
            workers, self.workers = self.workers, []
        for worker in workers:
            close_worker(worker)

    def run(self, jobs):
        """The result of each job (a tuple of `examine`'s arguments), in order, as each is ready. Jobs go
        round robin to the processes, so each process answers its own in order; when one dies (a picture
        that exhausted its memory, say) the job it was on fails, the processes are renewed, and the jobs
        not yet answered yield None (they stay owed and come again at the next pass)."""
        jobs = list(jobs)
        if not self.started or self.processes < 1:
            yield from (examine(*job) for job in jobs)
            return
        workers = self.ready_workers()
        if not workers:         # stopped meanwhile
            yield from (None for _ in jobs)
            return
        for index, job in enumerate(jobs):
            send(workers[index % len(workers)], job)
        for index in range(len(jobs)):
            found = receive(workers[index % len(workers)])
            if found is None and not self.started:      # stopped meanwhile: nothing failed
                yield from (None for _ in jobs[index:])
                return
            if found is None:
                self.close_workers()
                yield {'error': UNREADABLE, 'detail': 'its decoding process died'}
                yield from (None for _ in jobs[index + 1:])
                return
            yield found

    def ready_workers(self):
        """The running decoding processes, started as needed; none once the pool is stopped."""
        with self.lock:
            self.workers = [worker for worker in self.workers if worker.poll() is None]
            while self.started and len(self.workers) < self.processes:
                self.workers.append(subprocess.Popen([sys.executable, os.path.abspath(__file__)],
                                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True))
            return list(self.workers)

    def pids(self):
        return [worker.pid for worker in self.workers]


def send(worker, job):
    try:
        worker.stdin.write(json.dumps(list(job)).encode('ascii') + b'\n')
        worker.stdin.flush()
    except (BrokenPipeError, OSError):
        pass        # it died: its answer is missing, and that is handled there


def receive(worker):
    """The next answer of `worker`; None when it died (or was stopped meanwhile, its pipe closed)."""
    try:
        line = worker.stdout.readline()
        return json.loads(line) if line else None
    except (ValueError, OSError):
        return None


def close_worker(worker):
    """End a decoding process without waiting for the jobs queued on its pipe."""
    try:
        worker.stdin.close()
    except OSError:
        pass
    worker.terminate()
    try:
        worker.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
    worker.stdout.close()


def serve_jobs(source, answers):
    """A decoding process: one JSON job per line of `source`, one JSON answer per line to `answers`, until
    `source` ends (the node closed it)."""
    import PIL.Image  # noqa: F401  (imported while the node writes the jobs)
    for line in source:
        answers.write(json.dumps(examine(*json.loads(line))).encode('ascii') + b'\n')
        answers.flush()


if __name__ == '__main__':
    serve_jobs(sys.stdin.buffer, sys.stdout.buffer)
