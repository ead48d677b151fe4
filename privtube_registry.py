"""The registry of what peers share: the configured peers, catalog sync, and the scheduled sync loop.

Every request to a peer goes through a `PeerClient` (privtube_peer, the one outbound HTTP seam). A peer's
items are stored as `ORIGIN:ID` rows of the item table, so search and visibility treat them like local
items; a peer can only ever add, change or remove rows under its own name.
"""
import datetime
import json
import logging
import os
import re
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from privtube_config import ConfigError
from privtube_config import load as load_config
from privtube_items import PEER_COLUMNS, REMOTE_ID, checked_header, checked_page
from privtube_peer import CATALOG_PAGE, PeerClient, PeerError, RequestsTransport
from privtube_threads import ScheduledLoop

logger = logging.getLogger('privtube.registry')

SYNC_DEADLINE = 300.0
MAX_PAGES = 2000
THUMBNAILS_PER_SYNC = 500
THUMBNAIL_SECONDS = 60.0
MAX_SUBTITLED = 200         # peers' items whose subtitles are cached (each at most a few tracks of 2 MB)


def config_stamp(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


# --- the registry ------------------------------------------------------------------------------------

STAGED_IDS = 'SELECT :prefix || remote_id FROM temp.catalog_stage WHERE item NOT NULL'
# A complete read's staged items into the item table and its tags, as ORIGIN:ID rows (`prefix` is
# 'ORIGIN:'); the search index follows (SearchIndex.index_many). Set-based statements keep the one
# transaction that makes a read visible short.
APPLY_STAGED = (
    'INSERT INTO item (id, origin, path, mtime_ns, seq, private, media_state, %s) '
    "SELECT :prefix || remote_id, :origin, NULL, 0, 0, 0, 'done', %s FROM temp.catalog_stage WHERE item NOT NULL "
    'ON CONFLICT (id) DO UPDATE SET %s' % (', '.join(PEER_COLUMNS),
                                          ', '.join("json_extract(item, '$.%s')" % f for f in PEER_COLUMNS),
                                          ', '.join('%s = excluded.%s' % (f, f) for f in PEER_COLUMNS)),
    'DELETE FROM item_tag WHERE item_id IN (%s)' % STAGED_IDS,
    'INSERT INTO item_tag (item_id, tag) SELECT :prefix || staged.remote_id, tag.value '
    "FROM temp.catalog_stage AS staged, json_each(staged.item, '$.tags') AS tag WHERE staged.item NOT NULL",
    # the peer's albums by name (one row per origin and name), then its items' membership of them
    'DELETE FROM album_item WHERE item_id IN (%s)' % STAGED_IDS,
    'INSERT INTO album (id, origin, name, created, updated) '
    "SELECT :prefix || lower(hex(randomblob(16))), :origin, name, strftime('%Y-%m-%dT%H:%M:%SZ'), "
    "strftime('%Y-%m-%dT%H:%M:%SZ') FROM (SELECT DISTINCT album.value AS name FROM temp.catalog_stage AS staged, "
    "json_each(staged.item, '$.albums') AS album WHERE staged.item NOT NULL) WHERE true "
    'ON CONFLICT (origin, name) DO NOTHING',
    # CROSS JOIN keeps this order: each staged name looks its album up by (origin, name); the planner's own
    # choice, each album against every staged name, made a first sync of 100,000 items take 33 s longer
    'INSERT INTO album_item (album_id, item_id) SELECT album.id, :prefix || staged.remote_id '
    "FROM temp.catalog_stage AS staged CROSS JOIN json_each(staged.item, '$.albums') AS named "
    'CROSS JOIN album ON album.origin = :origin AND album.name = named.value WHERE staged.item NOT NULL',
    'DELETE FROM album WHERE origin = :origin AND NOT EXISTS (SELECT 1 FROM album_item WHERE album_id = album.id)',
)


class Registry:
    """Peers from the config, their sync state in the database, and their items in the item table."""

    def __init__(self, node, transport=None):
        self.node = node
        self.database = node.database
        self.db = node.database.db
        self.transport = transport
        self.locks = {}
        self.known_peers = node.config.peers
        self.config_stamp = config_stamp(node.config.path)
        self.thumbnails = ThumbnailCache(self, os.path.join(os.path.dirname(node.database.path), 'cache', 'thumbs'))
        self.subtitles = SubtitleCache(self, os.path.join(os.path.dirname(node.database.path), 'cache',
                                                          'peer-subtitles'))
        self.previews = PreviewCache(self, os.path.join(os.path.dirname(node.database.path), 'cache', 'previews'))

    def peers(self):
        """The configured peers, re-read when `peer add` or `peer rm` changed the config file."""
        stamp = config_stamp(self.node.config.path)
        if stamp != self.config_stamp:
            self.config_stamp = stamp
            try:
                self.known_peers = load_config(self.node.config.path).peers
            except ConfigError as exc:
                logger.warning('keeping the previous peers: %s', exc)
        return self.known_peers

    def client(self, name):
        peer = self.peers().get(name)
        if peer is None:
            raise PeerError('no peer named %s' % name, 404)
        if self.transport is None:
            self.transport = RequestsTransport()
        return PeerClient(name, peer['url'], peer['key'], self.transport, peer.get('ca_file', ''))

    def state(self, name):
        Peer = self.database.Peer
        row = Peer.get_or_none(Peer.name == name)
        return row or Peer.create(name=name)

    def forget_unknown_peers(self):
        """Drop the items and state of peers no longer in the config."""
        Item, Peer = self.database.Item, self.database.Peer
        known = list(self.peers())
        gone = [row.id for row in Item.select(Item.id).where((Item.origin != 'local') & Item.origin.not_in(known))]
        if gone or Peer.select().where(Peer.name.not_in(known)).exists():     # write only when needed
            with self.db.atomic():
                self.drop_items(gone)
                Peer.delete().where(Peer.name.not_in(known)).execute()

    def sync_all(self):
        """Sync every peer, each independently; returns {name: (ok, message)}."""
        return {name: self.sync(name) for name in self.peers()}

    def sync(self, name):
        """Sync one peer now; (True, summary) or (False, reason). A failure keeps the last good listing."""
        lock = self.locks.setdefault(name, threading.Lock())
        if not lock.acquire(blocking=False):
            return False, 'a sync of %s is already running' % name
        try:
            with self.db.connection_context():
                return self.sync_locked(name)
        finally:
            lock.release()

    def sync_locked(self, name):
        state = self.state(name)
        state.last_attempt = time.time()
        try:
            summary = self.follow_catalog(name, state)
        except PeerError as exc:
            state.status, state.last_error = ('refused' if exc.refused else 'failed'), str(exc)
            if exc.refused:     # a revoked key: what the peer shared is no longer ours to list
                with self.db.atomic():
                    self.drop_items([row.id for row in self.database.Item.select(self.database.Item.id)
                                     .where(self.database.Item.origin == name)])
                state.cursor, state.item_count = '', 0
            state.save()
            logger.warning('sync of peer %s failed: %s', name, exc)
            return False, str(exc)
        state.status, state.last_error, state.last_success = 'ok', '', time.time()
        state.item_count = self.database.Item.select().where(self.database.Item.origin == name).count()
        state.save()
        self.thumbnails.fetch_missing(name)
        self.subtitles.prune(name)
        return True, summary

    def follow_catalog(self, name, state):
        """Read pages until `more` is false, then apply the whole read in one transaction with its cursor.

        Until then the pages wait in a StagedRead that nothing else sees, so a read that fails halfway
        shows and keeps nothing of itself, and the last good listing stays as it was. A first read or a
        reset is a mark-and-sweep: held items the read did not list are dropped at its end.
        """
        client = self.client(name)
        staged = StagedRead(self.db, self.max_items)
        try:
            cursor, sweeping = self.read_catalog(client, state.cursor, staged)
            with self.db.atomic():
                added = self.apply_staged(name, staged)
                removed = self.drop_many(['%s:%s' % (name, i) for i in staged.removed()])
                if sweeping:
                    removed += self.sweep(name, staged.present)
                self.check_share(name)
                self.save_cursor(name, cursor)
        finally:
            staged.clear()
        state.cursor = cursor
        return '%d items updated, %d removed' % (added, removed)

    def read_catalog(self, client, cursor, staged):
        """Follow the catalog from `cursor` to its end into `staged`; (the last cursor, whether to sweep).

        The next page is asked for as soon as a page's cursor is known, so the peer makes it while this
        node checks and stages the page it has: the two no longer wait for each other (a first sync of
        100,000 items spent a quarter of its time with the reader idle while the origin made pages).
        """
        ends = time.monotonic() + SYNC_DEADLINE
        sweeping, pages = not cursor, 0
        with ThreadPoolExecutor(1, thread_name_prefix='catalog-' + client.name) as fetcher:
            coming = fetcher.submit(client.catalog, cursor)
            while True:
                page = coming.result()
                cursor, more = checked_header(page)
                pages += 1
                if more:
                    if pages >= MAX_PAGES or time.monotonic() > ends:
                        raise PeerError('the catalog did not end within %d pages or %d s'
                                        % (MAX_PAGES, SYNC_DEADLINE), 504)
                    coming = fetcher.submit(client.catalog, cursor)
                items, gone = checked_page(page, 10 * CATALOG_PAGE)
                if page.get('reset'):
                    sweeping = True
                    staged.clear()
                staged.add(items, gone)
                if not more:
                    return cursor, sweeping

    @property
    def max_items(self):
        return self.node.config.get('registry', 'max_peer_items')

    def check_share(self, origin):
        """PeerError when the peer's items would pass the cap; the transaction applying them rolls back."""
        Item = self.database.Item
        if Item.select().where(Item.origin == origin).count() > self.max_items:
            raise over_the_cap(self.max_items)

    def save_cursor(self, name, cursor):
        self.database.Peer.update(cursor=cursor).where(self.database.Peer.name == name).execute()

    def apply_staged(self, origin, staged):
        """Insert or replace the staged items, always under the peer's own name; returns how many."""
        names = {'prefix': origin + ':', 'origin': origin}
        for statement in APPLY_STAGED:
            self.db.execute_sql(statement, names)
        self.node.store.search.index_many(STAGED_IDS, names)
        return len(staged.present)

    def drop_items(self, row_ids):
        Item = self.database.Item
        for row_id in row_ids:
            self.node.store.search.unindex(row_id)
            self.thumbnails.forget(row_id)
            self.subtitles.forget(row_id)
            self.previews.forget(row_id)
        return Item.delete().where(Item.id.in_(row_ids) & (Item.origin != 'local')).execute() if row_ids else 0

    def drop_many(self, row_ids):
        """drop_items in batches a statement can name."""
        return sum(self.drop_items(row_ids[start:start + 500]) for start in range(0, len(row_ids), 500))

    def sweep(self, origin, seen):
        held = self.db.execute_sql('SELECT id FROM item WHERE origin = ?', (origin,))    # a row per item held
        stale = [row_id for (row_id,) in held if row_id.split(':', 1)[1] not in seen]
        self.drop_many(stale)
        return len(stale)


def over_the_cap(cap):
    return PeerError('the peer lists more than %d items, the cap set by [registry] max_peer_items' % cap)


class StagedRead:
    """The pages of one catalog read, held until the read is complete.

    They wait in a temporary table of the syncing connection: no page, search, count or other connection
    can see them, and a failure (or a crash) leaves nothing of them behind. Each remote id keeps its last
    state in the read: the item, or None when the read removed it. `present` holds the ids of the items.
    """

    def __init__(self, db, cap):
        self.db, self.cap = db, cap
        self.db.execute_sql('CREATE TEMP TABLE IF NOT EXISTS catalog_stage (remote_id TEXT PRIMARY KEY, item TEXT)')
        self.clear()

    def clear(self):
        self.db.execute_sql('DELETE FROM temp.catalog_stage')
        self.present = set()

    def add(self, items, removed):
        """Stage a page's items, then its removals; PeerError once the read lists more items than the cap."""
        rows = [(data['id'], json.dumps(data, ensure_ascii=False)) for data in items]
        rows += [(remote_id, None) for remote_id in removed]
        with self.db.atomic('DEFERRED'):    # one transaction of the temporary database only
            self.db.cursor().executemany('INSERT OR REPLACE INTO temp.catalog_stage (remote_id, item) VALUES (?, ?)',
                                         rows)
        self.present.update(data['id'] for data in items)
        self.present.difference_update(removed)
        if len(self.present) > self.cap:
            raise over_the_cap(self.cap)

    def removed(self):
        return [remote_id for (remote_id,) in
                self.db.execute_sql('SELECT remote_id FROM temp.catalog_stage WHERE item IS NULL').fetchall()]


class ThumbnailCache:
    """Peers' thumbnails, fetched after a sync and kept on disk, so pages show them while a peer is off."""

    def __init__(self, registry, folder):
        self.registry, self.folder = registry, folder

    def path(self, row_id):
        origin, remote_id = split_remote(row_id)
        if not REMOTE_ID.match(remote_id) or not re.match(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$', origin):
            return None
        return os.path.join(self.folder, origin, remote_id + '.jpg')

    def fetch_missing(self, origin, budget=THUMBNAILS_PER_SYNC, deadline=THUMBNAIL_SECONDS):
        """Fetch thumbnails not yet cached (at most `budget` per sync; the rest at the next one)."""
        Item = self.registry.database.Item
        ends = time.monotonic() + deadline
        wanted = Item.select(Item.id).where((Item.origin == origin) & (Item.thumbnail == True))  # noqa: E712
        client = self.registry.client(origin)
        for (row_id,) in wanted.tuples().iterator():
            path = self.path(row_id)
            if path is None or os.path.exists(path):
                continue
            if budget <= 0 or time.monotonic() > ends:
                return
            budget -= 1
            try:
                data = client.thumbnail(split_remote(row_id)[1])
            except PeerError as exc:
                logger.debug('thumbnail of %s not fetched: %s', row_id, exc)
                return
            if data:
                write_atomically(path, data)

    def forget(self, row_id):
        path = self.path(row_id)
        if path and os.path.exists(path):
            os.unlink(path)


class SubtitleCache:
    """Peers' subtitle tracks (WebVTT), kept on disk once a member's page has read them from the origin, so
    a film's subtitles load when its peer is off and are not fetched again at every view. Only the tracks
    someone watched are kept, at most MAX_SUBTITLED items (the least recently read are dropped first).

    A track is cached at FOLDER/ORIGIN/REMOTE_ID/SID.vtt beside `listed.json`, the item's subtitles list
    when it was fetched: a cached track serves only while the item still lists the same tracks, and an
    item's folder goes when the item does (`forget`) or after a sync that changed its list (`prune`)."""

    LISTED = 'listed.json'

    def __init__(self, registry, folder):
        self.registry, self.folder = registry, folder

    def item_folder(self, row_id):
        thumbnail = self.registry.thumbnails.path(row_id)      # the same checks of the origin and the id
        if thumbnail is None:
            return None
        origin, remote_id = split_remote(row_id)
        return os.path.join(self.folder, origin, remote_id)

    def read(self, item, sid):
        """The cached track `sid` of the peer's `item`, or None when it is not cached or its list changed
        (a track id the item does not list is never looked up: the caller checks it)."""
        folder = self.item_folder(item.id)
        if folder is None or self.listed(folder) != item.subtitles:
            return None
        try:
            with open(os.path.join(folder, sid + '.vtt'), 'rb') as fh:
                data = fh.read()
            os.utime(folder)                 # recently read: the last to be dropped
        except OSError:
            return None
        return data

    def keep(self, item, sid, data):
        """Cache `data`, the track `sid` of `item` just read from its origin."""
        folder = self.item_folder(item.id)
        if folder is None:
            return
        if self.listed(folder) != item.subtitles:
            shutil.rmtree(folder, ignore_errors=True)
            self.make_room()
            write_atomically(os.path.join(folder, self.LISTED), json.dumps(item.subtitles).encode())
        write_atomically(os.path.join(folder, sid + '.vtt'), data)

    def listed(self, folder):
        try:
            with open(os.path.join(folder, self.LISTED), 'rb') as fh:
                return json.loads(fh.read(1024 * 1024))
        except (OSError, ValueError):
            return None

    def forget(self, row_id):
        folder = self.item_folder(row_id)
        if folder:
            shutil.rmtree(folder, ignore_errors=True)

    def cached(self, origin=None):
        """[(row id, folder)] of the items with cached tracks (of `origin` only, when given)."""
        origins = [origin] if origin else self.names(self.folder)
        return [('%s:%s' % (name, remote_id), os.path.join(self.folder, name, remote_id))
                for name in origins for remote_id in self.names(os.path.join(self.folder, name))]

    @staticmethod
    def names(folder):
        try:
            return sorted(os.listdir(folder))
        except OSError:
            return []

    def prune(self, origin):
        """After a sync: drop the cached tracks of the peer's items that are gone or list other tracks."""
        Item = self.registry.database.Item
        for row_id, folder in self.cached(origin):
            item = Item.select(Item.id, Item.subtitles).where(Item.id == row_id).first()
            if item is None or self.listed(folder) != item.subtitles:
                shutil.rmtree(folder, ignore_errors=True)

    def make_room(self):
        """Keep fewer than MAX_SUBTITLED items' tracks: the least recently read go first."""
        held = self.cached()
        if len(held) < MAX_SUBTITLED:
            return
        held.sort(key=lambda entry: modified(entry[1]))
        for _, folder in held[:len(held) - MAX_SUBTITLED + 1]:
            shutil.rmtree(folder, ignore_errors=True)


def modified(path):
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0
class PreviewCache(ThumbnailCache):
    """Peers' photo previews, fetched when someone first looks at the photo and kept on disk (a gallery
    shows a photo again and again), fetched again when the item changed since."""

    def fetched(self, item):
        """The path of the item's cached preview, fetched from its origin when missing or older than the
        item; None when the origin has none (or cannot be reached and none is cached)."""
        path = self.path(item.id)
        if path is None:
            return None
        if os.path.exists(path) and os.path.getmtime(path) >= unix_time(item.updated):
            return path
        origin, remote_id = split_remote(item.id)
        try:
            data = self.registry.client(origin).preview(remote_id)
        except PeerError as exc:
            logger.debug('preview of %s not fetched: %s', item.id, exc)
            return path if os.path.exists(path) else None
        if not data:
            return None
        write_atomically(path, data)
        return path


def unix_time(text):
    """An ISO 8601 time as a Unix time; 0 when it is not one (then any cached copy counts as fresh)."""
    try:
        moment = datetime.datetime.fromisoformat((text or '').replace('Z', '+00:00'))
    except ValueError:
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def write_atomically(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temp = path + '.tmp'
    with open(temp, 'wb') as fh:
        fh.write(data)
    os.replace(temp, path)


class SyncLoop(ScheduledLoop):
    """Syncs every peer every `minutes`, and once when `serve` starts."""

    def __init__(self, registry, minutes):
        super().__init__('privtube-sync', minutes, at_start=True)
        self.registry = registry

    def run_once(self):
        for name in list(self.registry.peers()):
            if self.stopping.is_set():
                return
            # each peer in its own thread, so a slow one delays no other
            threading.Thread(target=self.registry.sync, args=(name,), name='privtube-sync-' + name,
                             daemon=True).start()


def split_remote(item_id):
    origin, _, remote_id = item_id.partition(':')
    return origin, remote_id
