"""Photos read by Pillow: upright thumbnails and previews, HEIC, thumbnails before previews, previews served
locally and for peers' items, and pictures too large to decode refused with a reason."""
import os
import struct
import time
import zlib

import pytest
from media_samples import is_upright, make_photo
from PIL import Image
from test_network import link, remote_id

import privtube_media as media
import privtube_photos
import privtube_probe


def size_of(path):
    with Image.open(path) as picture:
        return picture.size


def add_photo(node, name, size, orientation=1, fmt='JPEG', tags=()):
    path = make_photo(node.media_dir, name, size, orientation, fmt)
    return node.store.items.create(path, name, tags=tags)


def fresh(node, item):
    return node.store.items.get(item.id)


@pytest.mark.parametrize('orientation, upright, thumbnail, preview', [
    (6, (2400, 3200), (480, 640), (1440, 1920)),      # a portrait phone photo, stored sideways
    (8, (3200, 2400), (480, 360), (1920, 1440)),      # a landscape one turned the other way
    (1, (3200, 2400), (480, 360), (1920, 1440)),
])
def test_thumbnail_and_preview_are_upright_at_the_photos_shape(node, orientation, upright, thumbnail, preview):
    item = add_photo(node, 'IMG_%d.jpg' % orientation, upright, orientation)
    node.node.media.run_pending()
    done = fresh(node, item)
    assert (done.width, done.height) == upright and done.thumbnail and done.preview and not done.preview_owed
    assert size_of(node.store.thumbnail_path(item.id)) == thumbnail and is_upright(node.store.thumbnail_path(item.id))
    assert size_of(node.store.preview_path(item.id)) == preview and is_upright(node.store.preview_path(item.id))


def test_heic_photo_is_shown_through_jpegs(node):
    item = add_photo(node, 'IMG_0001.HEIC', (900, 1200), 6, 'HEIF')
    assert fresh(node, item).mime == 'image/heic'       # sniffed as a picture, not as an MP4 video
    node.node.media.run_pending()
    done = fresh(node, item)
    assert done.media_state == 'done' and (done.width, done.height) == (900, 1200) and done.preview
    viewer = node.sign_in('ann')
    for route, size in (('/thumb/', (480, 640)), ('/preview/', (900, 1200))):
        reply = viewer.get(route + item.id)
        assert reply.content_type == 'image/jpeg' and reply.body[:3] == b'\xff\xd8\xff'
        assert size_of(node.store.thumbnail_path(item.id) if route == '/thumb/' else
                       node.store.preview_path(item.id)) == size
    page = viewer.get('/watch/' + item.id).text
    assert 'cannot be played' not in page and 'src="/preview/%s"' % item.id in page
    assert '>Original</a>' not in page          # browsers cannot show the HEIC file itself; Download stays
    assert 'cannot show HEIC' in viewer.get('/watch/' + add_photo(node, 'IMG_0003.heic', (90, 120), 1, 'HEIF').id).text
    assert '/media/%s?download=1' % item.id in page


def test_heif_brands_are_sniffed_as_pictures():
    def head(brand, compatible=b''):
        return struct.pack('>I', 16 + len(compatible)) + b'ftyp' + brand + b'\0\0\0\0' + compatible
    assert media.mime_from_magic(head(b'heic')) == 'image/heic'
    assert media.mime_from_magic(head(b'heix')) == 'image/heic'
    assert media.mime_from_magic(head(b'mif1', b'heic')) == 'image/heif'
    assert media.mime_from_magic(head(b'msf1')) == 'image/heif'
    assert media.mime_from_magic(head(b'mif1', b'avif')) == 'image/avif'
    assert media.mime_from_magic(head(b'isom')) == 'video/mp4'


