"""The scanner: indexes the media folder in place (new files added, changed ones refreshed, moved ones
followed, vanished ones forgotten) and keeps one album per folder that holds media; nothing is copied.
`privtube scan` runs it, and so does `serve` every `[store] scan_minutes` (ScanLoop); a second process may
scan while `serve` runs.

A file moved or renamed inside the media folder, or a whole folder renamed, keeps its item (id, comments,
views, tags, hand-made albums): before a vanished file is forgotten and a new one indexed, the two are
matched by size, modification time to the nanosecond and content hash (SHA-256). Files up to
HASH_AT_CREATE bytes are hashed when they are recorded and the rest by the media worker in the background,
so a first scan reads only the first bytes of large files. A scan reads a new file whole only when
it may be a vanished one moved (same size and time) and the hashes must decide. A single vanished file and
a single new one of the same size and time are taken as one file without reading when the old hash is not
known yet (the worker had not reached it), or when the file kept its name and is larger than HASH_AT_CREATE
(a renamed folder of videos costs no reading); several of them are paired by hash only.
"""
import logging
import os
import posixpath
import threading
import time
import unicodedata
from collections import defaultdict

import privtube_auth as auth
import privtube_media as media
import privtube_taken
from privtube_db import now_iso
from privtube_items import storable
from privtube_music import MusicAlbums

logger = logging.getLogger('privtube.store')

TEMP_SUFFIXES = ('.part', '.tmp', '.crdownload', '.partial', '~', '.swp')
SCAN_BATCH = 500
# Files up to this size are hashed when they are recorded (privtube_store: a read of what sniffing just
# cached); larger ones by the media worker in the background.
HASH_AT_CREATE = 1024 * 1024
UPLOADS = 'uploads'                 # the uploads folder is no album
FOLDER_SUFFIX = ' (folder)'         # a folder album whose name a hand-made album has: 'PATH (folder)'


def escaped_name(path):
    """A file name as one printable line: bytes that are not UTF-8 and control characters as \\x escapes."""
    text = path.encode('utf-8', 'surrogateescape').decode('utf-8', 'backslashreplace')
    return ''.join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def odd_name(path):
    """True for a name that is not UTF-8 or holds control characters."""
    try:
        path.encode('utf-8')
    except UnicodeEncodeError:
        return True
    return any(unicodedata.category(c) == 'Cc' for c in path)


def is_ignored(name):
    """Hidden files and folders (the trash among them), our own temporary files and the usual
    partial-download names are never indexed."""
    return name.startswith('.') or name.endswith(TEMP_SUFFIXES)


def empty_summary():
    return {'seen': 0, 'added': 0, 'changed': 0, 'removed': 0, 'moved': 0}


