"""The content store: one node's media folder and what it records about it, in parts that each hold one
concern: `items` (and their tags and views), `comments`, `uploads`, `scanner` (privtube_scan), `catalog` (the
change log and the cursors peers read it with) and `search` (privtube_search). privtube_api serves it.
"""
import base64
import fcntl
import hashlib
import hmac
import json
import logging
import math
import os
import re
import secrets
import threading
import time

from peewee import SQL, fn

import privtube_auth as auth
import privtube_media as media
import privtube_taken
from privtube_db import among
from privtube_items import CATALOG_ROWS, MAX_COMMENT, MAX_DESCRIPTION, MAX_TITLE, now_iso, row_json, storable
from privtube_music import SONG_COLUMNS
from privtube_scan import HASH_AT_CREATE, Scanner
from privtube_search import SearchIndex
from privtube_threads import NodeThread

logger = logging.getLogger('privtube.store')

# a local id, or ORIGIN:ID for an item of a peer
ITEM_ID = re.compile(r'^(?:[A-Za-z0-9][A-Za-z0-9_.-]{0,63}:)?[A-Za-z0-9_-]{16,64}$')
UPLOADS = 'uploads'
TRASH = '.trash'         # hidden inside the media folder: scan never walks into it
TEMP_PREFIX = '.tmp-'
PARTIAL_PREFIX = '.tmp-tus-'     # a resumable upload's bytes so far; its details beside it in PREFIX+ID.json
ABANDONED_SECONDS = 2    # an unlocked temporary file this old belongs to no upload in progress
DAY = 86400
PARTIAL_DAYS = 1         # a resumable upload untouched this long is abandoned
VIEW_WINDOW = 6 * 3600
CHUNK = 1024 * 1024
CATALOG_DEFAULT, CATALOG_MAX = 500, 1000
TOUCH_BATCH = 500
CURSOR = re.compile(r'([0-9]{1,19})\.([0-9]{1,19})\.([0-9]{1,19})\.([0-9]{1,19})(?:\.([A-Za-z0-9_-]{22}))?\Z')


class StoreError(Exception):
    """A request the store refuses; `status` is the HTTP status the API answers with."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


class Duplicate(StoreError):
    """An upload whose content (SHA-256) is already in the library, as `item`, which the uploader may see."""

    def __init__(self, item):
        super().__init__('this file is already in the library, as %s' % item.title, 409)
        self.item = item


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

    def __init__(self, database, media_dir, max_upload_bytes, trash_days=30):
        self.database = database
        self.db = database.db
        self.media_dir = os.path.realpath(media_dir)
        self.uploads_dir = os.path.join(self.media_dir, UPLOADS)
        self.cache_dir = os.path.join(os.path.dirname(os.path.abspath(database.path)), 'cache')
        self.thumbs_dir = os.path.join(self.cache_dir, 'thumbs', 'local')
        self.previews_dir = os.path.join(self.cache_dir, 'previews', 'local')
        self.remux_dir = os.path.join(self.cache_dir, 'remux')
        os.makedirs(self.uploads_dir, exist_ok=True)
        self.items = Items(self)
        self.comments = Comments(self)
        self.uploads = Uploads(self, max_upload_bytes)
        self.scanner = Scanner(self)
        self.catalog = Catalog(self)
        self.albums = Albums(self)
        self.trash = Trash(self, trash_days)
        self.album_stats = AlbumStats(database)
        self.search = SearchIndex(self)

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

    def thumbnail_path(self, item_id):
        """Where a local item's thumbnail is cached (ids are checked, never taken from a path)."""
        return os.path.join(self.thumbs_dir, item_id + '.jpg')

    def preview_path(self, item_id):
        """Where a local photo's display-sized preview (long side about 1920 px) is cached."""
        return os.path.join(self.previews_dir, item_id + '.jpg')

    def remux_path(self, item_id, extension):
        """Where a local video's browser-playable copy (`extension` 'mp4' or 'webm') is cached."""
        return os.path.join(self.remux_dir, '%s.%s' % (item_id, extension))

    def open_preview(self, item):
        if not item.preview:
            raise StoreError('this item has no preview', 404)
        try:
            return open(self.preview_path(item.id), 'rb')
        except OSError:
            raise StoreError('this item has no preview', 404)

    def open_thumbnail(self, item):
        if not item.thumbnail:
            raise StoreError('this item has no thumbnail', 404)
        try:
            return open(self.thumbnail_path(item.id), 'rb')
        except OSError:
            raise StoreError('this item has no thumbnail', 404)


class Part:
    """A part of the store: it reaches the database, the media folder and the other parts through it."""

    def __init__(self, store):
        self.store, self.database, self.db = store, store.database, store.database.db


