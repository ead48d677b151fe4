"""The registry of what peers share: one outbound HTTP seam, catalog sync, and the scheduled sync loop.

Every request to a peer goes through `PeerClient`, which uses a `Transport` (requests in production, an
in-process router in tests): no redirects, a total deadline per request and a cap on every body. A peer's
items are stored as `ORIGIN:ID` rows of the item table, so search and visibility treat them like local
items; a peer can only ever add, change or remove rows under its own name.
"""
import json
import logging
import os
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, TimeoutError as FutureTimeout
from dataclasses import dataclass, field

import privtube_auth as auth
from privtube_config import ConfigError, load as load_config
from privtube_db import storable

logger = logging.getLogger('privtube.registry')

CATALOG_PAGE = 1000
MAX_CATALOG_BYTES = 16 * 1024 * 1024
MAX_SMALL_BYTES = 2 * 1024 * 1024
REQUEST_DEADLINE = 30.0
SYNC_DEADLINE = 300.0
MAX_PAGES = 2000
MAX_THUMBNAIL_BYTES = 1024 * 1024
THUMBNAILS_PER_SYNC = 500
THUMBNAIL_SECONDS = 60.0
REMOTE_ID = re.compile(r'^[A-Za-z0-9_-]{16,64}\Z')     # \Z: `$` lets a final line break through
FORWARDED_HEADERS = ('Content-Type', 'Content-Length', 'Content-Range', 'Accept-Ranges', 'ETag', 'Last-Modified')


class PeerError(Exception):
    """A peer that cannot be reached or answered badly; the message is shown as its status."""

    def __init__(self, message, status=502, refused=False):
        super().__init__(message)
        self.status = status
        self.refused = refused      # the peer refused our key: it no longer shares anything with us


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes = b''
    fields: dict = field(default_factory=dict)


class RequestsTransport:
    """The production transport: `requests`, streaming with a total deadline and a size cap."""

    def __init__(self):
        import requests
        self.requests = requests
        self.session = requests.Session()
        self.session.trust_env = False    # never a proxy from the environment
        self.windows = WindowConnections()

    def __call__(self, method, url, headers, body=None, max_bytes=MAX_SMALL_BYTES, deadline=REQUEST_DEADLINE,
                 verify=True):
        ends = time.monotonic() + deadline
        try:
            response = self.session.request(method, url, headers=headers, data=body, stream=True,
                                            allow_redirects=False, timeout=(min(5.0, deadline), deadline),
                                            verify=verify)
        except self.requests.RequestException as exc:
            raise PeerError('cannot reach the peer: %s' % type(exc).__name__, 502)
        try:
            return Reply(response.status_code, dict(response.headers), read_capped(response, max_bytes, ends))
        except self.requests.RequestException as exc:
            raise PeerError('the peer stopped answering: %s' % type(exc).__name__, 502)
        finally:
            response.close()

    def read_window(self, url, headers, buffer, deadline=REQUEST_DEADLINE, verify=True):
        """A media window read straight into `buffer` (one copy, no per-chunk objects) over a kept-alive
        connection; the Reply's body is a memoryview of the buffer."""
        return self.windows.read(url, headers, buffer, deadline, verify)