class Scanner:
    """The store's part that brings the item table and the folder albums in line with the media folder."""

    def __init__(self, store):
        from privtube_subtitles import Subtitles  # deferred: it needs privtube_store, which imports this
        self.store, self.database, self.db = store, store.database, store.database.db
        self.folders = FolderAlbums(store)
        self.subtitles = Subtitles(store)
        self.sidecar_folders = set()    # folders in which the walk passed subtitle files

    # --- walking ----------------------------------------------------------------------------------

    def walk_media(self):
        """Yield (relative path, stat) of every indexable file under the media folder. A re-scan costs one
        stat a file: only a symbolic link is followed to see that it stays inside the media folder."""
        return self.walk_folder(self.store.media_dir, '')

    def walk_folder(self, folder, prefix):
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError:
            return      # vanished or unreadable: its files are not seen
        subfolders = []
        for entry in entries:
            if is_ignored(entry.name):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    subfolders.append(entry)
                    continue
                if self.subtitles.is_sidecar(entry.name):    # a video's subtitles, no item of their own
                    self.sidecar_folders.add(prefix.rstrip('/'))
                    continue
                found = self.indexable(entry, prefix + entry.name)
            except OSError:
                continue   # vanished while we looked
            if found:
                yield found
        for entry in subfolders:
            yield from self.walk_folder(entry.path, prefix + entry.name + '/')

    def indexable(self, entry, relative):
        """(relative, stat) of a regular file or a link to one inside the media folder; else None."""
        if entry.is_symlink():
            real = self.store.full_path(relative)
            return None if real is None else (relative, os.stat(real))   # None: dangling or pointing out
        return (relative, entry.stat(follow_symlinks=False)) if entry.is_file(follow_symlinks=False) else None

    # --- the scan ---------------------------------------------------------------------------------

    def known_files(self):
        """{path: (item id, size, mtime_ns)} of this node's items, in one query; items in the trash are not
        the scan's (their files sit in the hidden trash folder)."""
        Item = self.database.Item
        rows = Item.select(Item.path, Item.id, Item.size, Item.mtime_ns).where(
            (Item.origin == 'local') & Item.trashed.is_null()).tuples()
        return {row[0]: (row[1], row[2], row[3]) for row in rows}

    def scan(self, progress=None):
        """Index the media folder in place: refresh changed files, follow moved ones, add new ones, drop
        vanished ones, then bring the folder and music albums in line.

        Unchanged files (same size and modification time) cost one stat; changes are written in
        transactions of SCAN_BATCH files. `progress(summary)` is called after every file walked and every
        batch written.
        """
        self.store.uploads.remove_abandoned()
        self.sidecar_folders = set()
        known = self.known_files()
        summary = empty_summary()
        arrived, work = {}, []
        for relative, stat in self.walk_media():
            summary['seen'] += 1
            record = known.pop(relative, None)
            if record is None:
                arrived[relative] = stat
            elif (record[1], record[2]) != (stat.st_size, stat.st_mtime_ns):
                work.append((relative, stat, record))
            if len(work) >= SCAN_BATCH:
                self.apply_scan(work, summary)
                work = []
            if progress:
                progress(summary)
        self.apply_scan(work, summary)
        self.apply_moves(self.find_moves(known, arrived), known, arrived, summary)
        self.add_arrived(arrived, summary, progress)
        self.forget_vanished([item_id for item_id, _, _ in known.values()], summary)
        self.folders.sync()
        self.subtitles.refresh_sidecars(self.sidecar_folders)
        MusicAlbums(self.store).sync()      # songs gone or moved in or out of a folder album
        if progress:
            progress(summary)
        return summary

    def add_arrived(self, arrived, summary, progress):
        work = [(relative, stat, None) for relative, stat in arrived.items()]
        for start in range(0, len(work), SCAN_BATCH):
            self.apply_scan(work[start:start + SCAN_BATCH], summary)
            if progress:
                progress(summary)

    def apply_scan(self, work, summary):
        Item = self.database.Item
        with self.db.atomic():
            for relative, stat, record in work:
                if record is None:
                    if not Item.select().where(Item.path == relative).exists():   # an upload may have won
                        self.index_new(relative, summary)
                else:
                    self.refresh(record[0], relative, stat, summary)

    def forget_vanished(self, item_ids, summary):
        Item = self.database.Item
        for start in range(0, len(item_ids), SCAN_BATCH):
            with self.db.atomic():
                for item in Item.select().where(Item.id.in_(item_ids[start:start + SCAN_BATCH])):
                    self.store.items.forget(item)
                    summary['removed'] += 1

    def index_new(self, relative, summary):
        """Index one new file; a file that cannot be is skipped with its reason, and the scan goes on."""
        try:     # titled after its file name
            item = self.store.items.create(os.path.join(self.store.media_dir, relative), None)
        except (OSError, ValueError) as exc:
            logger.warning('skipped %s: %s', escaped_name(relative), exc)
            return
        summary['added'] += 1
        if odd_name(relative):
            logger.warning('indexed %s, whose name is not UTF-8 or holds control characters, with the title %r',
                           escaped_name(relative), item.title)

    def refresh(self, item_id, relative, stat, summary):
        """A changed file: its new size, type, date taken (what the file says now) and no hash yet; the
        media worker probes and hashes it again."""
        path = os.path.join(self.store.media_dir, relative)
        with self.db.atomic():
            item = self.database.Item.get_by_id(item_id)
            item.size, item.mtime_ns = stat.st_size, stat.st_mtime_ns
            item.media_state, item.media_error, item.content_hash = 'pending', '', None  # probe the new file
            item.remux = None       # its browser-playable copy is of the old file: the remux worker drops it
            try:
                item.mime = media.sniff_mime(path)
            except OSError:
                return
            item.taken, item.taken_source = privtube_taken.taken_of_file(path, item.mime, path, stat.st_mtime)
            item.updated = now_iso()
            self.store.catalog.touch(item)
            item.save()
        summary['changed'] += 1

    # --- moves ------------------------------------------------------------------------------------

    def find_moves(self, vanished, arrived):
        """[(item id, old path, new path, new file's hash or None)]: vanished files found again among the
        arrived ones (same size and mtime_ns, and content hash; see the module's docstring)."""
        departed = defaultdict(list)
        for path, (item_id, size, mtime_ns) in vanished.items():
            departed[(size, mtime_ns)].append((path, item_id))
        landed = defaultdict(list)
        for path, stat in arrived.items():
            if (stat.st_size, stat.st_mtime_ns) in departed:
                landed[(stat.st_size, stat.st_mtime_ns)].append(path)
        if not landed:
            return []
        hashes = self.hashes_of([item_id for key in landed for _, item_id in departed[key]])
        moves = []
        for key, paths in landed.items():
            moves += self.pair(departed[key], sorted(paths), hashes, key[0])
        return moves

    def hashes_of(self, item_ids):
        Item = self.database.Item
        found = {}
        for start in range(0, len(item_ids), SCAN_BATCH):
            found.update(Item.select(Item.id, Item.content_hash).where(
                Item.id.in_(item_ids[start:start + SCAN_BATCH])).tuples())
        return found

    def pair(self, departed, paths, hashes, size):
        """Pair files of one size and mtime that vanished with those that arrived; a file's name kept
        wins among equals."""
        if len(departed) == 1 and len(paths) == 1:
            (old, item_id), new = departed[0], paths[0]
            same_name = posixpath.basename(old) == posixpath.basename(new)
            if not hashes.get(item_id) or (same_name and size > HASH_AT_CREATE):
                return [(item_id, old, new, None)]
        moves, left = [], [d for d in departed if hashes.get(d[1])]
        for new in paths:
            digest = media.file_hash(os.path.join(self.store.media_dir, new)) if left else None
            same = [d for d in left if hashes[d[1]] == digest]
            if same:
                old, item_id = min(same, key=lambda d: posixpath.basename(d[0]) != posixpath.basename(new))
                left.remove((old, item_id))
                moves.append((item_id, old, new, digest))
        return moves

    def apply_moves(self, moves, vanished, arrived, summary):
        """Give each moved item its new path; what moved is no longer vanished nor new."""
        for start in range(0, len(moves), SCAN_BATCH):
            with self.db.atomic():
                done = self.move(moves[start:start + SCAN_BATCH])
            for item_id, old, new, _ in done:
                vanished.pop(old, None)
                arrived.pop(new, None)
            summary['moved'] += len(done)

    def move(self, moves):
        """The items of `moves` at their new paths, in a few statements: a title that was its old file's
        name follows the new name; each item is touched and its search row written again. Returns the
        moves made (not those another process changed meanwhile)."""
        from privtube_store import title_from_name  # the store imports this module
        Item = self.database.Item
        current = {row[0]: row[1:] for row in Item.select(Item.id, Item.path, Item.title).where(
            Item.id.in_([move[0] for move in moves])).tuples()}
        occupied = {row[0] for row in Item.select(Item.path).where(Item.path.in_([move[2] for move in moves])).tuples()}
        done = [move for move in moves if current.get(move[0], (None,))[0] == move[1] and move[2] not in occupied]
        now, stored = now_iso(), Item.path.db_value
        rows = []
        for item_id, old, new, digest in done:
            title = current[item_id][1]
            rows.append((stored(new), title_from_name(new) if title == title_from_name(old) else title, digest, now,
                         item_id))
        self.db.cursor().executemany('UPDATE item SET path = ?, title = ?, content_hash = coalesce(?, content_hash), '
                                     'updated = ? WHERE id = ?', rows)
        ids = [move[0] for move in done]
        self.store.catalog.touch_many(ids)
        if ids:
            self.store.search.index_many(','.join('?' * len(ids)), ids)
        return done


