"""The scanner: indexes the media folder in place (new files added, changed ones refreshed, vanished ones
forgotten), nothing copied. `privtube scan` runs it; so may a second process while `serve` runs.
"""
import logging
import os
import unicodedata

import privtube_media as media
from privtube_db import now_iso

logger = logging.getLogger('privtube.store')

TEMP_SUFFIXES = ('.part', '.tmp', '.crdownload', '.partial', '~', '.swp')
SCAN_BATCH = 500


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
    """Hidden files, our own temporary files and the usual partial-download names are never indexed."""
    return name.startswith('.') or name.endswith(TEMP_SUFFIXES)


class Scanner:
    """The store's part that brings the item table in line with the files of the media folder."""

    def __init__(self, store):
        self.store, self.database, self.db = store, store.database, store.database.db

    def walk_media(self):
        """Yield (relative path, stat) of every indexable file under the media folder."""
        store = self.store
        for folder, dirs, files in os.walk(store.media_dir, followlinks=False):
            dirs[:] = sorted(d for d in dirs if not is_ignored(d))
            for name in sorted(files):
                if is_ignored(name):
                    continue
                path = os.path.join(folder, name)
                real = store.full_path(store.relative(path))
                if real is None:
                    continue   # a dangling link, or a link pointing out of the media folder
                try:
                    yield store.relative(path), os.stat(real)
                except OSError:
                    continue   # vanished while we looked

    def scan(self, progress=None):
        """Index the media folder in place: add new files, refresh changed ones, drop vanished ones.

        Unchanged files (same size and modification time) cost one stat; changes are written in
        transactions of SCAN_BATCH files. `progress(summary)` is called after every file.
        """
        self.store.uploads.remove_abandoned()
        Item = self.database.Item
        known = {row[0]: (row[1], row[2], row[3]) for row in       # trashed items' files are in .trash: not walked
                 Item.select(Item.path, Item.id, Item.size, Item.mtime_ns)
                 .where((Item.origin == 'local') & Item.trashed.is_null(True)).tuples()}
        summary = {'seen': 0, 'added': 0, 'changed': 0, 'removed': 0}
        work = []
        for relative, stat in self.walk_media():
            summary['seen'] += 1
            record = known.pop(relative, None)
            if record is None or (record[1], record[2]) != (stat.st_size, stat.st_mtime_ns):
                work.append((relative, stat, record))
            if len(work) >= SCAN_BATCH:
                self.apply_scan(work, summary)
                work = []
            if progress:
                progress(summary)
        self.apply_scan(work, summary)
        self.forget_vanished([item_id for item_id, _, _ in known.values()], summary)
        if progress:
            progress(summary)
        return summary

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
        path = os.path.join(self.store.media_dir, relative)
        with self.db.atomic():
            item = self.database.Item.get_by_id(item_id)
            item.size, item.mtime_ns = stat.st_size, stat.st_mtime_ns
            item.media_state, item.media_error = 'pending', ''     # probe the new file again
            try:
                item.mime = media.sniff_mime(path)
            except OSError:
                return
            item.updated = now_iso()
            self.store.catalog.touch(item)
            item.save()
        summary['changed'] += 1
