"""What a media file holds, from ffprobe when it is installed, and the worker that records it.

Probing runs in one background thread owned by the node (one file at a time, so a small box stays
responsive), never inside a request. Items wait in the database with `media_state = 'pending'`, so work
queued by `scan` or `content add` in another process is picked up too. A failure is recorded on the
item and logged once; it is not retried until the file changes.
"""
import json
import logging
import os
import shutil
import subprocess
import threading

import privtube_media as media
from privtube_store import remove_quietly

logger = logging.getLogger('privtube.probe')

PROBE_SECONDS = 60
POLL_SECONDS = 5.0


class ProbeError(Exception):
    """ffprobe could not read the file; the message is stored on the item."""


def ffprobe_path():
    return shutil.which('ffprobe')


def probe(path, ffprobe=None):
    """{duration, width, height, container, codecs} of the file; all None without ffprobe."""
    empty = {'duration': None, 'width': None, 'height': None, 'container': None, 'codecs': None}
    ffprobe = ffprobe or ffprobe_path()
    if not ffprobe:
        return empty
    try:
        done = subprocess.run([ffprobe, '-v', 'error', '-print_format', 'json', '-show_format', '-show_streams',
                               '--', path], capture_output=True, timeout=PROBE_SECONDS)
    except subprocess.TimeoutExpired:
        raise ProbeError('ffprobe took longer than %d s' % PROBE_SECONDS)
    except OSError as exc:
        raise ProbeError('ffprobe could not run: %s' % exc)
    if done.returncode != 0:
        raise ProbeError(' '.join(done.stderr.decode('utf-8', 'replace').split())[:300] or 'ffprobe failed')
    try:
        return summarize(json.loads(done.stdout.decode('utf-8', 'replace')))
    except (ValueError, TypeError, AttributeError) as exc:
        raise ProbeError('ffprobe answered something unexpected: %s' % exc)


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
    """Probes pending items one at a time in a daemon thread; `run_pending()` does the same inline."""

    def __init__(self, node):
        self.node = node
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self.loop, name='privtube-media', daemon=True)
        self.thread.start()

    def stop(self, timeout=5.0):
        self.stopping.set()
        self.wake.set()
        if self.thread is not None and self.thread.is_alive():
            self.thread.join(timeout)

    def loop(self):
        while not self.stopping.is_set():
            try:
                self.run_pending()
            except Exception:    # the worker must outlive any one bad file or database hiccup
                logger.exception('media worker pass failed')
            self.wake.wait(POLL_SECONDS)
            self.wake.clear()

    def run_pending(self, limit=None):
        """Probe pending items until none is left (or `limit`); returns how many were handled."""
        done = 0
        with self.node.database.db.connection_context():
            while not self.stopping.is_set() and (limit is None or done < limit):
                item = self.next_pending()
                if item is None:
                    break
                self.handle(item)
                done += 1
        return done

    def thumbnail(self, item, path, found):
        target = self.node.store.thumbnail_path(item.id)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        made = make_thumbnail(path, media.media_kind(item.mime), found['duration'], target)
        if not made:
            remove_quietly(target)
        return made

    def next_pending(self):
        Item = self.node.database.Item
        return (Item.select().where((Item.origin == 'local') & (Item.media_state == 'pending'))
                .order_by(Item.seq).first())

    def handle(self, item):
        store = self.node.store
        path = store.full_path(item.path)
        try:
            if path is None:
                raise ProbeError('the file is missing')
            found = probe(path)
            found['thumbnail'] = self.thumbnail(item, path, found)
            store.record_probe(item, found)
        except ProbeError as exc:
            logger.warning('could not probe %s: %s', item.path, exc)
            store.record_probe_failure(item, str(exc))


THUMBNAIL_WIDTH = 480
THUMBNAIL_SECONDS = 60


def ffmpeg_path():
    return shutil.which('ffmpeg')


def make_thumbnail(path, kind, duration, target):
    """Write a JPEG at most 480 px wide to `target`: a frame at 10% of a video, the image itself, or an
    audio file's embedded cover. False when there is nothing to show or no ffmpeg."""
    ffmpeg = ffmpeg_path()
    if not ffmpeg or kind not in ('video', 'image', 'audio'):
        return False
    seek = ['-ss', '%.3f' % (duration * 0.1)] if kind == 'video' and duration else []
    pick = ['-an', '-map', '0:v:0'] if kind == 'audio' else []
    temp = target + '.tmp.jpg'
    command = [ffmpeg, '-y', '-loglevel', 'error'] + seek + ['-i', path] + pick + [
        '-frames:v', '1', '-vf', "scale='min(%d,iw)':-2" % THUMBNAIL_WIDTH, '-q:v', '4', temp]
    try:
        done = subprocess.run(command, capture_output=True, timeout=THUMBNAIL_SECONDS)
    except (subprocess.TimeoutExpired, OSError):
        done = None
    if done is None or done.returncode != 0 or not is_jpeg(temp):
        remove_quietly(temp)
        return False
    os.replace(temp, target)
    return True


def is_jpeg(path):
    try:
        with open(path, 'rb') as fh:
            return fh.read(3) == b'\xff\xd8\xff'
    except OSError:
        return False
