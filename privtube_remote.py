"""Comments and views of peers' items, which live at the item's origin: read and sent there for pages."""
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from privtube_items import checked_comments
from privtube_peer import PeerError
from privtube_registry import split_remote

logger = logging.getLogger('privtube.remote')

COMMENT_CACHE_SECONDS = 30
PAGE_DEADLINE = 2.0             # total time of a call to a peer made for a page: comments, a posted comment, a view
PAGE_WAIT = PAGE_DEADLINE + 0.5     # how long a page waits for one, whatever the transport does
PAGE_CALLS_PER_ORIGIN = 2       # calls to one origin in flight at once: a slow peer cannot take the whole pool
PAGE_CALL_THREADS = 4
FAILING_SECONDS = 10            # after a failed read, pages of that origin wait for none for this long


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
        """Post a comment to the item's origin; the comment it made, checked as any comment it sends."""
        origin, remote_id = split_remote(item.id)
        made = self.call(origin, lambda client: client.json('POST', '/content/%s/comments' % remote_id,
                                                            {'author': author, 'body': body}, expect=(201,),
                                                            deadline=PAGE_DEADLINE))
        with self.lock:
            self.cache.pop(item.id, None)
            self.reading.pop(item.id, None)
        return checked_comments({'comments': [made]})[0]

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
