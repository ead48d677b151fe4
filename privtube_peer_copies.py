"""Browser-playable copies of peers' videos: a peer's MKV or AVI plays here through the copy its origin made.

The origin serves its copy (privtube_remux) at `/api/v1/content/ID/playable`, with Range, its own size and
type; 404 while it has none, as origins from before copies answer too. The reader cannot tell from the
catalog whether a copy exists (nor which codecs the file holds), so it asks the origin once, for the
copy's first byte with a short deadline, and keeps the answer (the copy's size and type, or none) for
CACHE_SECONDS. The watch page asks before it is drawn, so it either plays the copy or says in plain words
why not, rather than handing the player a file it cannot open; `/play/ID` then reads the copy through the
gateway in windows whose every reply must be exactly the window asked of a file of that size.
"""
import logging
import threading
import time
from collections import namedtuple
from functools import partial

from privtube_gateway import Source, content_range, gateway_reply, header
from privtube_peer import PeerError
from privtube_registry import split_remote
from privtube_remote import PAGE_DEADLINE
from privtube_remux import REMUXABLE, TARGETS

logger = logging.getLogger('privtube.peer_copies')

CACHE_SECONDS = 30
CACHE_ITEMS = 1000      # past this many answers kept, the expired ones are dropped
COPY_TYPES = {target.mime for target in TARGETS}
PeerCopy = namedtuple('PeerCopy', 'size mime')


class PeerCopies:
    """What each peer's item has for browsers at its origin, asked once and kept briefly."""

    def __init__(self, registry):
        self.registry = registry
        self.known = {}         # item id -> (until when, PeerCopy or None)
        self.failing = {}       # origin -> until when it is not asked (it did not answer in time)
        self.lock = threading.Lock()

    def copy_of(self, item):
        """The PeerCopy of a peer's item, or None when its origin has none ready, refuses, or does not answer."""
        with self.lock:
            until, found = self.known.get(item.id, (0, None))
        if until > time.monotonic():
            return found
        found = self.ask(item)
        with self.lock:
            now = time.monotonic()
            if len(self.known) >= CACHE_ITEMS:
                self.known = {key: kept for key, kept in self.known.items() if kept[0] > now}
            self.known[item.id] = (now + CACHE_SECONDS, found)
        return found

    def ask(self, item):
        """Ask the origin (within PAGE_DEADLINE); an origin that did not answer is not asked about any of its
        items for CACHE_SECONDS, so a slow peer holds the pages of its items for one deadline at most."""
        origin, remote_id = split_remote(item.id)
        with self.lock:
            if self.failing.get(origin, 0) > time.monotonic():
                return None
        try:
            reply = self.registry.client(origin).media_window(remote_id, 'bytes=0-0', bytearray(4096),
                                                              what='playable', deadline=PAGE_DEADLINE)
        except PeerError as exc:
            logger.debug('no copy of %s for browsers: %s', item.id, exc)
            if exc.status >= 500:
                with self.lock:
                    self.failing[origin] = time.monotonic() + CACHE_SECONDS
            return None
        return copy_in(reply)

    def forget(self, item):
        """The origin answered a window otherwise than its copy said: ask again next time."""
        with self.lock:
            self.known.pop(item.id, None)


def copy_in(reply):
    """The PeerCopy an origin's reply to `bytes=0-0` of a copy describes, or None when it is no such reply."""
    mime = header(reply, 'Content-Type').split(';')[0].strip().lower()
    start, end, total = content_range(reply)
    if reply.status != 206 or mime not in COPY_TYPES or (start, end) != (0, 0) or len(reply.body) != 1:
        return None
    return PeerCopy(total, mime)


def copy_source(node, item, copy):
    """The gateway's Source for the copy of a peer's item: every window must fit the copy's size."""
    origin, remote_id = split_remote(item.id)
    fetch = partial(node.registry.client(origin).media_window, remote_id, what='playable')
    return Source(item.id + '/playable', copy.size, copy.mime, fetch, True)


def play_reply(node, item, headers, response):
    """A browser's request for the copy of a peer's item, through the gateway; None when the origin has no
    copy (the caller then sends the original). Only files in containers browsers do not open have copies:
    the gallery plays every video through /play, and a peer's MP4 costs its origin no question."""
    copy = node.peer_copies.copy_of(item) if item.mime in REMUXABLE else None
    if copy is None:
        return None
    try:
        return gateway_reply(node, item, headers, response, copy_source(node, item, copy))
    except PeerError as exc:
        node.peer_copies.forget(item)
        if exc.status == 404:           # the copy went away (or the item is no longer shared)
            return None
        raise
