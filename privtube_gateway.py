"""The media gateway: a peer's item played through the reader's own node, one bounded window at a time.

A browser's Range request is cut to one window, read from the origin (with the key it issued us) into a
buffer and handed to Waitress as a file, so a slow browser drains it without holding a worker thread.
While it drains, the next window is prefetched; the origin still answers every request of the browser
before a window is handed out. A download (no Range) is a `Download`: the node's threads fetch it window
by window into two buffers while Waitress sends it. Buffers live in memory, then in temporary files, both
within the node's budgets (`WindowBuffers`); past them the answer is 503 with Retry-After. Only
allow-listed headers and media types pass.
"""
import logging
import mmap
import os
import re
import tempfile
import threading
import time
from collections import OrderedDict, namedtuple
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import privtube_media as media
from privtube_peer import REQUEST_DEADLINE, PeerError
from privtube_registry import split_remote

logger = logging.getLogger('privtube.gateway')

GATEWAY_WINDOW = 16 * 1024 * 1024
MEMORY_BUDGET = 64 * 1024 * 1024     # window buffers in memory, across all streams; then temporary files
MIN_WINDOW = 256 * 1024              # the smallest window a running-low disk budget still gives
RETRY_AFTER = 5                      # seconds a browser is asked to wait when both budgets are spent


def window_range(range_header, size):
    """The Range to ask the origin for: the browser's range, cut to one window; None for no usable range."""
    asked = media.parse_range(range_header, size) if range_header else None
    if asked is None:
        return None
    if asked == media.UNSATISFIABLE:
        return 'bytes=%d-' % size            # as unsatisfiable, in a form the origin parses: it answers the 416
    start, end = asked
    return 'bytes=%d-%d' % (start, min(end, start + GATEWAY_WINDOW - 1))


# What the gateway reads from an origin: the prefetcher's key for it, its size and type, fetch(range, buffer)
# of one window, and whether every window must be exactly the one asked of a file of that size (a copy for
# browsers, whose size the reader learnt from the origin itself).
Source = namedtuple('Source', 'key size mime fetch strict')


def media_source(node, item):
    """The Source of a peer's item itself: its size and type as its catalog entry gives them."""
    origin, remote_id = split_remote(item.id)
    return Source(item.id, item.size, item.mime, partial(node.registry.client(origin).media_window, remote_id),
                  False)


def gateway_reply(node, item, headers, response, source=None):
    """Answer a browser's media request for a peer's item (or for `source`, another file of that item
    at its origin) with one window fetched from the origin.

    The window is read into one of the node's window buffers and handed back as a file, so a slow browser
    drains it without a worker thread; a request without Range, or whose If-Range names an old version,
    gets the whole file as a Download. While the browser drains a window, the next one is prefetched; it
    is only used once the origin has answered this request too.
    """
    source = source or media_source(node, item)
    asked = window_range(headers.get('Range'), source.size)
    if asked is None:
        return download_reply(node, source, response)
    buffers, prefetcher = node.window_buffers, node.prefetcher
    reply, buffer = prefetcher.claim(source.key, asked)
    try:
        if reply is not None and not origin_confirms(source.fetch, asked, reply):
            buffers.give_back(buffer)
            reply = buffer = None
        if reply is None:
            buffer = take_window_buffer(buffers, response)
            reply = source.fetch(cut_to(asked, len(buffer)), buffer)
        check_window_status(reply)
        if source.strict:
            check_window_fits(reply, cut_to(asked, len(buffer)), source.size)
        if not media.if_range_allows(headers.get('If-Range'), header(reply, 'ETag'), header(reply, 'Last-Modified')):
            buffers.give_back(buffer)        # RFC 9110: the range is for another version; send the whole file
            buffer = None
            return download_reply(node, source, response)
        body = window_body(source.mime, reply, response, buffer, buffers)
    except BaseException:
        buffers.give_back(buffer)
        raise
    if not isinstance(body, media.BufferWindow):     # the buffer is not being sent: free it now
        buffers.give_back(buffer)
    if response.status_code == 206 and len(reply.body) == GATEWAY_WINDOW:
        following = following_window(reply, source.size)
        if following:
            prefetcher.start(source.fetch, source.key, following)
    return body


def take_window_buffer(buffers, response, size=None, least=None):
    """A buffer for a window (shorter than `size` when the budgets run low); when even `least` bytes do not
    fit, PeerError 503 with Retry-After."""
    buffer = buffers.take_window(size or GATEWAY_WINDOW, least or MIN_WINDOW)
    if buffer is None:
        response.set_header('Retry-After', str(RETRY_AFTER))
        raise PeerError('this node is sending much media to slow browsers; try again in a moment', 503)
    return buffer


