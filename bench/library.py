#!/usr/bin/env python3
"""Library benchmark: `python bench/library.py [--items 20000] [--folders 200] [--renamed 1000]`.

Makes a media folder of small files in nested folders, one of them holding `--renamed` files, and times
the scans a family's library sees, each as a fresh `privtube scan` process (start-up included):
- the first scan (every file indexed, every folder made an album; no target),
- a re-scan with nothing changed (target <= 2 s for 20,000 files),
- the big folder renamed, then a re-scan (its items keep their ids; target <= 3 s).
Each part is a function main() calls, so more parts can join them.
"""
import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import timed_scan, write_config  # noqa: E402

HEAD = b'\x00\x00\x00\x18ftypmp42'
RESCAN_TARGET, RENAME_TARGET = 2.0, 3.0


def make_library(media, items, folders, renamed):
    """`renamed` files in 'Big/Summer', the rest spread over `folders - 1` folders 'Year N/Event M'."""
    names = ['Big/Summer'] + ['Year %d/Event %03d' % (2000 + n % 20, n) for n in range(1, folders)]
    for n in range(items):
        folder = names[0] if n < renamed else names[1 + n % (folders - 1)]
        path = os.path.join(media, folder, 'IMG_%05d.mp4' % n)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as fh:
            fh.write(HEAD + n.to_bytes(4, 'big'))
    return names[0]



def ids_in(config, folder):
    """{file name: item id} of the items under `folder` of the media folder."""
    import privtube_config
    from privtube_db import Database
    database = Database(privtube_config.load(config).get('registry', 'database'))
    with database.db.connection_context():
        Item = database.Item
        rows = Item.select(Item.path, Item.id).where(Item.path.startswith(folder + '/')).tuples()
        found = {path.rsplit('/', 1)[1]: item_id for path, item_id in rows}
    database.close()
    return found


def scan_figures(config, media, big):
    """The first scan, a re-scan with nothing changed, and a re-scan after the big folder is renamed."""
    first = timed_scan(config)
    again = timed_scan(config)
    before = ids_in(config, big)
    os.rename(os.path.join(media, big), os.path.join(media, big + ' renamed'))
    renamed = timed_scan(config)
    kept = ids_in(config, big + ' renamed') == before
    return [('first scan', first, None),
            ('re-scan, nothing changed', again, again[0] <= RESCAN_TARGET),
            ('re-scan, %d files renamed (ids kept: %s)' % (len(before), 'yes' if kept else 'NO'), renamed,
             kept and renamed[0] <= RENAME_TARGET)]


def report(title, rows):
    """Print the figures; True when every target passed."""
    print(title)
    for name, (seconds, line), ok in rows:
        verdict = '' if ok is None else ('PASS' if ok else 'FAIL')
        print('  %-45s %7.2f s  %-4s  %s' % (name, seconds, verdict, line))
    return all(ok is not False for _, _, ok in rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--items', type=int, default=20_000, help='files in the media folder')
    parser.add_argument('--folders', type=int, default=200)
    parser.add_argument('--renamed', type=int, default=1000, help='files in the folder that is renamed')
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix='privtube-library-')
    try:
        config = write_config(folder)
        media = os.path.join(folder, 'media')
        big = make_library(media, args.items, args.folders, min(args.renamed, args.items))
        ok = report('privtube library benchmark: %d files in %d folders (%d CPUs); targets: re-scan <= %.0f s, '
                    'renamed folder <= %.0f s, whole commands' % (args.items, args.folders, os.cpu_count(),
                                                                RESCAN_TARGET, RENAME_TARGET),
                    scan_figures(config, media, big))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
