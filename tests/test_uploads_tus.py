"""Uploading many files: resumable uploads (tus 1.0 at /upload/tus), duplicates told where they are, albums
picked or made at upload, and abandoned partial uploads removed after a day."""
import base64
import hashlib
import io
import os
import re
import time

import webob
from conftest import NodeFixture, page_csrf

import privtube_app

VIDEO = b'\x00\x00\x00\x18ftypmp42' + bytes(range(256)) * 400       # 102 kB, sniffed as video/mp4


def csrf_of(client):
    return page_csrf(client.get('/upload').text)


def tus(token, **headers):
    return dict({'Tus-Resumable': '1.0.0', 'X-CSRF-Token': token}, **headers)


def metadata(**values):
    return ','.join('%s %s' % (key, base64.b64encode(value.encode()).decode()) for key, value in values.items())


def create(client, token, length, status=201, **values):
    answer = client.post('/upload/tus', headers=tus(token, **{'Upload-Length': str(length),
                                                               'Upload-Metadata': metadata(**values)}),
                         status=status)
    return answer.headers.get('Location')


def patch(client, token, location, offset, body, status=204):
    return client.patch(location, body, headers=tus(token, **{'Upload-Offset': str(offset),
                                                              'Content-Type': 'application/offset+octet-stream'}),
                        status=status)


def cut_patch(node, client, token, location, offset, body, promised):
    """A PATCH promising `promised` bytes whose connection drops after `body` (Wi-Fi gone)."""
    request = webob.Request.blank(location, method='PATCH', headers=tus(token, **{
        'Upload-Offset': str(offset), 'Content-Type': 'application/offset+octet-stream',
        'Cookie': '; '.join('%s=%s' % (name, value) for name, value in client.cookies.items())}))
    request.environ['wsgi.input'] = io.BytesIO(body)
    request.environ['CONTENT_LENGTH'] = str(promised)
    return request.get_response(node.app)


def partials(node):
    return sorted(name for name in os.listdir(node.store.uploads_dir) if name.startswith('.tmp-'))


def test_options_say_what_the_server_speaks(tmp_path):
    node = NodeFixture(tmp_path, '[store]\nmax_upload_mb = 3\n')
    client = node.sign_in('ann')
    answer = client.options('/upload/tus', status=204)
    assert answer.headers['Tus-Version'] == '1.0.0' and answer.headers['Tus-Resumable'] == '1.0.0'
    assert set(answer.headers['Tus-Extension'].split(',')) == {'creation', 'termination'}
    assert answer.headers['Tus-Max-Size'] == str(3 * 1024 * 1024)


def test_a_cut_off_upload_resumes_from_its_offset_and_becomes_an_item(tmp_path):
    node = NodeFixture(tmp_path)
    client = node.sign_in('ann')
    token = csrf_of(client)
    location = create(client, token, len(VIDEO), filename='VID_20240714_101500.mp4', album='Evening',
                      description='By the lake', tags='summer, Lake')
    assert re.fullmatch(r'/upload/tus/[A-Za-z0-9_-]{22,}', location)
    assert client.head(location, headers=tus(token)).headers['Upload-Offset'] == '0'
    patch(client, token, location, 0, VIDEO[:30000])
    cut = cut_patch(node, client, token, location, 30000, VIDEO[30000:50000], len(VIDEO) - 30000)
    assert cut.status_int == 204
    head = client.head(location, headers=tus(token))
    assert head.headers['Upload-Offset'] == '50000' and head.headers['Upload-Length'] == str(len(VIDEO))
    patch(client, token, location, 30000, VIDEO[30000:], status=409)       # not where the server is
    done = patch(client, token, location, 50000, VIDEO[50000:])
    item = node.store.items.get(done.headers['X-Privtube-Item'])
    assert item.mime == 'video/mp4' and item.title == 'VID 20240714 101500' and item.owner_id is not None
    assert item.content_hash == hashlib.sha256(VIDEO).hexdigest() and item.description == 'By the lake'
    assert node.store.items.tags_of(item.id) == ['lake', 'summer']
    with open(os.path.join(node.media_dir, item.path), 'rb') as fh:
        assert fh.read() == VIDEO
    assert node.store.albums.names_of(item.id) == ['Evening'] and partials(node) == []
    client.head(location, headers=tus(token), status=404)                 # finished: no longer resumable


def test_the_hash_survives_a_restart_between_chunks(tmp_path):
    node = NodeFixture(tmp_path)
    client = node.sign_in('ann')
    token = csrf_of(client)
    location = create(client, token, len(VIDEO), filename='clip.mp4')
    patch(client, token, location, 0, VIDEO[:1000])
    node.store.uploads.hashers.clear()                                    # as a new process would start
    done = patch(client, token, location, 1000, VIDEO[1000:])
    assert node.store.items.get(done.headers['X-Privtube-Item']).content_hash == hashlib.sha256(VIDEO).hexdigest()