def test_every_thumbnail_comes_before_any_preview_and_the_order_survives_a_restart(node):
    items = [add_photo(node, 'p%d.jpg' % n, (2600, 1950)) for n in range(5)]
    done = node.node.media.run_pending(limit=5)      # the worker stops (a restart) after the thumbnails
    assert done == 5
    for item in items:
        now = fresh(node, item)
        assert now.thumbnail and not now.preview and now.preview_owed
        assert os.path.exists(node.store.thumbnail_path(item.id))
        assert not os.path.exists(node.store.preview_path(item.id))
    events = []
    restarted = privtube_probe.MediaWorker(node.node)
    for name in ('record_photo', 'record_preview'):
        original = getattr(restarted, name)
        setattr(restarted, name, lambda item, found, name=name, original=original: (
            events.append((name, item.id)), original(item, found)))
    late = add_photo(node, 'late.jpg', (2600, 1950))      # a new photo waits: its thumbnail goes first
    restarted.run_pending()
    assert events[0] == ('record_photo', late.id) and {name for name, _ in events[1:]} == {'record_preview'}
    assert all(fresh(node, item).preview and not fresh(node, item).preview_owed for item in items + [late])


def test_few_new_photos_get_thumbnail_and_preview_from_one_pass(node):
    item = add_photo(node, 'one.jpg', (2600, 1950))
    assert node.node.media.run_pending(limit=1) == 1
    assert fresh(node, item).preview and os.path.exists(node.store.preview_path(item.id))


def test_small_photo_needs_no_preview_and_shows_itself(node):
    item = add_photo(node, 'small.jpg', (800, 600))
    node.node.media.run_pending()
    done = fresh(node, item)
    assert done.thumbnail and not done.preview and not done.preview_owed
    viewer = node.sign_in('ann')
    assert viewer.get('/preview/' + item.id, status=302).headers['Location'].endswith('/media/' + item.id)
    node.client.get('/api/v1/content/%s/preview' % item.id, headers=node.key('bob'), status=404)


def test_preview_is_served_not_the_original(node):
    item = add_photo(node, 'big.jpg', (3200, 2400))
    node.node.media.run_pending()
    viewer = node.sign_in('ann')
    reply = viewer.get('/preview/' + item.id)
    assert reply.content_type == 'image/jpeg'
    assert reply.body == open(node.store.preview_path(item.id), 'rb').read()
    assert len(reply.body) < os.path.getsize(os.path.join(node.media_dir, 'big.jpg'))
    api = node.client.get('/api/v1/content/%s/preview' % item.id, headers=node.key('bob'))
    assert api.content_type == 'image/jpeg' and api.body == reply.body
    page = viewer.get('/watch/' + item.id).text
    assert 'src="/preview/%s"' % item.id in page and 'width="3200" height="2400"' in page
    assert '<a href="/media/%s">Original</a>' % item.id in page


def test_api_preview_refuses_a_key_that_may_not_see_the_item(node):
    shown = add_photo(node, 'family.jpg', (3200, 2400), tags=['family'])
    hidden = add_photo(node, 'work.jpg', (3200, 2400), tags=['work'])
    node.node.media.run_pending()
    key = node.key('gran', rules=('tag:family',))
    node.client.get('/api/v1/content/%s/preview' % shown.id, headers=key)
    reply = node.client.get('/api/v1/content/%s/preview' % hidden.id, headers=key, status='*')
    assert reply.status_int in (403, 404) and reply.body[:3] != b'\xff\xd8\xff'


def test_web_preview_of_a_hidden_photo_answers_like_an_unknown_id(node):
    shown = add_photo(node, 'family.jpg', (3200, 2400), tags=['family'])
    hidden = add_photo(node, 'secret.jpg', (3200, 2400), tags=['secret'])
    node.node.media.run_pending()
    node.accounts.create_group('family', ['tag:family'])
    fred = node.sign_in('fred', groups=['family'])
    assert fred.get('/preview/' + shown.id).content_type == 'image/jpeg'
    unknown = fred.get('/preview/' + 'A' * 22, status=404)
    refused = fred.get('/preview/' + hidden.id, status=404)
    assert refused.body == unknown.body and b'\xff\xd8\xff' not in refused.body


