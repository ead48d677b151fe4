#!/usr/bin/env python3
"""Photo throughput benchmark: `python bench/media.py [--photos 40]`.

Generates N 12-megapixel JPEGs (4000x3000, noisy like a real photo, every third stored sideways with EXIF
orientation 6), then in one run times:
  (a) a real node (`privtube scan`, then `privtube serve`, whose media worker makes the thumbnails; timed from
      when serve answers, its start-up printed apart) until
      every photo has its thumbnail, against a plain Pillow loop making the same thumbnails (one draft-mode
      decode, EXIF orientation, a 480 px JPEG) over the same files: target ratio loop/worker >= 0.9;
  (b) the time until every preview (long side 1920 px) exists, against the same loop making previews;
  (c) the peak resident memory (VmHWM) of the serving process and of each of its child processes (the
      photo decoding pool): target under 100 MB each.
The plain loop runs before and after the node (the machine is shared; their mean is compared).
"""
import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import free_port, start_serve, stop, timed_scan, write_config  # noqa: E402

WIDTH, HEIGHT = 4000, 3000
THUMBNAIL_WIDTH, PREVIEW_SIZE = 480, 1920


# --- the photos -----------------------------------------------------------------------------------

def make_photo(path, seed, orientation):
    """A 12 MP JPEG of a colour gradient under sensor-like noise (about the size a phone's photo is)."""
    from PIL import Image
    noise = Image.merge('RGB', [Image.effect_noise((WIDTH, HEIGHT), 18 + seed % 5) for _ in range(3)])
    gradient = Image.linear_gradient('L').resize((WIDTH, HEIGHT))
    tint = Image.merge('RGB', (gradient, gradient.rotate(90), Image.new('L', (WIDTH, HEIGHT), seed * 6 % 255)))
    picture = Image.blend(noise, tint, 0.55)
    exif = Image.Exif()
    exif[0x0112] = orientation
    picture.save(path, 'JPEG', quality=88, exif=exif.tobytes())
    return os.path.getsize(path)


def make_photos(folder, count):
    """The photos in `folder`, made unless a previous run with --keep left them there."""
    os.makedirs(folder, exist_ok=True)
    paths = [os.path.join(folder, 'IMG_%04d.jpg' % n) for n in range(count)]
    missing = [n for n, path in enumerate(paths) if not os.path.exists(path)]
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(make_photo, [paths[n] for n in missing], missing, [6 if n % 3 == 0 else 1 for n in missing]))
    return paths, sum(os.path.getsize(path) for path in paths)


# --- the plain loop -------------------------------------------------------------------------------

def loop(paths, out, preview):
    """Seconds a plain Pillow loop takes to make a thumbnail (or a preview) of every photo."""
    from PIL import Image, ImageOps
    os.makedirs(out, exist_ok=True)
    started = time.perf_counter()
    for n, path in enumerate(paths):
        with Image.open(path) as picture:
            width, height = picture.size
            scale = PREVIEW_SIZE / max(width, height) if preview else None
            if scale is None:      # 480 px wide as shown: the stored height when it is turned
                shown_width = height if picture.getexif().get(0x0112) in (5, 6, 7, 8) else width
                scale = THUMBNAIL_WIDTH / shown_width
            size = (round(width * scale), round(height * scale))
            picture.draft('RGB', size)
            small = ImageOps.exif_transpose(picture.convert('RGB').resize(size, Image.Resampling.LANCZOS,
                                                                          reducing_gap=3.0))
            small.save(os.path.join(out, '%d.jpg' % n), 'JPEG', quality=85 if preview else 80)
    return time.perf_counter() - started


def both_loops(paths, folder):
    return loop(paths, os.path.join(folder, 'loop-thumbnails'), False), \
        loop(paths, os.path.join(folder, 'loop-previews'), True)


# --- the node -------------------------------------------------------------------------------------

def children(pid):
    found = []
    try:
        for task in os.listdir('/proc/%d/task' % pid):
            with open('/proc/%d/task/%s/children' % (pid, task)) as fh:
                found += [int(child) for child in fh.read().split()]
    except OSError:
        pass
    return found


