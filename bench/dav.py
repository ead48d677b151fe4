#!/usr/bin/env python3
"""WebDAV benchmark: `python bench/dav.py [--files 5000] [--requests 50]`.

Builds a node with N small files in one folder of the media folder and an app password, starts a real
`serve` on a loopback port and times, over HTTP: PROPFIND Depth 1 of the home's folder (every file), and
ranged GETs of one file as a player sends them (the first one lists the folder's names, the others find them
kept, privtube_dav.FileNames).
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import free_port, percentile, start_serve, stop, write_config  # noqa: E402

import privtube_config  # noqa: E402
import privtube_dav  # noqa: E402
from privtube_app import Node  # noqa: E402

DATA = b'\x00\x00\x00\x18ftypmp42' + bytes(range(256)) * 64


def build(config_path, count):
    """N files in media/library, indexed; returns an app password of the admin `ann`."""
    node = Node(privtube_config.load(config_path))
    folder = os.path.join(node.store.media_dir, 'library')
    os.makedirs(folder)
    with node.database.db.connection_context(), node.database.db.atomic():
        user = node.accounts.create_user('ann', 'password-123', admin=True)
        for number in range(count):
            path = os.path.join(folder, 'clip %05d.mp4' % number)
            with open(path, 'wb') as fh:
                fh.write(DATA)
            node.store.items.create(path, 'clip %05d' % number)
        password = privtube_dav.AppPasswords(node.database, node.config).create(user, 'bench')[1]
    node.close()
    return password


def timed(call):
    start = time.perf_counter()
    answer = call()
    return (time.perf_counter() - start) * 1000, answer


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--files', type=int, default=5000)
    parser.add_argument('--requests', type=int, default=50)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix='privtube-bench-dav-')
    port = free_port()
    config_path = write_config(folder, 'home', port)
    password = build(config_path, args.files)
    process = start_serve(config_path, port)
    try:
        session = requests.Session()
        session.auth = ('ann', password)
        base = 'http://127.0.0.1:%d/dav/Homes/home/' % port
        listing_ms, answer = timed(lambda: session.request('PROPFIND', base, headers={'Depth': '1'}, timeout=120))
        assert answer.status_code == 207, answer.status_code
        print('PROPFIND Depth 1 of %d files: %.0f ms, %d KB' % (args.files, listing_ms, len(answer.content) // 1000))
        url = base + 'clip%%20%05d.mp4' % (args.files // 2)
        first_ms, answer = timed(lambda: session.get(url, headers={'Range': 'bytes=0-1023'}, timeout=60))
        assert answer.status_code == 206, answer.status_code
        times = [timed(lambda: session.get(url, headers={'Range': 'bytes=1024-2047'}, timeout=60))[0]
                 for _ in range(args.requests)]
        print('ranged GET: first %.0f ms; next %d: p50 %.1f ms, p95 %.1f ms' % (
            first_ms, args.requests, percentile(times, 0.5), percentile(times, 0.95)))
    finally:
        stop(process)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == '__main__':
    main()