def test_preview_leaves_with_the_item(node):
    item = add_photo(node, 'gone.jpg', (3200, 2400))
    node.node.media.run_pending()
    assert os.path.exists(node.store.preview_path(item.id))
    node.store.items.delete(fresh(node, item))
    assert not os.path.exists(node.store.preview_path(item.id))
    assert not os.path.exists(node.store.thumbnail_path(item.id))


def test_peers_photo_preview_is_fetched_from_its_origin_and_kept(network):
    alice, bob = network.make('alice'), network.make('bob')
    big = add_photo(alice, 'big.jpg', (2400, 3200), 6)
    add_photo(alice, 'small.jpg', (640, 480))
    alice.node.media.run_pending()
    link(network, alice, bob)
    assert bob.node.registry.sync('alice')[0]
    viewer = bob.sign_in('ann')
    reply = viewer.get('/preview/' + remote_id(bob, 'big.jpg'))
    assert reply.content_type == 'image/jpeg'
    assert reply.body == open(alice.store.preview_path(big.id), 'rb').read()
    asked = len(network.requests)
    assert viewer.get('/preview/' + remote_id(bob, 'big.jpg')).body == reply.body     # from bob's cache
    assert len(network.requests) == asked
    page = viewer.get('/watch/' + remote_id(bob, 'big.jpg')).text
    assert 'width="2400" height="3200"' in page
    # an origin with no preview (a small photo, or an older privtube): the original is shown
    small = remote_id(bob, 'small.jpg')
    assert viewer.get('/preview/' + small, status=302).headers['Location'].endswith('/media/' + small)


def test_schema_16_reads_photos_again_and_knows_heic_for_what_it_is(tmp_path):
    from peewee import SqliteDatabase

    import privtube_db
    path = str(tmp_path / 'old.db')
    db = SqliteDatabase(path, pragmas=privtube_db.PRAGMAS)
    privtube_db.migrate(db, target=15)      # the step before photos were Pillow's
    rows = [('A' * 22, 'IMG_1.HEIC', 'video/mp4'), ('B' * 22, 'IMG_2.jpg', 'image/jpeg'),
            ('C' * 22, 'film.mp4', 'video/mp4')]
    for seq, (item_id, name, mime) in enumerate(rows, 1):
        db.execute_sql("INSERT INTO item (id, path, title, mime, size, mtime_ns, created, updated, seq, media_state) "
                       "VALUES (?, ?, ?, ?, 10, 1, 'x', 'x', ?, 'done')", (item_id, name, name, mime, seq))
    db.close()
    database = privtube_db.Database(path)
    found = {item.path: (item.mime, item.media_state) for item in database.Item.select()}
    assert found == {'IMG_1.HEIC': ('image/heic', 'pending'), 'IMG_2.jpg': ('image/jpeg', 'pending'),
                     'film.mp4': ('video/mp4', 'done')}
    database.close()


def bomb_png(width, height):
    """A PNG whose header claims `width`×`height` pixels; a few bytes of data follow."""
    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
    header = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + chunk(b'IDAT', zlib.compress(b'\0' * 1000))
            + chunk(b'IEND', b''))


@pytest.mark.parametrize('width, height', [(9000, 9000), (100000, 100000)])
def test_a_picture_too_large_to_decode_fails_with_a_reason(node, width, height):
    with open(os.path.join(node.media_dir, 'bomb.png'), 'wb') as out:
        out.write(bomb_png(width, height))
    item = node.store.items.create(os.path.join(node.media_dir, 'bomb.png'), 'bomb')
    started = time.monotonic()
    node.node.media.run_pending()
    failed = fresh(node, item)
    assert failed.media_state == 'failed' and failed.media_error == privtube_photos.TOO_LARGE
    assert not failed.thumbnail and not failed.preview and time.monotonic() - started < 5
    assert 'too large to show' in node.sign_in('ann').get('/watch/' + item.id).text


