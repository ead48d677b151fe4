"""The background threads a node owns (`serve` starts and stops them): one daemon thread each, asked
to end by an event and waited for, so stopping the node is clean."""
import threading


class NodeThread:
    """A daemon thread that runs `self.loop()` until `stopping` is set; `stop()` sets it and waits."""

    def __init__(self, name):
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.loop, name=name, daemon=True)

    def start(self):
        self.thread.start()

    def loop(self):
        raise NotImplementedError

    def stop(self, timeout=5.0):
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout)


class ScheduledLoop(NodeThread):
    """A NodeThread that runs `self.run_once()` every `minutes` on a `schedule` scheduler of its own (and
    once at its start when `at_start`), looking every second whether it is asked to stop."""

    def __init__(self, name, minutes, at_start=False):
        import schedule
        super().__init__(name)
        self.at_start = at_start
        self.scheduler = schedule.Scheduler()
        self.scheduler.every(minutes).minutes.do(self.run_once)

    def run_once(self):
        raise NotImplementedError

    def loop(self):
        if self.at_start:
            self.run_once()
        while not self.stopping.wait(1.0):
            self.scheduler.run_pending()
