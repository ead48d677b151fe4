"""A peer's MKV plays here through the browser-playable copy its origin made: the origin serves the copy at
/api/v1/content/ID/playable (404 when it has none), and the reader's /play/ID forwards it through the
gateway in windows that must be exactly the ones asked, falling back to /media/ID when there is no copy."""
import os
import time
import types

import pytest
from conftest import LoopbackNetwork, in_own_thread
from test_network import link
from test_remux import make_video

import privtube_gateway
from privtube_peer import Reply

pytestmark = pytest.mark.slow     # ffmpeg makes and rewraps a real film


def shared_film(network, rewrap=True):
    """alice's H.264/AAC MKV (rewrapped for browsers when `rewrap`), shared with bob and synced; returns
    (alice, bob, alice's item, bob's id of it)."""
    alice, bob = network.make('alice'), network.make('bob')
    path = make_video(os.path.join(alice.media_dir, 'film.mkv'), seconds=4)
    item = alice.store.items.create(path, 'Holiday film', ['family'])
    alice.node.media.run_pending()
    if rewrap:
        assert alice.node.remux.run_pending() == 1
    link(network, alice, bob, ['tag:family'])
    assert bob.node.registry.sync('alice')[0]
    Item = bob.node.database.Item
    return alice, bob, alice.store.items.get(item.id), Item.get(Item.title == 'Holiday film').id


def alice_copy(alice, item):
    with open(alice.node.remux.copy_path(item), 'rb') as fh:
        return fh.read()


def test_the_origin_serves_its_copy_to_keys_that_see_the_item_and_404_otherwise(network):
    alice, bob, item, _ = shared_film(network)
    copy = alice_copy(alice, item)
    _, token = alice.accounts.create_key('carol', ['tag:family'])
    _, stranger = alice.accounts.create_key('dave', ['tag:work'])
    url = '/api/v1/content/%s/playable' % item.id
    answer = alice.client.get(url, headers={'Authorization': 'Bearer ' + token, 'Range': 'bytes=10-99'},
                              status=206)
    assert answer.body == copy[10:100] and answer.headers['Content-Type'] == 'video/mp4'
    assert answer.headers['Content-Range'] == 'bytes 10-99/%d' % len(copy) and answer.headers['ETag']
    assert len(copy) != item.size                 # its own size, not the original's
    refused = alice.client.get(url, headers={'Authorization': 'Bearer ' + stranger}, status=404)
    missing = alice.client.get('/api/v1/content/%s/playable' % ('0' * 16), status=404,
                               headers={'Authorization': 'Bearer ' + stranger})
    assert refused.json == missing.json           # a hidden item looks like no item
    alice.client.get(url, status=401)


def test_the_origin_answers_404_while_it_has_no_copy(network):
    alice, bob, item, _ = shared_film(network, rewrap=False)
    _, token = alice.accounts.create_key('carol', ['*'])
    answer = alice.client.get('/api/v1/content/%s/playable' % item.id, status=404,
                              headers={'Authorization': 'Bearer ' + token, 'Range': 'bytes=0-0'})
    assert 'no copy' in answer.json['error']


