"""The content store: media indexed in place, uploads written atomically, the catalog change log,
comments and views. `make_api(node)` builds the Content Management API on top of it.
"""
import base64
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import time
import unicodedata

import bottle
from peewee import SQL

import privtube_auth as auth
import privtube_media as media
from privtube_items import (MAX_AUTHOR, MAX_COMMENT, MAX_DESCRIPTION, MAX_TITLE, MAX_VIEWER, now_iso, row_json,
                            storable)

logger = logging.getLogger('privtube.store')

# a local id, or ORIGIN:ID for an item of a peer
ITEM_ID = re.compile(r'^(?:[A-Za-z0-9][A-Za-z0-9_.-]{0,63}:)?[A-Za-z0-9_-]{16,64}$')
UPLOADS = 'uploads'
TEMP_PREFIX = '.tmp-'
ABANDONED_SECONDS = 2    # an unlocked temporary file this old belongs to no upload in progress
TEMP_SUFFIXES = ('.part', '.tmp', '.crdownload', '.partial', '~', '.swp')
VIEW_WINDOW = 6 * 3600
CHUNK = 1024 * 1024
CATALOG_DEFAULT, CATALOG_MAX = 500, 1000
RANKED_MATCHES = 2000
CURSOR = re.compile(r'([0-9]{1,19})\.([0-9]{1,19})\.([0-9]{1,19})\.([0-9]{1,19})(?:\.([A-Za-z0-9_-]{22}))?\Z')
SCAN_BATCH = 500