class WindowConnections:
    """Kept-alive `http.client` connections for media windows, a few idle ones per origin.

    requests hands a body over in chunks it allocates, which we would copy again; a window of many MiB
    is read here with `readinto1` straight into the caller's buffer: one copy, and at most one socket
    read per call, so the total deadline is checked as data arrives and a dripping origin cannot
    stretch it. Same rules as the requests path: no redirects followed, no proxies, TLS verified.
    """
    IDLE_PER_ORIGIN = 4

    def __init__(self):
        self.idle = {}
        self.lock = threading.Lock()
        self.watchdog = Watchdog()

    def read(self, url, headers, buffer, deadline, verify):
        import http.client
        ends = time.monotonic() + deadline
        place, target = connection_place(url, verify)
        for attempt in (1, 2):
            conn, reused = self.take(place, deadline)
            sock = None
            try:
                conn.request('GET', target, headers=headers)
                sock = conn.sock        # getresponse lets go of it when the origin will close the connection
                self.watchdog.watch(sock, ends)
                response = conn.getresponse()
                reply = read_window_body(response, buffer, ends, conn, sock)
            except (OSError, http.client.HTTPException, PeerError) as exc:
                conn.close()
                if time.monotonic() >= ends or isinstance(exc, TimeoutError):
                    raise PeerError('the peer was too slow (deadline passed)', 504)
                if isinstance(exc, PeerError):
                    raise
                if reused and attempt == 1:
                    continue            # the origin closed a connection that sat idle: one fresh try
                what = 'cannot reach the peer' if sock is None else 'the peer stopped answering'
                raise PeerError('%s: %s' % (what, type(exc).__name__), 502)
            finally:
                self.watchdog.release(sock)
            self.give_back(place, conn, response.will_close)
            return reply

    def take(self, place, deadline):
        with self.lock:
            idle = self.idle.get(place)
            if idle:
                conn = idle.pop()
                conn.sock.settimeout(deadline)
                return conn, True
        return open_connection(place, deadline), False

    def give_back(self, place, conn, will_close):
        with self.lock:
            idle = self.idle.setdefault(place, [])
            if will_close or conn.sock is None or len(idle) >= self.IDLE_PER_ORIGIN:
                conn.close()
            else:
                idle.append(conn)


class Watchdog:
    """Shuts down the socket of a request that outlives its total deadline.

    Socket timeouts bound each read, not the whole: a peer dripping its status line and headers a byte
    at a time would hold a request for as long as it liked. One thread, running only while requests
    are watched, checks ten times a second.
    """

    def __init__(self):
        self.watched = {}
        self.lock = threading.Lock()
        self.thread = None

    def watch(self, sock, ends):
        with self.lock:
            self.watched[sock] = ends
            if self.thread is None:
                self.thread = threading.Thread(target=self.loop, name='privtube-deadlines', daemon=True)
                self.thread.start()

    def release(self, sock):
        with self.lock:
            self.watched.pop(sock, None)

    def loop(self):
        import socket
        while True:
            time.sleep(0.1)
            with self.lock:
                if not self.watched:
                    self.thread = None
                    return
                now = time.monotonic()
                late = [sock for sock, ends in self.watched.items() if now >= ends]
                for sock in late:
                    del self.watched[sock]
            for sock in late:
                try:
                    sock.shutdown(socket.SHUT_RDWR)     # the blocked read returns at once
                except OSError:
                    pass


def connection_place(url, verify):
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        raise PeerError('the peer URL is not http(s)', 502)
    target = parts.path + ('?' + parts.query if parts.query else '')
    return (parts.scheme, parts.hostname, parts.port, verify), target


def open_connection(place, deadline):
    import http.client
    import ssl
    scheme, host, port, verify = place
    if scheme == 'http':
        return http.client.HTTPConnection(host, port, timeout=deadline)
    context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
    return http.client.HTTPSConnection(host, port, timeout=deadline, context=context)


def read_window_body(response, buffer, ends, conn, sock):
    """Read the body of `response` into `buffer`; a Reply whose body is a memoryview of it."""
    try:
        length = int(response.getheader('Content-Length', ''))
    except ValueError:
        if response.status in (200, 206):
            raise PeerError('the peer sent a media reply without a valid Content-Length', 502)
        conn.close()            # a redirect or an error without a length: its body is not needed
        return Reply(response.status, dict(response.getheaders()), memoryview(buffer)[:0])
    if length > len(buffer):
        raise PeerError('the peer sent more than %d bytes' % len(buffer), 502)
    if length < 0 or response.chunked:
        raise PeerError('the peer sent a media reply without a valid Content-Length', 502)
    view, got = memoryview(buffer)[:length], 0
    while got < length:
        left = ends - time.monotonic()
        if left <= 0:
            raise PeerError('the peer was too slow (deadline passed)', 504)
        sock.settimeout(left)
        count = response.fp.readinto1(view[got:])     # at most one recv, straight into the buffer
        if not count:
            raise PeerError('the peer stopped answering: short body', 502)
        got += count
    headers = dict(response.getheaders())
    response.close()        # the body was read here, not by http.client: the connection is free again
    return Reply(response.status, headers, view)


