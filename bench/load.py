#!/usr/bin/env python3
"""Load benchmark: `python bench/load.py [--clients 100] [--seconds 60] [--think 1.0]`.

Starts a real `serve` (4 threads) on loopback with 2,000 items and one 64 MiB video, and runs 100
clients in 4 separate processes (so the clients' own interpreter lock does not inflate the figures). Each
client signs in within the first 5 seconds (as people arrive, not all at one instant), then loops for 60
seconds over a mix of pages (home, watch), searches, comment posts and ranged media reads, pausing a
random 0..2x`--think` seconds between actions as a person does; `--think 0` is a saturating closed loop.
Prints requests, 5xx and failed requests, page latency percentiles, throughput, and the resident memory
of `serve` after 10 seconds and at the end. Targets: zero 5xx, zero failures, page p99 < 250 ms, memory
at the end within 20 MB of its value at 10 s. Bounded in time; loopback only.
"""
import argparse
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time

import requests

PROCESSES = 4
ARRIVAL_SECONDS = 5

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import common  # noqa: E402

import privtube_config  # noqa: E402
from privtube_app import Node  # noqa: E402


def prepare(folder, clients):
    port = common.free_port()
    config = common.write_config(folder, 'load', port)
    node = Node(privtube_config.load(config))
    rng = random.Random(5)
    words = common.vocabulary(2000, rng)
    common.populate(node, 2000, words, rng)
    common.make_media_file(os.path.join(folder, 'media'), 64)
    video = node.store.items.create(os.path.join(folder, 'media', common.FILE_NAME), 'Load video', ['family'])
    item_ids = [row.id for row in node.database.Item.select(node.database.Item.id).limit(200)]
    for n in range(clients):
        node.accounts.create_user('user%d' % n, 'password-%d' % n)
    node.close()
    return config, port, video.id, item_ids, words[:200]


class Client(threading.Thread):
    def __init__(self, n, base, video_id, item_ids, words, ends, think, results):
        super().__init__(daemon=True)
        self.n, self.base, self.video_id, self.item_ids, self.words = n, base, video_id, item_ids, words
        self.ends, self.think, self.results, self.rng = ends, think, results, random.Random(n)
        self.session = requests.Session()

    def timed(self, action, call):
        started = time.perf_counter()
        try:
            status = call()
            self.results.append((action, status, (time.perf_counter() - started) * 1000, None))
            return status
        except requests.RequestException as exc:
            self.results.append((action, None, (time.perf_counter() - started) * 1000, repr(exc)))

    def get(self, path, **kwargs):
        return self.session.get(self.base + path, timeout=30, **kwargs)

    def run(self):
        time.sleep(self.rng.uniform(0, ARRIVAL_SECONDS))
        while self.timed('login', self.login) == 429:     # told to retry in a moment, as the page says
            time.sleep(1.0)
        while time.time() < self.ends:
            action = self.rng.choice(['home', 'watch', 'search', 'search', 'comment', 'media', 'media'])
            self.timed(action, getattr(self, action))
            time.sleep(self.rng.uniform(0, 2 * self.think))

    def login(self):
        answer = common.sign_in(self.session, self.base, 'user%d' % self.n, 'password-%d' % self.n, timeout=30)
        return answer.status_code if answer.status_code in (303, 429) else -1

    def home(self):
        return self.get('/').status_code

    def watch(self):
        return self.get('/watch/' + self.rng.choice(self.item_ids)).status_code

    def search(self):
        return self.get('/search', params={'q': self.rng.choice(self.words)[:self.rng.randint(3, 6)]}).status_code

    def comment(self):
        item_id = self.rng.choice(self.item_ids)
        page = self.get('/watch/' + item_id)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        return self.session.post(self.base + '/watch/%s/comments' % item_id, timeout=30, allow_redirects=False,
                                 data={'csrf': csrf, 'body': 'load comment %d' % self.rng.random()}).status_code

    def media(self):
        start = self.rng.randrange(0, 64 * 1024 * 1024 - 262144)
        answer = self.get('/media/' + self.video_id, headers={'Range': 'bytes=%d-%d' % (start, start + 262143)})
        return answer.status_code if len(answer.content) == 262144 else -1


