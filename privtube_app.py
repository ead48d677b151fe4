"""The node: one object holding a config's database, store and accounts, and `make_app(config)`,
the factory of the WSGI application that serves the web app and the Content Management API."""
import errno
import functools
import json
import logging
import os
import signal
from concurrent.futures import ThreadPoolExecutor

import bottle
import waitress
from peewee import DatabaseError
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import BaseWSGIServer
from waitress.utilities import RequestEntityTooLarge

import privtube_auth as auth
import privtube_media as media
import privtube_news
from privtube_api import bearer_of, make_api
from privtube_db import Database
from privtube_gateway import MEMORY_BUDGET, Download, Prefetcher, WindowBuffers
from privtube_invites import Invites
from privtube_logs import WaitWatch
from privtube_pairing import Pairing
from privtube_peer_copies import PeerCopies
from privtube_probe import MediaWorker
from privtube_registry import Registry, SyncLoop
from privtube_remote import RemoteComments
from privtube_remux import RemuxWorker
from privtube_scan import ScanLoop
from privtube_store import Housekeeping, Store, StoreError
from privtube_version import VERSION
from privtube_web import live_session, make_web, render, session_token, setup_token

logger = logging.getLogger('privtube.app')


class Node:
    """Everything one running node owns. Building it opens (and if needed upgrades) the database, and does
    nothing else: pruning, DNS look-ups and background threads are steps of the commands that need them."""

    def __init__(self, config, transport=None):
        self.config = config
        self.name = config.node_name
        self.version = VERSION
        self.database = Database(config.get('registry', 'database'))
        self.store = Store(self.database, config.get('store', 'media_dir'),
                           config.get('store', 'max_upload_mb') * 1024 * 1024, config.get('store', 'trash_days'))
        self.accounts = auth.Accounts(self.database)
        self.invites = Invites(self.database, self.accounts)
        self.registry = Registry(self, transport)
        self.remote = RemoteComments(self.registry)
        self.pairing = Pairing(self)        # pairing links and their exchange
        self.media = MediaWorker(self)
        self.remux = RemuxWorker(self)     # browser-playable copies of MKV, AVI...: after probes
        self.media.on_probed = self.remux.probed
        self.peer_copies = PeerCopies(self.registry)     # which peers' items have such a copy at their origin
        self.window_buffers = WindowBuffers(MEMORY_BUDGET, config.get('server', 'spool_mb') * 1024 * 1024)
        self.prefetcher = Prefetcher(self.window_buffers)
        # downloads' windows are fetched here, never in a worker thread; threads start with the first one
        self.fetch_threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix='privtube-download')
        self.sync_loop = None
        self.housekeeping = None
        self.digest_loop = None
        self.scan_loop = ScanLoop(self, config.get('store', 'scan_minutes'))    # its thread starts later

    def forget_removed_peers(self):
        """Drop the items and sync state of peers no longer in the config (`serve` and `peer rm` do)."""
        with self.database.db.connection_context():
            self.registry.forget_unknown_peers()

    def warn_of_plain_http_peers(self):
        """Warn of each peer reached over plain http at a public address (host names are looked up in DNS)."""
        for name, peer in self.config.peers.items():
            if plain_http_to_public(peer['url']):
                logger.warning('peer %s is reached over plain http at a public address (%s): its key and media '
                               'cross the internet unencrypted; use https or a VPN', name, peer['url'])

    def start_background(self):
        """Start the scheduled sync loop, the media worker and, unless scan_minutes is 0, the scheduled
        rescans (serve does; tests run them on demand)."""
        self.sync_loop = SyncLoop(self.registry, self.config.get('registry', 'sync_minutes'))
        self.sync_loop.start()
        self.media.start()
        self.remux.start()
        self.housekeeping = Housekeeping(self.store)
        self.housekeeping.start()
        if self.config.get('store', 'scan_minutes'):
            self.scan_loop.start()
        self.digest_loop = privtube_news.start_digests(self)    # None without a [mail] server

    def key_principal(self, token):
        principal = self.accounts.key_principal(token)
        if principal is None:
            raise StoreError('unknown or revoked key', 401)
        return principal

    def may_upload(self, path, cookie, authorization):
        """True when a POST to the upload route `path` carries its credential: a live session for the web
        upload, a manage key for the API's (asked by Waitress before it reads a body larger than a form)."""
        try:
            with self.database.serving():
                if path == '/upload':
                    return live_session(self.database, session_token(cookie)) is not None
                principal = self.accounts.key_principal(bearer_of(authorization))
                return principal is not None and principal.manage
        except DatabaseError:
            logger.exception('could not check the credential of an upload to %s', path)
            return False

    def close(self):
        if self.sync_loop is not None:
            self.sync_loop.stop()
        if self.housekeeping is not None:
            self.housekeeping.stop()
        if self.digest_loop is not None:
            self.digest_loop.stop()
        self.scan_loop.stop()
        self.media.stop()
        self.remux.stop()
        self.remote.close()
        self.prefetcher.close()
        self.fetch_threads.shutdown(wait=False, cancel_futures=True)
        self.database.close()