def read_capped(response, max_bytes, ends):
    """The body, refusing more than `max_bytes` and anything past the deadline `ends`.

    read1 returns whatever has arrived, so a peer dripping one byte at a time still meets the deadline
    (requests' own timeout bounds each read, not the whole response).
    """
    body = bytearray()
    for chunk in arrived_chunks(response):
        if len(body) + len(chunk) > max_bytes:
            raise PeerError('the peer sent more than %d bytes' % max_bytes, 502)
        if time.monotonic() > ends:
            raise PeerError('the peer was too slow (deadline passed)', 504)
        body += chunk
    return body


class PeerClient:
    """Talks to one peer's Content Management API with the key that peer issued us."""

    def __init__(self, name, url, key, transport, ca_file=''):
        self.name, self.url, self.key = name, url.rstrip('/'), key
        self.transport = transport
        self.verify = ca_file or True

    def request(self, method, path, headers=None, body=None, max_bytes=MAX_SMALL_BYTES, deadline=None):
        sent = {'Authorization': 'Bearer ' + self.key, 'Accept': 'application/json'}
        sent.update(headers or {})
        reply = self.transport(method, self.url + '/api/v1' + path, sent, body, max_bytes=max_bytes,
                               deadline=deadline or REQUEST_DEADLINE, verify=self.verify)
        if 300 <= reply.status < 400:
            raise PeerError('the peer answered with a redirect, which privtube does not follow', 502)
        return reply

    def json(self, method, path, body=None, max_bytes=MAX_SMALL_BYTES, expect=(200,), deadline=None):
        data = None if body is None else json.dumps(body).encode('utf-8')
        headers = {'Content-Type': 'application/json'} if body is not None else {}
        reply = self.request(method, path, headers, data, max_bytes, deadline)
        if reply.status == 401:
            raise PeerError('the peer refused our key (revoked?)', 502, refused=True)
        if reply.status == 404:
            raise PeerError('the peer no longer shares this item', 404)
        if reply.status not in expect:
            raise PeerError('the peer answered %d' % reply.status, 502)
        if reply.status == 204:
            return None
        return parse_json(reply.body)

    def catalog(self, cursor):
        query = '/catalog?limit=%d' % CATALOG_PAGE + ('&since=%s' % quote(cursor) if cursor else '')
        return self.json('GET', query, max_bytes=MAX_CATALOG_BYTES)

    def media_window(self, remote_id, range_header, buffer):
        """Up to len(buffer) bytes of the item from the origin, read into `buffer`: the origin's reply."""
        headers = {'Authorization': 'Bearer ' + self.key, 'Range': range_header}
        reply = self.transport.read_window(self.url + '/api/v1/content/%s/media' % remote_id, headers, buffer,
                                           deadline=REQUEST_DEADLINE, verify=self.verify)
        if 300 <= reply.status < 400:
            raise PeerError('the peer answered with a redirect, which privtube does not follow', 502)
        return reply

    def thumbnail(self, remote_id):
        """The item's JPEG thumbnail from the origin, or None when it has none (or sends no JPEG)."""
        reply = self.request('GET', '/content/%s/thumbnail' % remote_id, max_bytes=MAX_THUMBNAIL_BYTES)
        if reply.status != 200 or not bytes(reply.body[:3]) == b'\xff\xd8\xff':
            return None
        return bytes(reply.body)


def arrived_chunks(response):
    raw = response.raw
    if not hasattr(raw, 'read1'):           # urllib3 1.x: small reads keep the deadline checks frequent
        yield from response.iter_content(4096)
        return
    while True:
        chunk = raw.read1(1024 * 1024, decode_content=True)
        if not chunk:
            return
        yield chunk


