"""The media gateway: a peer's item played through the reader's own node, one bounded window at a time.

A browser's Range request is cut to one window, read from the origin (with the key it issued us) into a
buffer and handed to Waitress as a file, so a slow browser drains it without holding a worker thread.
While it drains, the next window is prefetched; the origin still answers every request of the browser
before a window is handed out. Only allow-listed headers and media types pass.
"""
import logging
import re
import tempfile
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import privtube_media as media
from privtube_registry import REQUEST_DEADLINE, PeerError, split_remote

logger = logging.getLogger('privtube.gateway')

GATEWAY_WINDOW = 16 * 1024 * 1024


def window_range(range_header, size):
    """The Range to ask the origin for: the browser's range, cut to one window; None for no usable range."""
    asked = media.parse_range(range_header, size) if range_header else None
    if asked is None:
        return None
    if asked == media.UNSATISFIABLE:
        return range_header.strip()          # let the origin answer its own 416
    start, end = asked
    return 'bytes=%d-%d' % (start, min(end, start + GATEWAY_WINDOW - 1))


def gateway_reply(registry, prefetcher, item, headers, response):
    """Answer a browser's media request for a peer's item with one window fetched from the origin.

    The window is read into a buffer (or, once the memory budget is spent, a temporary file) and handed
    back as a file, so a slow browser drains it without a worker thread; a request without Range (a
    download) streams the whole file instead. While the browser drains a window, the next one is
    prefetched; it is only used once the origin has answered this request too.
    """
    origin, remote_id = split_remote(item.id)
    client = registry.client(origin)
    asked = window_range(headers.get('Range'), item.size)
    if asked is None:
        return download_stream(client, remote_id, item, response)
    reply, buffer = prefetcher.claim(item.id, asked)
    try:
        if reply is not None and not origin_confirms(client, remote_id, asked, reply):
            WINDOW_BUFFERS.give_back(buffer)
            reply = buffer = None
        if reply is None:
            buffer = WINDOW_BUFFERS.take(GATEWAY_WINDOW)
            reply = client.media_window(remote_id, asked, buffer or bytearray(GATEWAY_WINDOW))
        body = window_body(client, remote_id, item, reply, headers, response, buffer)
    except BaseException:
        WINDOW_BUFFERS.give_back(buffer)
        raise
    if not isinstance(body, media.BufferWindow):     # the buffer is not being sent: free it now
        WINDOW_BUFFERS.give_back(buffer)
    if response.status_code == 206 and len(reply.body) == GATEWAY_WINDOW:
        following = following_window(reply, item.size)
        if following:
            prefetcher.start(client, remote_id, item.id, following)
    return body


def origin_confirms(client, remote_id, asked, prefetched):
    """Ask the origin again for the first byte of a prefetched window: the origin decides every request.

    True when it still shares the item unchanged (same ETag and length); a refusal is final.
    """
    start = asked[len('bytes='):].split('-', 1)[0]
    check = client.media_window(remote_id, 'bytes=%s-%s' % (start, start), bytearray(4096))   # room for an error
    if check.status in (401, 403, 404):
        raise PeerError('the origin no longer shares this item', 404)
    same = ('ETag', 'Last-Modified')
    return (check.status == 206 and prefetched.status == 206
            and all(check.headers.get(name) == prefetched.headers.get(name) for name in same)
            and content_range(check)[2] == content_range(prefetched)[2])


def following_window(reply, size):
    """The Range of the window after `reply`, as a browser continuing from it would get; None at the end."""
    start, end, total = content_range(reply)
    if start is None or total != size or end + 1 >= size:
        return None
    return window_range('bytes=%d-' % (end + 1), size)


def content_range(reply):
    """(start, end, total) from the reply's Content-Range; start and end are None for `bytes */TOTAL`, all
    three for a missing or malformed header."""
    # at most 20 digits a number: int() refuses thousands, and no file is that long
    header = reply.headers.get('Content-Range', '')
    match = re.match(r'^bytes (?:([0-9]{1,20})-([0-9]{1,20})|\*)/([0-9]{1,20})$', header)
    if not match:
        return None, None, None
    start, end, total = match.groups()
    return (None if start is None else int(start)), (None if end is None else int(end)), int(total)


class Prefetcher:
    """Fetches the window after the one a browser was just given, so its next request finds it ready.

    At most LIMIT windows wait at once (the oldest is dropped), only while half the window budget is
    free (a prefetch never pushes windows to disk), on at most two threads that only ever wait for the
    origin, never for a browser.
    """
    LIMIT = 2

    def __init__(self):
        self.pending = OrderedDict()     # (item id, range) -> (future reply, buffer)
        self.lock = threading.Lock()
        self.executor = None
        self.closed = False

    def start(self, client, remote_id, item_id, asked):
        buffer = WINDOW_BUFFERS.take(GATEWAY_WINDOW, leave=WINDOW_BUFFERS.limit // 2)
        if buffer is None:
            return
        with self.lock:
            if self.closed or (item_id, asked) in self.pending:
                WINDOW_BUFFERS.give_back(buffer)
                return
            if self.executor is None:
                self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix='privtube-prefetch')
            while len(self.pending) >= self.LIMIT:
                discard(*self.pending.popitem(last=False)[1])
            future = self.executor.submit(client.media_window, remote_id, asked, buffer)
            self.pending[(item_id, asked)] = (future, buffer)

    def claim(self, item_id, asked):
        """The prefetched reply for this window and the buffer holding it, or (None, None)."""
        with self.lock:
            future, buffer = self.pending.pop((item_id, asked), (None, None))
        if future is None:
            return None, None
        try:
            return future.result(timeout=REQUEST_DEADLINE), buffer
        except Exception as exc:        # the origin failed or was slow: fetch afresh
            logger.debug('prefetched window of %s unusable: %s', item_id, exc)
            discard(future, buffer)
            return None, None

    def close(self):
        with self.lock:
            self.closed = True
            while self.pending:
                discard(*self.pending.popitem()[1])
            if self.executor is not None:
                self.executor.shutdown(wait=False, cancel_futures=True)


