"""The Trash: deleting asks first, moves the file to .trash inside the media folder and hides the item from
everyone (pages, search, the API, peers' catalogs) until it is restored or removed for good."""
import os
import subprocess
import sys

import webtest
from conftest import ROOT, NodeFixture, page_csrf, submit_login

import privtube_store


def csrf_of(response):
    return page_csrf(response.text)


def follow(node, key, held, cursor=None):
    """Read the catalog as a peer does, from `cursor` until `more` is false; returns the new cursor."""
    while True:
        params = {'since': cursor} if cursor else {}
        page = node.client.get('/api/v1/catalog', params=params, headers=key).json
        if page['reset']:
            held.clear()
        for item in page['items']:
            held[item['id']] = item
        for item_id in page['removed']:
            held.pop(item_id, None)
        cursor = page['cursor']
        if not page['more']:
            return cursor


def trash_files(node):
    found = []
    for folder, _, files in os.walk(os.path.join(node.media_dir, '.trash')):
        found += [os.path.join(folder, name) for name in files]
    return found


def test_deleting_asks_first_then_moves_the_file_into_the_media_folders_trash(tmp_path):
    node = NodeFixture(tmp_path)
    item = node.add('Holidays/2024 Summer trip/beach.mp4', title='Beach')
    original = os.path.join(node.media_dir, 'Holidays/2024 Summer trip/beach.mp4')
    owner = node.sign_in('ann', admin=True)
    asked = owner.get('/delete/' + item.id)
    assert 'Move to the Trash' in asked.text and 'Beach' in asked.text
    assert os.path.exists(original) and node.store.items.get(item.id).trashed is None
    # a POST without the confirmation (the old one-click form) only asks again
    again = owner.post('/delete/' + item.id, {'csrf': csrf_of(asked)})
    assert 'Move to the Trash' in again.text and node.store.items.get(item.id).trashed is None
    owner.post('/delete/' + item.id, {'csrf': csrf_of(asked), 'confirm': 'yes'}, status=303)
    trashed = node.store.items.get(item.id)
    assert trashed.trashed is not None and not os.path.exists(original)
    assert trashed.path == '.trash/%s/Holidays/2024 Summer trip/beach.mp4' % item.id
    moved = os.path.realpath(os.path.join(node.media_dir, trashed.path))
    assert moved.startswith(os.path.realpath(node.media_dir) + os.sep) and os.path.isfile(moved)
    # gone from every page and the API for everyone, the admin included
    owner.get('/watch/' + item.id, status=404)
    owner.get('/media/' + item.id, status=404)
    assert 'Beach' not in owner.get('/').text and 'Beach' not in owner.get('/search', {'q': 'beach'}).text
    node.client.get('/api/v1/content/' + item.id, headers=node.key('k'), status=404)
    # and listed on the Trash page, with the days left
    page = owner.get('/trash')
    assert 'Beach' in page.text and 'was at Holidays/2024 Summer trip/beach.mp4' in page.text
    assert 'in 30 days' in page.text


def test_restore_puts_the_file_back_or_beside_a_newcomer_with_its_name(tmp_path):
    node = NodeFixture(tmp_path)
    item = node.add('a/film.mp4', title='Film')
    owner = node.sign_in('ann', admin=True)
    node.store.trash.move(item)
    node.media_file('a/film.mp4', b'another film that took the name')
    token = csrf_of(owner.get('/trash'))
    owner.post('/trash/%s/restore' % item.id, {'csrf': token}, status=303)
    back = node.store.items.get(item.id)
    assert back.trashed is None and back.path == 'a/film (2).mp4'
    assert open(os.path.join(node.media_dir, 'a/film.mp4'), 'rb').read() == b'another film that took the name'
    assert owner.get('/watch/' + item.id).status_int == 200
    assert trash_files(node) == [] and not os.path.exists(os.path.join(node.media_dir, '.trash', item.id))
    node.store.trash.move(back)
    os.unlink(os.path.join(node.media_dir, 'a/film.mp4'))
    node.store.trash.restore(node.store.items.get(item.id))
    assert node.store.items.get(item.id).path == 'a/film (2).mp4'     # the name it had when it left