def config_stamp(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def quote(text):
    from urllib.parse import quote as url_quote
    return url_quote(text, safe='')


def parse_json(body):
    try:
        return json.loads(body.decode('utf-8'))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise PeerError('the peer sent malformed JSON', 502)


# --- validation of what a peer sends ------------------------------------------------------------

def checked_page(page):
    """The catalog page if every part has the contract's shape; PeerError naming the first fault."""
    if not isinstance(page, dict):
        raise PeerError('the catalog is not a JSON object')
    items, removed = page.get('items'), page.get('removed', [])
    if not isinstance(items, list) or not isinstance(removed, list) or len(items) + len(removed) > 10 * CATALOG_PAGE:
        raise PeerError('the catalog has no valid items/removed lists')
    if not isinstance(page.get('cursor'), str) or len(page['cursor']) > 200 or not storable(page['cursor']):
        raise PeerError('the catalog has no valid cursor')
    if not isinstance(page.get('more', False), bool) or not isinstance(page.get('reset', False), bool):
        raise PeerError('the catalog has invalid more/reset flags')
    if not all(isinstance(i, str) and REMOTE_ID.match(i) for i in removed):
        raise PeerError('the catalog lists an invalid removed id')
    return [checked_item(item) for item in items], removed


def checked_item(item):
    if not isinstance(item, dict) or not isinstance(item.get('id'), str) or not REMOTE_ID.match(item['id']):
        raise PeerError('the catalog has an item without a valid id')
    try:
        return {
            'id': item['id'],
            'title': text(item.get('title'), 200) or 'untitled',
            'description': text(item.get('description', ''), 10000),
            'tags': auth.normalize_tags(item.get('tags') or [])
            if isinstance(item.get('tags') or [], list) else bad('tags'),
            'mime': mime_text(item.get('mime')),
            'size': number(item.get('size'), int, 'size') or 0,
            'created': text(item.get('created'), 40) or '',
            'updated': text(item.get('updated'), 40) or '',
            'views': number(item.get('views'), int, 'views') or 0,
            'comments': number(item.get('comments'), int, 'comments') or 0,
            'duration': number(item.get('duration'), (int, float), 'duration'),
            'width': number(item.get('width'), int, 'width'),
            'height': number(item.get('height'), int, 'height'),
            'thumbnail': bool(item.get('thumbnail')) if isinstance(item.get('thumbnail', False), bool) else bad('thumbnail'),
        }
    except auth.AuthError as exc:
        raise PeerError('item %s: %s' % (item['id'], exc))


def bad(what):
    raise PeerError('an item has an invalid %s' % what)


def text(value, limit):
    if value is None:
        return ''
    if not isinstance(value, str) or len(value) > limit or '\x00' in value or not storable(value):
        bad('text field')
    return value


def mime_text(value):
    if not isinstance(value, str) or not re.match(r'^[a-z0-9.+-]{1,40}/[a-z0-9.+-]{1,80}$', value):
        bad('mime')
    return value


def number(value, kinds, what):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, kinds) or not 0 <= value < 2 ** 53:
        bad(what)
    return value


# --- the registry ------------------------------------------------------------------------------------

REMOTE_FIELDS = ('title', 'description', 'mime', 'size', 'created', 'updated', 'views', 'comments', 'duration',
                 'width', 'height', 'thumbnail')
