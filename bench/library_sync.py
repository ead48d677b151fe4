#!/usr/bin/env python3
"""First sync of a library whose items carry albums: `python bench/library_sync.py [--items 100000]`.

alice holds N items in N/500 folder-like albums (every item in one, every tenth also in a hand-made album
`Favourites`), served by a real `serve` on loopback; bob reads her with a key allowed `*` and syncs in a
fresh process, as `sync` does. Target: the first sync <= 20 s; bob then holds every item and every album.
The same run times a first sync of the same items without albums, side by side.
"""
import argparse
import os
import random
import secrets
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import common  # noqa: E402

import privtube_config  # noqa: E402
from privtube_app import Node  # noqa: E402


def make_origin(folder, items, with_albums):
    port = common.free_port()
    os.makedirs(folder)
    config = common.write_config(folder, 'alice', port)
    node = Node(privtube_config.load(config))
    rng = random.Random(5)
    common.populate(node, items, common.vocabulary(5000, rng), rng)
    if with_albums:
        put_in_albums(node)
    _, key = node.accounts.create_key('bob', ['*'])
    node.close()
    return {'config': config, 'port': port, 'bob_key': key}


def put_in_albums(node):
    """Every item in one of N/500 folder albums, every tenth also in `Favourites`, in one transaction."""
    db = node.database.db
    ids = [row[0] for row in db.execute_sql('SELECT id FROM item ORDER BY seq').fetchall()]
    folders = ['Holidays/%d Trip %d' % (2000 + n % 25, n) for n in range(max(1, len(ids) // 500))]
    albums = [(secrets.token_urlsafe(16), name, 'folder', name) for name in folders]
    favourites = (secrets.token_urlsafe(16), 'Favourites', 'made', None)
    rows = [(albums[n * len(albums) // len(ids)][0], item_id, n) for n, item_id in enumerate(ids)]
    rows += [(favourites[0], item_id, n) for n, item_id in enumerate(ids[::10])]
    with db.atomic():
        db.cursor().executemany("INSERT INTO album (id, name, kind, folder, created, updated) "
                                "VALUES (?, ?, ?, ?, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
                                albums + [favourites])
        db.cursor().executemany('INSERT INTO album_item (album_id, item_id, position) VALUES (?, ?, ?)', rows)
    return len(albums) + 1


def first_sync(folder, items, with_albums):
    origin = make_origin(os.path.join(folder, 'alice'), items, with_albums)
    reader = common.make_reader(os.path.join(folder, 'bob'), origin)
    process = common.start_serve(origin['config'], origin['port'])
    try:
        result = common.timed_sync(reader['config'])
    finally:
        common.stop(process)
    node = Node(privtube_config.load(reader['config']))
    result['items'] = node.database.Item.select().where(node.database.Item.origin == 'alice').count()
    result['albums'] = node.database.Album.select().where(node.database.Album.origin == 'alice').count()
    result['memberships'] = node.database.AlbumItem.select().count()
    node.close()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--items', type=int, default=100_000)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix='privtube-library-sync-')
    try:
        plain = first_sync(os.path.join(folder, 'plain'), args.items, False)
        albums = first_sync(os.path.join(folder, 'albums'), args.items, True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    expected_members = args.items + len(range(0, args.items, 10))
    print('first sync of %d items without albums: %.1f s (%.1f MiB growth)'
          % (plain['items'], plain['seconds'], plain['growth_mib']))
    print('first sync of %d items carrying albums: %.1f s (%.1f MiB growth); %d albums, %d memberships'
          % (albums['items'], albums['seconds'], albums['growth_mib'], albums['albums'], albums['memberships']))
    complete = albums['items'] == args.items and albums['memberships'] == expected_members
    print('every item and membership arrived: %s' % ('PASS' if complete else 'FAIL'))
    print('target first sync with albums <= 20 s: %s' % ('PASS' if albums['seconds'] <= 20 else 'FAIL'))


if __name__ == '__main__':
    main()