def discard(future, buffer):
    """Give the buffer back once the fetch into it has finished (or was cancelled)."""
    future.add_done_callback(lambda _: WINDOW_BUFFERS.give_back(buffer))


def window_body(client, remote_id, item, reply, headers, response, buffer):
    """The origin's `reply` for one window as a body for Bottle; a BufferWindow body holds `buffer` until closed."""
    if reply.status in (401, 403, 404):
        raise PeerError('the origin no longer shares this item', 404)
    if reply.status not in (206, 416):
        raise PeerError('the origin answered %d' % reply.status, 502)
    copy_safe_headers(reply, response, item)
    response.status = reply.status
    if_range = headers.get('If-Range')
    if if_range and if_range not in (reply.headers.get('ETag'), reply.headers.get('Last-Modified')):
        return download_stream(client, remote_id, item, response)
    response.set_header('Content-Length', str(len(reply.body)))
    if not reply.body:
        return b''
    if buffer is not None:
        return media.BufferWindow(reply.body, lambda: WINDOW_BUFFERS.give_back(buffer))
    spooled = tempfile.TemporaryFile()      # memory budget spent: slow browsers drain from disk
    spooled.write(reply.body)
    spooled.flush()
    return media.FileWindow(spooled, 0, len(reply.body))


class WindowBuffers:
    """Buffers for fetched windows: at most `limit` bytes of them exist at once, across all streams (past
    that, windows go to disk), and a few are kept for reuse, so each window does not fault in fresh pages."""

    def __init__(self, limit, keep=2):
        self.limit, self.keep = limit, keep
        self.used, self.spare = 0, []
        self.lock = threading.Lock()

    def take(self, size, leave=0):
        """A buffer of `size` bytes, or None when the budget (less `leave` bytes) is spent."""
        with self.lock:
            for index, buffer in enumerate(self.spare):
                if len(buffer) == size:
                    return self.spare.pop(index)
            if self.used + size > self.limit - leave:
                return None
            self.used += size
        return bytearray(size)

    def give_back(self, buffer):
        if buffer is None:
            return
        with self.lock:
            if len(self.spare) < self.keep:
                self.spare.append(buffer)
            else:
                self.used -= len(buffer)


WINDOW_BUFFERS = WindowBuffers(64 * 1024 * 1024)


def copy_safe_headers(reply, response, item):
    """Only allow-listed headers pass, and only allow-listed types are shown inline."""
    for name in ('Content-Range', 'ETag', 'Last-Modified'):
        value = reply.headers.get(name)
        if value and len(value) < 200 and '\n' not in value and '\r' not in value:
            response.set_header(name, value)
    content_type, disposition = media.served_type(item.mime)
    response.set_header('Content-Type', content_type)
    if disposition:
        response.set_header('Content-Disposition', 'attachment')
    response.set_header('Accept-Ranges', 'bytes')
    response.set_header('X-Content-Type-Options', 'nosniff')
    response.set_header('Cache-Control', 'private, max-age=0')


def download_stream(client, remote_id, item, response):
    """The whole file with 200, fetched window by window (a download holds its thread while it runs)."""
    buffer = bytearray(GATEWAY_WINDOW)
    first = client.media_window(remote_id, 'bytes=0-%d' % (GATEWAY_WINDOW - 1), buffer)
    if first.status not in (200, 206):
        raise PeerError('the origin answered %d' % first.status, 404 if first.status in (401, 404) else 502)
    total = content_range(first)[2] if first.status == 206 else len(first.body)
    if total is None:
        raise PeerError('the origin sent no valid Content-Range', 502)
    content_type, disposition = media.served_type(item.mime)
    response.status = 200
    response.set_header('Content-Type', content_type)
    response.set_header('Content-Length', str(total))
    response.set_header('X-Content-Type-Options', 'nosniff')
    if disposition:
        response.set_header('Content-Disposition', 'attachment')

    def chunks():
        yield bytes(first.body)
        sent = len(first.body)
        while sent < total:
            part = client.media_window(remote_id, 'bytes=%d-%d' % (sent, min(total, sent + GATEWAY_WINDOW) - 1),
                                       buffer)
            if part.status != 206 or not part.body:
                logger.warning('download of %s from %s cut short at %d bytes', remote_id, client.name, sent)
                return
            yield bytes(part.body)
            sent += len(part.body)
    return chunks()