def test_a_damaged_photo_fails_with_a_reason(node):
    with open(os.path.join(node.media_dir, 'broken.jpg'), 'wb') as out:
        out.write(b'\xff\xd8\xff\xe0' + b'\0' * 500)
    item = node.store.items.create(os.path.join(node.media_dir, 'broken.jpg'), 'broken')
    node.node.media.run_pending()
    assert fresh(node, item).media_state == 'failed'
    assert fresh(node, item).media_error == privtube_photos.UNREADABLE


def test_heic_without_pillow_heif_fails_cleanly(node, monkeypatch):
    item = add_photo(node, 'IMG_0002.heic', (300, 400), 1, 'HEIF')
    monkeypatch.setattr(privtube_photos, 'register_heif', lambda: False)
    node.node.media.run_pending()
    assert fresh(node, item).media_error == privtube_photos.NO_HEIF


@pytest.mark.slow
def test_the_pool_makes_thumbnails_and_previews_in_other_processes(node):
    items = [add_photo(node, 'pool%d.jpg' % n, (3200, 2400), 6 if n % 2 else 1) for n in range(4)]
    worker = node.node.media
    worker.start()
    try:
        ends = time.monotonic() + 60
        while time.monotonic() < ends and not all(fresh(node, item).preview for item in items):
            time.sleep(0.2)
        pids = worker.photos.pids()
    finally:
        worker.stop()
    assert all(fresh(node, item).preview for item in items) and os.getpid() not in pids and len(set(pids)) == 2
    assert all(is_upright(node.store.preview_path(item.id)) for item in items)
    assert worker.photos.workers == [] and all(not os.path.exists('/proc/%d/cmdline' % pid)
                                               or not open('/proc/%d/cmdline' % pid).read() for pid in pids)


@pytest.mark.slow
def test_a_decoding_process_that_dies_fails_its_job_only(tmp_path):
    good = make_photo(tmp_path, 'good.jpg', (800, 600))
    pool = privtube_photos.PhotoPool(processes=1)
    pool.start()
    try:
        unanswerable = ('seven arguments examine cannot take',) * 7       # its process raises and exits
        jobs = [(good, 'image/jpeg', str(tmp_path / 't1.jpg')), unanswerable,
                (good, 'image/jpeg', str(tmp_path / 't2.jpg'))]
        first, dead, later = list(pool.run(jobs))
        assert first['width'] == 800 and dead['error'] == privtube_photos.UNREADABLE and later is None
        again = list(pool.run(jobs[2:]))        # new processes take the next pass
        assert again[0]['thumbnail'] and size_of(tmp_path / 't2.jpg') == (480, 360)
    finally:
        pool.stop()


def test_transparent_picture_is_shown_on_white(node):
    path = os.path.join(node.media_dir, 'logo.png')
    Image.new('RGBA', (600, 400), (255, 0, 0, 0)).save(path)
    item = node.store.items.create(path, 'logo')
    node.node.media.run_pending()
    with Image.open(node.store.thumbnail_path(item.id)) as thumbnail:
        assert thumbnail.getpixel((10, 10)) == (255, 255, 255)


def test_a_file_is_decoded_only_by_the_decoder_of_its_sniffed_type(tmp_path):
    png = tmp_path / 'really.png'
    Image.new('RGB', (64, 48)).save(png)
    found = privtube_photos.examine(str(png), 'image/jpeg', str(tmp_path / 't.jpg'))
    assert found['error'] == privtube_photos.UNREADABLE and not (tmp_path / 't.jpg').exists()


@pytest.mark.slow
def test_stopping_the_node_mid_batch_fails_no_photo(node):
    items = [add_photo(node, 'stop%d.jpg' % n, (3200, 2400)) for n in range(8)]
    worker = node.node.media
    worker.start()
    ends = time.monotonic() + 30
    while time.monotonic() < ends and not worker.photos.workers:
        time.sleep(0.01)
    started = time.monotonic()
    worker.stop()
    assert time.monotonic() - started < 5 and worker.photos.workers == []
    states = {fresh(node, item).media_state for item in items}
    assert 'failed' not in states
    privtube_probe.MediaWorker(node.node).run_pending()      # what was cut short is done at the next start
    assert all(fresh(node, item).preview for item in items)
