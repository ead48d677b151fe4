"""A family's library on disk: folders become albums, reorganising it keeps every item, and each item
knows when it was taken."""
import os
import shutil
import subprocess
import sys
import time

import pytest
from conftest import ROOT, NodeFixture
from media_samples import require_ffmpeg
from test_taken import jpeg_with_exif

CLIP = b'\x00\x00\x00\x18ftypmp42'


def clip(node, relative, n=0):
    """A small MP4-looking file whose bytes differ by `n`."""
    return node.media_file(relative, CLIP + n.to_bytes(4, 'big') * 64)


def run_cli_in(node, *args):
    command = [sys.executable, os.path.join(ROOT, 'privtube.py'), '--config', node.config_path] + list(args)
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert 'Traceback' not in done.stderr, done.stderr
    return done


def folder_albums(node):
    """{album name: sorted item paths} of the node's folder albums."""
    Album = node.node.database.Album
    return {album.name: sorted(item.path for item in node.store.albums.items_query(album))
            for album in Album.select().where(Album.kind == 'folder')}


def ids_by_path(node):
    return {item.path: item.id for item in node.node.database.Item.select()}


def test_every_folder_with_media_is_an_album_named_by_its_path(node):
    clip(node, '2024 Summer trip/a.mp4', 1)
    clip(node, 'Holidays/2024 Summer trip/b.mp4', 2)
    clip(node, 'Holidays/2024 Summer trip/c.mp4', 3)
    clip(node, 'loose.mp4', 4)
    node.store.uploads.save_stream(__import__('io').BytesIO(CLIP + b'up'), len(CLIP) + 2, '.mp4', 'uploaded')
    assert node.store.scanner.scan()['added'] == 4
    assert folder_albums(node) == {'2024 Summer trip': ['2024 Summer trip/a.mp4'],
                                   'Holidays/2024 Summer trip': ['Holidays/2024 Summer trip/b.mp4',
                                                                 'Holidays/2024 Summer trip/c.mp4']}
    album = node.store.albums.by_name('Holidays/2024 Summer trip')
    assert (album.kind, album.folder) == ('folder', 'Holidays/2024 Summer trip')


def test_a_file_added_later_joins_its_folder_album_and_an_album_rule_shares_it(node):
    clip(node, 'Grandma 80th/cake.mp4', 1)
    clip(node, '2024 Summer trip/beach.mp4', 2)
    node.store.scanner.scan()
    key = node.key('grandma', ['album:2024 Summer trip'])
    first = node.client.get('/api/v1/catalog', headers=key).json
    assert [item['albums'] for item in first['items']] == [['2024 Summer trip']]
    clip(node, '2024 Summer trip/later.mp4', 3)
    node.store.scanner.scan()
    after = node.client.get('/api/v1/catalog', params={'since': first['cursor']}, headers=key).json
    assert [item['title'] for item in after['items']] == ['later']
    assert folder_albums(node)['2024 Summer trip'] == ['2024 Summer trip/beach.mp4', '2024 Summer trip/later.mp4']


def test_a_renamed_folder_keeps_its_items_their_comments_views_tags_and_albums(node):
    for n in range(3):
        clip(node, 'Holidays/Trip/%d.mp4' % n, n)
    node.store.scanner.scan()
    ids = ids_by_path(node)
    first = node.store.items.get(ids['Holidays/Trip/0.mp4'])
    node.store.comments.add(first, 'ann', 'lovely')
    node.store.items.count_view(first, 'user:1', 'viewer')
    node.store.items.edit(first, tags=['beach'])
    made = node.store.albums.create('Best of', item_ids=[first.id])
    folder_album = node.store.albums.by_name('Holidays/Trip')
    node.store.albums.touch_album(folder_album)
    os.rename(os.path.join(node.media_dir, 'Holidays'), os.path.join(node.media_dir, 'Travels'))
    summary = node.store.scanner.scan()
    assert (summary['moved'], summary['added'], summary['removed']) == (3, 0, 0)
    assert ids_by_path(node) == {path.replace('Holidays', 'Travels'): item_id for path, item_id in ids.items()}
    moved = node.store.items.get(first.id)
    assert (moved.comments, moved.views, node.store.items.tags_of(first.id)) == (1, 1, ['beach'])
    assert [item.id for item in node.store.albums.items_query(made)] == [first.id]
    followed = node.store.albums.get(folder_album.id)        # the same album, named after the new path
    assert (followed.name, followed.folder) == ('Travels/Trip', 'Travels/Trip')
    assert set(folder_albums(node)) == {'Travels/Trip'}
    assert node.client.get('/api/v1/content/' + first.id, headers=node.key('k')).json['albums'] == \
        ['Best of', 'Travels/Trip']