def cut_to(asked, length):
    """The Range `asked` of the origin, cut to at most `length` bytes."""
    match = re.match(r'^bytes=(\d+)-(\d+)$', asked)
    if not match:
        return asked
    start, end = int(match.group(1)), int(match.group(2))
    return 'bytes=%d-%d' % (start, min(end, start + length - 1))


def origin_confirms(fetch, asked, prefetched):
    """Ask the origin again for the first byte of a prefetched window: the origin decides every request.

    True when it still shares the item unchanged (same ETag and length); a refusal is final.
    """
    start = asked[len('bytes='):].split('-', 1)[0]
    check = fetch('bytes=%s-%s' % (start, start), bytearray(4096))   # room for an error
    if check.status in (401, 403, 404):
        raise PeerError('the origin no longer shares this item', 404)
    same = ('ETag', 'Last-Modified')
    return (check.status == 206 and prefetched.status == 206
            and all(header(check, name) == header(prefetched, name) for name in same)
            and content_range(check)[2] == content_range(prefetched)[2])


def following_window(reply, size):
    """The Range of the window after `reply`, as a browser continuing from it would get; None at the end."""
    start, end, total = content_range(reply)
    if start is None or total != size or end + 1 >= size:
        return None
    return window_range('bytes=%d-' % (end + 1), size)


def header(reply, name):
    """The value of header `name` in a reply from the origin, whatever the case of its name ('' when absent)."""
    name = name.lower()
    return next((value for key, value in reply.headers.items() if key.lower() == name), '')


def content_range(reply):
    """(start, end, total) from the reply's Content-Range; start and end are None for `bytes */TOTAL`, all
    three for a missing or malformed header."""
    # at most 20 digits a number: int() refuses thousands, and no file is that long
    match = re.match(r'^bytes (?:([0-9]{1,20})-([0-9]{1,20})|\*)/([0-9]{1,20})$', header(reply, 'Content-Range'))
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

    def __init__(self, buffers):
        self.buffers = buffers
        self.pending = OrderedDict()     # (source key: an item id, or its copy's, range) -> (future reply, buffer)
        self.lock = threading.Lock()
        self.executor = None
        self.closed = False

    def start(self, fetch, key, asked):
        buffer = self.buffers.take(GATEWAY_WINDOW, leave=self.buffers.limit // 2)
        if buffer is None:
            return
        with self.lock:
            if self.closed or (key, asked) in self.pending:
                self.buffers.give_back(buffer)
                return
            if self.executor is None:
                self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix='privtube-prefetch')
            while len(self.pending) >= self.LIMIT:
                self.discard(*self.pending.popitem(last=False)[1])
            future = self.executor.submit(fetch, asked, buffer)
            self.pending[(key, asked)] = (future, buffer)

    def claim(self, key, asked):
        """The prefetched reply for this window and the buffer holding it, or (None, None)."""
        with self.lock:
            future, buffer = self.pending.pop((key, asked), (None, None))
        if future is None:
            return None, None
        try:
            return future.result(timeout=REQUEST_DEADLINE), buffer
        except Exception as exc:        # the origin failed or was slow: fetch afresh
            logger.debug('prefetched window of %s unusable: %s', key, exc)
            self.discard(future, buffer)
            return None, None

    def discard(self, future, buffer):
        """Give the buffer back once the fetch into it has finished (or was cancelled)."""
        future.add_done_callback(lambda _: self.buffers.give_back(buffer))

    def close(self):
        with self.lock:
            self.closed = True
            while self.pending:
                self.discard(*self.pending.popitem()[1])
            if self.executor is not None:
                self.executor.shutdown(wait=False, cancel_futures=True)


def check_window_status(reply):
    """PeerError unless the origin answered a window request with a window (206) or its own 416."""
    if reply.status in (401, 403, 404):
        raise PeerError('the origin no longer shares this item', 404)
    if reply.status not in (206, 416):
        raise PeerError('the origin answered %d' % reply.status, 502)


def check_window_fits(reply, asked, size):
    """PeerError 502 unless the origin's `reply` is exactly the window `asked` of a file of `size` bytes, or,
    for a range past its end, its 416 naming that size: never more bytes, or other ones, than asked."""
    match = re.match(r'^bytes=(\d+)-(\d+)$', asked)
    if reply.status == 416:
        fits = content_range(reply) == (None, None, size) and not len(reply.body)
    else:
        fits = bool(match) and is_window(reply, int(match.group(1)), min(int(match.group(2)), size - 1), size)
    if not fits:
        raise PeerError('the origin answered with another window or version than asked', 502)