def test_termination_removes_the_partial_upload(tmp_path):
    node = NodeFixture(tmp_path)
    client = node.sign_in('ann')
    token = csrf_of(client)
    location = create(client, token, len(VIDEO), filename='clip.mp4')
    patch(client, token, location, 0, VIDEO[:1000])
    assert len(partials(node)) == 2
    client.delete(location, headers=tus(token), status=204)
    assert partials(node) == [] and node.node.database.Item.select().count() == 0
    client.head(location, headers=tus(token), status=404)


def test_another_person_cannot_touch_my_upload(tmp_path):
    node = NodeFixture(tmp_path)
    ann, bob = node.sign_in('ann'), node.sign_in('bob')
    location = create(ann, csrf_of(ann), len(VIDEO), filename='clip.mp4')
    token = csrf_of(bob)
    bob.head(location, headers=tus(token), status=404)
    patch(bob, token, location, 0, VIDEO, status=404)
    bob.delete(location, headers=tus(token), status=404)
    assert len(partials(node)) == 2


def test_the_size_cap_answers_413(tmp_path):
    node = NodeFixture(tmp_path, '[store]\nmax_upload_mb = 1\n')
    client = node.sign_in('ann')
    token = csrf_of(client)
    create(client, token, 1024 * 1024 + 1, status=413, filename='big.mp4')
    location = create(client, token, 1000, filename='small.mp4')
    patch(client, token, location, 0, VIDEO[:1001], status=413)           # past its own Upload-Length
    assert partials(node) == [os.path.basename(location).join(['.tmp-tus-', '']),
                              os.path.basename(location).join(['.tmp-tus-', '.json'])]


def test_the_body_gate_lets_a_signed_in_patch_send_up_to_the_cap():
    assert privtube_app.upload_route('PATCH', '/upload/tus/' + 'A' * 22) == '/upload'
    assert privtube_app.upload_route('PATCH', '/edit/x') is None
    assert privtube_app.upload_route('DELETE', '/upload/tus/x') is None
    asked = []
    gate = privtube_app.BodyGate(node_adjustments(), lambda path, cookie, auth: asked.append(path) or True)
    gate.received(b'PATCH /upload/tus/AAAAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nHost: x\r\nContent-Length: 500000\r\n\r\n')
    assert gate.error is None and asked == ['/upload']
    refused = privtube_app.BodyGate(node_adjustments(), lambda path, cookie, auth: False)
    refused.received(b'PATCH /upload/tus/AAAAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nHost: x\r\nContent-Length: 500000\r\n\r\n')
    assert refused.error is not None and refused.error.code == 413


def node_adjustments():
    from waitress.adjustments import Adjustments
    return Adjustments(max_request_body_size=10 * 1024 * 1024)


def test_the_same_content_is_not_stored_twice_and_the_person_is_told_where(tmp_path):
    node = NodeFixture(tmp_path)
    client = node.sign_in('ann')
    token = csrf_of(client)
    first = patch(client, token, create(client, token, len(VIDEO), filename='a.mp4'), 0, VIDEO)
    first_id = first.headers['X-Privtube-Item']
    again = patch(client, token, create(client, token, len(VIDEO), filename='b.mp4'), 0, VIDEO)
    assert again.headers['X-Privtube-Duplicate'] == first_id and 'X-Privtube-Item' not in again.headers
    assert node.node.database.Item.select().count() == 1 and partials(node) == []
    # the form upload without JavaScript says so too, with a link to it, keeping what was typed
    page = client.post('/upload', {'csrf': token, 'title': 'Again', 'tags': 'summer'},
                       upload_files=[('file', 'c.mp4', VIDEO)], status=409)
    assert 'already in the library' in page.text and '/watch/%s' % first_id in page.text
    assert 'value="summer"' in page.text
    scripted = client.post('/upload?filename=d.mp4', VIDEO, headers={'X-CSRF-Token': token,
                           'X-Requested-With': 'fetch', 'Content-Type': 'video/mp4'}, status=409)
    assert scripted.json['duplicate']['url'] == '/watch/' + first_id
    assert len(os.listdir(node.store.uploads_dir)) == 1


def test_a_duplicate_the_uploader_may_not_see_is_stored_without_a_word(tmp_path):
    node = NodeFixture(tmp_path)
    ann, bob = node.sign_in('ann'), node.sign_in('bob')
    token = csrf_of(ann)
    made = ann.post('/upload', {'csrf': token, 'title': 'Secret', 'private': '1'},
                    upload_files=[('file', 'a.mp4', VIDEO)], status=303)
    assert '/watch/' in made.headers['Location']
    theirs = bob.post('/upload', {'csrf': csrf_of(bob), 'title': 'Mine'}, upload_files=[('file', 'b.mp4', VIDEO)],
                      status=303)
    assert 'Secret' not in theirs.text and node.node.database.Item.select().count() == 2