def client_process(numbers, setup, ends, think, queue):
    """One process of client threads; puts their results on `queue` when the run is over."""
    results = []
    clients = [Client(n, *setup, ends, think, results) for n in numbers]
    for client in clients:
        client.start()
    for client in clients:
        client.join(timeout=ends - time.time() + 60)
    queue.put(results)


def run(args, folder):
    import multiprocessing
    config, port, video_id, item_ids, words = prepare(folder, args.clients)
    process = common.start_serve(config, port)
    try:
        setup = ('http://127.0.0.1:%d' % port, video_id, item_ids, words)
        started = time.time()
        ends = started + args.seconds
        context = multiprocessing.get_context('fork')
        queue = context.Queue()
        workers = [context.Process(target=client_process, args=(range(n, args.clients, PROCESSES), setup, ends,
                                                                args.think, queue)) for n in range(PROCESSES)]
        for worker in workers:
            worker.start()
        time.sleep(min(10, args.seconds))
        rss_10s = common.resident_mib(process.pid)
        results = [row for _ in workers for row in queue.get(timeout=args.seconds + 120)]
        for worker in workers:
            worker.join(timeout=10)
        rss_end = common.resident_mib(process.pid)
        alive = process.poll() is None
    finally:
        common.stop(process)
    return results, rss_10s, rss_end, alive


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--clients', type=int, default=100)
    parser.add_argument('--seconds', type=int, default=60)
    parser.add_argument('--think', type=float, default=1.0, help='mean seconds between a client\'s actions')
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix='privtube-load-')
    try:
        results = run(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return report(args, *results)


def report(args, results, rss_10s, rss_end, alive):
    pages = [ms for action, status, ms, error in results if action in ('home', 'watch', 'search')]
    actions = [r for r in results if r[0] != 'login']
    errors = [r for r in results if r[3] is not None or r[1] == -1]
    server_errors = [r for r in results if r[1] is not None and r[1] >= 500]
    by_action = {}
    for action, status, ms, error in results:
        by_action[action] = by_action.get(action, 0) + 1
    p50, p99 = common.percentile(pages, 0.5), common.percentile(pages, 0.99)
    print('privtube load benchmark: %d clients in %d processes for %d s on 127.0.0.1 (%d CPUs), serve with 4 '
          'threads; think time 0..%.1f s' % (args.clients, PROCESSES, args.seconds, os.cpu_count(), 2 * args.think))
    print('requests: %d, %.0f per second (%s)' % (len(results), len(actions) / args.seconds,
                                                  ', '.join('%s %d' % kv for kv in sorted(by_action.items()))))
    rows = [('5xx answers', len(server_errors), 0, not server_errors),
            ('failed requests', len(errors), 0, not errors),
            ('page p50 / p99 (ms)', '%.0f / %.0f' % (p50, p99), '< 250', p99 < 250),
            ('serve RSS at 10 s / end (MiB)', '%.1f / %.1f' % (rss_10s, rss_end), '+20 at most',
             rss_end - rss_10s <= 20),
            ('serve still running', 'yes' if alive else 'NO', 'yes', alive)]
    retried = sum(1 for r in results if r[0] == 'login' and r[1] == 429)
    print('sign-ins: %d, told "try again in a moment" %d times' % (args.clients, retried))
    for name, value, target, ok in rows:
        print('%-32s %16s %12s  %s' % (name, value, target, 'PASS' if ok else 'FAIL'))
    for sample in (server_errors + errors)[:5]:
        print('  e.g. %r' % (sample,))
    return 0 if all(row[3] for row in rows) else 1


if __name__ == '__main__':
    sys.exit(main())