class Uploads(Part):
    """Files added to the store: indexed in place when inside the media folder, else written to the uploads
    folder atomically; resumable uploads (tus) growing there under temporary names; and the temporary files
    interrupted uploads left there."""

    def __init__(self, store, max_bytes):
        super().__init__(store)
        self.max_bytes = max_bytes
        self.hashers = {}       # resumable upload id -> (offset, sha256 of its bytes so far)
        self.hashers_lock = threading.Lock()

    def add_file(self, source, title=None, tags=(), private=False, owner_id=None):
        """Add an existing file: indexed in place when inside the media folder, else copied to uploads."""
        if not os.path.isfile(source):
            raise StoreError('%s: no such file' % source)
        tags = auth.normalize_tags(tags)
        title = check_text(title, 'title', MAX_TITLE) if title is not None else None
        if self.store.inside(source):
            real = os.path.realpath(source)
            if self.database.Item.get_or_none(self.database.Item.path == self.store.relative(real)):
                raise StoreError('%s is already in the store' % source)
            return self.store.items.create(real, title or title_from_name(source), tags, private, owner_id)
        with open(source, 'rb') as fh:
            size = os.fstat(fh.fileno()).st_size
            return self.save_stream(fh, size, os.path.splitext(source)[1], title or title_from_name(source),
                                    tags, private, owner_id, original_name=os.path.basename(source))

    def save_stream(self, stream, length, extension, title, tags=(), private=False, owner_id=None,
                    description='', album=None, principal=None, original_name=None):
        """Write `length` bytes of `stream` to the uploads folder atomically, then record the item (in
        `album` when given). With `principal`, content it can already see is not stored twice: Duplicate.

        The bytes go to a hidden temporary file, are fsynced and renamed; any failure removes the file.
        `original_name` (the uploaded file's name; else its title) may hold the date a phone wrote in it.
        """
        self.check_size(length)
        temp = os.path.join(self.store.uploads_dir, TEMP_PREFIX + secrets.token_hex(8))
        try:
            head, digest = self.copy_exactly(stream, temp, length)
        except BaseException:
            remove_quietly(temp)
            raise
        details = dict(title=title, tags=tags, private=private, owner_id=owner_id, description=description,
                       original_name=original_name or title)
        return self.keep(temp, head, extension, digest, details, album, principal)

    def check_size(self, length):
        if length > self.max_bytes:
            raise StoreError('the file is larger than the limit of %d MiB' % (self.max_bytes >> 20), 413)

    def keep(self, temp, head, extension, digest, details, album=None, principal=None):
        """Make the complete temporary file `temp` an item (or refuse it as a Duplicate, removing it)."""
        final = None
        try:
            if principal is not None:
                self.refuse_duplicate(principal, digest)
            mime = media.sniff_mime(temp, head)
            extension = media.EXTENSIONS.get(mime) or clean_extension(extension)
            # rename under the write lock: a `scan` running meanwhile cannot index the file before its item exists
            with self.db.atomic():
                final = os.path.join(self.store.uploads_dir, new_id() + extension)
                os.rename(temp, final)
                fsync_dir(self.store.uploads_dir)
                item = self.store.items.create(final, content_hash=digest, **details)
                if album is not None:
                    self.store.albums.add_items(album, [item.id])
                return item
        except BaseException:
            remove_quietly(final or temp)
            raise

    def refuse_duplicate(self, principal, digest):
        """Duplicate when an item `principal` may see has this content; one it may not see is no answer
        to give (existence never leaks), so that upload is stored."""
        Item = self.database.Item
        found = self.store.items.visible_query(principal).where(
            (Item.content_hash == digest) & (Item.origin == 'local')).order_by(Item.created).first()
        if found is not None:
            raise Duplicate(found)

    def copy_exactly(self, stream, target, length):
        """Copy `length` bytes to `target` and fsync; returns the first bytes (for type detection) and
        the SHA-256 of all of them, computed as they stream."""
        head, written, digest = b'', 0, hashlib.sha256()
        with open(target, 'wb') as out:
            fcntl.flock(out, fcntl.LOCK_EX)     # held while we write: see remove_abandoned
            while written < length:
                chunk = stream.read(min(CHUNK, length - written))
                if not chunk:
                    raise StoreError('the upload ended after %d of %d bytes' % (written, length))
                if not head:
                    head = chunk[:64]
                out.write(chunk)
                digest.update(chunk)
                written += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        return head, digest.hexdigest()

    # --- resumable uploads: one growing file and its details per upload, for the tus protocol ------

    def begin(self, length, owner_id, details):
        """Start a resumable upload of `length` bytes; returns its id. `details` (JSON: the file name,
        title, album name, private) are kept beside the bytes until it is complete."""
        self.check_size(length)
        upload_id = new_id()
        data, info = self.partial_paths(upload_id)
        write_json(info, dict(details, length=length, owner=owner_id, started=time.time()))
        open(data, 'wb').close()
        return upload_id

    def partial_paths(self, upload_id):
        base = os.path.join(self.store.uploads_dir, PARTIAL_PREFIX + upload_id)
        return base, base + '.json'

    def partial(self, upload_id, owner_id):
        """The details of a resumable upload of `owner_id`, with its `offset` (bytes received so far);
        404 for an unknown id or another person's upload."""
        if not isinstance(upload_id, str) or not ITEM_ID.fullmatch(upload_id) or ':' in upload_id:
            raise not_found()
        data, info = self.partial_paths(upload_id)
        try:
            with open(info, encoding='utf-8') as fh:
                details = json.load(fh)
            offset = os.stat(data).st_size
        except (OSError, ValueError):
            raise not_found()
        if details.get('owner') != owner_id:
            raise not_found()
        return dict(details, offset=offset)

    def append(self, upload_id, owner_id, offset, stream, length, principal=None):
        """Add `length` bytes of `stream` at `offset` to a resumable upload; returns (offset now, item):
        the item once the last byte is in, else None. Bytes that arrive before the stream is cut off are
        kept (fsynced), so the upload resumes from there."""
        details = self.partial(upload_id, owner_id)
        if offset + length > details['length']:
            raise StoreError('the body goes past the Upload-Length of %d bytes' % details['length'], 413)
        try:
            out = open(self.partial_paths(upload_id)[0], 'r+b')
        except OSError:         # finished or cancelled meanwhile
            raise not_found()
        with out:
            self.lock_at(out, offset)
            offset = self.write_at_end(upload_id, out, stream, length)
            if offset < details['length']:
                return offset, None
            return offset, self.complete(upload_id, details, principal)

    @staticmethod
    def lock_at(out, offset):
        """Take the upload's lock (one request writes at a time; remove_abandoned leaves it alone) and
        check that the client's `offset` is the size it has, now that no other request can change it."""
        try:
            fcntl.flock(out, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise StoreError('this upload is receiving bytes in another request', 409)
        size = out.seek(0, 2)
        if offset != size:
            raise StoreError('Upload-Offset %d is not the %d bytes received so far' % (offset, size), 409)

    def write_at_end(self, upload_id, out, stream, length):
        """Copy up to `length` bytes to the end of `out`, hashing them; returns the size after."""
        offset = out.seek(0, 2)
        digest = self.hasher(upload_id, out, offset)
        try:
            while length > 0:
                chunk = stream.read(min(CHUNK, length))
                if not chunk:
                    break          # cut off: what came is kept
                out.write(chunk)
                digest.update(chunk)
                offset, length = offset + len(chunk), length - len(chunk)
        finally:
            out.flush()
            os.fsync(out.fileno())
            with self.hashers_lock:
                self.hashers[upload_id] = (out.tell(), digest)
        return offset

    def hasher(self, upload_id, out, offset):
        """The SHA-256 of the upload's first `offset` bytes: kept from its last request, else read again
        (after a restart, or a request that failed while writing)."""
        with self.hashers_lock:
            kept = self.hashers.pop(upload_id, None)
        if kept is not None and kept[0] == offset:
            return kept[1]
        digest = hashlib.sha256()
        out.seek(0)
        for chunk in iter(lambda: out.read(CHUNK), b''):
            digest.update(chunk)
        out.seek(0, 2)
        return digest

    def complete(self, upload_id, details, principal):
        """The finished upload as an item, like a form upload: type sniffed, titled after its file name."""
        data, info = self.partial_paths(upload_id)
        with self.hashers_lock:
            digest = self.hashers.pop(upload_id)[1].hexdigest()
        with open(data, 'rb') as fh:
            head = fh.read(64)
        temp = os.path.join(self.store.uploads_dir, TEMP_PREFIX + secrets.token_hex(8))
        os.rename(data, temp)       # no longer resumable, whatever happens next
        remove_quietly(info)
        name = details.get('filename') or ''
        album = self.store.albums.get(details.get('album_id'))
        fields = dict(title=details.get('title') or title_from_name(name or 'untitled'),
                      tags=details.get('tags') or [], private=bool(details.get('private')),
                      owner_id=details.get('owner'), description=details.get('description') or '',
                      original_name=name or details.get('title') or 'upload')
        return self.keep(temp, head, os.path.splitext(name)[1], digest, fields, album, principal)

    def cancel(self, upload_id, owner_id):
        """Termination: the partial upload's bytes and details are removed."""
        self.partial(upload_id, owner_id)
        for path in self.partial_paths(upload_id):
            remove_quietly(path)
        with self.hashers_lock:
            self.hashers.pop(upload_id, None)

    def remove_abandoned(self, now=None):
        """Delete temporary upload files a crash left behind (those no living upload holds a lock on),
        and resumable uploads nobody added to for PARTIAL_DAYS."""
        now = time.time() if now is None else now
        folder = self.store.uploads_dir
        for name in os.listdir(folder):
            if name.startswith(PARTIAL_PREFIX):
                self.remove_if_abandoned(os.path.join(folder, name), now - PARTIAL_DAYS * DAY)
            elif name.startswith(TEMP_PREFIX):
                self.remove_if_abandoned(os.path.join(folder, name), now - ABANDONED_SECONDS)

    def remove_if_abandoned(self, path, before):
        """Remove `path` when unlocked and last changed before `before` (a resumable upload's details
        go with its bytes, whose time is the one that counts)."""
        data = path[:-len('.json')] if path.endswith('.json') else path
        try:
            with open(data if os.path.exists(data) else path, 'rb') as fh:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if os.fstat(fh.fileno()).st_mtime < before:
                    os.unlink(path)
                    logger.info('removed %s, left by an interrupted upload', os.path.basename(path))
        except OSError:             # being written (locked), or gone already
            return


def write_json(path, value):
    """Write `value` to `path` atomically (temporary file, fsync, rename)."""
    temp = path + '.new'
    with open(temp, 'w', encoding='utf-8') as fh:
        json.dump(value, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.rename(temp, path)


class Catalog(Part):
    """The change log (every change gives an item a new number; changes of who may see it are logged as
    states) and the catalog pages peers read from it with signed cursors."""

    def __init__(self, store):
        super().__init__(store)
        self.cursor_key = None

    def touch(self, item, visibility_changed=False, tags=None, albums=None):
        """Give `item` a new change number; log its visibility state (private, tags, albums; deleted while
        it is in the trash) when that changed. Call it inside the transaction that makes the change, after
        album membership changed."""
        item.seq = self.database.next_seq()
        if visibility_changed:
            tags = self.store.items.tags_of(item.id) if tags is None else tags
            albums = self.store.albums.names_of(item.id) if albums is None else albums
            self.database.ItemState.create(seq=item.seq, item_id=item.id, private=item.private,
                                           tags='\n'.join(tags), albums='\n'.join(albums),
                                           deleted=item.trashed is not None)

    def touch_all(self, items, fields=(), tags=None, albums=None):
        """Catalog.touch(item, visibility_changed=True) and item.save() for many items in a few statements:
        their `fields` (column names) are written from the objects, then each gets a new change number and
        its state is logged (touch_many). `tags` and `albums` ({item id: names}) are read when not given. A
        bulk change of a thousand items spent most of two seconds building one UPDATE of every column per item."""
        items = list(items)
        if fields:
            self.db.cursor().executemany('UPDATE item SET %s WHERE id = ?' % ', '.join('%s = ?' % c for c in fields),
                                         [[getattr(item, c) for c in fields] + [item.id] for item in items])
        self.touch_many([item.id for item in items], True, tags, albums)

    def touch_many(self, item_ids, visibility_changed=False, tags=None, albums=None):
        """touch() for many items in a few statements a batch (a renamed folder of thousands, an album
        renamed); call it inside the transaction that makes the change, after it (rows are not saved)."""
        item_ids = list(dict.fromkeys(item_ids))
        for start in range(0, len(item_ids), TOUCH_BATCH):
            self.touch_batch(item_ids[start:start + TOUCH_BATCH], visibility_changed, tags, albums)

    def touch_batch(self, item_ids, visibility_changed, tags=None, albums=None):
        Item = self.database.Item
        states = {item_id: (private, trashed is not None) for item_id, private, trashed in
                  Item.select(Item.id, Item.private, Item.trashed).where(Item.id.in_(among(item_ids))).tuples()}
        item_ids = [item_id for item_id in item_ids if item_id in states]
        if not item_ids:
            return
        first = self.database.next_seqs(len(item_ids))
        numbered = list(zip(range(first, first + len(item_ids)), item_ids))
        self.db.cursor().executemany('UPDATE item SET seq = ? WHERE id = ?', numbered)
        if visibility_changed:      # as touch() logs it: deleted while the item is in the trash
            tags = self.store.items.tags_for(item_ids) if tags is None else tags
            albums = self.store.albums.names_for(item_ids) if albums is None else albums
            self.db.cursor().executemany(
                'INSERT INTO item_state (seq, item_id, private, tags, albums, deleted) VALUES (?, ?, ?, ?, ?, ?)',
                [(seq, i, states[i][0], '\n'.join(tags[i]), '\n'.join(albums[i]), states[i][1]) for seq, i in numbered])

    def log_removal(self, item):
        """Log that `item` is gone, leaving a tombstone for catalog readers."""
        seq = self.database.next_seq()
        self.database.ItemState.create(seq=seq, item_id=item.id, private=item.private, tags='', deleted=True)
        self.database.Tombstone.insert(item_id=item.id, seq=seq).on_conflict_replace().execute()

    def page(self, principal, since=None, limit=CATALOG_DEFAULT):
        """One page of this node's items as seen by a key (the protocol: openapi.json, the catalog).

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
            return self.read_page(principal, base, position, limit, reset)

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

    def read_page(self, principal, base, position, limit, reset):
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
        execute = self.db.execute_sql      # plain SQL: these run twenty times a page of a first read
        alive = execute("SELECT seq, id FROM item WHERE seq > ? AND origin = 'local' ORDER BY seq LIMIT ?",
                        (seq, limit)).fetchall()
        dead = execute('SELECT seq, item_id FROM tombstone WHERE seq > ? ORDER BY seq LIMIT ?', (seq, limit)).fetchall()
        merged = sorted([(s, i, True) for s, i in alive] + [(s, i, False) for s, i in dead])
        return merged[:limit]

    def sort_candidates(self, principal, page, base, position, items, removed):
        alive_ids = [item_id for _, item_id, alive in page if alive]
        rows = self.rows_of(alive_ids)
        tags = self.store.items.tags_for(alive_ids)
        albums = self.store.albums.names_for(alive_ids)
        hidden = []
        for _, item_id, alive in page:
            row = rows.get(item_id) if alive else None
            if row is not None and auth.can_see(principal, row['private'], tags[item_id], albums=albums[item_id],
                                                trashed=row['trashed']):
                items.append(row_json(row, tags[item_id], albums[item_id]))
            elif position > 0:
                hidden.append(item_id)
        removed.extend(self.once_visible(principal, hidden, base, position))

    def rows_of(self, item_ids):
        """{id: the item's columns} of this node's items among `item_ids`, read without the model: building
        each row through Peewee's converters took a third of the time of serving a catalog page."""
        cursor = self.db.execute_sql(CATALOG_ROWS, (json.dumps(item_ids),))
        names = [column[0] for column in cursor.description]
        return {row['id']: row for row in (dict(zip(names, values)) for values in cursor)}

    def once_visible(self, principal, item_ids, base, position):
        """Those of `item_ids` the reader may hold: visible in their state at `floor`, or in any state logged
        after it up to `position`. `floor` is `base`, or the key's generation when that is later: a reader
        holds nothing read before its key (and rules) existed, so older states never count."""
        if not item_ids:
            return []
        floor = max(base, principal.generation)
        ItemState = self.database.ItemState
        states = (ItemState.select()
                  .where(ItemState.item_id.in_(among(item_ids)) & (ItemState.seq <= max(floor, position)))
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
                        auth.can_see(principal, state.private, state.tags.split('\n'),
                                     albums=state.albums.split('\n') if state.albums else ()):
                    found.append(item_id)
                    break
        return found


class Trash(Part):
    """Deleted items, restorable by their owner or an admin for `days`, then removed for good.

    A trashed item's file moves to `.trash/ID/ITS PATH` inside the media folder (never outside it; the
    id keeps names unique and the rest says where it goes back to), and its record stays with `trashed`
    set: it is gone for everyone (auth.can_see, visible_filter) but this part. Its state is logged as
    deleted, so catalog readers drop it at once; a restore logs its state again and they read it back.
    """

    def __init__(self, store, days, clock=time.time):
        super().__init__(store)
        self.days, self.clock = days, clock
        self.folder = os.path.join(store.media_dir, TRASH)

    def move(self, item):
        """Put a local item in the trash; returns it."""
        if not item.is_local or item.trashed is not None:
            raise not_found()
        source = self.store.full_path(item.path) and os.path.join(self.store.media_dir, item.path)
        target = '%s/%s/%s' % (TRASH, item.id, item.path)
        with self.db.atomic():
            item = self.database.Item.get_by_id(item.id)
            item.trashed = self.clock()
            self.relocate(item, source, target)
        return item

    def restore(self, item):
        """Take an item out of the trash, back to its old path (or a free name beside it); returns it."""
        self.check_trashed(item)
        target = self.free_path(self.original_path(item))
        source = self.store.full_path(item.path) and os.path.join(self.store.media_dir, item.path)
        with self.db.atomic():
            item = self.database.Item.get_by_id(item.id)
            item.trashed = None
            self.relocate(item, source, target)
        self.remove_empty_folders(item.id)
        return item

    def relocate(self, item, source, target):
        """Record `item` at `target` (relative) with its new state, then move its file there (if it has
        one): inside the transaction, so a failed move changes nothing and a scan never sees a file
        whose item is elsewhere."""
        item.path, item.updated = target, now_iso()
        self.store.catalog.touch(item, visibility_changed=True)
        item.save()
        if source is not None:
            full = os.path.join(self.store.media_dir, target)
            self.make_folder(os.path.dirname(full))
            try:
                os.rename(source, full)
            except OSError as exc:
                raise StoreError('could not move the file: %s' % exc.strerror, 409)
            fsync_dir(os.path.dirname(full))

    def make_folder(self, folder):
        """Make `folder` (and its parents), refusing one that is, or goes through a link, outside the
        media folder: the trash never takes a file out of it. Checked before anything is made."""
        existing = folder
        while not os.path.isdir(existing):
            existing = os.path.dirname(existing)
        if os.path.realpath(existing) != self.store.media_dir and not self.store.inside(existing):
            raise StoreError('%s leads out of the media folder; nothing was moved' % self.store.relative(existing),
                             409)
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise StoreError('cannot make the folder %s: %s' % (self.store.relative(folder), exc.strerror), 409)

    def delete_forever(self, item):
        """Remove a trashed item and its file for good."""
        self.check_trashed(item)
        self.store.items.delete(item)
        self.remove_empty_folders(item.id)

    def purge(self, now=None):
        """Remove for good every item trashed more than `days` ago; returns how many."""
        Item = self.database.Item
        limit = (self.clock() if now is None else now) - self.days * DAY
        expired = list(Item.select().where(Item.trashed.is_null(False) & (Item.trashed < limit)))
        for item in expired:
            self.delete_forever(item)
            logger.info('removed %s for good: in the trash for %d days', item.id, self.days)
        return len(expired)

    def listing(self, user):
        """The trashed items `user` may restore (their own; an admin's: all), most recently trashed first."""
        Item = self.database.Item
        query = Item.select().where(Item.trashed.is_null(False) & (Item.origin == 'local'))
        if not user.is_admin:
            query = query.where(Item.owner == user.id)
        return list(query.order_by(Item.trashed.desc(), Item.id))

    def days_left(self, item):
        """Whole days (at least 0) until the trashed `item` is removed for good."""
        return max(0, math.ceil((item.trashed + self.days * DAY - self.clock()) / DAY))

    def check_trashed(self, item):
        if item is None or not item.is_local or item.trashed is None:
            raise not_found()

    def original_path(self, item):
        """Where a trashed item was: its path without `.trash/ID/`."""
        prefix = '%s/%s/' % (TRASH, item.id)
        return item.path[len(prefix):] if item.path.startswith(prefix) else os.path.basename(item.path)

    def free_path(self, relative):
        """`relative`, or `NAME (2).EXT`, `NAME (3).EXT`... beside it when a file or item has it."""
        stem, extension = os.path.splitext(relative)
        for number in range(1, 10000):
            candidate = relative if number == 1 else '%s (%d)%s' % (stem, number, extension)
            taken = os.path.lexists(os.path.join(self.store.media_dir, candidate)) or \
                self.database.Item.select().where(self.database.Item.path == candidate).exists()
            if not taken:
                return candidate
        raise StoreError('no free name beside %s' % relative, 409)

    def remove_empty_folders(self, item_id):
        """Remove `.trash/ID` and the empty folders in it that a restored or removed item left."""
        top = os.path.join(self.folder, item_id)
        for folder, _, _ in sorted(os.walk(top), key=lambda entry: -len(entry[0])):
            try:
                os.rmdir(folder)
            except OSError:
                return      # not empty: something else is in there


class Housekeeping(NodeThread):
    """One daemon thread owned by the node (`serve` starts it): every `seconds`, items in the trash
    past `trash_days` are removed for good, and abandoned partial uploads with them."""

    def __init__(self, store, seconds=3600):
        super().__init__('privtube-housekeeping')
        self.store, self.seconds = store, seconds

    def run_once(self):
        with self.store.db.connection_context():
            self.store.trash.purge()
            self.store.uploads.remove_abandoned()

    def loop(self):
        while True:
            try:
                self.run_once()
            except Exception:
                logger.exception('housekeeping failed; trying again later')
            if self.stopping.wait(self.seconds):
                return


class AlbumSummary:
    """What a person sees of an album in a list: only its items they may see are counted, dated and
    offered as its cover."""

    def __init__(self, album, count=0, first=None, last=None, cover=None):
        self.album, self.count, self.first, self.last, self.cover = album, count, first, last, cover

    @property
    def dates(self):
        """The album's span of days as shown ('2024-07-14', '2024-07-14 – 2024-08-02'), '' when empty."""
        first, last = (self.first or '')[:10], (self.last or '')[:10]
        return first if first == last else '%s – %s' % (first, last)


def visibility_of_states(principal):
    """A function: may `principal` see an item in this state (AlbumStats)? Each state is decided once."""
    decided = {}

    def sees(state):
        if state not in decided:
            private, owner_id, origin, tags, albums = state
            decided[state] = auth.can_see(principal, private, tags.split('\n') if tags else [], origin,
                                          owner_id=owner_id, albums=albums.split('\n') if albums else [])
        return decided[state]
    return sees


class AlbumStats:
    """What every album holds, summed up per visibility state of its items (private, owner, origin, tags,
    albums): a count, a span of dates and the first item in the album's order. A person's view of an album
    is then one `can_see` per state, not a read of every item: the albums page of a large library read
    100,000 items for each visit. The sums are made again when anything they depend on changed (`stamp`)."""

    def __init__(self, database):
        self.database, self.db = database, database.db
        self.lock = threading.Lock()
        self.cached = (None, {}, {})
        self.generation = 0

    STAMP = ('SELECT (SELECT max(seq) FROM item_state), (SELECT max(updated) FROM album), '
             '(SELECT count(*) FROM album), (SELECT max(rowid) FROM item), (SELECT max(rowid) FROM album_item), '
             "(SELECT group_concat(name || ' ' || status || ' ' || coalesce(last_success, '') || ' ' || "
             "coalesce(last_attempt, '') || ' ' || item_count, ',') FROM peer)")

    def stamp(self):
        """Changes whenever an item's visibility, an album or a peer's listing may have changed: this node's
        changes log an item state (Catalog.touch, log_removal) or touch the album (`changed`: covers and
        order, which a second's `updated` may not tell apart), a peer's come with a sync."""
        return tuple(self.db.execute_sql(self.STAMP).fetchone()) + (self.generation,)

    def changed(self):
        self.generation += 1

    def current(self):
        """({album id: {state: [count, first date, last date, first order key, first item id]}},
        {item id: state}), made again if the stamp moved."""
        stamp = self.stamp()
        with self.lock:
            if self.cached[0] != stamp:
                self.cached = (stamp,) + self.build()
            return self.cached[1], self.cached[2]

    def build(self):
        execute = self.db.execute_sql
        # tags in the index's order; an order that differed would only split a state in two
        tags = dict(execute('SELECT item_id, group_concat(tag, char(10)) FROM item_tag GROUP BY item_id').fetchall())
        album_names = dict(execute('SELECT id, name FROM album').fetchall())
        made = {row[0] for row in execute("SELECT id FROM album WHERE kind = 'made' AND origin = 'local'")}
        # from the items in their table's order: probing album_item by item is cheaper than item by id
        rows = execute('SELECT album_item.album_id, album_item.position, item.id, item.private, item.owner_id, '
                       'item.origin, coalesce(item.taken, item.created) FROM item CROSS JOIN album_item '
                       'ON album_item.item_id = item.id WHERE item.trashed IS NULL').fetchall()
        names = {}
        for album_id, _, item_id, *_ in rows:
            names.setdefault(item_id, []).append(album_names[album_id])
        states, albums = {}, {}
        for album_id, position, item_id, private, owner_id, origin, when in rows:
            state = states.get(item_id)
            if state is None:
                state = states[item_id] = (bool(private), owner_id, origin, tags.get(item_id, ''),
                                           '\n'.join(sorted(names[item_id])))
            self.add(albums.setdefault(album_id, {}), state, (position, item_id) if album_id in made else
                     (when, item_id), when)
        return albums, states

    @staticmethod
    def add(sums, state, key, when):
        """Count one item of an album in the sums of its state: [count, first date, last date, first order
        key, first item id]."""
        found = sums.get(state)
        if found is None:
            sums[state] = [1, when, when, key, key[1]]
            return
        found[0] += 1
        found[1], found[2] = min(found[1], when), max(found[2], when)
        if key < found[3]:
            found[3], found[4] = key, key[1]


class Albums(Part):
    """Albums: folders of the media folder, music albums and hand-made ones, each a named, ordered set of
    one origin's items. Membership decides visibility as tags do (rules `album:NAME`), so every change of
    it touches the items it changes with their new state logged (Catalog.touch), and rewrites their
    search rows (album names are searched)."""

    def get(self, album_id):
        if not isinstance(album_id, str) or not ITEM_ID.match(album_id):
            return None
        return self.database.Album.get_or_none(self.database.Album.id == album_id)

    def by_name(self, name, origin='local'):
        Album = self.database.Album
        return Album.get_or_none((Album.origin == origin) & (Album.name == name))

    def create(self, name, owner_id=None, kind='made', folder=None, description='', item_ids=()):
        """A new album of this node's items; `item_ids` (local items) join it in that order."""
        name = self.free_name(name)
        description = check_text(description, 'description', MAX_DESCRIPTION)
        with self.db.atomic():
            album = self.database.Album.create(id=new_id(), name=name, kind=kind, folder=folder,
                                               description=description, owner=owner_id)
            self.add_items(album, item_ids)
        return album

    def free_name(self, name, album=None):
        """`name` checked, if no other album of this node has it; StoreError otherwise."""
        try:
            name = auth.album_name(name)
        except auth.AuthError as exc:
            raise StoreError(str(exc))
        taken = self.by_name(name)
        if taken is not None and (album is None or taken.id != album.id):
            raise StoreError('there is already an album named %s' % name, 409)
        return name

    def add_items(self, album, item_ids):
        """Add local items to the end of `album` (those already in it stay where they are); returns how
        many joined. Each joining item is touched with its new state, so catalogs follow."""
        AlbumItem, Item = self.database.AlbumItem, self.database.Item
        self.check_local(album)
        with self.db.atomic():
            present = {row.item_id for row in AlbumItem.select(AlbumItem.item).where(AlbumItem.album == album.id)}
            wanted = [i for i in dict.fromkeys(item_ids) if i not in present]
            items = {item.id: item for item in Item.select().where(Item.id.in_(wanted) & (Item.origin == 'local'))}
            joining = [i for i in wanted if i in items]
            last = AlbumItem.select(fn.MAX(AlbumItem.position)).where(AlbumItem.album == album.id).scalar() or 0
            if joining:
                AlbumItem.insert_many([{'album': album.id, 'item': item_id, 'position': last + offset}
                                       for offset, item_id in enumerate(joining, 1)]).execute()
            self.touch_items(items[i] for i in joining)
            self.touch_album(album)
            self.reindex(joining)
        return len(joining)

    def remove_items(self, album, item_ids):
        """Take items out of `album` (never out of the store); returns how many left it."""
        AlbumItem, Item = self.database.AlbumItem, self.database.Item
        self.check_local(album)
        with self.db.atomic():
            leaving = [row.item_id for row in AlbumItem.select(AlbumItem.item).where(
                (AlbumItem.album == album.id) & AlbumItem.item.in_(list(item_ids)))]
            AlbumItem.delete().where((AlbumItem.album == album.id) & AlbumItem.item.in_(leaving)).execute()
            if album.cover_id in leaving:
                album.cover = None
            self.touch_items(Item.select().where(Item.id.in_(leaving)))
            self.touch_album(album)
            self.reindex(leaving)
        return len(leaving)

    def rename(self, album, name):
        """A new name: its items' state is logged again, since rules name albums."""
        self.check_local(album)
        with self.db.atomic():
            album.name = self.free_name(name, album)
            self.touch_album(album)
            members = list(self.items_query(album))
            self.touch_items(members)
            self.reindex([item.id for item in members])
        return album

    def describe(self, album, description):
        """A new description (what the album page shows under its name)."""
        self.check_local(album)
        album.description = check_text(description, 'description', MAX_DESCRIPTION)
        self.touch_album(album)
        return album

    def set_cover(self, album, item_id):
        """Show `item_id`, one of the album's items, on the album's card; None: its first item again."""
        self.check_local(album)
        if item_id is not None and not self.holds(album, item_id):
            raise StoreError('that item is not in this album', 404)
        album.cover = item_id
        self.touch_album(album)
        return album

    def move(self, album, item_id, position):
        """Put one item of a hand-made album at `position` (1 = first) of its order; the others keep
        theirs. Folder and music albums are in track and date order and cannot be reordered."""
        self.check_local(album)
        if album.kind != 'made':
            raise StoreError('only hand-made albums can be reordered; this one is in the order taken')
        order = [item.id for item in self.items_query(album)]
        if item_id not in order:
            raise StoreError('that item is not in this album', 404)
        order.remove(item_id)
        order.insert(min(max(int(position), 1), len(order) + 1) - 1, item_id)
        AlbumItem = self.database.AlbumItem
        with self.db.atomic():
            for number, member in enumerate(order, 1):
                AlbumItem.update(position=number).where(
                    (AlbumItem.album == album.id) & (AlbumItem.item == member)).execute()
            self.touch_album(album)
        self.store.album_stats.changed()        # again once committed: a sum made meanwhile read the old order

    def delete(self, album):
        """Forget the album (never its items); they are touched, having left it."""
        self.check_local(album)
        with self.db.atomic():
            members = list(self.items_query(album))
            album.delete_instance()
            self.touch_items(members)
            self.reindex([item.id for item in members])

    def holds(self, album, item_id):
        AlbumItem = self.database.AlbumItem
        return AlbumItem.select().where((AlbumItem.album == album.id) & (AlbumItem.item == item_id)).exists()

    def check_local(self, album):
        if album.origin != 'local':
            raise StoreError('albums of %s are changed there' % album.origin, 403)

    def items_query(self, album):
        """The album's items in its order: a hand-made album's positions, else by disc, track and date taken
        (a peer's albums have no positions: they come in that order too). Items in the trash are not among
        them (a restore brings them back in their place)."""
        Item, AlbumItem = self.database.Item, self.database.AlbumItem
        query = Item.select().join(AlbumItem, on=(AlbumItem.item == Item.id)).where(
            (AlbumItem.album == album.id) & Item.trashed.is_null(True))
        if album.kind == 'made' and album.origin == 'local':
            return query.order_by(AlbumItem.position, Item.id)
        # songs by disc and track first (a photo has neither, so a folder of photos keeps the date order)
        return query.order_by(Item.disc.is_null(), Item.disc, Item.track.is_null(), Item.track,
                              fn.COALESCE(Item.taken, Item.created), Item.id)

    def visible_items(self, principal, album):
        """The album's items `principal` may see, in the album's order."""
        database = self.database
        return self.items_query(album).where(
            auth.visible_filter(principal, database.Item, database.ItemTag, database.AlbumItem))

    def listing(self, origin=None):
        """Every album (of one origin when given): this node's first, then by origin and name."""
        Album = self.database.Album
        query = Album.select().order_by(Album.origin != 'local', Album.origin, Album.name)
        return list(query.where(Album.origin == origin) if origin else query)

    def matching(self, text):
        """The albums whose name has every word of `text` as the start of one of its words (as search
        matches items): this node's first, those with every word whole before those with prefixes, then
        by name. SQL narrows them to names holding each word; Python checks."""
        words = [word.casefold() for word in re.findall(r'\w+', text or '')[:12]]
        if not words:
            return []
        Album = self.database.Album
        query = Album.select().order_by(Album.origin != 'local', Album.origin, Album.name)
        for word in words:
            query = query.where(Album.name.contains(word))      # LIKE: case-blind for ASCII, a first sieve
        found = []
        for album in query:
            own = [word.casefold() for word in re.findall(r'\w+', album.name)]
            if all(any(mine.startswith(word) for mine in own) for word in words):
                whole = all(word in own for word in words)
                found.append((album.origin != 'local', not whole, len(found), album))
        return [album for *_, album in sorted(found, key=lambda row: row[:3])]

    def summaries(self, principal, albums):
        """[AlbumSummary] of `albums` as `principal` sees them: counts, dates and cover from the items
        they may see only (an album of items they cannot see counts 0 and has no cover). The cover is the
        album's chosen one when they may see it, else the first item they may see in the album's order."""
        if not albums:
            return []
        sums, states = self.store.album_stats.current()
        sees = visibility_of_states(principal)
        summaries, covers = [], {}
        for album in albums:
            summary, first = AlbumSummary(album), None
            for state, (count, earliest, latest, key, item_id) in sums.get(album.id, {}).items():
                if sees(state):
                    summary.count += count
                    summary.first = min(summary.first or earliest, earliest)
                    summary.last = max(summary.last or latest, latest)
                    first = min(first or (key, item_id), (key, item_id))
            chosen = album.cover_id if album.cover_id in states and sees(states[album.cover_id]) else None
            covers[album.id] = chosen or (first[1] if first else None)
            summaries.append(summary)
        Item = self.database.Item
        wanted = [item_id for item_id in covers.values() if item_id]
        items = {item.id: item for item in Item.select().where(Item.id.in_(wanted))} if wanted else {}
        for summary in summaries:
            summary.cover = items.get(covers[summary.album.id])
        return summaries

    def touch_items(self, items):
        self.store.catalog.touch_all(items)

    def touch_album(self, album):
        album.updated = now_iso()
        album.save()
        self.store.album_stats.changed()

    def reindex(self, item_ids, chunk=500):
        """Rewrite the search rows of items whose albums changed (their names are searched)."""
        item_ids = list(item_ids)
        for start in range(0, len(item_ids), chunk):
            part = item_ids[start:start + chunk]
            self.store.search.index_many(','.join('?' * len(part)), part)

    def names_of(self, item_id):
        return self.names_for([item_id])[item_id]

    def names_for(self, item_ids):
        """{item id: [names of the albums it is in, sorted]}."""
        names = {item_id: [] for item_id in item_ids}
        rows = self.db.execute_sql(     # plain SQL, as tags_for
            'SELECT album_item.item_id, album.name FROM album_item JOIN album ON album.id = album_item.album_id '
            'WHERE album_item.item_id IN (SELECT value FROM json_each(?)) ORDER BY album.name',
            (json.dumps(list(item_ids)),))
        for item_id, name in rows:
            names[item_id].append(name)
        return names


class Comments(Part):
    """Comments on items; each item keeps their count."""

    def json(self, item):
        Comment = self.database.Comment
        # rowid is insertion order: `created` has whole seconds only
        rows = Comment.select().where(Comment.item == item.id).order_by(SQL('rowid'))
        return [{'id': c.id, 'author': c.author, 'body': c.body, 'created': c.created} for c in rows]

    def add(self, item, author, body, key_id=None, user_id=None):
        body = check_text(body, 'body', MAX_COMMENT, required=True)
        with self.db.atomic():
            comment = self.database.Comment.create(id=new_id(), item=item.id, author=author, body=body,
                                                   key=key_id, user=user_id, created=now_iso())
            self.store.items.bump_count(item.id, 'comments', 1)
        return {'id': comment.id, 'author': comment.author, 'body': comment.body, 'created': comment.created}

    def delete(self, item, comment_id, may_delete):
        """Delete a comment of `item` if `may_delete(comment)` allows; StoreError otherwise."""
        Comment = self.database.Comment
        comment = Comment.get_or_none((Comment.id == comment_id) & (Comment.item == item.id))
        if comment is None:
            raise not_found()
        if not may_delete(comment):
            raise StoreError('only the author of a comment may delete it', 403)
        with self.db.atomic():
            if Comment.delete().where(Comment.id == comment.id).execute():
                self.store.items.bump_count(item.id, 'comments', -1)


class Items(Part):
    """Items and their tags: recorded, read, edited, forgotten; which of them a principal may see; and
    the views counted of them."""

    def create(self, path, title, tags=(), private=False, owner_id=None, description='', content_hash=None,
               original_name=None):
        """Record the file at `path` (inside the media folder) as a new item; returns the item.

        An upload names its `original_name`: its file's name was made by the node and its modification time
        is the upload's, so when it was taken comes from its EXIF or that name only (a video's container
        time follows from probing)."""
        with open(path, 'rb') as fh:     # one open: its first bytes, and the whole of a small file
            stat = os.fstat(fh.fileno())
            head = fh.read(64)
            if content_hash is None and stat.st_size <= HASH_AT_CREATE:
                content_hash = media.content_hash(fh)
        mime = media.sniff_mime(path, head)
        uploaded = original_name is not None
        taken, source = privtube_taken.taken_of_file(path, mime, original_name if uploaded else path,
                                                     None if uploaded else stat.st_mtime, head)
        with self.db.atomic():
            item = self.database.Item(
                id=new_id(), path=self.store.relative(path), title=title or title_from_name(path),
                description=description, mime=mime, size=stat.st_size, mtime_ns=stat.st_mtime_ns,
                private=bool(private), owner=owner_id, taken=taken, taken_source=source,
                content_hash=content_hash)
            self.store.catalog.touch(item, visibility_changed=True, tags=list(tags), albums=[])   # in none yet
            item.save(force_insert=True)
            self.set_tags(item.id, list(tags))
            self.store.search.index(item.id)
        return item

    def get(self, item_id):
        if not isinstance(item_id, str) or not ITEM_ID.match(item_id):
            return None
        return self.database.Item.get_or_none(self.database.Item.id == item_id)

    def edit(self, item, title=None, description=None, tags=None, private=None):
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
            self.store.catalog.touch(item, visibility_changed=tags is not None or private is not None)
            item.save()
            self.store.search.index(item.id)
        return item

    def forget(self, item):
        """Drop the item's record (not its file), leaving a tombstone for catalog readers."""
        with self.db.atomic():
            self.store.catalog.log_removal(item)
            self.store.search.unindex(item.id)
            self.database.Item.delete_by_id(item.id)
        remove_quietly(self.store.thumbnail_path(item.id))
        self.store.scanner.subtitles.forget(item.id)
        for extension in ('mp4', 'webm'):
            remove_quietly(self.store.remux_path(item.id, extension))
        remove_quietly(self.store.preview_path(item.id))

    def delete(self, item):
        """Remove the item and its file."""
        self.forget(item)
        path = self.store.full_path(item.path)
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
            fresh.preview, fresh.preview_owed = bool(found.get('preview')), bool(found.get('preview_owed'))
            if found.get('taken') and privtube_taken.better('container', fresh.taken_source):
                fresh.taken, fresh.taken_source = found['taken'], 'container'
            fresh.content_hash = found.get('content_hash') or fresh.content_hash
            if 'subtitles' in found:        # a video's tracks (privtube_subtitles)
                fresh.subtitles = found['subtitles']
            self.record_song(fresh, found.get('song') or {})
            fresh.media_state, fresh.media_error = 'done', ''
            self.store.catalog.touch(fresh)
            fresh.save()
            self.store.search.index(fresh.id)      # artist and album are searched

    def record_song(self, item, song):
        """A song's tags (privtube_music.song_tags) on its item; the tag's title replaces a title made from
        the file's name (the scan's), never one a person chose."""
        for name in SONG_COLUMNS:
            setattr(item, name, song.get(name))
        if song.get('title') and item.path and item.title == title_from_name(item.path):
            item.title = song['title']

    def record_preview(self, item, made):
        """A photo's preview was made (or could not be): it is owed no longer. Peers are not told (they
        ask the origin for a preview when they show the photo), so the change number stays."""
        Item = self.database.Item
        Item.update(preview=made, preview_owed=False).where(
            (Item.id == item.id) & (Item.mtime_ns == item.mtime_ns)).execute()

    def record_probe_failure(self, item, reason, content_hash=None):
        """Mark the item unreadable with a short `reason`; what an earlier probe found is cleared (peers
        see the change), so nothing read from a file that failed now stays on the item. Its content hash
        (None when the file could not be read) is kept: it still finds the file again when it moves."""
        with self.db.atomic():
            fresh = self.database.Item.get_or_none(self.database.Item.id == item.id)
            if fresh is None or fresh.mtime_ns != item.mtime_ns:
                return
            for name in ('duration', 'width', 'height', 'container', 'codecs'):
                setattr(fresh, name, None)
            fresh.thumbnail = fresh.preview = fresh.preview_owed = False
            fresh.subtitles = [track for track in fresh.subtitles if not track['id'].startswith('track-')]
            self.record_song(fresh, {})
            fresh.content_hash = content_hash or fresh.content_hash
            fresh.media_state, fresh.media_error = 'failed', reason[:100]
            self.store.catalog.touch(fresh)
            fresh.save()

    def json(self, item, tags):
        return row_json(item.__data__, tags, self.store.albums.names_of(item.id))

    def visible(self, principal, item_id):
        """The item if `principal` may see it; else StoreError 404 (unknown and hidden look the same)."""
        item = self.get(item_id)
        if item is None or not auth.can_see(principal, item.private, self.tags_of(item.id), item.origin,
                                            owner_id=item.owner_id, albums=self.store.albums.names_of(item.id),
                                            trashed=item.trashed):
            raise not_found()
        return item

    def visible_query(self, principal):
        Item = self.database.Item
        return Item.select().where(auth.visible_filter(principal, Item, self.database.ItemTag,
                                                       self.database.AlbumItem))

    def tags_of(self, item_id):
        return [t.tag for t in self.database.ItemTag.select(self.database.ItemTag.tag)
                .where(self.database.ItemTag.item == item_id).order_by(self.database.ItemTag.tag)]

    def tags_for(self, item_ids):
        """{item id: [its tags, sorted]} (plain SQL: a catalog page asks for a thousand items' tags)."""
        tags = {item_id: [] for item_id in item_ids}
        rows = self.db.execute_sql('SELECT item_id, tag FROM item_tag WHERE item_id IN (SELECT value FROM '
                                   'json_each(?)) ORDER BY tag', (json.dumps(list(item_ids)),))
        for item_id, tag in rows:
            tags[item_id].append(tag)
        return tags

    def set_tags(self, item_id, tags):
        ItemTag = self.database.ItemTag
        ItemTag.delete().where(ItemTag.item == item_id).execute()
        if tags:
            ItemTag.insert_many([{'item': item_id, 'tag': tag} for tag in tags]).execute()

    def count_view(self, item, identity, viewer):
        """Count a view unless this principal and viewer were counted for the item in the last 6 hours."""
        now = time.time()
        with self.db.atomic():
            counted = self.db.execute_sql(
                'INSERT INTO view_mark (item_id, principal, viewer, counted_at) VALUES (?, ?, ?, ?) '
                'ON CONFLICT (item_id, principal, viewer) DO UPDATE SET counted_at = excluded.counted_at '
                'WHERE view_mark.counted_at <= ?',
                (item.id, identity, viewer, now, now - VIEW_WINDOW)).rowcount
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


def clean_extension(extension):
    extension = (extension or '').lower()
    return extension if re.match(r'^\.[a-z0-9]{1,8}$', extension) else '.bin'


def remove_quietly(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
