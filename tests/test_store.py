"""The content store on real files: scan in place, atomic uploads, traversal and symlinks."""
import io
import os

import pytest
import webob

from privtube_db import MIGRATIONS
from privtube_store import StoreError


def files_in(folder):
    return sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs)


def test_scan_indexes_recursively_in_place(node):
    node.media_file('holiday/2024/beach.mp4')
    node.media_file('music/song.mp3', b'ID3\x03' + b'\x00' * 100)
    before = files_in(node.media_dir)
    assert node.store.scanner.scan() == {'seen': 2, 'added': 2, 'changed': 0, 'removed': 0, 'moved': 0}
    assert files_in(node.media_dir) == before        # nothing copied, nothing moved
    paths = {i.path: i.mime for i in node.node.database.Item.select()}
    assert paths == {'holiday/2024/beach.mp4': 'video/mp4', 'music/song.mp3': 'audio/mpeg'}


def test_rescan_sees_changed_and_vanished_files_and_keeps_ids(node):
    keep = node.media_file('a.mp4')
    gone = node.media_file('b.mp4')
    node.store.scanner.scan()
    ids = {i.path: i.id for i in node.node.database.Item.select()}
    with open(keep, 'ab') as fh:
        fh.write(b'longer now')
    os.unlink(gone)
    assert node.store.scanner.scan() == {'seen': 1, 'added': 0, 'changed': 1, 'removed': 1, 'moved': 0}
    item = node.node.database.Item.get()
    assert (item.id, item.size) == (ids['a.mp4'], os.path.getsize(keep))
    assert node.store.scanner.scan() == {'seen': 1, 'added': 0, 'changed': 0, 'removed': 0, 'moved': 0}


def test_scan_ignores_hidden_and_temporary_files(node):
    for name in ('.hidden.mp4', '.folder/x.mp4', 'movie.mp4.part', 'x.crdownload', 'uploads/.tmp-abc'):
        node.media_file(name)
    assert node.store.scanner.scan()['added'] == 0


def test_symlink_out_of_the_media_folder_is_not_indexed(node, tmp_path):
    secret = tmp_path / 'secret.txt'
    secret.write_text('root:x:0:0')
    os.symlink(str(secret), os.path.join(node.media_dir, 'link.mp4'))
    os.symlink(str(tmp_path), os.path.join(node.media_dir, 'linkdir'))
    assert node.store.scanner.scan()['added'] == 0


def test_symlink_inside_the_media_folder_is_served(node):
    node.media_file('real.mp4')
    os.symlink('real.mp4', os.path.join(node.media_dir, 'alias.mp4'))
    assert node.store.scanner.scan()['added'] == 2


def test_symlink_swapped_to_outside_after_scan_is_not_served(node, tmp_path):
    target = node.media_file('real.mp4')
    link = os.path.join(node.media_dir, 'alias.mp4')
    os.symlink(target, link)
    node.store.scanner.scan()
    item = node.node.database.Item.get(node.node.database.Item.path == 'alias.mp4')
    secret = tmp_path / 'secret'
    secret.write_bytes(b'secret bytes')
    os.unlink(link)
    os.symlink(str(secret), link)
    response = node.client.get('/api/v1/content/%s/media' % item.id, headers=node.key('bob'), status=404)
    assert b'secret' not in response.body


@pytest.mark.parametrize('attempt', [
    '../config.ini', '..%2Fconfig.ini', '%2e%2e%2fconfig.ini', '..%5cconfig.ini', '%252e%252e%252fconfig.ini',
    '..%00', '%2Fetc%2Fpasswd', '/etc/passwd', 'uploads', 'a.mp4', '....//....//etc/passwd',
])
def test_traversal_attempts_find_nothing(node, attempt):
    node.add('a.mp4')
    headers = node.key('bob')
    for suffix in ('', '/media', '/thumbnail', '/comments'):
        response = node.client.get('/api/v1/content/' + attempt + suffix, headers=headers, expect_errors=True)
        assert response.status_int in (400, 404)
        assert b'[node]' not in response.body and b'root:' not in response.body


def test_upload_is_written_atomically_to_uploads(node):
    item = node.store.uploads.save_stream(io.BytesIO(b'\xff\xd8\xff' + b'j' * 5000), 5003, '.jpg', 'Photo', ['x'])
    assert item.path.startswith('uploads/') and item.path.endswith('.jpg')
    assert os.path.getsize(os.path.join(node.media_dir, item.path)) == 5003
    assert [f for f in os.listdir(node.store.uploads_dir) if f.startswith('.')] == []


def test_interrupted_upload_leaves_no_item_and_no_file(node):
    with pytest.raises(StoreError, match='ended after'):
        node.store.uploads.save_stream(io.BytesIO(b'x' * 100), 5000, '.mp4', 'Half')
    assert os.listdir(node.store.uploads_dir) == []
    assert node.node.database.Item.select().count() == 0


def test_temporary_files_a_crash_left_are_removed_but_not_uploads_in_progress(node):
    import fcntl
    uploads = node.store.uploads_dir

    def temp(name, age):
        path = os.path.join(uploads, '.tmp-' + name)
        with open(path, 'wb') as fh:
            fh.write(b'partial')
        os.utime(path, (os.path.getmtime(path) - age,) * 2)
        return path
    abandoned, written, fresh = temp('crash', 60), temp('writing', 60), temp('fresh', 0)
    with open(written, 'rb') as held:
        fcntl.flock(held, fcntl.LOCK_EX)          # as save_stream holds it while it writes
        node.store.scanner.scan()
        assert not os.path.exists(abandoned)
        assert os.path.exists(written) and os.path.exists(fresh)
    assert node.node.database.Item.select().count() == 0


