"""The one outbound HTTP seam: every request to a peer goes through `PeerClient`.

A `PeerClient` talks to one peer's Content Management API through a transport: `RequestsTransport` in
production (requests for JSON and thumbnails, kept-alive `http.client` connections for the gateway's media
windows), an in-process router in tests. No redirects are followed, every request has a total deadline
and every body a cap.
"""
import json
import threading
import time
from dataclasses import dataclass, field

CATALOG_PAGE = 1000
MAX_CATALOG_BYTES = 16 * 1024 * 1024
MAX_SMALL_BYTES = 2 * 1024 * 1024
MAX_THUMBNAIL_BYTES = 1024 * 1024
MAX_PREVIEW_BYTES = 8 * 1024 * 1024
REQUEST_DEADLINE = 30.0


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

    def pair(self, body):
        """POST a pairing exchange (JSON `body`) to the peer: the one request that carries no key, the
        pairing link's token being its credential; the peer's Reply (the caller checks it)."""
        reply = self.transport('POST', self.url + '/api/v1/pair', {'Content-Type': 'application/json',
                               'Accept': 'application/json'}, body, max_bytes=64 * 1024,
                               deadline=REQUEST_DEADLINE, verify=self.verify)
        if 300 <= reply.status < 400:
            raise PeerError('the peer answered with a redirect, which privtube does not follow', 502)
        return reply

    def catalog(self, cursor):
        query = '/catalog?limit=%d' % CATALOG_PAGE + ('&since=%s' % quote(cursor) if cursor else '')
        return self.json('GET', query, max_bytes=MAX_CATALOG_BYTES)

    def media_window(self, remote_id, range_header, buffer, what='media', deadline=None):
        """Up to len(buffer) bytes of the item from the origin, read into `buffer`: the origin's reply.
        `what` is 'media' (the original) or 'playable' (its copy for browsers, privtube_remux); `deadline`
        is the request's (REQUEST_DEADLINE, read when called, when none is given)."""
        headers = {'Authorization': 'Bearer ' + self.key, 'Range': range_header}
        reply = self.transport.read_window(self.url + '/api/v1/content/%s/%s' % (remote_id, what), headers, buffer,
                                           deadline=REQUEST_DEADLINE if deadline is None else deadline,
                                           verify=self.verify)
        if 300 <= reply.status < 400:
            raise PeerError('the peer answered with a redirect, which privtube does not follow', 502)
        return reply

    def thumbnail(self, remote_id):
        """The item's JPEG thumbnail from the origin, or None when it has none (or sends no JPEG)."""
        return self.jpeg('/content/%s/thumbnail' % remote_id, MAX_THUMBNAIL_BYTES)

    def preview(self, remote_id):
        """A photo's display-sized JPEG preview from the origin, or None when it has none (an origin older
        than previews answers 404 too) or sends no JPEG."""
        return self.jpeg('/content/%s/preview' % remote_id, MAX_PREVIEW_BYTES)

    def jpeg(self, path, max_bytes):
        reply = self.request('GET', path, max_bytes=max_bytes)
        if reply.status != 200 or not bytes(reply.body[:3]) == b'\xff\xd8\xff':
            return None
        return bytes(reply.body)



def quote(text):
    from urllib.parse import quote as url_quote
    return url_quote(text, safe='')


def parse_json(body):
    try:
        return json.loads(body.decode('utf-8'))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise PeerError('the peer sent malformed JSON', 502)
