"""Browser-playable copies of videos whose codecs browsers play but whose container they do not.

An H.264/AAC film in an MKV or AVI file, say, is rewrapped once by ffmpeg (`-c copy`: nothing is
re-encoded, so a Raspberry Pi does it at disk speed) into an MP4 with its index first, or into a WebM for
VP8/VP9 with Opus or Vorbis, kept in the node's cache as `cache/remux/ITEM.mp4|webm` and served with Range
like the original (`/play/ITEM`). Downloads always give the original.

The work runs in one daemon thread owned by the node, one copy at a time, only while no new file waits to
be probed, never in a request. ffmpeg reads the item's file only on its standard input through
privtube_probe's pipe-only runner and writes a temporary file in the cache, renamed when complete.
The first video stream and the sound tracks browsers play are kept; subtitles, data and attachments are
dropped (MP4 cannot hold most of them).

`item.remux` says where an item stands: None (not looked at yet, or its file changed), 'pending' (queued),
'ready', 'failed' (ffmpeg could not rewrap it), 'too_big' (the copy alone would pass the cache's limit) or
'dropped' (removed to make room: made again when someone opens its page). The copies may take
`[store] remux_cache_percent` of the free disk (counting the copies themselves) and at most
`remux_cache_mb`; the oldest made are dropped first.
"""
import json
import logging
import os
import shutil
import subprocess
import threading
from collections import namedtuple

import privtube_media as media
import privtube_probe as probe
from privtube_store import remove_quietly

logger = logging.getLogger('privtube.remux')

POLL_SECONDS = 10.0
PROBE_SECONDS = 60
MIB = 1024 * 1024
TEMP = '.partial'

# The containers browsers cannot open but whose streams they may play, each read with its one demuxer.
REMUXABLE = {'video/x-matroska', 'video/x-msvideo', 'video/quicktime', 'video/mpeg'}
Target = namedtuple('Target', 'extension mime muxer video audio')
TARGETS = (
    Target('mp4', 'video/mp4', ['-movflags', '+faststart', '-f', 'mp4'], {'h264', 'av1'}, {'aac', 'mp3'}),
    Target('webm', 'video/webm', ['-f', 'webm'], {'vp8', 'vp9', 'av1'}, {'opus', 'vorbis'}),
)
# Video codecs browsers do not play: a file holding one has nothing for a copy to show.
UNPLAYABLE_VIDEO = {'hevc', 'mpeg4', 'msmpeg4v1', 'msmpeg4v2', 'msmpeg4v3', 'mpeg1video', 'mpeg2video', 'vc1',
                    'wmv1', 'wmv2', 'wmv3', 'h263', 'theora', 'prores', 'mjpeg', 'dvvideo', 'rv30', 'rv40', 'flv1'}


def remux_target(mime, codecs):
    """The Target a file of type `mime` holding `codecs` (probed, comma-separated) is rewrapped into, or None
    when it needs no copy or a copy would not play. Codecs neither target knows are taken for extra sound
    tracks (dropped from the copy) when a playable one is there too."""
    names = set(filter(None, (codecs or '').split(',')))
    if mime not in REMUXABLE or mime not in probe.DEMUXERS or not names or names & UNPLAYABLE_VIDEO:
        return None
    for target in TARGETS:
        kept, other = names & (target.video | target.audio), names - target.video - target.audio
        if kept and not (other & (TARGETS[0].video | TARGETS[1].video)) and (not other or kept & target.audio):
            return target
    return None


def target_named(extension):
    return next(target for target in TARGETS if target.extension == extension)


def chosen_streams(streams, target):
    """Input stream numbers to keep: the first video (cover pictures are not one) and every sound track
    `target` plays; None when the video is not one it plays, or the file has sound but none it plays."""
    video = [s for s in streams if s.get('codec_type') == 'video'
             and not (s.get('disposition') or {}).get('attached_pic')]
    audio = [s for s in streams if s.get('codec_type') == 'audio']
    kept_audio = [s for s in audio if s.get('codec_name') in target.audio]
    if (video and video[0].get('codec_name') not in target.video) or (audio and not kept_audio):
        return None
    chosen = video[:1] + kept_audio
    numbers = [s.get('index') for s in chosen]
    return numbers if chosen and all(isinstance(n, int) and 0 <= n < 10000 for n in numbers) else None


# --- what the watch page plays -------------------------------------------------------------------------

Playback = namedtuple('Playback', 'src kind why_not preparing')