def peak_kib(pid):
    try:
        with open('/proc/%d/status' % pid) as fh:
            for line in fh:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def watch_node(database, pid, count, started, deadline=3600):
    """Poll the node's database until every photo has a thumbnail and then a preview; returns (seconds
    to thumbnails, seconds to previews, {pid: peak kB}) counted from `started`."""
    marks, peaks = {}, {}
    db = sqlite3.connect('file:%s?mode=ro' % database, uri=True, timeout=30)
    while time.perf_counter() - started < deadline and 'previews' not in marks:
        for process in [pid] + children(pid):
            peak = peak_kib(process)
            if peak:
                peaks[process] = max(peaks.get(process, 0), peak)
        try:
            thumbs, previews = db.execute('SELECT sum(thumbnail), sum(preview) FROM item').fetchone()
        except sqlite3.OperationalError:
            thumbs = previews = 0
        now = time.perf_counter() - started
        if (thumbs or 0) >= count:
            marks.setdefault('thumbnails', now)
        if (previews or 0) >= count:
            marks['previews'] = now
        time.sleep(0.05)
    db.close()
    return marks.get('thumbnails'), marks.get('previews'), peaks


def run_node(folder, count):
    port = free_port()
    config = write_config(folder, 'bench', port)
    with open(config, 'a') as fh:
        fh.write('[store]\nscan_minutes = 0\n')
    scan_seconds, scan_out = timed_scan(config)
    launched = time.perf_counter()
    process = start_serve(config, port)
    started = time.perf_counter()       # serve answers: its media worker has started (it starts first)
    try:
        thumbs, previews, peaks = watch_node(os.path.join(folder, 'privtube.db'), process.pid, count, started)
    finally:
        stop(process)
    return {'scan': scan_seconds, 'scan_out': scan_out, 'startup': started - launched, 'thumbnails': thumbs,
            'previews': previews, 'peaks': peaks, 'pid': process.pid}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--photos', type=int, default=40)
    parser.add_argument('--keep', metavar='FOLDER', help='keep the generated photos in FOLDER for the next run')
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix='privtube-photos-')
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        os.symlink(os.path.abspath(args.keep), os.path.join(folder, 'media'))
    try:
        paths, total = make_photos(os.path.join(folder, 'media'), args.photos)
        loops = [both_loops(paths, folder)]
        node = run_node(folder, args.photos)
        loops.append(both_loops(paths, folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return report(args.photos, total, loops, node)


def report(count, total, loops, node):
    thumbs, previews, peaks, pid = node['thumbnails'], node['previews'], node['peaks'], node['pid']
    loop_thumbs = sum(t for t, _ in loops) / len(loops)
    loop_previews = sum(p for _, p in loops) / len(loops)
    print('privtube photo benchmark: %d photos of %dx%d, %.1f MB each on average (%d CPUs)'
          % (count, WIDTH, HEIGHT, total / count / 1e6, os.cpu_count()))
    print('scan                        : %6.2f s   %s' % (node['scan'], node['scan_out']))
    print('serve start-up              : %6.2f s   (until it answers; its media worker starts first)'
          % node['startup'])
    if thumbs is None or previews is None:
        print('the node did not finish (thumbnails: %s, previews: %s)' % (thumbs, previews))
        return 1
    print('(a) thumbnails, node worker : %6.2f s   %5.1f photos/s  (%.2f s counting the start-up)'
          % (thumbs, count / thumbs, thumbs + node['startup']))
    print('    thumbnails, Pillow loop : %6.2f s   %5.1f photos/s  (runs: %s)'
          % (loop_thumbs, count / loop_thumbs, ', '.join('%.2f' % t for t, _ in loops)))
    print('    ratio loop/worker       : %6.2f     target >= 0.9: %s'
          % (loop_thumbs / thumbs, 'PASS' if loop_thumbs / thumbs >= 0.9 else 'FAIL'))
    phase = previews - thumbs
    print('(b) previews, node worker   : %6.2f s after the thumbnails (%.2f s after serve answered)'
          % (phase, previews))
    print('    previews, Pillow loop   : %6.2f s   (runs: %s)'
          % (loop_previews, ', '.join('%.2f' % p for _, p in loops)))
    print('    ratio loop/worker       : %6.2f' % (loop_previews / phase))
    print('(c) peak memory (VmHWM)     : %s' % ', '.join(
        '%s %.1f MB' % ('serve' if process == pid else 'child %d' % process, kib / 1024)
        for process, kib in sorted(peaks.items(), key=lambda pair: pair[0] != pid)))
    worst = max(peaks.values()) / 1024
    print('    largest process         : %6.1f MB   target < 100 MB: %s' % (worst, 'PASS' if worst < 100 else 'FAIL'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