class StoreError(Exception):
    """A request the store refuses; `status` is the HTTP status the API answers with."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def not_found():
    return StoreError('not found', 404)


def new_id():
    """136 random bits, URL-safe, never starting with '-' (the command line would take it for an option)."""
    while True:
        candidate = secrets.token_urlsafe(17)
        if not candidate.startswith('-'):
            return candidate


def title_from_name(path):
    """A title from a file name the node did not choose: readable text, at most MAX_TITLE characters."""
    stem = os.path.splitext(os.path.basename(path))[0]
    title = media.readable_name(' '.join(stem.replace('_', ' ').split()))[:MAX_TITLE].strip()
    return title or media.readable_name(stem).strip()[:MAX_TITLE] or 'untitled'


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


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_text(value, what, limit, required=False):
    if not isinstance(value, str):
        raise StoreError('%s must be text' % what)
    value = value.strip()
    if required and not value:
        raise StoreError('%s must not be empty' % what)
    if len(value) > limit:
        raise StoreError('%s must have at most %d characters' % (what, limit))
    if '\x00' in value:
        raise StoreError('%s must not contain NUL' % what)
    if not storable(value):
        raise StoreError('%s must be valid Unicode text (it holds a lone surrogate)' % what)
    return value


class Store:
    """One node's media folder and the items, comments and views recorded about it."""

    def __init__(self, database, media_dir, max_upload_bytes):
        self.database = database
        self.db = database.db
        self.media_dir = os.path.realpath(media_dir)
        self.uploads_dir = os.path.join(self.media_dir, UPLOADS)
        self.max_upload_bytes = max_upload_bytes
        self.thumbs_dir = os.path.join(os.path.dirname(os.path.abspath(database.path)), 'cache', 'thumbs', 'local')
        self.cursor_key = None
        os.makedirs(self.uploads_dir, exist_ok=True)

    # --- files -----------------------------------------------------------------------------------

    def full_path(self, relative):
        """The real path of a stored item, or None when it is missing or escapes the media folder."""
        path = os.path.realpath(os.path.join(self.media_dir, relative))
        if not path.startswith(self.media_dir + os.sep) or not os.path.isfile(path):
            return None
        return path

    def relative(self, path):
        return os.path.relpath(path, self.media_dir).replace(os.sep, '/')

    def inside(self, path):
        return os.path.realpath(path).startswith(self.media_dir + os.sep)

    def open_media(self, item):
        path = self.full_path(item.path)
        if path is None:
            raise StoreError('the file of this item is missing; run scan', 404)
        try:
            return open(path, 'rb')
        except OSError:
            raise StoreError('the file of this item cannot be read', 404)

    # --- change log ------------------------------------------------------------------------------

    def touch(self, item, visibility_changed=False, tags=None):
        """Give `item` a new change number; log its visibility state when that changed."""
        item.seq = self.database.next_seq()
        if visibility_changed:
            tags = self.tags_of(item.id) if tags is None else tags
            self.database.ItemState.create(seq=item.seq, item_id=item.id, private=item.private,
                                           tags='\n'.join(tags), deleted=False)

    def tags_of(self, item_id):
        return [t.tag for t in self.database.ItemTag.select(self.database.ItemTag.tag)
                .where(self.database.ItemTag.item == item_id).order_by(self.database.ItemTag.tag)]

    def tags_for(self, item_ids):
        tags = {item_id: [] for item_id in item_ids}
        rows = self.database.ItemTag.select().where(self.database.ItemTag.item.in_(list(item_ids)))
        for row in rows.order_by(self.database.ItemTag.tag).tuples():
            tags[row[0]].append(row[1])
        return tags

    def set_tags(self, item_id, tags):
        ItemTag = self.database.ItemTag
        ItemTag.delete().where(ItemTag.item == item_id).execute()
        if tags:
            ItemTag.insert_many([{'item': item_id, 'tag': tag} for tag in tags]).execute()

    # --- search index ---------------------------------------------------------------------------

    def index_text(self, item_id, title, description, tags, origin='local'):
        """(Re)write the item's row in the full-text index; its rowid is the item's."""
        self.unindex_text(item_id)
        self.db.execute_sql(
            "INSERT INTO item_fts (rowid, item_id, title, description, tags, origin) "
            "SELECT rowid, id, ?, ?, ?, ? FROM item WHERE id = ?",
            (title, description, ' '.join(tags), origin, item_id))

    def unindex_text(self, item_id):
        self.db.execute_sql('DELETE FROM item_fts WHERE rowid = (SELECT rowid FROM item WHERE id = ?)', (item_id,))

    # --- items -----------------------------------------------------------------------------------

    def create_item(self, path, title, tags=(), private=False, owner_id=None, description=''):
        """Record the file at `path` (inside the media folder) as a new item; returns the item."""
        stat = os.stat(path)
        with self.db.atomic():
            item = self.database.Item(
                id=new_id(), path=self.relative(path), title=title or title_from_name(path),
                description=description, mime=media.sniff_mime(path), size=stat.st_size,
                mtime_ns=stat.st_mtime_ns, private=bool(private), owner=owner_id)
            self.touch(item, visibility_changed=True, tags=list(tags))
            item.save(force_insert=True)
            self.set_tags(item.id, list(tags))
            self.index_text(item.id, item.title, item.description, list(tags))
        return item

    def get_item(self, item_id):
        if not isinstance(item_id, str) or not ITEM_ID.match(item_id):
            return None
        return self.database.Item.get_or_none(self.database.Item.id == item_id)

    def edit_item(self, item, title=None, description=None, tags=None, private=None):
        title = None if title is None else check_text(title, 'title', MAX_TITLE, required=True)
        description = None if description is None else check_text(description, 'description', MAX_DESCRIPTION)
        tags = None if tags is None else auth.normalize_tags(tags)
        with self.db.atomic():
            item = self.database.Item.get_by_id(item.id)
            if title is not None:
                item.title = title
            if description is not None:
                item.description = description
            if private is not None:
                item.private = bool(private)
            if tags is not None:
                self.set_tags(item.id, tags)
            item.updated = now_iso()
            self.touch(item, visibility_changed=tags is not None or private is not None)
            item.save()
            self.index_text(item.id, item.title, item.description, self.tags_of(item.id), item.origin)
        return item

    def forget_item(self, item):
        """Drop the item's record (not its file), leaving a tombstone for catalog readers."""
        with self.db.atomic():
            seq = self.database.next_seq()
            self.database.ItemState.create(seq=seq, item_id=item.id, private=item.private, tags='', deleted=True)
            self.database.Tombstone.insert(item_id=item.id, seq=seq).on_conflict_replace().execute()
            self.unindex_text(item.id)
            self.database.Item.delete_by_id(item.id)
        remove_quietly(self.thumbnail_path(item.id))

    def delete_item(self, item):
        """Remove the item and its file."""
        self.forget_item(item)
        path = self.full_path(item.path)
        if path:
            try:
                os.unlink(path)
            except OSError as exc:
                logger.warning('could not remove %s: %s', path, exc)

    def record_probe(self, item, found):
        """Store what probing found; the item gets a new change number so peers see it."""
        with self.db.atomic():
            fresh = self.database.Item.get_or_none(self.database.Item.id == item.id)
            if fresh is None or fresh.mtime_ns != item.mtime_ns:
                return      # deleted or changed meanwhile: the next pass probes the new file
            for name in ('duration', 'width', 'height', 'container', 'codecs', 'thumbnail'):
                setattr(fresh, name, found.get(name))
            if media.media_kind(fresh.mime) == 'image':
                fresh.duration = None      # ffprobe gives a still picture one frame's time
            fresh.media_state, fresh.media_error = 'done', ''
            self.touch(fresh)
            fresh.save()

    def thumbnail_path(self, item_id):
        """Where a local item's thumbnail is cached (ids are checked, never taken from a path)."""
        return os.path.join(self.thumbs_dir, item_id + '.jpg')

    def open_thumbnail(self, item):
        if not item.thumbnail:
            raise StoreError('this item has no thumbnail', 404)
        try:
            return open(self.thumbnail_path(item.id), 'rb')
        except OSError:
            raise StoreError('this item has no thumbnail', 404)

    def record_probe_failure(self, item, reason):
        """Mark the item unreadable with a short `reason`; what an earlier probe found is cleared (peers
        see the change), so nothing read from a file that failed now stays on the item."""
        with self.db.atomic():
            fresh = self.database.Item.get_or_none(self.database.Item.id == item.id)
            if fresh is None or fresh.mtime_ns != item.mtime_ns:
                return
            for name in ('duration', 'width', 'height', 'container', 'codecs'):
                setattr(fresh, name, None)
            fresh.thumbnail = False
            fresh.media_state, fresh.media_error = 'failed', reason[:100]
            self.touch(fresh)
            fresh.save()

    def item_json(self, item, tags):
        return row_json(item.__data__, tags)

    def visible_item(self, principal, item_id):
        """The item if `principal` may see it; else StoreError 404 (unknown and hidden look the same)."""
        item = self.get_item(item_id)
        if item is None or not auth.can_see(principal, item.private, self.tags_of(item.id), item.origin,
                                            owner_id=item.owner_id):
            raise not_found()
        return item

    def visible_query(self, principal):
        Item = self.database.Item
        return Item.select().where(auth.visible_filter(principal, Item, self.database.ItemTag))

    def search(self, principal, text, tag='', kind='', origin='', sort='relevance', offset=0, limit=24):
        """([item], more, ranked) of the items `principal` may see that match every word of `text` by prefix.

        Ranking by relevance costs a bm25 score per match, so a query matching more than RANKED_MATCHES
        items (a word in half the library) lists the newest matches instead; `ranked` says which it did.
        Only matches `principal` may see are counted: the notice this drives must not reveal hidden items.
        """
        Item, ItemTag = self.database.Item, self.database.ItemTag
        query = self.visible_query(principal)
        match = fts_query(text)
        if tag:
            query = query.where(auth.rule_filter('tag:' + tag, Item, ItemTag))
        if kind:
            query = query.where(Item.mime.startswith(kind + '/'))
        if origin:      # 'local' or a peer's name: the same test as the rule origin:NAME
            query = query.where(auth.rule_filter('origin:' + origin, Item, ItemTag))
        if match:
            query = query.from_(Item, SQL('item_fts')).where(
                SQL('item_fts MATCH ?', [match]), Item.id == SQL('item_fts.item_id'))
        ranked = False
        if sort == 'views':
            order = [Item.views.desc(), Item.created.desc(), Item.id]
        elif not match:
            order = [Item.created.desc(), Item.id]
        else:
            ranked = sort == 'relevance' and self.match_count(query, RANKED_MATCHES + 1) <= RANKED_MATCHES
            # rowid order is the index's own, so SQLite stops after one page instead of sorting every match
            order = [SQL('item_fts.rank'), Item.id] if ranked else [SQL('item_fts.rowid DESC')]
        # objects(): Peewee builds no model rows from a multi-source FROM otherwise
        rows = list(query.order_by(*order).offset(offset).limit(limit + 1).objects())
        return rows[:limit], len(rows) > limit, ranked

    def match_count(self, query, cap):
        """How many items `query` (a search: visible items that match) finds, counting no further than `cap`."""
        return query.select(SQL('1')).limit(cap).count()

    # --- adding files ----------------------------------------------------------------------------

    def add_file(self, source, title=None, tags=(), private=False, owner_id=None):
        """Add an existing file: indexed in place when inside the media folder, else copied to uploads."""
        if not os.path.isfile(source):
            raise StoreError('%s: no such file' % source)
        tags = auth.normalize_tags(tags)
        title = check_text(title, 'title', MAX_TITLE) if title is not None else None
        if self.inside(source):
            real = os.path.realpath(source)
            if self.database.Item.get_or_none(self.database.Item.path == self.relative(real)):
                raise StoreError('%s is already in the store' % source)
            return self.create_item(real, title or title_from_name(source), tags, private, owner_id)
        with open(source, 'rb') as fh:
            size = os.fstat(fh.fileno()).st_size
            return self.save_stream(fh, size, os.path.splitext(source)[1], title or title_from_name(source),
                                    tags, private, owner_id)

    def save_stream(self, stream, length, extension, title, tags=(), private=False, owner_id=None,
                    description=''):
        """Write `length` bytes of `stream` to the uploads folder atomically, then record the item.

        The bytes go to a hidden temporary file, are fsynced and renamed; any failure removes the file.
        """
        if length > self.max_upload_bytes:
            raise StoreError('the file is larger than the limit of %d MiB' % (self.max_upload_bytes >> 20), 413)
        temp = os.path.join(self.uploads_dir, TEMP_PREFIX + secrets.token_hex(8))
        final = None
        try:
            head = self.copy_exactly(stream, temp, length)
            mime = media.sniff_mime(temp, head)
            extension = media.EXTENSIONS.get(mime) or clean_extension(extension)
            # rename under the write lock: a `scan` running meanwhile cannot index the file before its item exists
            with self.db.atomic():
                final = os.path.join(self.uploads_dir, new_id() + extension)
                os.rename(temp, final)
                fsync_dir(self.uploads_dir)
                return self.create_item(final, title, tags, private, owner_id, description)
        except BaseException:
            remove_quietly(final or temp)
            raise

    def copy_exactly(self, stream, target, length):
        """Copy `length` bytes to `target` and fsync; returns the first bytes for type detection."""
        head, written = b'', 0
        with open(target, 'wb') as out:
            fcntl.flock(out, fcntl.LOCK_EX)     # held while we write: see remove_abandoned_uploads
            while written < length:
                chunk = stream.read(min(CHUNK, length - written))
                if not chunk:
                    raise StoreError('the upload ended after %d of %d bytes' % (written, length))
                if not head:
                    head = chunk[:64]
                out.write(chunk)
                written += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        return head

    # --- scan ------------------------------------------------------------------------------------

    def walk_media(self):
        """Yield (relative path, stat) of every indexable file under the media folder."""
        for folder, dirs, files in os.walk(self.media_dir, followlinks=False):
            dirs[:] = sorted(d for d in dirs if not is_ignored(d))
            for name in sorted(files):
                if is_ignored(name):
                    continue
                path = os.path.join(folder, name)
                real = self.full_path(self.relative(path))
                if real is None:
                    continue   # a dangling link, or a link pointing out of the media folder
                try:
                    yield self.relative(path), os.stat(real)
                except OSError:
                    continue   # vanished while we looked

    def scan(self, progress=None):
        """Index the media folder in place: add new files, refresh changed ones, drop vanished ones.

        Unchanged files (same size and modification time) cost one stat; changes are written in
        transactions of SCAN_BATCH files. `progress(summary)` is called after every file.
        """
        self.remove_abandoned_uploads()
        Item = self.database.Item
        known = {row[0]: (row[1], row[2], row[3]) for row in
                 Item.select(Item.path, Item.id, Item.size, Item.mtime_ns).where(Item.origin == 'local').tuples()}
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

    def remove_abandoned_uploads(self):
        """Delete temporary upload files a crash left behind: those no living upload holds a lock on."""
        for name in os.listdir(self.uploads_dir):
            if not name.startswith(TEMP_PREFIX):
                continue
            path = os.path.join(self.uploads_dir, name)
            try:
                with open(path, 'rb') as fh:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    if time.time() - os.fstat(fh.fileno()).st_mtime > ABANDONED_SECONDS:
                        os.unlink(path)
                        logger.info('removed %s, left by an interrupted upload', name)
            except OSError:             # being written (locked), or gone already
                continue

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
                    self.forget_item(item)
                    summary['removed'] += 1

    def index_new(self, relative, summary):
        """Index one new file; a file that cannot be is skipped with its reason, and the scan goes on."""
        try:
            item = self.create_item(os.path.join(self.media_dir, relative), title_from_name(relative))
        except (OSError, ValueError) as exc:
            logger.warning('skipped %s: %s', escaped_name(relative), exc)
            return
        summary['added'] += 1
        if odd_name(relative):
            logger.warning('indexed %s, whose name is not UTF-8 or holds control characters, with the title %r',
                           escaped_name(relative), item.title)

    def refresh(self, item_id, relative, stat, summary):
        path = os.path.join(self.media_dir, relative)
        with self.db.atomic():
            item = self.database.Item.get_by_id(item_id)
            item.size, item.mtime_ns = stat.st_size, stat.st_mtime_ns
            item.media_state, item.media_error = 'pending', ''     # probe the new file again
            try:
                item.mime = media.sniff_mime(path)
            except OSError:
                return
            item.updated = now_iso()
            self.touch(item)
            item.save()
        summary['changed'] += 1

    # --- catalog ---------------------------------------------------------------------------------

    def catalog(self, principal, since=None, limit=CATALOG_DEFAULT):
        """One page of this node's items as seen by a key; see CONTRACT.md for the protocol.

        A cursor is `key.generation.base.position.mac`: `base` is where the reader's last complete read
        ended, `position` how far this read has come, and `mac` signs the rest with a node secret. An item
        that is no longer visible is listed in `removed` only if the key could have seen it at `base` or was
        sent it since. A cursor this node did not sign for this key and generation (made up, edited, another
        key's, or of the unsigned form older nodes issued) resets the reader: it reads again from the start.
        """
        base = position = 0
        reset = False
        self.cursor_secret()        # made, if need be, before the read-only transaction below
        if since:
            key_id, generation, base, position, mac = parse_cursor(since)
            if not self.signed(since, mac) or (key_id, generation) != (principal.id, principal.generation):
                reset, base, position = True, 0, 0
        with self.db.atomic('DEFERRED'):   # one read snapshot for the whole page
            return self.catalog_page(principal, base, position, limit, reset)

    def cursor_secret(self):
        """The node's key for signing catalog cursors: made on first use and kept in the database."""
        if self.cursor_key is None:
            Secret = self.database.Secret
            Secret.insert(name='cursor_key', value=secrets.token_urlsafe(32)).on_conflict_ignore().execute()
            self.cursor_key = Secret.get_by_id('cursor_key').value.encode('ascii')
        return self.cursor_key

    def cursor_mac(self, fields):
        digest = hmac.new(self.cursor_secret(), b'catalog cursor ' + fields.encode('ascii'), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:16]).decode('ascii').rstrip('=')

    def signed_cursor(self, *numbers):
        fields = '.'.join('%d' % number for number in numbers)
        return '%s.%s' % (fields, self.cursor_mac(fields))

    def signed(self, cursor, mac):
        return mac is not None and hmac.compare_digest(mac, self.cursor_mac(cursor.rpartition('.')[0]))

    def catalog_page(self, principal, base, position, limit, reset):
        items, removed, examined, looked = [], [], position, 0
        while len(items) + len(removed) < limit and looked < limit * 20:
            page = self.changed_since(examined, limit - len(items) - len(removed))
            if not page:
                break
            self.sort_candidates(principal, page, base, position, items, removed)
            examined, looked = page[-1][0], looked + len(page)
        more = bool(self.changed_since(examined, 1))
        cursor = self.signed_cursor(principal.id, principal.generation, base if more else examined, examined)
        return {'items': items, 'removed': removed, 'cursor': cursor, 'more': more, 'reset': reset}

    def changed_since(self, seq, limit):
        """[(seq, item_id, alive)] of items and tombstones changed after `seq`, oldest change first."""
        Item, Tombstone = self.database.Item, self.database.Tombstone
        alive = (Item.select(Item.seq, Item.id).where((Item.seq > seq) & (Item.origin == 'local'))
                 .order_by(Item.seq).limit(limit).tuples())
        dead = (Tombstone.select(Tombstone.seq, Tombstone.item_id).where(Tombstone.seq > seq)
                .order_by(Tombstone.seq).limit(limit).tuples())
        merged = sorted([(s, i, True) for s, i in alive] + [(s, i, False) for s, i in dead])
        return merged[:limit]

    def sort_candidates(self, principal, page, base, position, items, removed):
        alive_ids = [item_id for _, item_id, alive in page if alive]
        Item = self.database.Item
        rows = {row['id']: row for row in
                Item.select().where(Item.id.in_(alive_ids) & (Item.origin == 'local')).dicts()}
        tags = self.tags_for(alive_ids)
        hidden = []
        for _, item_id, alive in page:
            row = rows.get(item_id) if alive else None
            if row is not None and auth.can_see(principal, row['private'], tags[item_id]):
                items.append(row_json(row, tags[item_id]))
            elif position > 0:
                hidden.append(item_id)
        removed.extend(self.once_visible(principal, hidden, base, position))

    def once_visible(self, principal, item_ids, base, position):
        """Those of `item_ids` the reader may hold: visible in their state at `floor`, or in any state logged
        after it up to `position`. `floor` is `base`, or the key's generation when that is later: a reader
        holds nothing read before its key (and rules) existed, so older states never count."""
        if not item_ids:
            return []
        floor = max(base, principal.generation)
        ItemState = self.database.ItemState
        states = (ItemState.select().where(ItemState.item_id.in_(item_ids) & (ItemState.seq <= max(floor, position)))
                  .order_by(ItemState.seq))
        at_floor, later = {}, {}
        for state in states:
            if state.seq <= floor:
                at_floor[state.item_id] = [state]     # ordered by seq: the last one is the state at floor
            else:
                later.setdefault(state.item_id, []).append(state)
        found = []
        for item_id in item_ids:
            for state in at_floor.get(item_id, []) + later.get(item_id, []):
                if state.seq <= position and not state.deleted and \
                        auth.can_see(principal, state.private, state.tags.split('\n')):
                    found.append(item_id)
                    break
        return found

    # --- comments and views ----------------------------------------------------------------------

    def comments_json(self, item):
        Comment = self.database.Comment
        # rowid is insertion order: `created` has whole seconds only
        rows = Comment.select().where(Comment.item == item.id).order_by(SQL('rowid'))
        return [{'id': c.id, 'author': c.author, 'body': c.body, 'created': c.created} for c in rows]

    def add_comment(self, item, author, body, key_id=None, user_id=None):
        body = check_text(body, 'body', MAX_COMMENT, required=True)
        with self.db.atomic():
            comment = self.database.Comment.create(id=new_id(), item=item.id, author=author, body=body,
                                                   key=key_id, user=user_id, created=now_iso())
            self.bump_count(item.id, 'comments', 1)
        return {'id': comment.id, 'author': comment.author, 'body': comment.body, 'created': comment.created}

    def delete_comment(self, item, comment_id, may_delete):
        """Delete a comment of `item` if `may_delete(comment)` allows; StoreError otherwise."""
        Comment = self.database.Comment
        comment = Comment.get_or_none((Comment.id == comment_id) & (Comment.item == item.id))
        if comment is None:
            raise not_found()
        if not may_delete(comment):
            raise StoreError('only the author of a comment may delete it', 403)
        with self.db.atomic():
            if Comment.delete().where(Comment.id == comment.id).execute():
                self.bump_count(item.id, 'comments', -1)

    def count_view(self, item, principal_tag, viewer):
        """Count a view unless this principal and viewer were counted for the item in the last 6 hours."""
        now = time.time()
        with self.db.atomic():
            counted = self.db.execute_sql(
                'INSERT INTO view_mark (item_id, principal, viewer, counted_at) VALUES (?, ?, ?, ?) '
                'ON CONFLICT (item_id, principal, viewer) DO UPDATE SET counted_at = excluded.counted_at '
                'WHERE view_mark.counted_at <= ?',
                (item.id, principal_tag, viewer, now, now - VIEW_WINDOW)).rowcount
            if counted:
                self.bump_count(item.id, 'views', 1)
        return bool(counted)

    def bump_count(self, item_id, column, delta):
        """Atomic counter update that also gives the item a new change number."""
        Item = self.database.Item
        field = getattr(Item, column)
        Item.update({field: field + delta, Item.seq: self.database.next_seq()}).where(Item.id == item_id).execute()


