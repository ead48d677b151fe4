"""What the log shows: the format and levels `main()` sets up, and a Waitress task queue that warns when
requests really wait for a worker thread, not when a page's thumbnails arrive together (README, "Logs")."""
import logging
import sys
import threading
import time

from waitress.task import ThreadedTaskDispatcher

LEVELS = ('debug', 'info', 'warning', 'error')
FORMAT = '%(asctime)s %(levelname)s %(name)s: %(message)s'
TIME_FORMAT = '%Y-%m-%d %H:%M:%S'
OWN_LOGGERS = ('privtube', 'waitress')

SLOW_WAIT = 1.0          # seconds a request may wait for a worker thread before the log warns
WARN_EVERY = 60.0        # at most one such warning a minute, counting the waits in between

logger = logging.getLogger('privtube.server')


def set_up_logging(level):
    """Log lines on stderr with time, level and logger; called by `main()` only (handlers are its job).

    `debug` is for privtube's and Waitress's own lines: the libraries' (every SQL statement of Peewee,
    every chunk Pillow reads) stay at info."""
    chosen = getattr(logging, level.upper())
    logging.basicConfig(level=max(chosen, logging.INFO), stream=sys.stderr, format=FORMAT, datefmt=TIME_FORMAT)
    if chosen < logging.INFO:
        for name in OWN_LOGGERS:
            logging.getLogger(name).setLevel(chosen)


class QuietQueue:
    """Waitress's `queue_logger` as its dispatcher calls it: its "Task queue depth is N" at debug.

    Waitress warns whenever a request is queued while no worker thread is idle, even for the millisecond
    until one is: a page of forty thumbnails over a browser's six connections, or a proxy's many, does
    that at every visit. WaitWatch warns instead when a request has waited SLOW_WAIT."""

    def warning(self, message, *args):
        logging.getLogger('waitress.queue').debug(message, *args)


class WaitWatch(ThreadedTaskDispatcher):
    """Waitress's thread pool, timing how long each request waits for a worker thread."""

    queue_logger = QuietQueue()

    def __init__(self, threads, slow=SLOW_WAIT):
        super().__init__()
        self.slow = slow
        self.slow_lock = threading.Lock()
        self.slow_waits, self.longest, self.warned_at = 0, 0.0, None
        self.set_thread_count(threads)

    def add_task(self, task):
        super().add_task(Waiting(task, self))

    def waited(self, seconds):
        """Note a request's wait; warn (at most every WARN_EVERY) when requests wait SLOW_WAIT or more."""
        if seconds < self.slow:
            return
        with self.slow_lock:
            self.slow_waits += 1
            self.longest = max(self.longest, seconds)
            now = time.monotonic()
            if self.warned_at is not None and now - self.warned_at < WARN_EVERY:
                return
            count, longest, self.slow_waits, self.longest, self.warned_at = self.slow_waits, self.longest, 0, 0.0, now
        logger.warning('%d request%s waited %.1f s or more (at most %.1f s) for a worker thread: the node is '
                       'busier than [server] threads = %d allows', count, '' if count == 1 else 's', self.slow,
                       longest, len(self.threads))


class Waiting:
    """A queued Waitress task and when it was queued: what the worker thread serves, or shutdown cancels."""

    def __init__(self, task, watch):
        self.task, self.watch, self.queued = task, watch, time.monotonic()

    def service(self):
        self.watch.waited(time.monotonic() - self.queued)
        self.task.service()

    def cancel(self):
        self.task.cancel()

    def __repr__(self):         # Waitress names the task in its log when serving it fails
        return repr(self.task)