def test_bobs_page_plays_alices_copy_through_his_gateway(network):
    alice, bob, item, remote = shared_film(network)
    copy = alice_copy(alice, item)
    viewer = bob.sign_in('ann')
    page = viewer.get('/watch/' + remote)
    assert 'src="/play/%s"' % remote in page.text and 'after you download it' not in page.text
    for start, end in ((0, 99), (len(copy) // 2, len(copy) // 2 + 4095), (len(copy) - 50, len(copy) - 1)):
        answer = viewer.get('/play/' + remote, headers={'Range': 'bytes=%d-%d' % (start, end)}, status=206)
        assert answer.body == copy[start:end + 1]
        assert answer.headers['Content-Type'] == 'video/mp4'
        assert answer.headers['Content-Range'] == 'bytes %d-%d/%d' % (start, end, len(copy))
        assert answer.headers['Content-Length'] == str(end - start + 1)
    viewer.get('/play/' + remote, headers={'Range': 'bytes=%d-' % len(copy)}, status=416)
    assert viewer.get('/play/' + remote).body == copy               # no Range: the whole copy
    assert viewer.get('/media/%s' % remote, headers={'Range': 'bytes=0-3'}, status=206).body == b'\x1a\x45\xdf\xa3'


def test_the_copy_is_read_in_following_windows_each_asked_of_the_origin(network, monkeypatch):
    alice, bob, item, remote = shared_film(network)
    copy = alice_copy(alice, item)
    window = 16 * 1024
    assert len(copy) > 3 * window
    monkeypatch.setattr(privtube_gateway, 'GATEWAY_WINDOW', window)
    viewer = bob.sign_in('ann')
    received = b''
    while len(received) < len(copy):
        received += viewer.get('/play/' + remote, headers={'Range': 'bytes=%d-' % len(received)}, status=206).body
    assert received == copy
    asked = [r for r in network.windows if r != 'bytes=0-0']
    assert 'bytes=%d-%d' % (window, window) in asked       # a prefetched window is confirmed by the origin
    assert not bob.node.prefetcher.pending


def test_without_a_copy_or_an_origin_bob_gets_the_original_and_the_page_says_why(network):
    alice, bob, item, remote = shared_film(network, rewrap=False)
    viewer = bob.sign_in('ann')
    assert viewer.get('/play/' + remote, status=302).headers['Location'].endswith('/media/' + remote)
    page = viewer.get('/watch/' + remote)
    assert '/play/' not in page.text and 'after you download it' in page.text and 'alice' in page.text
    assert 'x-matroska' not in page.text


def test_an_offline_origin_sends_the_player_to_the_original(network):
    alice, bob, item, remote = shared_film(network)
    del network.handlers['http://alice.test']
    viewer = bob.sign_in('ann')
    assert viewer.get('/play/' + remote, status=302).headers['Location'].endswith('/media/' + remote)
    assert 'after you download it' in viewer.get('/watch/' + remote).text


def test_an_item_the_origin_stopped_sharing_is_not_played(network):
    alice, bob, item, remote = shared_film(network)
    alice.store.items.edit(item, None, None, ['holiday'], None)          # no longer tagged family
    viewer = bob.sign_in('ann')
    viewer.get('/play/' + remote, status=302).follow(status=404)


def lying(alice, change):
    """alice's node, but `change(reply, range)` rewrites its answers to windows of the copy (not the first
    byte, which tells the reader the copy's size)."""
    def handler(method, path, headers, body):
        reply = in_own_thread(lambda: LoopbackNetwork.call_app(alice.app, method, path, headers, body))
        if path.endswith('/playable') and headers.get('Range') != 'bytes=0-0':
            return change(reply, headers.get('Range'))
        return reply
    return handler


def more_bytes(reply, asked):
    return Reply(reply.status, reply.headers, bytes(reply.body) + b'\x00' * 64)


def shifted(reply, asked):
    start, end, total = privtube_gateway.content_range(reply)
    return Reply(reply.status, dict(reply.headers, **{'Content-Range': 'bytes %d-%d/%d' % (start + 1, end + 1,
                                                                                         total)}), reply.body)


def other_size(reply, asked):
    start, end, total = privtube_gateway.content_range(reply)
    return Reply(reply.status, dict(reply.headers, **{'Content-Range': 'bytes %d-%d/%d' % (start, end, total * 2)}),
                 reply.body)


def fewer_bytes(reply, asked):
    start, end, total = privtube_gateway.content_range(reply)
    return Reply(reply.status, dict(reply.headers, **{'Content-Range': 'bytes %d-%d/%d' % (start, end - 1, total)}),
                 bytes(reply.body)[:-1])


@pytest.mark.parametrize('change', [more_bytes, shifted, other_size, fewer_bytes])
def test_an_origin_whose_windows_do_not_fit_the_request_is_refused(network, change):
    alice, bob, item, remote = shared_film(network)
    network.handlers['http://alice.test'] = lying(alice, change)
    viewer = bob.sign_in('ann')
    answer = viewer.get('/play/' + remote, headers={'Range': 'bytes=100-199'}, status=502)
    assert b'\x00' * 64 not in answer.body and 'Content-Range' not in answer.headers


def test_the_origin_is_asked_once_about_a_copy_then_again_after_a_while(network, monkeypatch):
    import privtube_peer_copies
    alice, bob, item, remote = shared_film(network, rewrap=False)
    viewer = bob.sign_in('ann')
    network.windows.clear()
    for _ in range(3):
        assert 'after you download it' in viewer.get('/watch/' + remote).text
    assert network.windows == ['bytes=0-0']                  # asked once, the answer kept
    assert alice.node.remux.run_pending() == 1               # alice makes her copy meanwhile
    later = time.monotonic() + privtube_peer_copies.CACHE_SECONDS + 1     # this module's clock only
    monkeypatch.setattr(privtube_peer_copies, 'time', types.SimpleNamespace(monotonic=lambda: later))
    assert 'src="/play/%s"' % remote in viewer.get('/watch/' + remote).text


def test_a_peers_mp4_goes_to_the_original_without_asking_for_a_copy(network):
    alice, bob = network.make('alice'), network.make('bob')
    alice.add('picnic.mp4', tags=['family'], title='Picnic', data=b'\x00\x00\x00\x18ftypmp42' + b'\x00' * 500)
    link(network, alice, bob, ['*'])
    assert bob.node.registry.sync('alice')[0]
    Item = bob.node.database.Item
    remote = Item.get(Item.title == 'Picnic').id
    network.requests.clear()
    viewer = bob.sign_in('ann')
    assert viewer.get('/play/' + remote, status=302).headers['Location'].endswith('/media/' + remote)
    assert not [url for _, url in network.requests if 'playable' in url]


def test_an_origin_that_does_not_answer_is_not_asked_about_its_other_items(network):
    alice, bob, item, remote = shared_film(network)
    path = make_video(os.path.join(alice.media_dir, 'other.mkv'), seconds=1)
    alice.store.items.create(path, 'Other film', ['family'])
    assert bob.node.registry.sync('alice')[0]
    Item = bob.node.database.Item
    other = Item.get(Item.title == 'Other film').id
    handler = network.handlers.pop('http://alice.test')
    viewer = bob.sign_in('ann')
    network.requests.clear()
    assert 'after you download it' in viewer.get('/watch/' + remote).text
    network.handlers['http://alice.test'] = handler          # back, but not asked again for a while
    assert 'after you download it' in viewer.get('/watch/' + other).text
    assert len([url for _, url in network.requests if url.endswith('/playable')]) == 1