def parse_cursor(text):
    """[key id, generation, base, position, mac] of a cursor's text (mac None in the unsigned form of older
    nodes); StoreError when it has not a cursor's shape: ASCII digits, each part below 2**63."""
    match = CURSOR.match(text) if isinstance(text, str) else None
    numbers = [int(part) for part in match.groups()[:4]] if match else []
    if not numbers or max(numbers) >= 2 ** 63 or numbers[2] > numbers[3]:
        raise StoreError('since is not a cursor from this node')
    return numbers + [match.group(5)]


def fts_query(text):
    """An FTS5 query that matches every word of `text` by prefix; user syntax is never passed through."""
    words = re.findall(r'\w+', text or '')[:12]
    return ' '.join('"%s"*' % word for word in words) or None


def clean_extension(extension):
    extension = (extension or '').lower()
    return extension if re.match(r'^\.[a-z0-9]{1,8}$', extension) else '.bin'


def remove_quietly(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# --- the Content Management API ------------------------------------------------------------------

KEY_PARAMS = {'key', 'api_key', 'apikey', 'token', 'access_token', 'auth', 'authorization', 'bearer'}


def make_api(node):
    """The Content Management API as a Bottle app, to be mounted at /api/v1."""
    api = bottle.Bottle()
    store = node.store
    api.install(ApiPlugin(node))

    @api.get('/node')
    def node_info(principal):
        return {'name': node.name, 'version': node.version, 'api': 1}

    @api.get('/catalog')
    def catalog(principal):
        limit = int_param('limit', CATALOG_DEFAULT, 1, CATALOG_MAX)
        page = store.catalog(principal, bottle.request.query.get('since') or None, limit)
        return dict(node=node.name, **page)

    @api.get('/content/<item_id>')
    def item(principal, item_id):
        found = store.visible_item(principal, item_id)
        return store.item_json(found, store.tags_of(found.id))

    @api.get('/content/<item_id>/media')
    def item_media(principal, item_id):
        found = store.visible_item(principal, item_id)
        # named by its title, which the key sees anyway, never by its file's name, which it may not
        name = found.title + os.path.splitext(found.path)[1]
        return media.file_response(bottle.response, media_headers(), store.open_media(found), found.mime,
                                   name)

    @api.get('/content/<item_id>/thumbnail')
    def thumbnail(principal, item_id):
        found = store.visible_item(principal, item_id)
        return media.file_response(bottle.response, media_headers(), store.open_thumbnail(found),
                                   'image/jpeg')

    @api.get('/content/<item_id>/comments')
    def comments(principal, item_id):
        return {'comments': store.comments_json(store.visible_item(principal, item_id))}

    @api.post('/content/<item_id>/comments')
    def post_comment(principal, item_id):
        found = store.visible_item(principal, item_id)
        body = json_body()
        author = check_text(body.get('author', ''), 'author', MAX_AUTHOR, required=True)
        bottle.response.status = 201
        return store.add_comment(found, '%s@%s' % (author, principal.name), body.get('body'), key_id=principal.id)

    @api.delete('/content/<item_id>/comments/<comment_id>')
    def delete_comment(principal, item_id, comment_id):
        found = store.visible_item(principal, item_id)
        store.delete_comment(found, comment_id, lambda c: principal.manage or c.key_id == principal.id)
        bottle.response.status = 204
        return ''

    @api.post('/content/<item_id>/views')
    def post_view(principal, item_id):
        found = store.visible_item(principal, item_id)
        viewer = check_text(json_body().get('viewer', ''), 'viewer', MAX_VIEWER, required=True)
        store.count_view(found, principal.tag, viewer)
        bottle.response.status = 204
        return ''

    @api.post('/content')
    def upload(principal):
        require_manage(principal)
        query = bottle.request.query
        length = content_length()
        if length <= 0:
            raise StoreError('the file is empty')
        title = check_text(query.getunicode('title', '') or '', 'title', MAX_TITLE) or 'untitled'
        tags = auth.split_tag_list(query.getunicode('tags', ''))
        found = store.save_stream(bottle.request.environ['wsgi.input'], length, '', title, tags,
                                  private=query.get('private') in ('1', 'true', 'yes'))
        node.media.wake.set()
        bottle.response.status = 201
        return store.item_json(found, tags)

    @api.route('/content/<item_id>', method='PATCH')
    def edit(principal, item_id):
        require_manage(principal)
        found = store.visible_item(principal, item_id)
        changes = json_body()
        unknown = set(changes) - {'title', 'description', 'tags', 'private'}
        if unknown:
            raise StoreError('unknown field %s' % sorted(unknown)[0])
        if None in changes.values():
            raise StoreError('a field may not be null')
        if 'tags' in changes and not isinstance(changes['tags'], list):
            raise StoreError('tags must be a list')
        if 'private' in changes and not isinstance(changes['private'], bool):
            raise StoreError('private must be true or false')
        found = store.edit_item(found, changes.get('title'), changes.get('description'), changes.get('tags'),
                                changes.get('private'))
        return store.item_json(found, store.tags_of(found.id))

    @api.delete('/content/<item_id>')
    def delete(principal, item_id):
        require_manage(principal)
        store.delete_item(store.visible_item(principal, item_id))
        bottle.response.status = 204
        return ''

    return api


def require_manage(principal):
    if not principal.manage:
        raise StoreError('this key may not manage content', 403)


def int_param(name, default, low, high):
    raw = bottle.request.query.get(name)
    if raw is None or raw == '':
        return default
    if not re.fullmatch(r'[0-9]{1,9}', raw) or not low <= int(raw) <= high:     # isdigit() takes '²' too
        raise StoreError('%s must be a whole number from %d to %d' % (name, low, high))
    return int(raw)


def media_headers():
    """The request's Range and validators for media serving, whatever bytes they hold."""
    return media.request_headers(bottle.request.environ)


def content_length():
    raw = bottle.request.environ.get('CONTENT_LENGTH') or ''
    if not re.fullmatch(r'[0-9]{1,18}', raw):
        raise StoreError('Content-Length is required', 411)
    return int(raw)


def json_body(limit=64 * 1024):
    length = content_length()
    if length > limit:
        raise StoreError('the JSON body is too large', 413)
    try:
        data = json.loads(bottle.request.environ['wsgi.input'].read(length).decode('utf-8'))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise StoreError('the body is not valid JSON')
    if not isinstance(data, dict):
        raise StoreError('the body must be a JSON object')
    return data


class ApiPlugin:
    """Wraps every API route: refuse keys in the query, authenticate the bearer key, open the
    database around the call, and turn StoreError and AuthError into JSON errors."""
    name, api = 'privtube_api', 2

    def __init__(self, node):
        self.node = node

    def apply(self, callback, route):
        def wrapper(*args, **kwargs):
            bottle.response.set_header('Cache-Control', 'no-store')
            try:
                with self.node.database.serving():
                    refuse_query_keys()
                    principal = self.node.key_principal(bearer_token())
                    return callback(principal, *args, **kwargs)
            except (StoreError, auth.AuthError) as exc:
                status = getattr(exc, 'status', 400)
                bottle.response.status = status
                bottle.response.content_type = 'application/json'
                if status == 401:
                    bottle.response.set_header('WWW-Authenticate', 'Bearer realm="privtube"')
                return json.dumps({'error': str(exc)})
        return wrapper


def refuse_query_keys():
    names = {name.lower() for name in bottle.request.query.keys()}
    if names & KEY_PARAMS:
        raise StoreError('send the key in the Authorization header, never in the address')


def bearer_token():
    token = bearer_of(bottle.request.environ.get('HTTP_AUTHORIZATION', ''))
    if not token:
        raise StoreError('an Authorization: Bearer key is required', 401)
    return token


def bearer_of(header):
    """The key of an `Authorization: Bearer KEY` header's value ('' when it is no Bearer key)."""
    scheme, _, token = header.partition(' ')
    return token.strip() if scheme.lower() == 'bearer' else ''