def test_scan_skips_a_new_file_that_an_upload_recorded_meanwhile(node):
    """scan lists new files, then writes: an upload recorded in between must not become a duplicate
    (the path is unique: this was an IntegrityError that stopped the scan)."""
    item = node.store.uploads.save_stream(io.BytesIO(b'\xff\xd8\xff' + b'x' * 100), 103, '.jpg', 'Raced')
    summary = {'seen': 1, 'added': 0, 'changed': 0, 'removed': 0, 'moved': 0}
    node.store.scanner.apply_scan([(item.path, os.stat(node.store.full_path(item.path)), None)], summary)
    assert summary['added'] == 0
    assert [i.id for i in node.node.database.Item.select()] == [item.id]


def test_interrupted_api_upload_leaves_nothing(node):
    headers = node.key('admin', manage=True)
    request = webob.Request.blank('/api/v1/content?title=half', method='POST', body=b'x' * 1000, headers=headers)
    request.environ['CONTENT_LENGTH'] = '100000'
    response = request.get_response(node.app)
    assert response.status_int == 400
    assert os.listdir(node.store.uploads_dir) == []
    assert node.node.database.Item.select().count() == 0


def test_oversized_upload_is_413_and_leaves_nothing(make_node):
    small = make_node('small', '[store]\nmax_upload_mb = 1\n')
    headers = small.key('admin', manage=True)
    response = small.client.post('/api/v1/content?title=big', b'x' * (1024 * 1024 + 1),
                                 headers=headers, status=413)
    assert 'error' in response.json
    assert os.listdir(small.store.uploads_dir) == []
    assert small.node.database.Item.select().count() == 0


def test_content_add_copies_outside_files_and_indexes_inside_ones(node, tmp_path):
    outside = tmp_path / 'outside.mp4'
    outside.write_bytes(b'\x00\x00\x00\x18ftypmp42' + b'v' * 100)
    copied = node.store.uploads.add_file(str(outside), tags=['Family'])
    assert copied.path.startswith('uploads/') and outside.exists()
    inside = node.media_file('shows/ep1.mp4')
    indexed = node.store.uploads.add_file(inside, title='Episode 1')
    assert indexed.path == 'shows/ep1.mp4'
    with pytest.raises(StoreError, match='already'):
        node.store.uploads.add_file(inside)
    assert node.store.items.tags_of(copied.id) == ['family']


def test_deleting_an_item_removes_its_file(node):
    item = node.add('gone.mp4')
    node.store.items.delete(item)
    assert not os.path.exists(os.path.join(node.media_dir, 'gone.mp4'))
    assert node.store.items.get(item.id) is None


def test_ids_are_random_128_bit_urlsafe(node):
    ids = {node.add('f%d.mp4' % n).id for n in range(20)}
    assert len(ids) == 20
    assert all(len(i) >= 22 and all(c.isalnum() or c in '-_' for c in i) for i in ids)


def test_an_id_never_starts_with_a_dash_the_command_line_would_read_as_an_option(monkeypatch):
    """Regression: 1 id in 64 began with '-', and `privtube content edit ID` then failed (a flaky CLI test)."""
    import privtube_store
    drawn = iter(['-' + 'a' * 22, 'b' * 23])
    monkeypatch.setattr(privtube_store.secrets, 'token_urlsafe', lambda size: next(drawn))
    assert privtube_store.new_id() == 'b' * 23


def test_a_file_that_vanishes_mid_scan_is_skipped(node):
    keep = node.media_file('keep.mp4')
    gone = node.media_file('gone.mp4')
    walked = list(node.store.scanner.walk_media())
    os.unlink(gone)
    node.store.scanner.walk_media = lambda: iter(walked)
    summary = node.store.scanner.scan()
    assert summary['seen'] == 2 and summary['added'] == 1
    assert [i.path for i in node.node.database.Item.select()] == [os.path.basename(keep)]


def test_scan_reports_progress(node):
    for n in range(5):
        node.media_file('f%d.mp4' % n)
    seen = []
    node.store.scanner.scan(lambda summary: seen.append(dict(summary)))
    assert [s['seen'] for s in seen[:5]] == [1, 2, 3, 4, 5] and seen[-1]['added'] == 5


def test_the_search_index_writes_the_rows_migration_15_built(node):
    """The index's row format is the one migration 15 filled the table with (migration 4's, plus the
    albums' names of 11 and the songs' artists and albums of 14): a change to it needs a migration step
    that rebuilds the index, or older nodes' rows would differ from new ones."""
    beach = node.add('beach.mp4', tags=['summer', 'family'], title='Beach day')
    node.node.database.Item.update(artist='Nina Vale', music_album='Blue Hour').where(
        node.node.database.Item.id == beach.id).execute()
    node.store.search.index(beach.id)
    node.add('snow.mp4', title='Snow')
    node.store.albums.create('2024 Summer trip', item_ids=[beach.id])
    db = node.node.database.db
    written = db.execute_sql('SELECT rowid, * FROM item_fts ORDER BY rowid').fetchall()
    db.execute_sql('DELETE FROM item_fts')
    filling = [statement for version in sorted(MIGRATIONS) for statement in MIGRATIONS[version]
               if statement.lstrip().startswith('INSERT INTO item_fts')][-1]
    db.execute_sql(filling)            # the statement of the latest step that fills the table
    assert db.execute_sql('SELECT rowid, * FROM item_fts ORDER BY rowid').fetchall() == written
    assert sorted(written[0][4].split()) == ['family', 'summer'] and written[1][4] == ''
    assert written[0][6] == '2024 Summer trip' and written[1][6] == ''
    assert written[0][7] == 'Nina Vale  Blue Hour' and written[1][7] == ''
