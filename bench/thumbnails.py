#!/usr/bin/env python3
"""A page of thumbnails at once: `python bench/thumbnails.py [--photos 40] [--threads 4 8] [--rounds 5]`.

For each worker thread count, a real node (`scan`, then `serve --log-level debug`, whose media worker makes
the thumbnails) serves a signed-in person the thumbnails of every photo, all at once: over 6 connections
(a browser's limit per host) and over one connection per thumbnail (a proxy speaking HTTP/2 to the
browser). Prints the median time of the whole page and of its slowest thumbnail over the rounds, and how
many times the log says "Task queue depth" (Waitress's line, at debug) and "waited" (privtube's warning of
requests that waited a second for a thread; README, "Logs").
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import requests  # noqa: E402
from common import ROOT, free_port, sign_in, start_serve, stop  # noqa: E402


def make_photos(folder, count):
    from PIL import Image
    os.makedirs(folder)
    for number in range(count):
        Image.new('RGB', (640, 480), (number * 6 % 255, 90, 200)).save(os.path.join(folder, 'photo%03d.jpg' % number))


def privtube(config, *args, stdin=None):
    return subprocess.run([sys.executable, os.path.join(ROOT, 'privtube.py'), '--config', config] + list(args),
                          input=stdin, capture_output=True, text=True, timeout=600, check=True).stdout


def serve(config, port, log):
    return start_serve(config, port, '--log-level', 'debug', stderr=log)


def thumbnail_seconds(base, cookies, item_id):
    started = time.perf_counter()
    answer = requests.get(base + '/thumb/' + item_id, cookies=cookies, timeout=60)
    if answer.headers.get('Content-Type', '').split(';')[0] != 'image/jpeg':
        raise RuntimeError('no thumbnail of %s yet' % item_id)
    return time.perf_counter() - started


def wait_for_thumbnails(base, cookies, ids, deadline=600):
    end = time.time() + deadline
    while time.time() < end:
        try:
            for item_id in ids:
                thumbnail_seconds(base, cookies, item_id)
            return
        except RuntimeError:
            time.sleep(0.5)
    raise SystemExit('the thumbnails were not made in %d s' % deadline)


def page(base, cookies, ids, connections):
    """The whole page's seconds and its slowest thumbnail's, asked over `connections` at once."""
    started = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        each = list(pool.map(lambda item_id: thumbnail_seconds(base, cookies, item_id), ids))
    return time.perf_counter() - started, max(each)


def measure(folder, photos, threads, rounds):
    port = free_port()
    config = os.path.join(folder, 'config.ini')
    with open(config, 'w') as fh:
        fh.write('[node]\nname = bench\n[server]\nport = %d\nthreads = %d\n' % (port, threads))
    make_photos(os.path.join(folder, 'media'), photos)
    privtube(config, 'user', 'add', 'ann', '--password-stdin', stdin='ann-password\n')
    privtube(config, 'scan')
    ids = [line.split('\t')[0] for line in privtube(config, 'content', 'list').splitlines()]
    log_path = os.path.join(folder, 'serve.log')
    with open(log_path, 'w') as log:
        process = serve(config, port, log)
        try:
            base, session = 'http://127.0.0.1:%d' % port, requests.Session()
            sign_in(session, base, 'ann', 'ann-password')
            wait_for_thumbnails(base, session.cookies, ids)
            for connections in (6, len(ids)):
                with open(log_path) as fh:
                    before = fh.read()
                times = [page(base, session.cookies, ids, connections) for _ in range(rounds)]
                with open(log_path) as fh:
                    lines = fh.read()[len(before):]
                print('threads %2d, %2d connections: page %4.0f ms, slowest thumbnail %4.0f ms (medians of %d); '
                      '"Task queue depth" %d times a page, "waited" %d times'
                      % (threads, connections, statistics.median(t[0] for t in times) * 1000,
                         statistics.median(t[1] for t in times) * 1000, rounds,
                         len(re.findall('Task queue depth', lines)) / rounds, len(re.findall('waited', lines))),
                      flush=True)
        finally:
            stop(process)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--photos', type=int, default=40)
    parser.add_argument('--threads', type=int, nargs='+', default=[4, 8])
    parser.add_argument('--rounds', type=int, default=5)
    args = parser.parse_args()
    for threads in args.threads:
        folder = tempfile.mkdtemp(prefix='privtube-thumbnails-')
        try:
            measure(folder, args.photos, threads, args.rounds)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == '__main__':
    main()