def test_files_moved_between_folders_leave_one_album_and_join_the_other(node):
    clip(node, 'A/one.mp4', 1)
    clip(node, 'A/two.mp4', 2)
    clip(node, 'B/three.mp4', 3)
    node.store.scanner.scan()
    ids = ids_by_path(node)
    album_b = node.store.albums.by_name('B')
    os.rename(os.path.join(node.media_dir, 'A/one.mp4'), os.path.join(node.media_dir, 'B/one.mp4'))
    os.makedirs(os.path.join(node.media_dir, 'C'))
    os.rename(os.path.join(node.media_dir, 'A/two.mp4'), os.path.join(node.media_dir, 'C/renamed.mp4'))
    assert node.store.scanner.scan()['moved'] == 2
    assert ids_by_path(node) == {'B/one.mp4': ids['A/one.mp4'], 'C/renamed.mp4': ids['A/two.mp4'],
                                 'B/three.mp4': ids['B/three.mp4']}
    assert folder_albums(node) == {'B': ['B/one.mp4', 'B/three.mp4'], 'C': ['C/renamed.mp4']}
    assert node.store.albums.by_name('B').id == album_b.id
    assert node.store.albums.by_name('A') is None               # left empty: deleted
    assert node.store.items.get(ids['A/two.mp4']).title == 'renamed'       # its name was its title
    found = node.sign_in('ann', admin=True).get('/search', {'q': 'renamed'}).text
    assert '/watch/' + ids['A/two.mp4'] in found or ids['A/two.mp4'] in found


def test_an_edited_title_stays_when_the_file_is_renamed(node):
    item = node.store.items.get(ids_after_scan(node, 'x/clip.mp4')['x/clip.mp4'])
    node.store.items.edit(item, title='Our first day')
    os.rename(os.path.join(node.media_dir, 'x/clip.mp4'), os.path.join(node.media_dir, 'x/other.mp4'))
    node.store.scanner.scan()
    assert node.store.items.get(item.id).title == 'Our first day'


def ids_after_scan(node, relative):
    clip(node, relative, 9)
    node.store.scanner.scan()
    return ids_by_path(node)