class ScanStopped(Exception):
    """The node is stopping: a scan ends after the batch it was writing (the next one goes on from there)."""


class ScanLoop:
    """Rescans the media folder in one daemon thread owned by the node: every `minutes` (0: only when
    asked) and whenever `request()` asks (the admin page's Scan now). The first scheduled scan comes one
    interval after start, so starting `serve` is not slowed. `status()` tells how the last scan went or
    the current one goes; a scan run by `privtube scan` in another process is not shown."""

    def __init__(self, node, minutes):
        self.node, self.minutes = node, minutes
        self.wake, self.stopping = threading.Event(), threading.Event()
        self.lock = threading.Lock()
        self.thread = None
        self.current = {'state': 'never', 'summary': empty_summary(), 'started': None, 'finished': None}

    def start(self):
        """Start the thread (serve does when scan_minutes is above 0; request() does when it must)."""
        with self.lock:
            if self.stopping.is_set() or (self.thread is not None and self.thread.is_alive()):
                return
            self.thread = threading.Thread(target=self.loop, name='privtube-scan', daemon=True)
            self.thread.start()

    def request(self):
        """Scan as soon as the thread is free; False when a scan is running already (it finishes first)."""
        with self.lock:
            running = self.current['state'] in ('queued', 'running')
            if not running:
                self.current['state'] = 'queued'
        self.wake.set()
        self.start()
        return not running

    def status(self):
        """{'state', 'summary', 'started', 'finished'} (Unix times); the state is 'never', 'queued',
        'running', 'finished', 'failed' or 'stopped'."""
        with self.lock:
            return dict(self.current, summary=dict(self.current['summary']))

    def loop(self):
        while not self.stopping.is_set():
            self.wake.wait(self.minutes * 60 if self.minutes else None)
            if self.stopping.is_set():
                return
            self.wake.clear()
            self.run_once()

    def run_once(self):
        """One scan, its progress kept for status(); a failure is logged and shown, and the loop goes on."""
        self.record(state='running', started=time.time(), finished=None, summary=empty_summary())
        state = 'failed'
        try:
            with self.node.database.db.connection_context():
                summary = self.node.store.scanner.scan(self.progress)
            state = 'finished'
            if summary['added'] or summary['changed']:
                self.node.media.wake.set()      # probe what is new now
        except ScanStopped:
            state = 'stopped'
        except Exception:       # the loop must outlive a bad scan (a full disk, a database hiccup)
            logger.exception('scheduled scan failed')
        self.record(state=state, finished=time.time())

    def progress(self, summary):
        if self.stopping.is_set():
            raise ScanStopped()
        self.record(summary=dict(summary))

    def record(self, **changes):
        with self.lock:
            self.current.update(changes)

    def stop(self, timeout=10.0):
        self.stopping.set()
        self.wake.set()
        if self.thread is not None and self.thread.is_alive():
            self.thread.join(timeout)