def playback(node, item):
    """What the watch page plays (src None: nothing in place) and, when nothing, why, in plain words;
    `preparing` while a copy for the browser is on its way."""
    kind = media.media_kind(item.mime)
    # a photo Pillow could read has (or soon has) a JPEG preview, which the page shows
    playable, why_not = media.playability(item.mime, item.codecs, preview=item.preview or item.thumbnail)
    if playable:
        return Playback('/media/%s' % item.id, kind, '', False)
    if not item.is_local:
        return peer_playback(node, item, kind, why_not)
    return copy_playback(node.remux, item, kind, why_not)


def peer_playback(node, item, kind, why_not):
    """The Playback of a peer's file browsers cannot open as it is: the copy its origin made, when the origin
    says it has one (privtube_peer_copies asks it once, briefly, and keeps the answer), else why not."""
    if item.mime not in REMUXABLE:
        return Playback(None, 'other', why_not, False)
    if node.peer_copies.copy_of(item) is None:
        return Playback(None, 'other', why_not + PEERS % item.origin, False)
    return Playback('/play/%s' % item.id, kind, '', False)


def copy_playback(worker, item, kind, why_not):
    """The Playback of a local file browsers cannot open as it is: its copy, or where the copy stands."""
    if worker.enabled and item.mime in REMUXABLE and item.media_state == 'pending':
        return Playback(None, 'other', READING, True)
    if not worker.enabled or remux_target(item.mime, item.codecs) is None or item.media_state != 'done':
        return Playback(None, 'other', why_not, False)
    if item.remux == 'ready' and worker.copy_path(item):
        return Playback('/play/%s' % item.id, kind, '', False)
    if item.remux == 'dropped':
        worker.ask_again(item)
    if item.remux in (None, 'pending', 'dropped'):
        return Playback(None, 'other', PREPARING, True)
    return Playback(None, 'other', (TOO_BIG if item.remux == 'too_big' else FAILED) + ' ' + why_not, False)


PREPARING = ('This video is being prepared for the browser: its picture and sound are put into a format browsers '
             'open, without changing them. It plays here in a few minutes; until then you can download it.')
READING = ('This file is still being read. If browsers play its picture and sound, it is prepared for the browser '
           'next and plays here in a few minutes; until then you can download it.')
TOO_BIG = 'Its copy for the browser would take more room than this node keeps for such copies.'
FAILED = 'privtube could not prepare a copy of it for the browser.'
PEERS = (' Its home, %s, has no copy of it that browsers play (or did not answer just now), so it plays after you '
         'download it.')


# --- the worker ----------------------------------------------------------------------------------------