def test_a_different_file_with_the_same_size_and_time_is_not_taken_for_a_moved_one(node):
    old = clip(node, 'a/old.mp4', 1)
    node.store.scanner.scan()
    old_id = ids_by_path(node)['a/old.mp4']
    stat = os.stat(old)
    os.unlink(old)
    new = clip(node, 'a/new.mp4', 2)                     # same size, other bytes
    os.utime(new, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    summary = node.store.scanner.scan()
    assert (summary['moved'], summary['added'], summary['removed']) == (0, 1, 1)
    assert old_id not in ids_by_path(node).values()


def test_a_large_file_not_hashed_yet_is_still_followed_when_it_keeps_its_name(node):
    clip(node, 'films/long.mp4', 1)
    node.store.scanner.scan()
    Item = node.node.database.Item
    Item.update(content_hash=None).execute()               # as for a big file the worker has not reached
    item_id = ids_by_path(node)['films/long.mp4']
    os.rename(os.path.join(node.media_dir, 'films'), os.path.join(node.media_dir, 'movies'))
    assert node.store.scanner.scan()['moved'] == 1
    assert ids_by_path(node) == {'movies/long.mp4': item_id}


def test_the_media_worker_hashes_what_was_recorded_without_a_hash(node):
    item = node.add('clip.mp4')
    Item = node.node.database.Item
    Item.update(content_hash=None, media_state='done').execute()
    assert node.node.media.hash_unhashed() == 1
    assert len(node.store.items.get(item.id).content_hash) == 64
    assert node.node.media.hash_unhashed() == 0


def test_a_hand_made_album_keeps_its_name_and_the_folder_album_is_named_path_folder(node):
    node.store.albums.create('Summer')
    clip(node, 'Summer/a.mp4', 1)
    node.store.scanner.scan()
    assert folder_albums(node) == {'Summer (folder)': ['Summer/a.mp4']}
    assert node.store.albums.by_name('Summer').kind == 'made'
    clip(node, 'Summer/b.mp4', 2)
    node.store.scanner.scan()                               # the folder album keeps the name it was given
    assert folder_albums(node) == {'Summer (folder)': ['Summer/a.mp4', 'Summer/b.mp4']}


def test_a_folder_album_renamed_by_hand_keeps_its_name(node):
    clip(node, 'DCIM/a.mp4', 1)
    node.store.scanner.scan()
    node.store.albums.rename(node.store.albums.by_name('DCIM'), 'Phone')
    clip(node, 'DCIM/b.mp4', 2)
    os.rename(os.path.join(node.media_dir, 'DCIM'), os.path.join(node.media_dir, 'Camera'))
    node.store.scanner.scan()
    assert folder_albums(node) == {'Phone': ['Camera/a.mp4', 'Camera/b.mp4']}


def test_the_trash_and_other_hidden_folders_are_never_indexed_and_trashed_items_stay(node):
    clip(node, '.trash/gone.mp4', 1)
    clip(node, 'Trip/.thumbnails/t.mp4', 2)
    clip(node, 'uploads/.tmp-0123abcd', 3)
    kept = node.add('Trip/kept.mp4')
    node.store.scanner.scan()
    os.makedirs(os.path.join(node.media_dir, '.trash', 'x'))
    os.rename(os.path.join(node.media_dir, 'Trip/kept.mp4'), os.path.join(node.media_dir, '.trash/x/kept.mp4'))
    Item = node.node.database.Item
    Item.update(trashed=time.time(), path='.trash/x/kept.mp4').where(Item.id == kept.id).execute()
    summary = node.store.scanner.scan()
    assert (summary['seen'], summary['removed'], summary['added']) == (0, 0, 0)
    assert node.store.items.get(kept.id) is not None
    assert folder_albums(node) == {}


def test_a_photo_knows_when_it_was_taken_from_exif_a_video_from_its_name_and_else_the_mtime(node):
    jpeg_with_exif(os.path.join(node.media_dir, 'photo.jpg'), '2024:07:14 10:15:00', '+02:00')
    clip(node, 'VID_20230102_030405.mp4', 1)
    plain = clip(node, 'plain.mp4', 2)
    os.utime(plain, (1262304000, 1262304000))               # 2010-01-01
    node.store.scanner.scan()
    Item = node.node.database.Item
    found = {item.path: (item.taken, item.taken_source) for item in Item.select()}
    assert found == {'photo.jpg': ('2024-07-14T08:15:00Z', 'exif'),
                     'VID_20230102_030405.mp4': ('2023-01-02T03:04:05Z', 'name'),
                     'plain.mp4': ('2010-01-01T00:00:00Z', 'mtime')}
    item_id = ids_by_path(node)['photo.jpg']
    assert node.client.get('/api/v1/content/' + item_id, headers=node.key('k')).json['taken'] == '2024-07-14T08:15:00Z'


def test_an_mp4s_creation_time_improves_its_date_when_probed(node):
    require_ffmpeg()
    path = os.path.join(node.media_dir, 'VID_20240101_000000.mp4')
    subprocess.run(['ffmpeg', '-y', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=duration=1:size=64x48:rate=5',
                    '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-metadata', 'creation_time=2019-05-04T03:02:01Z', path],
                   check=True, timeout=60)
    node.store.scanner.scan()
    item = node.node.database.Item.get()
    assert (item.taken, item.taken_source) == ('2024-01-01T00:00:00Z', 'name')
    node.node.media.run_pending()
    item = node.store.items.get(item.id)
    assert (item.taken, item.taken_source) == ('2019-05-04T03:02:01Z', 'container')
    assert len(item.content_hash) == 64


def test_an_upload_takes_its_date_from_its_original_name_not_the_upload_time(node):
    import io
    item = node.store.uploads.save_stream(io.BytesIO(CLIP), len(CLIP), '.mp4', 'title',
                                          original_name='PXL_20240714_101500123.mp4')
    assert (item.taken, item.taken_source) == ('2024-07-14T10:15:00Z', 'name')
    other = node.store.uploads.save_stream(io.BytesIO(CLIP + b'x'), len(CLIP) + 1, '.mp4', 'Birthday')
    assert (other.taken, other.taken_source) == (None, None)


def test_odd_and_long_folder_names_become_printable_album_names(node):
    folder = os.path.join(os.fsencode(node.media_dir), b'caf\xe9')
    os.makedirs(folder)
    with open(os.path.join(folder, b'a.mp4'), 'wb') as fh:
        fh.write(CLIP)
    clip(node, ('x' * 120) + '/' + ('y' * 120) + '/a.mp4', 1)
    node.store.scanner.scan()
    names = set(folder_albums(node))
    assert 'caf\\xe9' in names                                # as the scan's log names it
    long_name = next(name for name in names if name.startswith('…'))
    assert len(long_name) == 200 and long_name.endswith('y' * 120)
    assert node.store.scanner.scan()['added'] == 0 and set(folder_albums(node)) == names


def test_privtube_scan_reports_moved_files(tmp_path):
    node = NodeFixture(tmp_path)
    clip(node, 'Trip/a.mp4', 1)
    assert ', 0 moved' in run_cli_in(node, 'scan').stdout
    os.rename(os.path.join(node.media_dir, 'Trip'), os.path.join(node.media_dir, 'Journey'))
    done = run_cli_in(node, 'scan')
    assert done.returncode == 0 and '1 files: 0 added, 0 changed, 0 removed, 1 moved' in done.stdout
    node.close()


def test_scan_now_on_the_admin_page_scans_in_the_nodes_thread_and_shows_progress(node):
    clip(node, 'Trip/a.mp4', 1)
    admin = node.sign_in('ann', admin=True)
    page = admin.get('/admin/library')
    assert 'No scan has run' in page.text
    form = page.forms['scan-now']
    answer = form.submit().follow()
    assert answer.status_int == 200
    deadline = time.time() + 10
    while node.node.scan_loop.status()['state'] != 'finished' and time.time() < deadline:
        time.sleep(0.05)
    text = admin.get('/admin/library').text
    assert 'Finished at' in text and '1 files seen, 1 added, 0 moved, 0 changed, 0 removed' in text
    assert folder_albums(node) == {'Trip': ['Trip/a.mp4']}
    member = node.sign_in('bob')
    member.get('/admin/library', status=403)
    member.post('/admin/library', {'csrf': 'x'}, status=403)


def test_scan_now_without_the_csrf_token_is_refused(node):
    admin = node.sign_in('ann', admin=True)
    admin.post('/admin/library', {}, status=403)
    assert node.node.scan_loop.status()['state'] == 'never'


def test_the_scheduled_rescan_finds_new_files_and_stops_cleanly(tmp_path):
    node = NodeFixture(tmp_path, '[store]\nscan_minutes = 1\n')
    loop = node.node.scan_loop
    loop.minutes = 0.01                                      # every 0.6 s for the test
    node.node.start_background()
    clip(node, 'Later/a.mp4', 1)
    deadline = time.time() + 15
    while not node.node.database.Item.select().count() and time.time() < deadline:
        time.sleep(0.1)
    assert ids_by_path(node).keys() == {'Later/a.mp4'}
    node.close()
    assert not loop.thread.is_alive()


@pytest.mark.parametrize('minutes', ['0', '10'])
def test_scan_minutes_zero_starts_no_thread(tmp_path, minutes):
    node = NodeFixture(tmp_path, '[store]\nscan_minutes = %s\n' % minutes)
    node.node.start_background()
    assert (node.node.scan_loop.thread is not None) == (minutes != '0')
    node.close()


def test_copy_of_a_folder_is_new_items_not_moves(node):
    clip(node, 'A/a.mp4', 1)
    node.store.scanner.scan()
    shutil.copytree(os.path.join(node.media_dir, 'A'), os.path.join(node.media_dir, 'B'), copy_function=shutil.copy2)
    summary = node.store.scanner.scan()
    assert (summary['moved'], summary['added']) == (0, 1)
    assert set(folder_albums(node)) == {'A', 'B'}


def test_a_key_allowed_a_folder_album_loses_a_file_moved_out_of_it(node):
    clip(node, 'Shared/a.mp4', 1)
    clip(node, 'Shared/b.mp4', 2)
    node.store.scanner.scan()
    ids = ids_by_path(node)
    key = node.key('grandma', ['album:Shared'])
    first = node.client.get('/api/v1/catalog', headers=key).json
    assert sorted(item['id'] for item in first['items']) == sorted(ids.values())
    os.makedirs(os.path.join(node.media_dir, 'Private'))
    os.rename(os.path.join(node.media_dir, 'Shared/b.mp4'), os.path.join(node.media_dir, 'Private/b.mp4'))
    node.store.scanner.scan()
    after = node.client.get('/api/v1/catalog', params={'since': first['cursor']}, headers=key).json
    assert after['removed'] == [ids['Shared/b.mp4']]
    node.client.get('/api/v1/content/' + ids['Shared/b.mp4'], headers=key, status=404)