def test_delete_forever_asks_then_removes_the_record_and_the_file(tmp_path):
    node = NodeFixture(tmp_path)
    item = node.add('song.mp3', title='Song')
    owner = node.sign_in('ann', admin=True)
    node.store.trash.move(item)
    path = os.path.join(node.media_dir, node.store.items.get(item.id).path)
    asked = owner.get('/trash/%s/delete' % item.id)
    assert 'cannot be undone' in asked.text and os.path.exists(path)
    owner.post('/trash/%s/delete' % item.id, {'csrf': csrf_of(asked)})
    assert node.store.items.get(item.id) is not None                     # not without the confirmation
    owner.post('/trash/%s/delete' % item.id, {'csrf': csrf_of(asked), 'confirm': 'yes'}, status=303)
    assert node.store.items.get(item.id) is None and not os.path.exists(path) and trash_files(node) == []
    assert 'The trash is empty' in owner.get('/trash').text


def test_a_non_owner_can_neither_see_nor_restore_nor_delete_a_trashed_item(tmp_path):
    node = NodeFixture(tmp_path)
    node.accounts.create_user('ann', 'password-123')
    ann = node.accounts.user('ann')
    item = node.store.items.create(node.media_file('mine.mp4'), 'Annes film', owner_id=ann.id)
    node.store.trash.move(item)
    bob = node.sign_in('bob')
    assert 'Annes film' not in bob.get('/trash').text
    token = csrf_of(bob.get('/account'))
    bob.post('/trash/%s/restore' % item.id, {'csrf': token}, status=404)
    bob.post('/trash/%s/delete' % item.id, {'csrf': token, 'confirm': 'yes'}, status=404)
    bob.get('/trash/%s/delete' % item.id, status=404)
    assert node.store.items.get(item.id).trashed is not None
    anne = webtest.TestApp(node.app)
    submit_login(anne, 'ann', 'password-123')
    assert 'Annes film' in anne.get('/trash').text
    anne.post('/trash/%s/restore' % item.id, {'csrf': csrf_of(anne.get('/trash'))}, status=303)
    assert node.store.items.get(item.id).trashed is None


def test_purge_removes_what_was_trashed_longer_than_trash_days(tmp_path):
    node = NodeFixture(tmp_path, '[store]\ntrash_days = 7\n')
    now = [1_800_000_000.0]
    node.store.trash.clock = lambda: now[0]
    old, recent = node.add('old.mp4'), node.add('recent.mp4')
    node.store.trash.move(old)
    now[0] += 3 * 86400
    node.store.trash.move(recent)
    assert node.store.trash.days_left(node.store.items.get(old.id)) == 4
    now[0] += 4 * 86400 + 60
    assert node.store.trash.purge() == 1
    assert node.store.items.get(old.id) is None and node.store.items.get(recent.id) is not None
    assert [os.path.basename(path) for path in trash_files(node)] == ['recent.mp4']
    now[0] += 3 * 86400 + 60
    assert node.store.trash.purge() == 1 and trash_files(node) == []


def test_the_housekeeping_thread_purges_and_stops(tmp_path):
    node = NodeFixture(tmp_path, '[store]\ntrash_days = 1\n')
    item = node.add('old.mp4')
    node.store.trash.move(item)
    node.node.database.Item.update(trashed=1.0).where(node.node.database.Item.id == item.id).execute()
    keeper = privtube_store.Housekeeping(node.store, seconds=3600)
    keeper.start()
    for _ in range(100):
        if node.store.items.get(item.id) is None:
            break
        keeper.stopping.wait(0.05)
    keeper.stop()
    assert not keeper.thread.is_alive() and node.store.items.get(item.id) is None


def test_peers_see_a_trashed_item_removed_at_once_and_restored_back(tmp_path):
    node = NodeFixture(tmp_path)
    kept, gone = node.add('kept.mp4', tags=['family']), node.add('gone.mp4', tags=['family'])
    key = node.key('reader', ['tag:family'])
    held = {}
    cursor = follow(node, key, held)
    assert set(held) == {kept.id, gone.id}
    node.store.trash.move(gone)
    cursor = follow(node, key, held, cursor)
    assert set(held) == {kept.id}
    fresh = {}
    follow(node, key, fresh)                             # a new reader never sees it either
    assert set(fresh) == {kept.id}
    node.store.trash.restore(node.store.items.get(gone.id))
    cursor = follow(node, key, held, cursor)
    assert set(held) == {kept.id, gone.id}
    node.store.trash.move(node.store.items.get(gone.id))
    node.store.trash.delete_forever(node.store.items.get(gone.id))
    follow(node, key, held, cursor)
    assert set(held) == {kept.id}