STAGED_IDS = 'SELECT :prefix || remote_id FROM temp.catalog_stage WHERE item NOT NULL'
# A complete read's staged items into the item table and its tags, as ORIGIN:ID rows (`prefix` is
# 'ORIGIN:'); the search index follows (SearchIndex.index_many). Set-based statements keep the one
# transaction that makes a read visible short.
APPLY_STAGED = (
    'INSERT INTO item (id, origin, path, mtime_ns, seq, private, media_state, %s) '
    "SELECT :prefix || remote_id, :origin, NULL, 0, 0, 0, 'done', %s FROM temp.catalog_stage WHERE item NOT NULL "
    'ON CONFLICT (id) DO UPDATE SET %s' % (', '.join(REMOTE_FIELDS),
                                          ', '.join("json_extract(item, '$.%s')" % f for f in REMOTE_FIELDS),
                                          ', '.join('%s = excluded.%s' % (f, f) for f in REMOTE_FIELDS)),
    'DELETE FROM item_tag WHERE item_id IN (%s)' % STAGED_IDS,
    'INSERT INTO item_tag (item_id, tag) SELECT :prefix || staged.remote_id, tag.value '
    "FROM temp.catalog_stage AS staged, json_each(staged.item, '$.tags') AS tag WHERE staged.item NOT NULL",
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
        """Follow the catalog from `cursor` to its end into `staged`; (the last cursor, whether to sweep)."""
        ends = time.monotonic() + SYNC_DEADLINE
        sweeping, pages = not cursor, 0
        while True:
            page = client.catalog(cursor)
            items, gone = checked_page(page)
            if page.get('reset'):
                sweeping = True
                staged.clear()
            staged.add(items, gone)
            cursor, pages = page['cursor'], pages + 1
            if not page.get('more'):
                return cursor, sweeping
            if pages >= MAX_PAGES or time.monotonic() > ends:
                raise PeerError('the catalog did not end within %d pages or %d s' % (MAX_PAGES, SYNC_DEADLINE), 504)

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
        return Item.delete().where(Item.id.in_(row_ids) & (Item.origin != 'local')).execute() if row_ids else 0

    def drop_many(self, row_ids):
        """drop_items in batches a statement can name."""
        return sum(self.drop_items(row_ids[start:start + 500]) for start in range(0, len(row_ids), 500))

    def sweep(self, origin, seen):
        Item = self.database.Item
        held = Item.select(Item.id).where(Item.origin == origin).tuples().iterator()
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
                logger.info('thumbnail of %s not fetched: %s', row_id, exc)
                return
            if data:
                write_atomically(path, data)

    def forget(self, row_id):
        path = self.path(row_id)
        if path and os.path.exists(path):
            os.unlink(path)


def write_atomically(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temp = path + '.tmp'
    with open(temp, 'wb') as fh:
        fh.write(data)
    os.replace(temp, path)


class SyncLoop:
    """A `schedule` loop in one daemon thread, owned by the app: syncs every peer every `minutes`."""

    def __init__(self, registry, minutes):
        import schedule
        self.registry = registry
        self.scheduler = schedule.Scheduler()
        self.scheduler.every(minutes).minutes.do(self.run_once)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.loop, name='privtube-sync', daemon=True)

    def start(self):
        self.thread.start()

    def run_once(self):
        for name in list(self.registry.peers()):
            if self.stopping.is_set():
                return
            # each peer in its own thread, so a slow one delays no other
            threading.Thread(target=self.registry.sync, args=(name,), name='privtube-sync-' + name,
                             daemon=True).start()

    def loop(self):
        self.run_once()
        while not self.stopping.wait(1.0):
            self.scheduler.run_pending()

    def stop(self, timeout=5.0):
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout)


# --- comments and views of peers' items ----------------------------------------------------------

COMMENT_CACHE_SECONDS = 30
PAGE_DEADLINE = 2.0             # total time of a call to a peer made for a page: comments, a posted comment, a view
PAGE_WAIT = PAGE_DEADLINE + 0.5     # how long a page waits for one, whatever the transport does
PAGE_CALLS_PER_ORIGIN = 2       # calls to one origin in flight at once: a slow peer cannot take the whole pool
PAGE_CALL_THREADS = 4
FAILING_SECONDS = 10            # after a failed read, pages of that origin wait for none for this long


def split_remote(item_id):
    origin, _, remote_id = item_id.partition(':')
    return origin, remote_id


