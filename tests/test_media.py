"""Media serving through the API: every range case checked against the file's own bytes."""
import os

import pytest

import privtube_media as media

DATA = os.urandom(100_003)


@pytest.fixture
def served(node):
    item = node.add('films/clip.mp4', data=DATA)
    return node, node.key('bob'), '/api/v1/content/%s/media' % item.id


@pytest.mark.parametrize('header, start, end', [
    ('bytes=0-', 0, len(DATA) - 1),                         # open tail from the start
    ('bytes=0-0', 0, 0),                                     # first byte
    ('bytes=1000-1999', 1000, 1999),                         # middle
    ('bytes=50000-', 50000, len(DATA) - 1),                  # open tail
    ('bytes=-500', len(DATA) - 500, len(DATA) - 1),          # suffix
    ('bytes=-999999', 0, len(DATA) - 1),                     # suffix longer than the file
    ('bytes=%d-%d' % (len(DATA) - 1, len(DATA) - 1), len(DATA) - 1, len(DATA) - 1),   # last byte
    ('bytes=99000-10000000', 99000, len(DATA) - 1),          # end past the file is clipped
])
def test_range_returns_exactly_those_bytes(served, header, start, end):
    node, headers, url = served
    response = node.client.get(url, headers=dict(headers, Range=header))
    assert response.status_int == 206
    assert response.body == DATA[start:end + 1]
    assert response.headers['Content-Range'] == 'bytes %d-%d/%d' % (start, end, len(DATA))
    assert int(response.headers['Content-Length']) == end - start + 1


@pytest.mark.parametrize('header', ['bytes=%d-' % len(DATA), 'bytes=200000-300000', 'bytes=-0'])
def test_unsatisfiable_range_is_416_with_size(served, header):
    node, headers, url = served
    response = node.client.get(url, headers=dict(headers, Range=header), status=416)
    assert response.headers['Content-Range'] == 'bytes */%d' % len(DATA)
    assert response.body == b''


@pytest.mark.parametrize('header', ['bytes=0-1,5-6', 'items=0-5', 'bytes=abc', 'bytes=5-2', 'bytes=-'])
def test_malformed_or_multiple_ranges_get_the_whole_file(served, header):
    node, headers, url = served
    response = node.client.get(url, headers=dict(headers, Range=header), status=200)
    assert response.body == DATA


def test_whole_file_with_validators_and_safe_headers(served):
    node, headers, url = served
    response = node.client.get(url, headers=headers, status=200)
    assert response.body == DATA
    assert response.headers['Accept-Ranges'] == 'bytes'
    assert response.headers['X-Content-Type-Options'] == 'nosniff'
    assert response.headers['Content-Type'] == 'video/mp4'
    assert response.headers['ETag'].startswith('"')
    assert response.headers['Last-Modified'].endswith('GMT')


def test_head_sends_headers_without_body(served):
    node, headers, url = served
    response = node.client.head(url, headers=dict(headers, Range='bytes=10-19'), status=206)
    assert response.headers['Content-Length'] == '10'
    assert response.body == b''


def test_if_range_with_current_etag_honours_range(served):
    node, headers, url = served
    etag = node.client.head(url, headers=headers).headers['ETag']
    response = node.client.get(url, headers=dict(headers, Range='bytes=0-9', **{'If-Range': etag}), status=206)
    assert response.body == DATA[:10]


def test_if_range_with_current_date_honours_range(served):
    node, headers, url = served
    stamp = node.client.head(url, headers=headers).headers['Last-Modified']
    response = node.client.get(url, headers=dict(headers, Range='bytes=0-9', **{'If-Range': stamp}), status=206)
    assert response.body == DATA[:10]


def test_if_range_with_stale_validator_sends_whole_file(served):
    node, headers, url = served
    response = node.client.get(url, headers=dict(headers, Range='bytes=0-9', **{'If-Range': '"stale"'}),
                               status=200)
    assert response.body == DATA


def test_changed_file_changes_etag(served):
    node, headers, url = served
    before = node.client.head(url, headers=headers).headers['ETag']
    path = os.path.join(node.media_dir, 'films/clip.mp4')
    with open(path, 'ab') as fh:
        fh.write(b'more')
    os.utime(path, ns=(1, 10 ** 18))
    assert node.client.head(url, headers=headers).headers['ETag'] != before


def test_if_none_match_gives_304(served):
    node, headers, url = served
    etag = node.client.head(url, headers=headers).headers['ETag']
    node.client.get(url, headers=dict(headers, **{'If-None-Match': etag}), status=304)


def test_empty_file_serves_empty_body_and_416_for_ranges(node):
    item = node.add('empty.mp4', data=b'')
    headers = node.key('bob')
    url = '/api/v1/content/%s/media' % item.id
    assert node.client.get(url, headers=headers, status=200).body == b''
    node.client.get(url, headers=dict(headers, Range='bytes=0-'), status=416)


@pytest.mark.parametrize('name, data', [
    ('evil.svg', b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
    ('page.html', b'<html><script>alert(1)</script></html>'),
    ('notes.txt', b'hello'),
])
def test_active_content_is_sent_as_attachment(node, name, data):
    item = node.add(name, data=data)
    response = node.client.get('/api/v1/content/%s/media' % item.id, headers=node.key('bob'))
    assert response.headers['Content-Type'] == 'application/octet-stream'
    assert response.headers['Content-Disposition'].startswith('attachment')
    assert response.headers['X-Content-Type-Options'] == 'nosniff'


@pytest.mark.parametrize('head, mime', [
    (b'\x00\x00\x00\x18ftypisom', 'video/mp4'), (b'\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01webm', 'video/webm'),
    (b'ID3\x03', 'audio/mpeg'), (b'fLaC', 'audio/flac'), (b'OggS', 'audio/ogg'), (b'\xff\xd8\xff\xe0', 'image/jpeg'),
    (b'\x89PNG\r\n\x1a\n', 'image/png'), (b'GIF89a', 'image/gif'), (b'RIFF\x00\x00\x00\x00WEBPVP8', 'image/webp'),
    (b'RIFF\x00\x00\x00\x00WAVEfmt', 'audio/wav'), (b'\x00\x00\x00\x18ftypM4A ', 'audio/mp4'),
])
def test_type_comes_from_the_file_not_its_name(tmp_path, head, mime):
    path = tmp_path / 'misnamed.txt'
    path.write_bytes(head + b'\x00' * 64)
    assert media.sniff_mime(str(path)) == mime


def test_file_range_stops_at_its_end(tmp_path):
    path = tmp_path / 'f'
    path.write_bytes(DATA)
    body = media.FileRange(open(str(path), 'rb'), 10, 5)
    assert body.read() == DATA[10:15]
    assert body.read() == b''
    body.close()
