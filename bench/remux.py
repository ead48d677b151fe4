#!/usr/bin/env python3
"""Remux benchmark: `python bench/remux.py [--seconds 120] [--mbit 8]`.

Makes an H.264/AAC MKV film (1280x720, 25 fps, about MBIT Mbit/s) and times the node's remux worker
rewrapping it into its browser-playable MP4 (ffmpeg `-c copy`, the file on ffmpeg's standard input, the
index moved first): the seconds, the throughput in MiB/s, and the copy's size against the original's.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import MIB, write_config  # noqa: E402

import privtube_config  # noqa: E402
from privtube_app import Node  # noqa: E402


def make_film(path, seconds, mbit):
    rate = '%dk' % (mbit * 1000)
    subprocess.run(['ffmpeg', '-y', '-loglevel', 'error', '-f', 'lavfi', '-i',
                    'testsrc2=duration=%d:size=1280x720:rate=25' % seconds, '-f', 'lavfi', '-i',
                    'sine=frequency=440:duration=%d' % seconds, '-c:v', 'libx264', '-preset', 'ultrafast',
                    '-b:v', rate, '-maxrate', rate, '-bufsize', rate, '-pix_fmt', 'yuv420p', '-c:a', 'aac',
                    '-shortest', path], check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=int, default=120)
    parser.add_argument('--mbit', type=int, default=8)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix='privtube-remux-')
    try:
        node = Node(privtube_config.load(write_config(folder)))
        film = os.path.join(node.store.media_dir, 'film.mkv')
        make_film(film, args.seconds, args.mbit)
        item = node.store.items.create(film, 'Film')
        node.media.run_pending()
        started = time.perf_counter()
        node.remux.run_pending()
        took = time.perf_counter() - started
        item = node.store.items.get(item.id)
        copy = node.store.remux_path(item.id, 'mp4')
        size = os.path.getsize(film)
        print('film: %d s of 1280x720 H.264/AAC, %.1f MiB in MKV' % (args.seconds, size / MIB))
        print('remux: %s in %.2f s (%.0f MiB/s); copy %.1f MiB (%.1f%% of the original)'
              % (item.remux, took, size / MIB / took, os.path.getsize(copy) / MIB,
                 100.0 * os.path.getsize(copy) / size))
        node.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == '__main__':
    main()