def test_scan_leaves_the_trash_alone(tmp_path):
    node = NodeFixture(tmp_path)
    item = node.add('clip.mp4')
    node.store.trash.move(item)
    summary = node.store.scanner.scan()
    assert summary['added'] == 0 and summary['removed'] == 0
    assert node.store.items.get(item.id).trashed is not None and len(trash_files(node)) == 1
    assert node.node.database.Item.select().count() == 1


def test_the_trash_never_moves_a_file_out_of_the_media_folder(tmp_path):
    node = NodeFixture(tmp_path)
    item = node.add('clip.mp4')
    outside = tmp_path / 'elsewhere'
    outside.mkdir()
    os.symlink(str(outside), os.path.join(node.media_dir, '.trash'))
    owner = node.sign_in('ann', admin=True)
    answer = owner.post('/delete/' + item.id, {'csrf': csrf_of(owner.get('/account')), 'confirm': 'yes'},
                        status=409)
    assert 'media folder' in answer.text and str(tmp_path) not in answer.text
    assert os.listdir(str(outside)) == [] and os.path.isfile(os.path.join(node.media_dir, 'clip.mp4'))
    assert node.store.items.get(item.id).trashed is None and node.store.items.get(item.id).path == 'clip.mp4'


def test_the_api_delete_moves_to_the_trash(tmp_path):
    node = NodeFixture(tmp_path)
    item = node.add('clip.mp4')
    manage = node.key('script', manage=True)
    node.client.delete('/api/v1/content/' + item.id, headers=manage, status=204)
    assert node.store.items.get(item.id).trashed is not None
    node.client.delete('/api/v1/content/' + item.id, headers=manage, status=404)


def test_content_rm_moves_to_the_trash_and_says_so(tmp_path):
    node = NodeFixture(tmp_path)
    item = node.add('clip.mp4')
    node.close()
    run = subprocess.run([sys.executable, os.path.join(ROOT, 'privtube.py'), '--config', node.config_path,
                          'content', 'rm', item.id], capture_output=True, text=True)
    assert run.returncode == 0 and 'moved to the trash' in run.stderr and run.stdout == ''
    listed = subprocess.run([sys.executable, os.path.join(ROOT, 'privtube.py'), '--config', node.config_path,
                             'content', 'list'], capture_output=True, text=True)
    assert item.id not in listed.stdout


def test_a_linked_node_drops_a_trashed_item_at_its_next_sync_and_gets_it_back_after_restore(network):
    from test_network import link, titles
    alice, bob = network.make('alice'), network.make('bob')
    picnic = alice.add('picnic.mp4', tags=['family'], title='Family picnic')
    alice.add('lake.mp4', tags=['family'], title='Lake day', data=b'\x00\x00\x00\x18ftypmp42 another')
    link(network, alice, bob, ['tag:family'])
    reader = bob.sign_in('bo', admin=True)
    assert bob.node.registry.sync('alice')[0]
    assert titles(reader, 'family') >= {'Family picnic', 'Lake day'}
    alice.store.trash.move(alice.store.items.get(picnic.id))
    assert bob.node.registry.sync('alice') == (True, '0 items updated, 1 removed')
    assert 'Family picnic' not in titles(reader, 'family') and 'Lake day' in titles(reader, 'family')
    reader.get('/watch/alice:' + picnic.id, status=404)
    alice.store.trash.restore(alice.store.items.get(picnic.id))
    assert bob.node.registry.sync('alice')[0]
    assert 'Family picnic' in titles(reader, 'family')


def test_a_trashed_item_leaves_its_albums_until_it_is_restored(tmp_path):
    node = NodeFixture(tmp_path)
    first, second = node.add('a.mp4'), node.add('b.mp4', data=b'\x00\x00\x00\x18ftypmp42 other')
    album = node.store.albums.create('Trip', item_ids=[first.id, second.id])
    key = node.key('reader', ['album:Trip'])
    held = {}
    cursor = follow(node, key, held)
    node.store.trash.move(first)
    assert [item.id for item in node.store.albums.items_query(album)] == [second.id]
    node.store.albums.rename(album, 'Summer')
    node.accounts.set_key_rules('reader', ['album:Summer'])
    cursor = follow(node, key, held, cursor)
    assert set(held) == {second.id}
    node.store.trash.restore(node.store.items.get(first.id))
    follow(node, key, held, cursor)
    assert set(held) == {first.id, second.id} and held[first.id]['albums'] == ['Summer']
    assert [item.id for item in node.store.albums.items_query(album)] == [first.id, second.id]