def test_a_form_upload_goes_into_a_picked_or_new_album(tmp_path):
    node = NodeFixture(tmp_path)
    client = node.sign_in('ann')
    token = csrf_of(client)
    client.post('/upload', {'csrf': token, 'title': 'One', 'new_album': 'Evening'},
                upload_files=[('file', 'a.mp4', VIDEO)], status=303)
    page = client.get('/upload')
    assert '<option >Evening</option>' in page.text or '<option>Evening</option>' in page.text
    client.post('/upload', {'csrf': token, 'title': 'Two', 'album': 'Evening'},
                upload_files=[('file', 'b.mp4', VIDEO + b'x')], status=303)
    album = node.store.albums.by_name('Evening')
    assert [item.title for item in node.store.albums.items_query(album)] == ['One', 'Two']
    bob = node.sign_in('bob')
    refused = bob.post('/upload', {'csrf': csrf_of(bob), 'album': 'Evening'},
                       upload_files=[('file', 'c.mp4', VIDEO + b'y')], status=403)
    assert 'belongs to someone else' in refused.text


def test_an_abandoned_partial_upload_is_removed_after_a_day(tmp_path):
    node = NodeFixture(tmp_path)
    client = node.sign_in('ann')
    token = csrf_of(client)
    old = create(client, token, len(VIDEO), filename='old.mp4')
    patch(client, token, old, 0, VIDEO[:100])
    fresh = create(client, token, len(VIDEO), filename='fresh.mp4')
    day_ago = time.time() - 86400 - 60
    for name in partials(node):
        if os.path.basename(old) in name:
            os.utime(os.path.join(node.store.uploads_dir, name), (day_ago, day_ago))
    node.store.uploads.remove_abandoned()
    fresh_id = os.path.basename(fresh)
    assert partials(node) == sorted(['.tmp-tus-' + fresh_id, '.tmp-tus-%s.json' % fresh_id])
    client.head(old, headers=tus(token), status=404)
    assert client.head(fresh, headers=tus(token)).headers['Upload-Offset'] == '0'


def test_tus_requests_without_the_csrf_token_are_refused(tmp_path):
    node = NodeFixture(tmp_path)
    client = node.sign_in('ann')
    token = csrf_of(client)
    headers = {'Tus-Resumable': '1.0.0', 'Upload-Length': '10', 'Upload-Metadata': metadata(filename='a.mp4')}
    client.post('/upload/tus', headers=headers, status=403)
    client.post('/upload/tus', headers=dict(headers, **{'X-CSRF-Token': 'wrong'}), status=403)
    assert partials(node) == []
    location = create(client, token, len(VIDEO), filename='a.mp4')
    client.patch(location, VIDEO, headers={'Tus-Resumable': '1.0.0', 'Upload-Offset': '0',
                                           'Content-Type': 'application/offset+octet-stream'}, status=403)
    client.delete(location, headers={'Tus-Resumable': '1.0.0'}, status=403)
    assert client.head(location, headers=tus(token)).headers['Upload-Offset'] == '0'
    anonymous = node.client
    assert anonymous.post('/upload/tus', headers=headers).status_int in (302, 303)


def test_bad_tus_requests_are_refused_with_their_status(tmp_path):
    node = NodeFixture(tmp_path)
    client = node.sign_in('ann')
    token = csrf_of(client)
    client.post('/upload/tus', headers={'X-CSRF-Token': token, 'Upload-Length': '10'}, status=412)
    client.post('/upload/tus', headers=tus(token, **{'Upload-Length': 'ten'}), status=400)
    client.post('/upload/tus', headers=tus(token, **{'Upload-Length': '0'}), status=400)
    client.post('/upload/tus', headers=tus(token, **{'Upload-Length': '10', 'Upload-Metadata': 'filename %%%'}),
                status=400)
    location = create(client, token, 10, filename='a.mp4')
    client.patch(location, b'x', headers=tus(token, **{'Upload-Offset': '0', 'Content-Type': 'text/plain'}),
                 status=415)
    client.head('/upload/tus/..%2f..%2fetc', headers=tus(token), status=404)
    assert partials(node) == sorted(['.tmp-tus-' + os.path.basename(location),
                                     '.tmp-tus-%s.json' % os.path.basename(location)])


def test_two_requests_never_write_one_upload_at_once(tmp_path):
    import fcntl
    node = NodeFixture(tmp_path)
    client = node.sign_in('ann')
    token = csrf_of(client)
    location = create(client, token, len(VIDEO), filename='clip.mp4')
    data = os.path.join(node.store.uploads_dir, '.tmp-tus-' + os.path.basename(location))
    with open(data, 'rb') as busy:
        fcntl.flock(busy, fcntl.LOCK_EX)           # another request is writing
        patch(client, token, location, 0, VIDEO[:100], status=409)
        node.store.uploads.remove_abandoned(now=time.time() + 3 * 86400)    # nor is it taken as abandoned
    assert client.head(location, headers=tus(token)).headers['Upload-Offset'] == '0'
    patch(client, token, location, 0, VIDEO[:100])