def plain_http_to_public(url):
    """True for an http:// URL whose host is not loopback, private or link-local."""
    import ipaddress
    import socket
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    if parts.scheme != 'http':
        return False
    host = parts.hostname or ''
    if host == 'localhost' or host.endswith(('.local', '.lan', '.home.arpa', '.internal')):
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            address = ipaddress.ip_address(socket.getaddrinfo(host, None)[0][4][0])
        except (OSError, ValueError, IndexError):
            return True
    return not (address.is_private or address.is_loopback or address.is_link_local)


def make_app(config, node=None, transport=None):
    """Build the WSGI app for `config`: the web app, the API under /api/v1 (keys) and /healthz.

    `transport` replaces the outbound HTTP seam (tests wire several in-process nodes with it).
    """
    node = node or Node(config, transport)
    app = make_web(node)
    app.node = node
    app.mount('/api/v1/', make_api(node))

    @app.get('/healthz', skip=True)
    def healthz():
        bottle.response.content_type = 'application/json'
        return json.dumps({'status': 'ok'})

    for code in (400, 404, 405, 413, 500):
        app.error(code)(error_page)
    return app


ERROR_TEXT = {400: 'bad request', 404: 'not found', 405: 'method not allowed', 413: 'too large',
              500: 'internal error'}


def error_page(error):
    """The one place where Bottle's own errors become answers: JSON under /api/, plain text elsewhere."""
    if error.exception is not None:
        exc = error.exception
        logger.error('unexpected error on %s %s', bottle.request.method, bottle.request.path,
                     exc_info=(type(exc), exc, exc.__traceback__))
    message = ERROR_TEXT.get(error.status_code, 'error')
    if bottle.request.path.startswith('/api/'):
        bottle.response.content_type = 'application/json'
        return json.dumps({'error': message})
    return render('message', title='Sorry', message='Sorry: %s.' % message, user=None)


def serve(config):
    """Run the node on Waitress until SIGINT or SIGTERM."""
    lock = hold_serve_lock(config.get('registry', 'database'))     # held until this process ends
    node = Node(config)
    node.forget_removed_peers()
    node.warn_of_plain_http_peers()
    node.store.uploads.remove_abandoned()       # what a crash left; uploads in progress hold a lock
    app = make_app(config, node)
    try:
        server = create_server(app)
    except OSError as exc:
        node.close()
        if exc.errno == errno.EADDRINUSE:
            raise OSError('port %d on %s is already in use (another privtube serve?)'
                          % (config.get('server', 'port'), config.get('server', 'host')))
        raise
    signal.signal(signal.SIGTERM, stop_serving)
    logger.info('privtube %s node %r serving on %s', VERSION, node.name, config.base_url)
    with node.database.db.connection_context():
        token = setup_token(node.database)
    if token:
        print('No user yet: open %s/setup?token=%s to create the administrator.' % (config.base_url, token),
              flush=True)
    node.start_background()
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        node.close()
        lock.close()
        logger.info('stopped')
        lock.close()
    return 0


class AlreadyServing(OSError):
    """Another `serve` holds this database."""


def hold_serve_lock(database_path):
    """An exclusive lock beside the database for the life of this process: one `serve` per database."""
    import fcntl
    path = database_path + '.lock'
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    handle = open(path, 'a+')
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise AlreadyServing('another privtube serve is already using %s; stop it first' % database_path)
    return handle


def stop_serving(signum, frame):
    """SIGTERM ends `serve` the same way Ctrl-C does."""
    raise KeyboardInterrupt


def waitress_options(config):
    """Waitress settings for `serve`; proxy headers are believed only from the configured proxy."""
    options = dict(
        host=config.get('server', 'host'), port=config.get('server', 'port'),
        threads=config.get('server', 'threads'), ident='privtube',
        max_request_body_size=config.get('store', 'max_upload_mb') * 1024 * 1024 + 65536,
        asyncore_use_poll=True, connection_limit=1000, channel_timeout=120, clear_untrusted_proxy_headers=True)
    trusted = config.get('server', 'trusted_proxy')
    if trusted:   # Waitress refuses trusted_proxy_headers=None, so name them only with a proxy
        options.update(trusted_proxy=trusted, trusted_proxy_headers={'x-forwarded-proto', 'x-forwarded-for'})
    return options


FORM_LIMIT = bottle.BaseRequest.MEMFILE_MAX    # 100 KiB: Bottle keeps it in memory; the edit form fits
UPLOAD_ROUTES = ('/upload', '/api/v1/content')  # POST /upload of the web app, POST /content of the API
RESUMABLE_UPLOADS = '/upload/tus/'              # PATCH /upload/tus/ID: a resumable upload's bytes (privtube_tus)


