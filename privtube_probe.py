"""What a media file holds, from ffprobe when it is installed, and the worker that records it.

Probing runs in one background thread owned by the node (one file at a time, so a small box stays
responsive), never inside a request; photos are read by Pillow instead (privtube_photos), in two small
decoding processes when the node serves. Items wait in the database with `media_state = 'pending'`, so work
queued by `scan` or `content add` in another process is picked up too. A failure is recorded on the
item as a short reason a person can read (the detail goes to the log, once); it is not retried until the
file changes.

ffprobe and ffmpeg read the item's one file and nothing else: the file reaches them as their standard
input (`pipe:0`), the only protocol they may use, and they must read it with the one demuxer of its sniffed
type. So no playlist (HLS, concat), image sequence, data reference or `subfile` hidden in an upload can make
them open another file, and a file whose bytes are not the container its type names is not read at all.
"""
import json
import logging
import os
import shutil
import struct
import subprocess
import threading

import privtube_media as media
import privtube_music
import privtube_photos as photos
import privtube_taken
from privtube_store import remove_quietly

logger = logging.getLogger('privtube.probe')

PROBE_SECONDS = 60
POLL_SECONDS = 5.0
HASH_BATCH = 200
PHOTO_BATCH = 32        # photos handed to the decoding processes at a time
TOGETHER = 2            # this few new photos get their thumbnail and preview from one decode

# The one demuxer each type may be read with. None of them opens a second input (mov's external data
# references stay off); types not listed are never handed to ffmpeg.
DEMUXERS = {
    'video/mp4': 'mov', 'video/quicktime': 'mov', 'audio/mp4': 'mov', 'image/avif': 'mov',
    'video/webm': 'matroska', 'video/x-matroska': 'matroska', 'audio/webm': 'matroska',
    'video/ogg': 'ogg', 'audio/ogg': 'ogg', 'audio/opus': 'ogg', 'audio/mpeg': 'mp3', 'audio/aac': 'aac',
    'audio/flac': 'flac', 'audio/wav': 'wav', 'video/x-msvideo': 'avi', 'video/mpeg': 'mpeg',
    'image/jpeg': 'jpeg_pipe', 'image/png': 'png_pipe', 'image/gif': 'gif', 'image/webp': 'webp_pipe',
}
DEMUXER_OPTIONS = {'mov': ['-enable_drefs', '0']}

# What a person is told; the detail behind each goes to the log only (it may hold server paths).
NOT_PLAYABLE = 'not a playable file'
UNSUPPORTED_CODEC = 'unsupported codec'
MISSING = 'the file is missing'
TOO_SLOW = 'reading the file took too long'
NO_TOOL = 'the media tools could not run'
REASONS = (NOT_PLAYABLE, UNSUPPORTED_CODEC, MISSING, TOO_SLOW, NO_TOOL)


class ProbeError(Exception):
    """ffprobe could not read the file: `reason` is stored on the item, `detail` only logged."""

    def __init__(self, reason, detail=''):
        super().__init__(reason)
        self.reason, self.detail = reason, detail or reason


def ffprobe_path():
    return shutil.which('ffprobe')


def demuxer_for(mime, head):
    """The demuxer for a file of type `mime` whose first bytes are `head`; None when the bytes are not that
    container (a file named .mp3 or .mkv that holds a playlist, say) or the type is not one we read."""
    if media.mime_from_magic(head) != mime:
        return None
    return DEMUXERS.get(mime)


def input_options(demuxer):
    """ffmpeg/ffprobe options that read standard input with `demuxer` and nothing else."""
    return (['-protocol_whitelist', 'pipe', '-format_whitelist', demuxer, '-f', demuxer]
            + DEMUXER_OPTIONS.get(demuxer, []) + ['-i', 'pipe:0'])