class FolderAlbums:
    """One album of kind 'folder' for every folder of the media folder that holds items, named by its
    path inside it ('Holidays/2024 Summer trip'); files directly in the media folder and uploads are in
    none. The album is found by its folder, not its name: a name changed by hand stays. When a hand-made
    album already has the folder's name, the folder album is named 'PATH (folder)' ('PATH (folder 2)'...).
    A folder name that is not UTF-8 is written with \\x escapes, as the scan's log names it.
    """

    def __init__(self, store):
        self.store, self.database, self.db = store, store.database, store.database.db

    @property
    def albums(self):
        return self.store.albums

    def sync(self):
        """Bring every folder album in line with where the items are now, in one transaction: items join
        their folder's album and leave others, a renamed folder's album follows it, empty ones go."""
        with self.db.atomic():
            wanted, held = self.items_by_folder(), self.albums_by_folder()
            self.follow_renamed(wanted, held)
            for folder, item_ids in wanted.items():
                if folder in held:
                    self.update(held[folder], item_ids)
                else:
                    self.albums.create(self.free_name(folder), kind='folder', folder=folder, item_ids=item_ids)
            for folder, (album, _) in held.items():
                if folder not in wanted:
                    self.albums.delete(album)

    def items_by_folder(self):
        """{folder: [item ids]} of this node's items outside the trash, by path."""
        Item = self.database.Item
        wanted = defaultdict(list)
        rows = Item.select(Item.id, Item.path).where((Item.origin == 'local') & Item.trashed.is_null())
        for item_id, path in rows.order_by(Item.path).tuples():
            folder = folder_of(path)
            if folder is not None:
                wanted[folder].append(item_id)
        return wanted

    def albums_by_folder(self):
        """{folder: (album, set of its item ids)} of the folder albums."""
        Album, AlbumItem = self.database.Album, self.database.AlbumItem
        held = {album.folder: (album, set()) for album in Album.select().where(
            (Album.origin == 'local') & (Album.kind == 'folder') & Album.folder.is_null(False))}
        rows = (AlbumItem.select(Album.folder, AlbumItem.item).join(Album)
                .where((Album.origin == 'local') & (Album.kind == 'folder')).tuples())
        for folder, item_id in rows:
            held[folder][1].add(item_id)
        return held

    def update(self, held, item_ids):
        album, members = held
        joining = [item_id for item_id in item_ids if item_id not in members]
        leaving = members.difference(item_ids)
        if joining:
            self.albums.add_items(album, joining)
        if leaving:
            self.albums.remove_items(album, leaving)

    def follow_renamed(self, wanted, held):
        """A folder album whose folder is gone, while all of its items are now in one folder without an
        album, is that folder renamed: the album follows (its id, description and cover stay), and takes
        the new path as its name unless it had been renamed by hand."""
        gone = [folder for folder in held if folder not in wanted]
        if not gone:
            return
        where = {item_id: folder for folder, item_ids in wanted.items() for item_id in item_ids}
        for old in gone:
            album, members = held[old]
            targets = {where.get(item_id) for item_id in members}
            new = targets.pop() if len(targets) == 1 else None
            if new is None or new in held:
                continue
            if album.name in self.names_for(old):
                self.albums.rename(album, self.free_name(new, album))
            album.folder = new
            album.save()
            held[new] = held.pop(old)

    def names_for(self, folder, most=10):
        """The names a folder album of `folder` may be given: its path, then 'PATH (folder)', ..."""
        base = display_name(folder)
        return [fitted(base, '')] + [fitted(base, FOLDER_SUFFIX if n == 1 else ' (folder %d)' % n)
                                     for n in range(1, most)]

    def free_name(self, folder, album=None):
        for name in self.names_for(folder, 1000):
            taken = self.albums.by_name(name)
            if taken is None or (album is not None and taken.id == album.id):
                return name
        raise ValueError('no free album name for folder %s' % escaped_name(folder))


def folder_of(path):
    """The folder key of an item's path: its folder inside the media folder as stored text (a name that is
    not UTF-8 with \\x escapes); None for the media folder itself, the uploads folder and hidden folders."""
    folder = posixpath.dirname(path)
    if not folder or folder == UPLOADS or folder.startswith(UPLOADS + '/'):
        return None
    if any(part.startswith('.') for part in folder.split('/')):
        return None
    return folder if storable(folder) else escaped_name(folder)


def display_name(folder):
    """A folder's path as an album name: readable text (bytes that are not UTF-8 replaced, control
    characters dropped), or its escaped form when nothing readable is left."""
    name = ' '.join(media.readable_name(folder).split())
    return name if name.strip(' /') else escaped_name(folder)


def fitted(base, suffix):
    """`base` + `suffix` within MAX_ALBUM characters: a long path keeps its end, the folder's own name."""
    room = auth.MAX_ALBUM - len(suffix)
    if len(base) > room:
        base = '…' + base[-(room - 1):].lstrip()
    return auth.album_name(base + suffix)