def upload_route(method, path):
    """The upload route whose credential a request with a large body needs, or None when it is no upload."""
    if method == 'POST' and path in UPLOAD_ROUTES:
        return path
    if method == 'PATCH' and path.startswith(RESUMABLE_UPLOADS):
        return '/upload'        # a signed-in person's, as the web upload
    return None


def create_server(app, **options):
    """The Waitress server of `app` (`options` over `waitress_options`): its requests are parsed by
    BodyGate (only an upload with its credential may send a body larger than a form), FileRange bodies
    are sent zero-copy and gateway downloads from the main loop as their windows arrive; its thread pool is
    a WaitWatch, which logs requests that wait for a thread (README, "Logs")."""
    listening = {}
    options = dict(waitress_options(app.node.config), **options)
    pool = WaitWatch(options['threads'])     # Waitress takes its own pool only through `_dispatcher`
    try:
        server = waitress.create_server(zero_copy_files(app), map=listening, _dispatcher=pool, **options)
    except Exception:
        pool.shutdown()
        raise
    channel = gated_channel(app.node.may_upload)
    for dispatcher in list(listening.values()):
        if isinstance(dispatcher, BaseWSGIServer):
            dispatcher.channel_class = channel
    return server


class DownloadChannel(HTTPChannel):
    """Waitress's channel, taught to send a gateway Download from the main loop without spinning.

    A body whose next bytes are not there yet would make Waitress poll the socket for writing and find
    nothing to send, again and again. While a Download waits for its next window, the channel is not
    polled for writing; the fetch thread wakes the loop (`pull_trigger`) when the window lands.
    """

    def write_soon(self, data):
        if isinstance(getattr(data, 'file', None), Download):
            data.file.attach(self.server.pull_trigger)
        return super().write_soon(data)

    def writable(self):
        download = getattr(self.outbufs[0], 'file', None)
        if isinstance(download, Download) and not (self.will_close or self.close_when_flushed):
            if download.failed:
                self.will_close = True      # the origin stopped: close, as the promised length cannot be sent
            elif download.waiting():
                return False
        return super().writable()


def gated_channel(may_upload):
    """The node's channel class: a DownloadChannel whose requests are parsed by BodyGate asking `may_upload`."""
    class GatedChannel(DownloadChannel):
        parser_class = functools.partial(BodyGate, may_upload=may_upload)
    return GatedChannel


class BodyGate(HTTPRequestParser):
    """Waitress's request parser, refusing a body over FORM_LIMIT once the headers are in, before a byte
    of it is stored, unless the request is an upload with its credential. Waitress reads every body
    whole (past `inbuf_overflow` into a temporary file) before the app is called: the app is too late."""

    def __init__(self, adj, may_upload):
        super().__init__(adj)
        self.may_upload = may_upload
        self.body_limit = None

    def received(self, data):
        consumed = super().received(data)
        if self.headers_finished and not self.completed and self.over_limit():
            self.refuse()
        if self.error is not None:
            self.expect_continue = False     # else the channel answers 100 Continue and reads the body anyway
        return consumed

    def over_limit(self):
        """True when the announced length, or what a chunked body has sent so far, passes the limit."""
        if self.body_limit is None:
            self.body_limit = self.adj.max_request_body_size if self.is_upload() else FORM_LIMIT
        return max(self.content_length, self.body_bytes_received) > self.body_limit

    def is_upload(self):
        route = upload_route(self.command, self.path)
        return route is not None and self.may_upload(
            route, self.headers.get('COOKIE', ''), self.headers.get('AUTHORIZATION', ''))

    def refuse(self):
        self.error = BodyTooLarge(self.path.startswith('/api/'))
        self.completed = self.connection_close = True
        self.body_rcv.getbuf().close()
        self.body_rcv = None


class BodyTooLarge(RequestEntityTooLarge):
    """Waitress's 413, in the API's JSON under /api/."""

    def __init__(self, api):
        super().__init__('only an upload by a signed-in person or a manage key may send more than %d bytes'
                         % FORM_LIMIT)
        self.api = api

    def to_response(self, ident=None):
        status, headers, body = super().to_response(ident)
        if self.api:
            headers, body = [('Content-Type', 'application/json')], json.dumps({'error': self.body}).encode()
        return status, headers, body

def zero_copy_files(app):
    """Wrap `app` so Waitress sends FileRange bodies as memoryviews of the file, not read copies.

    Safe with Waitress only: its file wrapper hands each read straight to socket.send().
    """
    def app_with_zero_copy_files(environ, start_response):
        file_wrapper = environ.get('wsgi.file_wrapper')
        if file_wrapper is not None:
            environ['wsgi.file_wrapper'] = lambda body, *args: file_wrapper(zero_copy(body), *args)
        return app(environ, start_response)
    return app_with_zero_copy_files


def zero_copy(body):
    if isinstance(body, media.FileRange):
        body.zero_copy = True
    return body