def run_on_file(command, fh, timeout, started=None):
    """Run `command` with the open file `fh` as its standard input (an MP4 whose index sits after its
    media is handed over index first, since a pipe cannot seek back); returns the CompletedProcess.
    `started(process)`, when given, is told of the running child, so its owner can stop it early."""
    layout = faststart_layout(fh)
    fh.seek(0)
    os.lseek(fh.fileno(), 0, os.SEEK_SET)     # the child reads the descriptor, not Python's buffer
    if layout is None:
        process = subprocess.Popen(command, stdin=fh, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return finish(process, timeout, started)
    read_end, write_end = os.pipe()
    try:
        process = subprocess.Popen(command, stdin=read_end, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    finally:
        os.close(read_end)
    feeder = threading.Thread(target=feed, args=(fh, layout, write_end), name='privtube-probe-feed', daemon=True)
    feeder.start()
    try:
        return finish(process, timeout, started)
    finally:
        feeder.join(5)


def finish(process, timeout, started):
    """Wait for `process` (killed after `timeout` seconds, as subprocess.run does) and collect its output."""
    if started is not None:
        started(process)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def feed(fh, layout, write_end):
    """Write the parts of `layout` (bytes, or (offset, length) of `fh`) to the pipe; stop if ffmpeg has."""
    try:
        with os.fdopen(write_end, 'wb') as out:
            for part in layout:
                if isinstance(part, (bytes, bytearray)):
                    out.write(part)
                    continue
                offset, length = part
                fh.seek(offset)
                while length > 0:
                    chunk = fh.read(min(FEED_CHUNK, length))
                    if not chunk:
                        return
                    out.write(chunk)
                    length -= len(chunk)
    except (BrokenPipeError, OSError, ValueError):
        pass        # ffmpeg stopped reading: it has what it needed, or failed on its own


# --- MP4 index first ---------------------------------------------------------------------------------

FEED_CHUNK = 1024 * 1024
MAX_MOOV = 64 * 1024 * 1024
MAX_BOXES = 100000
INDEX_PARENTS = {b'trak', b'mdia', b'minf', b'stbl'}    # where chunk offset tables (stco, co64) live


def faststart_layout(fh):
    """For an MP4/QuickTime file whose index (`moov`) follows its media (`mdat`), the parts of the same file
    with the index moved first and its chunk offsets shifted to match; None when it needs no change or
    cannot be reordered safely (then the file is handed over as it is)."""
    boxes = top_level_boxes(fh)
    kinds = [kind for kind, _, _ in boxes or ()]
    if not boxes or b'moov' not in kinds or b'mdat' not in kinds or kinds.count(b'moov') != 1:
        return None
    moov_at, first_mdat = kinds.index(b'moov'), kinds.index(b'mdat')
    if moov_at < first_mdat or b'mdat' in kinds[moov_at:]:
        return None
    _, offset, length = boxes[moov_at]
    if length > MAX_MOOV:
        return None
    fh.seek(offset)
    moov = bytearray(fh.read(length))
    if len(moov) != length or not shift_chunk_offsets(moov, header_size(moov), len(moov), length):
        return None
    rest = [(at, size) for index, (_, at, size) in enumerate(boxes) if index != moov_at]
    return rest[:first_mdat] + [bytes(moov)] + rest[first_mdat:]


def top_level_boxes(fh):
    """[(type, offset, length)] of the file's top-level boxes; None unless they tile the whole file."""
    size = os.fstat(fh.fileno()).st_size
    boxes, at = [], 0
    while at < size and len(boxes) < MAX_BOXES:
        fh.seek(at)
        box = box_at(fh.read(16), size - at)
        if box is None:
            return None
        boxes.append((box[0], at, box[1]))
        at += box[1]
    return boxes if at == size else None


def box_at(header, room):
    """(type, length) of the box whose first bytes are `header`, with `room` bytes left; None if invalid."""
    if len(header) < 8:
        return None
    length, kind = struct.unpack('>I4s', header[:8])
    if length == 1:
        length = struct.unpack('>Q', header[8:16])[0] if len(header) >= 16 else 0
    elif length == 0:
        length = room
    return (kind, length) if 8 <= length <= room else None


def header_size(data, at=0):
    return 16 if struct.unpack('>I', data[at:at + 4])[0] == 1 else 8


def shift_chunk_offsets(data, start, end, delta):
    """Add `delta` to every chunk offset in the boxes between `start` and `end` of `data`; False if a box
    is malformed or an offset would not fit."""
    at = start
    while at < end:
        box = box_at(bytes(data[at:at + 16]), end - at)
        if box is None:
            return False
        kind, length = box
        inner = at + header_size(data, at)
        if kind in INDEX_PARENTS and not shift_chunk_offsets(data, inner, at + length, delta):
            return False
        if kind in (b'stco', b'co64') and not shift_table(data, inner, at + length, kind == b'co64', delta):
            return False
        at += length
    return True


def shift_table(data, start, end, wide, delta):
    """Shift the entries of one stco (32-bit) or co64 (64-bit) table in place."""
    form, width = ('>Q', 8) if wide else ('>I', 4)
    if end - start < 8:
        return False
    count = struct.unpack('>I', data[start + 4:start + 8])[0]
    if start + 8 + count * width > end:
        return False
    for at in range(start + 8, start + 8 + count * width, width):
        value = struct.unpack(form, data[at:at + width])[0] + delta
        if value >= 1 << (8 * width):
            return False
        data[at:at + width] = struct.pack(form, value)
    return True


# --- probing -------------------------------------------------------------------------------------------

EMPTY = {'duration': None, 'width': None, 'height': None, 'container': None, 'codecs': None, 'taken': None}


def probe(fh, demuxer, ffprobe=None):
    """{duration, width, height, container, codecs, taken} of the open file read with `demuxer` (taken: the
    container's creation time, ISO 8601 UTC); all None without ffprobe."""
    ffprobe = ffprobe or ffprobe_path()
    if not ffprobe:
        return dict(EMPTY)
    command = [ffprobe, '-v', 'error', '-print_format', 'json', '-show_format', '-show_streams'
               ] + input_options(demuxer)
    done = run_tool(command, fh, PROBE_SECONDS)
    if done.returncode != 0:
        raise ProbeError(failure_reason(done.stderr), 'ffprobe: ' + tool_message(done.stderr))
    try:
        found = summarize(json.loads(done.stdout.decode('utf-8', 'replace')))
    except (ValueError, TypeError, AttributeError) as exc:
        raise ProbeError(NOT_PLAYABLE, 'ffprobe answered something unexpected: %s' % exc)
    if not found['codecs']:
        raise ProbeError(NOT_PLAYABLE, 'ffprobe found no audio, video or picture')
    if found['duration'] is None and found['timed']:
        found['duration'] = duration_from_packets(ffprobe, fh, demuxer)
    del found['timed']
    return found


def duration_from_packets(ffprobe, fh, demuxer):
    """The end of the last packet: a pipe has no size, so formats that take their duration from the file's
    size or its last page (MP3 without a frame count, ADTS, Ogg) are timed by reading their packets."""
    command = [ffprobe, '-v', 'error', '-show_entries', 'packet=pts_time,duration_time', '-of', 'csv=p=0'
               ] + input_options(demuxer)
    try:
        done = run_tool(command, fh, PROBE_SECONDS)
    except ProbeError as exc:        # the rest of what was found still stands
        logger.debug('no duration for a %s file: %s', demuxer, exc.detail)
        return None
    end = 0.0
    for line in done.stdout.decode('ascii', 'replace').splitlines():
        parts = line.strip().strip(',').split(',')
        try:
            end = max(end, sum(float(part) for part in parts[:2] if part not in ('', 'N/A')))
        except ValueError:
            continue
    return positive_float(end)


def run_tool(command, fh, timeout):
    try:
        return run_on_file(command, fh, timeout)
    except subprocess.TimeoutExpired:
        raise ProbeError(TOO_SLOW, '%s took longer than %d s' % (os.path.basename(command[0]), timeout))
    except OSError as exc:
        raise ProbeError(NO_TOOL, '%s could not run: %s' % (os.path.basename(command[0]), exc))


def tool_message(stderr):
    return ' '.join(stderr.decode('utf-8', 'replace').split())[:300] or 'failed'


def failure_reason(stderr):
    text = stderr.decode('utf-8', 'replace').lower()
    return UNSUPPORTED_CODEC if 'unsupported codec' in text or 'decoder not found' in text else NOT_PLAYABLE

def summarize(report):
    streams = [s for s in report.get('streams', []) if isinstance(s, dict)]
    video = next((s for s in streams if s.get('codec_type') == 'video'
                  and not (s.get('disposition') or {}).get('attached_pic')), None)
    picture = video or next((s for s in streams if s.get('codec_type') == 'video'), None)
    fmt = report.get('format') or {}
    codecs = [s.get('codec_name') for s in streams if s.get('codec_type') in ('video', 'audio') and s.get('codec_name')]
    return {
        'duration': positive_float(fmt.get('duration')) if video or has_audio(streams) else None,
        'width': positive_int(picture.get('width')) if picture else None,
        'height': positive_int(picture.get('height')) if picture else None,
        'container': (fmt.get('format_name') or '')[:100] or None,
        'codecs': ','.join(dict.fromkeys(codecs))[:200] or None,
        'taken': privtube_taken.container_taken(fmt.get('tags')),
        'timed': bool(video or has_audio(streams)),
        'subtitle_streams': [s for s in streams if s.get('codec_type') == 'subtitle'],   # privtube_subtitles
        'song': privtube_music.song_tags(report) if has_audio(streams) and not video else {},
    }


def has_audio(streams):
    return any(s.get('codec_type') == 'audio' for s in streams)


def positive_float(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return round(number, 3) if number > 0 and number < 1e9 else None


def positive_int(value):
    return value if isinstance(value, int) and 0 < value < 100000 else None


class MediaWorker:
    """Probes pending items in a daemon thread; `run_pending()` does the same inline.

    Photos are decoded by Pillow (privtube_photos) in a small pool of processes, the database written
    here. A new library is browsable early: every pending item gets its thumbnail before any photo gets
    its display preview (`preview_owed` in the database, so the order survives a restart)."""

    def __init__(self, node):
        self.node = node
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread = None
        self.photos = photos.PhotoPool()
        self.on_probed = None       # called with each probed batch (the node's remux worker looks at it)

    def start(self):
        self.photos.start()
        self.thread = threading.Thread(target=self.loop, name='privtube-media', daemon=True)
        self.thread.start()

    def stop(self, timeout=5.0):
        self.stopping.set()
        self.wake.set()
        self.photos.stop()      # first: the thread may be waiting for a decoding process
        if self.thread is not None and self.thread.is_alive():
            self.thread.join(timeout)

    def loop(self):
        while not self.stopping.is_set():
            try:
                self.run_pending()
                while self.hash_unhashed() and not self.stopping.is_set() and not self.wake.is_set():
                    pass        # new work (wake) goes first
            except Exception:    # the worker must outlive any one bad file or database hiccup
                logger.exception('media worker pass failed')
            self.wake.wait(POLL_SECONDS)
            self.wake.clear()

    def run_pending(self, limit=None):
        """Probe pending items until none is left (or `limit`), then make the previews owed while no new
        item waits, and bring the music albums in line when songs were read; returns how many items were
        handled."""
        done, songs = 0, False
        with self.node.database.db.connection_context():
            while not self.stopping.is_set() and (limit is None or done < limit):
                batch = self.pending(PHOTO_BATCH if limit is None else min(PHOTO_BATCH, limit - done))
                if not batch:
                    batch = self.owed_previews(PHOTO_BATCH if limit is None else min(PHOTO_BATCH, limit - done))
                    if not batch:
                        break
                    self.make_previews(batch)
                else:
                    self.handle_batch(batch)
                    songs = songs or any(media.media_kind(item.mime) == 'audio' for item in batch)
                    if self.on_probed is not None:
                        self.on_probed(batch)
                done += len(batch)
            if songs:       # the music albums read every song and folder: only when a song's tags were read
                privtube_music.MusicAlbums(self.node.store).sync()
        return done

    def pending(self, limit):
        Item = self.node.database.Item
        return list(Item.select().where((Item.origin == 'local') & (Item.media_state == 'pending'))
                    .order_by(Item.seq).limit(limit))

    def owed_previews(self, limit):
        Item = self.node.database.Item
        return list(Item.select().where((Item.origin == 'local') & (Item.preview_owed == True)  # noqa: E712
                                        & (Item.media_state == 'done')).order_by(Item.seq).limit(limit))

    def handle_batch(self, items):
        """Probe other files one by one; decode the photos in the pool, thumbnails only unless they are few."""
        found = [item for item in items if photos.is_photo(item.mime)]
        for item in items:
            if not photos.is_photo(item.mime) and not self.stopping.is_set():
                self.handle(item)
        together = len(found) <= TOGETHER
        store = self.node.store
        jobs = [(item, (store.thumbnail_path(item.id), store.preview_path(item.id) if together else None))
                for item in found]
        self.run_photos(jobs, self.record_photo)

    def make_previews(self, items):
        store = self.node.store
        self.run_photos([(item, (None, store.preview_path(item.id))) for item in items], self.record_preview)

    def run_photos(self, jobs, record):
        """Hand each photo to the pool with the targets asked for; `record(item, found)` each result."""
        ready = []
        for item, targets in jobs:
            path = self.node.store.full_path(item.path)
            if path is None:
                record(item, {'error': MISSING, 'detail': 'no file at %s' % item.path})
            else:
                ready.append((item, (path, item.mime) + targets))
        results = self.photos.run([job for _, job in ready])
        for (item, _), found in zip(ready, results):
            if found is None:
                return          # cancelled: the node is stopping, the item stays as it was
            record(item, found)

    def record_photo(self, item, found):
        store = self.node.store
        if found.get('error'):
            logger.warning('could not read the photo %s: %s', item.path, found['detail'])
            remove_quietly(store.thumbnail_path(item.id))
            remove_quietly(store.preview_path(item.id))
            store.items.record_probe_failure(item, found['error'])
            return
        if not found['preview']:
            remove_quietly(store.preview_path(item.id))     # an earlier version's
        store.items.record_probe(item, dict(EMPTY, **found))

    def record_preview(self, item, found):
        if found.get('error'):
            logger.warning('no preview for the photo %s: %s', item.path, found['detail'])
        self.node.store.items.record_preview(item, not found.get('error') and found['preview'])

    def hash_unhashed(self, batch=HASH_BATCH):
        """Hash up to `batch` probed items that have no content hash yet (photos, hashed once they are
        shown, and items recorded before hashes were kept); '' marks a file that cannot be read. The files
        are read outside any transaction and the hashes written in one. Returns how many were handled. The
        hash is not sent to peers, so the items keep their change numbers."""
        Item = self.node.database.Item
        with self.node.database.db.connection_context():
            rows = list(Item.select(Item.id, Item.path, Item.mtime_ns).where(
                (Item.origin == 'local') & Item.content_hash.is_null() & Item.trashed.is_null()
                & (Item.media_state != 'pending')).limit(batch).tuples())
            found = [(self.hash_of(path), item_id, mtime_ns) for item_id, path, mtime_ns in rows]
            with self.node.database.db.atomic():
                for digest, item_id, mtime_ns in found:     # unless the file changed meanwhile
                    Item.update(content_hash=digest).where(
                        (Item.id == item_id) & (Item.mtime_ns == mtime_ns) & Item.content_hash.is_null()).execute()
        return len(rows)

    def hash_of(self, path):
        full = self.node.store.full_path(path)
        return (media.file_hash(full) if full else None) or ''

    def handle(self, item):
        """Probe one item; its content hash is taken on the way, whether or not the probe succeeds (larger
        files are hashed here, in the background, rather than when a scan records them)."""
        store = self.node.store
        digest = None
        try:
            with self.open_item(item) as fh:
                digest = item.content_hash or media.content_hash(fh)
                found = self.examine(item, fh)
            store.items.record_probe(item, dict(found, content_hash=digest))
        except ProbeError as exc:
            logger.warning('could not probe %s: %s', item.path, exc.detail)
            remove_quietly(store.thumbnail_path(item.id))
            remove_quietly(store.preview_path(item.id))
            store.items.record_probe_failure(item, exc.reason, digest)

    def open_item(self, item):
        path = self.node.store.full_path(item.path)
        if path is None:
            raise ProbeError(MISSING, 'no file at %s' % item.path)
        try:
            return open(path, 'rb')
        except OSError as exc:
            raise ProbeError(MISSING, str(exc))

    def examine(self, item, fh):
        """What the file holds: probed with the demuxer of its type, nothing for files that are not media."""
        kind = media.media_kind(item.mime)
        if kind == 'other':
            return dict(EMPTY, thumbnail=False)
        demuxer = demuxer_for(item.mime, fh.read(64))
        if demuxer is None:
            raise ProbeError(NOT_PLAYABLE, 'its bytes are not the %s container its type names' % item.mime)
        found = probe(fh, demuxer)
        found['thumbnail'] = self.thumbnail(item, fh, demuxer, found)
        streams = found.pop('subtitle_streams', [])
        if kind == 'video':
            from privtube_subtitles import Subtitles  # deferred: it reads files through this module
            found['subtitles'] = Subtitles(self.node.store).of_probe(item, fh, demuxer, streams)
        return found

    def thumbnail(self, item, fh, demuxer, found):
        target = self.node.store.thumbnail_path(item.id)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        made = make_thumbnail(fh, demuxer, media.media_kind(item.mime), found['duration'], target)
        if not made:
            remove_quietly(target)
        return made


# --- thumbnails ----------------------------------------------------------------------------------------

THUMBNAIL_WIDTH = 480
THUMBNAIL_SECONDS = 60
MAX_THUMBNAIL_BYTES = 4 * 1024 * 1024


def ffmpeg_path():
    return shutil.which('ffmpeg')


def make_thumbnail(fh, demuxer, kind, duration, target):
    """Write a JPEG at most 480 px wide to `target`: a frame at 10% of a video, the image itself, or an
    audio file's embedded cover. False when there is nothing to show or no ffmpeg."""
    ffmpeg = ffmpeg_path()
    if not ffmpeg or kind not in ('video', 'image', 'audio'):
        return False
    seek = ['-ss', '%.3f' % (duration * 0.1)] if kind == 'video' and duration else []
    pick = ['-an', '-map', '0:v:0'] if kind == 'audio' else []
    command = [ffmpeg, '-nostdin', '-loglevel', 'error'] + seek + input_options(demuxer) + pick + [
        '-frames:v', '1', '-vf', "scale='min(%d,iw)':-2" % THUMBNAIL_WIDTH, '-q:v', '4',
        '-f', 'image2pipe', '-c:v', 'mjpeg', 'pipe:1']
    try:
        done = run_on_file(command, fh, THUMBNAIL_SECONDS)
    except (subprocess.TimeoutExpired, OSError):
        return False
    picture = done.stdout
    if seek and done.returncode == 0 and not picture:   # MKV: a pipe cannot seek to its index; take the first frame
        return make_thumbnail(fh, demuxer, kind, None, target)
    if done.returncode != 0 or not picture.startswith(b'\xff\xd8\xff') or len(picture) > MAX_THUMBNAIL_BYTES:
        return False
    write_file(target, picture)
    return True


def write_file(target, data):
    temp = target + '.tmp.jpg'
    try:
        with open(temp, 'wb') as out:
            out.write(data)
        os.replace(temp, target)
    except OSError:
        remove_quietly(temp)
        raise