class RemuxWorker:
    """Makes browser-playable copies one at a time in a daemon thread; `run_pending()` does it inline."""

    def __init__(self, node):
        self.node, self.store = node, node.store
        self.percent = node.config.get('store', 'remux_cache_percent')
        self.cap = node.config.get('store', 'remux_cache_mb') * MIB
        self.wake, self.stopping = threading.Event(), threading.Event()
        self.thread, self.process = None, None
        self.process_lock = threading.Lock()

    @property
    def enabled(self):
        return self.percent > 0

    def start(self):
        self.thread = threading.Thread(target=self.loop, name='privtube-remux', daemon=True)
        self.thread.start()

    def stop(self, timeout=5.0):
        """Stop the thread, and the ffmpeg it runs (its partial copy is removed on the next start)."""
        self.stopping.set()
        self.wake.set()
        with self.process_lock:
            if self.process is not None:
                self.process.kill()
        if self.thread is not None and self.thread.is_alive():
            self.thread.join(timeout)

    def loop(self):
        self.remove_partial_copies()
        while not self.stopping.is_set():
            try:
                self.run_pending()
            except Exception:    # the worker must outlive any one bad file or database hiccup
                logger.exception('remux pass failed')
            self.wake.wait(POLL_SECONDS)
            self.wake.clear()

    def run_pending(self, limit=None):
        """Drop stale copies, queue new candidates and make the copies waiting (or `limit` of them) while
        no new file waits to be probed; returns how many were handled."""
        done = 0
        with self.node.database.db.connection_context():
            self.drop_stale_copies()
            if not self.enabled:
                return 0
            self.queue_candidates()
            while not self.stopping.is_set() and (limit is None or done < limit) and not self.probes_waiting():
                item = self.next_pending()
                if item is None:
                    break
                self.handle(item)
                done += 1
        return done

    # --- the queue -----------------------------------------------------------------------------------

    def candidates(self):
        """(id, type, codecs) of the probed local files in containers browsers do not open, not yet looked at."""
        Item = self.node.database.Item
        return Item.select(Item.id, Item.mime, Item.codecs).where(
            (Item.origin == 'local') & (Item.media_state == 'done') & Item.remux.is_null() & Item.trashed.is_null()
            & Item.mime.in_(sorted(REMUXABLE))).tuples()

    def queue_candidates(self):
        """Mark 'pending' the probed items whose copy would play (their pages say it is being prepared)."""
        queued = [item_id for item_id, mime, codecs in self.candidates() if remux_target(mime, codecs)]
        if queued:
            self.set_state(queued, 'pending')

    def probes_waiting(self):
        Item = self.node.database.Item
        return Item.select().where((Item.origin == 'local') & (Item.media_state == 'pending')).exists()

    def next_pending(self):
        Item = self.node.database.Item
        return (Item.select().where((Item.remux == 'pending') & Item.trashed.is_null() & (Item.origin == 'local'))
                .order_by(Item.seq).first())

    def set_state(self, item_ids, state, only_if=None):
        Item = self.node.database.Item
        query = Item.update(remux=state).where(Item.id.in_(list(item_ids)))
        return query.where(Item.remux == only_if).execute() if only_if else query.execute()

    def probed(self, items):
        """The media worker has probed `items`: a film waiting for its copy starts now, not at the next poll."""
        if self.enabled and any(item.mime in REMUXABLE for item in items):
            self.wake.set()

    def ask_again(self, item):
        """Someone opened the page of an item whose copy was dropped to make room: make it again."""
        if self.set_state([item.id], 'pending', only_if='dropped'):
            self.wake.set()

    # --- one copy ------------------------------------------------------------------------------------

    def handle(self, item):
        """Make the copy of one pending item, or record why not."""
        target = remux_target(item.mime, item.codecs)
        if target is None:
            self.set_state([item.id], None)
            return
        if item.size > self.limit():
            logger.info('no browser copy of %s: %d bytes pass the cache limit of %d', item.path, item.size,
                        self.limit())
            self.set_state([item.id], 'too_big')
            return
        self.make_room(item.size)
        temp = self.store.remux_path(item.id, target.extension) + TEMP
        try:
            made = self.rewrap(item, target, temp)
        except (OSError, subprocess.TimeoutExpired, probe.ProbeError) as exc:
            logger.warning('could not rewrap %s for browsers: %s', item.path, getattr(exc, 'detail', exc))
            made = False
        if made:
            self.keep(item, target, temp)
        else:
            remove_quietly(temp)
            if not self.stopping.is_set():
                self.set_state([item.id], 'failed', only_if='pending')

    def rewrap(self, item, target, temp):
        """Run ffmpeg on the item's file (its standard input) into `temp`; True when it made a copy."""
        ffmpeg, path = probe.ffmpeg_path(), self.store.full_path(item.path)
        if not ffmpeg or not probe.ffprobe_path() or path is None:
            return False
        with open(path, 'rb') as fh:
            demuxer = probe.demuxer_for(item.mime, fh.read(64))
            numbers = chosen_streams(self.streams(fh, demuxer), target) if demuxer else None
            if numbers is None:
                logger.info('no browser copy of %s: its streams do not fit %s', item.path, target.extension)
                return False
            os.makedirs(self.store.remux_dir, exist_ok=True)
            try:
                done = probe.run_on_file(rewrap_command(ffmpeg, demuxer, numbers, target, temp), fh,
                                         rewrap_seconds(item.size), started=self.running)
            finally:
                self.running(None)
        if done.returncode != 0:
            logger.warning('ffmpeg could not rewrap %s: %s', item.path, probe.tool_message(done.stderr))
        return done.returncode == 0 and os.path.isfile(temp) and os.path.getsize(temp) > 0

    def streams(self, fh, demuxer):
        """ffprobe's list of the file's streams (read from its standard input)."""
        ffprobe = probe.ffprobe_path()
        command = [ffprobe, '-v', 'error', '-print_format', 'json', '-show_streams'] + probe.input_options(demuxer)
        done = probe.run_tool(command, fh, PROBE_SECONDS)
        if done.returncode != 0:
            raise probe.ProbeError(probe.NOT_PLAYABLE, 'ffprobe: ' + probe.tool_message(done.stderr))
        try:
            found = json.loads(done.stdout.decode('utf-8', 'replace')).get('streams')
        except (ValueError, AttributeError):
            found = None
        return [s for s in found if isinstance(s, dict)] if isinstance(found, list) else []

    def running(self, process):
        """Remember the ffmpeg at work (None: done), so stop() can end it; end it at once when stopping."""
        with self.process_lock:
            self.process = process
            if process is not None and self.stopping.is_set():
                process.kill()

    def keep(self, item, target, temp):
        """Put the finished copy in place and mark the item ready, unless its file changed or it went away
        meanwhile (then the copy is of an old file, and is removed)."""
        Item = self.node.database.Item
        with self.node.database.db.atomic():
            fresh = Item.get_or_none(Item.id == item.id)
            if fresh is None or (fresh.mtime_ns, fresh.size, fresh.remux) != (item.mtime_ns, item.size, 'pending'):
                remove_quietly(temp)
                return
            for other in TARGETS:
                remove_quietly(self.store.remux_path(item.id, other.extension))
            os.replace(temp, self.store.remux_path(item.id, target.extension))
            self.set_state([item.id], 'ready')
        logger.info('made a browser copy of %s (%s)', item.path, target.extension)

    # --- the cache -----------------------------------------------------------------------------------

    def copy_path(self, item):
        """The path of the item's finished copy, or None."""
        for target in TARGETS:
            path = self.store.remux_path(item.id, target.extension)
            if os.path.isfile(path):
                return path
        return None

    def open_copy(self, item):
        """(open file, type) of a visible local item's ready copy, or None (then the original plays)."""
        path = self.copy_path(item) if item.is_local and item.remux == 'ready' else None
        if path is None:
            return None
        try:
            return open(path, 'rb'), target_named(path.rsplit('.', 1)[1]).mime
        except OSError:
            return None

    def copies(self):
        """[(made, size, item id, path)] of the finished copies in the cache, oldest first."""
        found = []
        try:
            names = os.listdir(self.store.remux_dir)
        except FileNotFoundError:
            return []
        for name in names:
            stem, _, extension = name.partition('.')
            path = os.path.join(self.store.remux_dir, name)
            if extension in ('mp4', 'webm'):
                try:
                    stat = os.stat(path)
                except FileNotFoundError:
                    continue
                found.append((stat.st_mtime, stat.st_size, stem, path))
        return sorted(found)

    def limit(self):
        """Bytes the copies may take: the percent of the free disk plus what they already take, and the cap."""
        os.makedirs(self.store.remux_dir, exist_ok=True)
        used = sum(size for _, size, _, _ in self.copies())
        limit = (shutil.disk_usage(self.store.remux_dir).free + used) * self.percent // 100
        return min(limit, self.cap) if self.cap else limit

    def make_room(self, size):
        """Drop the oldest copies until `size` more bytes fit in the limit."""
        copies, limit = self.copies(), self.limit()
        used = sum(entry[1] for entry in copies)
        for _, length, item_id, path in copies:
            if used + size <= limit:
                return
            remove_quietly(path)
            self.set_state([item_id], 'dropped', only_if='ready')
            logger.info('dropped the browser copy of %s to make room', item_id)
            used -= length

    def drop_stale_copies(self):
        """Remove copies whose item is gone or no longer 'ready' (its file changed, say), and the oldest
        while the copies pass the limit (it shrinks as the disk fills)."""
        Item = self.node.database.Item
        copies = self.copies()
        ready = {item_id for (item_id,) in Item.select(Item.id).where(
            Item.id.in_([entry[2] for entry in copies]) & (Item.remux == 'ready')).tuples()}
        for _, _, item_id, path in copies:
            if item_id not in ready:
                remove_quietly(path)
        self.make_room(0)

    def remove_partial_copies(self):
        """What a stopped run left: copies ffmpeg had not finished."""
        try:
            names = os.listdir(self.store.remux_dir)
        except FileNotFoundError:
            return
        for name in names:
            if name.endswith(TEMP):
                remove_quietly(os.path.join(self.store.remux_dir, name))


def rewrap_command(ffmpeg, demuxer, numbers, target, temp):
    """ffmpeg reading standard input only (the whitelists are input options), copying the chosen streams
    into `temp`. `+faststart` re-reads the output to move its index first: that is ffmpeg's own file."""
    maps = [part for number in numbers for part in ('-map', '0:%d' % number)]
    return ([ffmpeg, '-nostdin', '-loglevel', 'error'] + probe.input_options(demuxer) + maps
            + ['-c', 'copy', '-map_chapters', '-1'] + target.muxer + ['-y', 'file:' + temp])


def rewrap_seconds(size):
    """Time allowed for one copy: ten minutes, plus a second for every 2 MiB (a slow USB disk)."""
    return 600 + size // (2 * MIB)