class RemoteComments:
    """Comments and views of peers' items live at their origin.

    Calls to an origin run in a small pool of threads with a short total deadline, so a slow peer never
    holds a page: comments are cached and refreshed in the background; a page shows a fresh or stale
    copy at once and waits (briefly) only when it holds none.
    """

    def __init__(self, registry):
        self.registry = registry
        self.cache = {}         # item id -> (fresh until, comments)
        self.reading = {}       # item id -> Future of the read in flight
        self.in_flight = {}     # origin -> calls running or queued
        self.failing = {}       # origin -> until when its reads are not waited for
        self.lock = threading.Lock()
        self.pool = None

    def comments(self, item):
        """The item's comments; PeerError when there are none to show and the origin cannot give them in time."""
        with self.lock:
            cached = self.cache.get(item.id)
            failing = self.failing.get(item.origin, 0) > time.monotonic()
        if cached and cached[0] > time.monotonic():
            return cached[1]
        future = self.refresh(item)
        if cached:
            return cached[1]
        if failing:
            raise PeerError('it did not answer a moment ago', 504)
        return waited(future)

    def refresh(self, item):
        """A Future of the item's comments read from its origin: one read per item at a time."""
        with self.lock:
            future = self.reading.get(item.id)
            if future is not None:
                return future
            future = self.reading[item.id] = Future()
        if not self.submit(item.origin, self.read, item, future):
            with self.lock:
                self.reading.pop(item.id, None)
            future.set_exception(PeerError('it is busy with slow answers', 503))
        return future

    def read(self, item, future):
        origin, remote_id = split_remote(item.id)
        try:
            comments = checked_comments(self.registry.client(origin).json(
                'GET', '/content/%s/comments' % remote_id, deadline=PAGE_DEADLINE))
        except Exception as exc:
            with self.lock:
                if self.reading.get(item.id) is future:
                    del self.reading[item.id]
                if not isinstance(exc, PeerError) or exc.status >= 500:
                    self.failing[origin] = time.monotonic() + FAILING_SECONDS
            future.set_exception(exc if isinstance(exc, PeerError) else unexpected(exc))
            return
        with self.lock:
            if self.reading.get(item.id) is future:     # not outdated by a comment posted meanwhile
                del self.reading[item.id]
                self.cache[item.id] = (time.monotonic() + COMMENT_CACHE_SECONDS, comments)
            self.failing.pop(origin, None)
        future.set_result(comments)

    def post(self, item, author, body):
        origin, remote_id = split_remote(item.id)
        self.call(origin, lambda client: client.json('POST', '/content/%s/comments' % remote_id,
                                                     {'author': author, 'body': body}, expect=(201,),
                                                     deadline=PAGE_DEADLINE))
        with self.lock:
            self.cache.pop(item.id, None)
            self.reading.pop(item.id, None)

    def view(self, item, viewer):
        origin, remote_id = split_remote(item.id)
        self.call(origin, lambda client: client.json('POST', '/content/%s/views' % remote_id, {'viewer': viewer},
                                                     expect=(204,), deadline=PAGE_DEADLINE))

    def call(self, origin, work):
        """`work(client)` run in the pool; its result, or PeerError when the origin is busy or too slow."""
        future = Future()

        def run():
            try:
                future.set_result(work(self.registry.client(origin)))
            except Exception as exc:
                future.set_exception(exc if isinstance(exc, PeerError) else unexpected(exc))
        if not self.submit(origin, run):
            raise PeerError('%s is busy with slow answers; try again in a moment' % origin, 503)
        return waited(future)

    def submit(self, origin, work, *args):
        """Run `work` in the pool unless `origin` already has PAGE_CALLS_PER_ORIGIN calls in flight."""
        with self.lock:
            if self.in_flight.get(origin, 0) >= PAGE_CALLS_PER_ORIGIN:
                return False
            self.in_flight[origin] = self.in_flight.get(origin, 0) + 1
            if self.pool is None:
                self.pool = ThreadPoolExecutor(PAGE_CALL_THREADS, thread_name_prefix='privtube-peer-call')

        def run():
            try:
                work(*args)
            finally:
                with self.lock:
                    self.in_flight[origin] -= 1
        self.pool.submit(run)
        return True

    def close(self):
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)


def unexpected(exc):
    """A bug met in a call to a peer, logged here (the page only says the call failed)."""
    logger.error('unexpected error in a call to a peer', exc_info=(type(exc), exc, exc.__traceback__))
    return PeerError('an unexpected error (logged)', 502)


def waited(future):
    """The result of a call to a peer, waited for at most PAGE_WAIT."""
    try:
        return future.result(timeout=PAGE_WAIT)
    except FutureTimeout:
        raise PeerError('the peer was too slow (deadline passed)', 504)


def checked_comments(data):
    if not isinstance(data, dict) or not isinstance(data.get('comments'), list):
        raise PeerError('the origin sent invalid comments')
    found = []
    for comment in data['comments'][:1000]:
        if not isinstance(comment, dict):
            raise PeerError('the origin sent an invalid comment')
        found.append({'id': text(comment.get('id'), 64), 'author': text(comment.get('author'), 200),
                      'body': text(comment.get('body'), 5000), 'created': text(comment.get('created'), 40)})
    return found