def window_body(mime, reply, response, buffer, buffers):
    """The origin's `reply` for one window as a body for Bottle; a BufferWindow body holds `buffer` until closed."""
    copy_safe_headers(reply, response, mime)
    response.status = reply.status
    response.set_header('Content-Length', str(len(reply.body)))
    if not reply.body:
        return b''
    return media.BufferWindow(reply.body, lambda: buffers.give_back(buffer))


class WindowBuffers:
    """The node's buffers for fetched windows: at most `limit` bytes of memory across all streams, then
    temporary files of at most `disk_limit` bytes in all, where windows shrink as the room runs out; past
    both, none. A few memory buffers are kept for reuse, so each window does not fault in fresh pages."""

    def __init__(self, limit, disk_limit, keep=2):
        self.limit, self.disk_limit, self.keep = limit, disk_limit, keep
        self.used, self.disk_used, self.spare = 0, 0, []
        self.lock = threading.Lock()

    def take(self, size, leave=0):
        """A buffer of `size` bytes in memory, or None when the budget (less `leave` bytes) is spent."""
        with self.lock:
            for index, buffer in enumerate(self.spare):
                if len(buffer) == size:
                    return self.spare.pop(index)
            if self.used + size > self.limit - leave:
                return None
            self.used += size
        return bytearray(size)

    def take_window(self, size, least):
        """A buffer of `size` bytes in memory, else a mapped temporary file of at most `size` bytes; None when
        not even `least` bytes fit."""
        buffer = self.take(size)
        return buffer if buffer is not None else self.take_disk(size, least)

    def take_disk(self, size, least):
        """A temporary file's map of `size` bytes, or of an eighth of the room left when that is less (but
        at least `least`), so many stalled readers shrink windows before the budget runs out."""
        with self.lock:
            room = self.disk_limit - self.disk_used
            granted = min(size, room, max(least, room // 8))
            if granted < least:
                return None
            self.disk_used += granted
        try:
            return mapped_temporary_file(granted)
        except (OSError, ValueError) as exc:        # the disk is full
            logger.warning('cannot spool a window to a temporary file: %s', exc)
            with self.lock:
                self.disk_used -= granted
            return None

    def give_back(self, buffer):
        if buffer is None:
            return
        with self.lock:
            if isinstance(buffer, mmap.mmap):
                self.disk_used -= len(buffer)    # unmapped, and the file freed, once its last view is sent
            elif len(self.spare) < self.keep:
                self.spare.append(buffer)
            else:
                self.used -= len(buffer)


def mapped_temporary_file(size):
    """A writable map of a new, unlinked temporary file of `size` bytes, allocated first: a full disk fails
    here, not as a SIGBUS when the map is written."""
    with tempfile.TemporaryFile() as fh:
        if hasattr(os, 'posix_fallocate'):
            os.posix_fallocate(fh.fileno(), 0, size)
        else:
            fh.truncate(size)
        return mmap.mmap(fh.fileno(), size)


def copy_safe_headers(reply, response, mime, names=('Content-Range', 'ETag', 'Last-Modified')):
    """Only allow-listed headers pass, and only allow-listed types are shown inline."""
    for name in names:
        value = header(reply, name)
        if value and len(value) < 200 and '\n' not in value and '\r' not in value:
            response.set_header(name, value)
    content_type, disposition = media.served_type(mime)
    response.set_header('Content-Type', content_type)
    if disposition:
        response.set_header('Content-Disposition', 'attachment')
    response.set_header('Accept-Ranges', 'bytes')
    response.set_header('X-Content-Type-Options', 'nosniff')
    response.set_header('Cache-Control', 'private, max-age=0')


def download_reply(node, source, response):
    """The whole file with 200: the first window fetched here, the rest by the node's fetch threads while
    the browser drains it (a Download), so a slow browser holds no worker thread."""
    buffers = node.window_buffers
    first_buffer = take_window_buffer(buffers, response)
    window = len(first_buffer)
    try:
        first = source.fetch('bytes=0-%d' % (window - 1), first_buffer)
        total = download_size(first, window)
        if source.strict and total != source.size:
            raise PeerError('the origin sent a file of another size than it said', 502)
        more = [take_window_buffer(buffers, response, window, window)] if total > window else []
    except BaseException:
        buffers.give_back(first_buffer)
        raise
    copy_safe_headers(first, response, source.mime, names=('ETag', 'Last-Modified'))
    response.status = 200
    response.set_header('Content-Length', str(total))
    return Download(source.fetch, node.fetch_threads.submit, buffers,
                    [first_buffer] + more, first, total)


def download_size(first, window):
    """The file's size from the origin's reply to a download's first `window` bytes; PeerError when it is none."""
    if first.status in (401, 403, 404):
        raise PeerError('the origin no longer shares this item', 404)
    if first.status == 200:
        return len(first.body)
    start, end, total = content_range(first)
    if first.status != 206 or start != 0 or len(first.body) != min(total, window):
        raise PeerError('the origin answered %d without the window asked for' % first.status, 502)
    return total


class Download(media.FileRange):
    """A peer's whole file, fetched window by window by the node's threads into two buffers while it is
    sent: window k lands in buffers[k % 2] once the browser is reading window k - 1.

    Sent by Waitress's main loop (privtube_app's channel attaches `wake`), a read hands out only bytes
    that have arrived and never waits; the channel is not polled while the next window is on its way,
    and `wake` rouses the loop when it lands. Iterated by another server, a read waits for its bytes.
    """

    def __init__(self, fetch, submit, buffers, slots, first, total):
        self.fetch, self.submit, self.buffers, self.slots = fetch, submit, buffers, slots
        self.window = len(slots[0])
        self.fh, self.start, self.end, self.position = None, 0, total, 0
        self.zero_copy = False
        self.arrived, self.consumed = len(first.body), 0      # bytes [0, arrived) are in the buffers
        self.validator = header(first, 'ETag')
        self.fetching = self.failed = self.closed = False
        self.wake = None
        self.changed = threading.Condition()
        with self.changed:
            self.fetch_following()

    def attach(self, wake):
        """Sent from a main loop from now on: reads never wait, and `wake()` is called when bytes arrive."""
        self.wake = wake

    def waiting(self):
        """True while the bytes at the position are still on their way from the origin."""
        return self.arrived <= self.position < self.end and not (self.failed or self.closed)

    def read(self, size=-1):
        with self.changed:
            self.consume()
            if self.wake is None and not self.zero_copy:     # iterated in a worker thread: it may wait
                self.wait_for_bytes()
            size = self.available(size)
            if size <= 0:
                return b''
            offset = self.position % self.window
            data = memoryview(self.slots[self.position // self.window % len(self.slots)])[offset:offset + size]
            self.position += size
            return data if self.zero_copy else bytes(data)

    def available(self, size):
        """How many of `size` bytes from the position can be read now: arrived, and in the same window."""
        if self.failed or self.closed:
            return 0
        window_end = (self.position // self.window + 1) * self.window
        left = min(self.arrived, window_end) - self.position
        return left if size is None or size < 0 else min(size, left)

    def consume(self):
        """A read starts at the position: every byte before it was sent, so its buffer may be refilled."""
        if self.position < self.consumed:
            self.failed = True          # read backwards: those bytes may be overwritten already
        elif self.position > self.consumed:
            self.consumed = self.position
            self.fetch_following()

    def wait_for_bytes(self):
        ends = time.monotonic() + 2 * REQUEST_DEADLINE      # each fetch ends by its own deadline
        while self.waiting():
            if time.monotonic() > ends:
                self.failed = True
                return
            self.changed.wait(1.0)

    def fetch_following(self):
        """Start fetching the next window once its buffer is free (the browser reads the one before it)."""
        index = self.arrived // self.window
        if self.fetching or self.failed or self.closed or self.arrived >= self.end:
            return
        if self.consumed < (index - len(self.slots) + 1) * self.window:
            return
        self.fetching = True
        try:
            self.submit(self.fetch_window, index)
        except RuntimeError:            # the node is closing
            self.fetching, self.failed = False, True

    def fetch_window(self, index):
        """In a fetch thread: window `index` from the origin into its buffer, then wake the sender."""
        first = index * self.window
        last = min(self.end, first + self.window) - 1
        try:
            reply = self.fetch('bytes=%d-%d' % (first, last), self.slots[index % len(self.slots)])
            same = is_window(reply, first, last, self.end) and header(reply, 'ETag') == self.validator
            problem = None if same else 'the origin sent another window or version'
        except Exception as exc:        # PeerError, or a bug: either way this download cannot go on
            problem = str(exc) or type(exc).__name__
        with self.changed:
            self.fetching = False
            if problem:
                logger.warning('download cut short at %d of %d bytes: %s', first, self.end, problem)
                self.failed = True
            else:
                self.arrived = last + 1
            if self.closed:
                self.give_back_slots()
            self.fetch_following()
            self.changed.notify_all()
        if self.wake is not None:
            self.wake()

    def close(self):
        with self.changed:
            if not self.closed and not self.fetching:
                self.give_back_slots()
            self.closed = True
            self.changed.notify_all()

    def give_back_slots(self):
        for slot in self.slots:
            self.buffers.give_back(slot)
        self.slots = []


def is_window(reply, first, last, total):
    """True when the origin's `reply` is exactly bytes first..last of a file of `total` bytes."""
    return (reply.status == 206 and content_range(reply) == (first, last, total)
            and len(reply.body) == last - first + 1)
