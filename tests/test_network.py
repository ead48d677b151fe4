"""Nodes linked into a network, in one process through the injected HTTP seam (tests/conftest.py)."""
import os
import re
import signal
import socket

import pytest

import privtube
import privtube_app
import privtube_config
import privtube_gateway

VIDEO = b'\x00\x00\x00\x18ftypmp42' + os.urandom(9 * 1024 * 1024)


def link(network, origin, reader, rules=('*',)):
    """`origin` issues `reader` a key; `reader` adds `origin` as a peer (as `peer add` does) and restarts."""
    _, token = origin.accounts.create_key(reader.node.name, list(rules))
    privtube_config.add_peer(reader.config_path, origin.node.name, 'http://%s.test' % origin.node.name, token)
    reader.reload(network)
    network.handlers['http://%s.test' % reader.node.name] = reader.app
    return token


def titles(client, query):
    page = client.get('/search', {'q': query})
    return set(re.findall(r'<span class="title">([^<]*)</span>', page.text))


@pytest.fixture
def homes(network):
    alice, bob, carol = network.make('alice'), network.make('bob'), network.make('carol')
    alice.add('picnic.mp4', tags=['family'], title='Family picnic', data=VIDEO)
    alice.add('report.mp4', tags=['work'], title='Quarterly report')
    alice.add('diary.mp4', tags=['family'], title='Secret diary', private=True)
    bob.add('bikes.mp4', tags=['family'], title='Bike trip')
    link(network, alice, bob, ['tag:family'])
    link(network, bob, carol, ['*'])
    return alice, bob, carol


def remote_id(node, title):
    return node.node.database.Item.get(node.node.database.Item.title == title).id


def test_sharing_by_tag_reaches_search(homes):
    alice, bob, carol = homes
    assert bob.node.registry.sync('alice') == (True, '1 items updated, 0 removed')
    viewer = bob.sign_in('ann')
    assert titles(viewer, 'picnic') == {'Family picnic'}
    assert titles(viewer, 'report') == set() and titles(viewer, 'diary') == set()
    assert 'from alice' in viewer.get('/search', {'q': 'picnic'}).text


def test_sharing_is_never_transitive(homes):
    alice, bob, carol = homes
    bob.node.registry.sync('alice')
    assert carol.node.registry.sync('bob')[0]
    assert titles(carol.sign_in('cy', admin=True), '') == {'Bike trip'}


def test_group_rules_apply_to_remote_items(homes):
    alice, bob, carol = homes
    bob.node.registry.sync('alice')
    bob.accounts.create_group('only-bob', ['origin:local'])
    bob.accounts.create_group('only-alice', ['origin:alice'])
    assert titles(bob.sign_in('local', groups=['only-bob']), '') == {'Bike trip'}
    assert titles(bob.sign_in('far', groups=['only-alice']), '') == {'Family picnic'}


def test_remote_item_plays_through_the_gateway_with_ranges(homes, monkeypatch):
    alice, bob, carol = homes
    monkeypatch.setattr(privtube_gateway, 'GATEWAY_WINDOW', 4 * 1024 * 1024)   # smaller than the video
    bob.node.registry.sync('alice')
    viewer = bob.sign_in('ann')
    url = '/media/' + remote_id(bob, 'Family picnic')
    part = viewer.get(url, headers={'Range': 'bytes=100-199'}, status=206)
    assert part.body == VIDEO[100:200]
    assert part.headers['Content-Range'] == 'bytes 100-199/%d' % len(VIDEO)
    window = viewer.get(url, headers={'Range': 'bytes=0-'}, status=206)
    assert len(window.body) < len(VIDEO) and window.body == VIDEO[:len(window.body)]
    assert window.headers['Content-Range'] == 'bytes 0-%d/%d' % (len(window.body) - 1, len(VIDEO))
    tail = viewer.get(url, headers={'Range': 'bytes=-10'}, status=206)
    assert tail.body == VIDEO[-10:]
    assert viewer.get(url, status=200).body == VIDEO
    viewer.get(url, headers={'Range': 'bytes=%d-' % len(VIDEO)}, status=416)


def read_following_windows(viewer, url, size):
    """Read a remote item as a browser does: `Range: bytes=N-`, following each short 206 window."""
    received = b''
    while len(received) < size:
        received += viewer.get(url, headers={'Range': 'bytes=%d-' % len(received)}, status=206).body
    return received


def test_following_windows_are_prefetched_and_each_is_still_asked_of_the_origin(homes, network, monkeypatch):
    alice, bob, carol = homes
    window = 4 * 1024 * 1024
    monkeypatch.setattr(privtube_gateway, 'GATEWAY_WINDOW', window)
    bob.node.registry.sync('alice')
    viewer = bob.sign_in('ann')
    network.windows.clear()
    assert read_following_windows(viewer, '/media/' + remote_id(bob, 'Family picnic'), len(VIDEO)) == VIDEO
    asked = network.windows
    # window 1 fetched, 2 prefetched; then per window: a one-byte check, and the next one prefetched
    assert asked[:2] == ['bytes=0-%d' % (window - 1), 'bytes=%d-%d' % (window, 2 * window - 1)]
    assert asked[2] == 'bytes=%d-%d' % (window, window)
    assert asked[-1] == 'bytes=%d-%d' % (2 * window, 2 * window)
    assert len(asked) == 5 and not bob.node.prefetcher.pending


def first_window_with_the_next_prefetched(homes, monkeypatch, window):
    """ann at bob reads the first window of alice's picnic; returns her client and the URL once the
    second window is waiting, fetched, at bob's node."""
    alice, bob, carol = homes
    monkeypatch.setattr(privtube_gateway, 'GATEWAY_WINDOW', window)
    bob.node.registry.sync('alice')
    viewer = bob.sign_in('ann')
    url = '/media/' + remote_id(bob, 'Family picnic')
    viewer.get(url, headers={'Range': 'bytes=0-'}, status=206)
    [(future, _)] = bob.node.prefetcher.pending.values()
    assert future.result().status == 206
    return viewer, url


def test_a_prefetched_window_is_refused_once_the_key_is_revoked(homes, monkeypatch):
    alice, bob, carol = homes
    window = 4 * 1024 * 1024
    viewer, url = first_window_with_the_next_prefetched(homes, monkeypatch, window)
    alice.accounts.revoke_key('bob')              # the next window is ready at bob's node...
    page = viewer.get(url, headers={'Range': 'bytes=%d-' % window}, status=404)
    assert 'no longer shares' in page.text        # ...and is not handed out: alice said no
    assert not bob.node.prefetcher.pending


def test_a_prefetched_window_of_a_file_changed_since_is_fetched_again(homes, monkeypatch):
    alice, bob, carol = homes
    window = 4 * 1024 * 1024
    viewer, url = first_window_with_the_next_prefetched(homes, monkeypatch, window)
    picnic = alice.node.database.Item.get(alice.node.database.Item.title == 'Family picnic')
    path = alice.node.store.full_path(picnic.path)
    edited = VIDEO[:window] + os.urandom(len(VIDEO) - window)
    with open(path, 'wb') as fh:
        fh.write(edited)
    os.utime(path, (1, 1))                        # a new modification time, so a new ETag
    assert viewer.get(url, headers={'Range': 'bytes=%d-' % window}, status=206).body == edited[window:2 * window]


def use_buffers(node, buffers, monkeypatch):
    """Give `node` these window buffers (the gateway and its prefetcher share the node's)."""
    monkeypatch.setattr(node, 'window_buffers', buffers)
    monkeypatch.setattr(node.prefetcher, 'buffers', buffers)


def test_a_prefetched_window_is_let_go_when_the_origin_went_offline(homes, network, monkeypatch):
    buffers = privtube_gateway.WindowBuffers(64 * 1024 * 1024, 0, keep=0)
    use_buffers(homes[1].node, buffers, monkeypatch)
    window = 4 * 1024 * 1024
    viewer, url = first_window_with_the_next_prefetched(homes, monkeypatch, window)
    assert buffers.used == window                 # the prefetched window; the one sent is back already
    network.handlers.pop('http://alice.test')
    viewer.get(url, headers={'Range': 'bytes=%d-' % window}, status=502)
    assert buffers.used == 0


def test_a_window_buffer_is_not_reused_while_its_window_is_still_being_sent(homes, monkeypatch):
    """Regression: the buffer of a window handed to Waitress was put back for reuse at once (and again
    when sent), so the prefetch of the next window overwrote the bytes a browser was still receiving."""
    import bottle
    alice, bob, carol = homes
    window = 4 * 1024 * 1024
    monkeypatch.setattr(privtube_gateway, 'GATEWAY_WINDOW', window)
    buffers = privtube_gateway.WindowBuffers(64 * 1024 * 1024, 0)
    use_buffers(bob.node, buffers, monkeypatch)
    bob.node.registry.sync('alice')
    with bob.node.database.db.connection_context():
        picnic = bob.node.store.items.get(remote_id(bob, 'Family picnic'))

    def window_from(start):
        return privtube_gateway.gateway_reply(bob.node, picnic, {'Range': 'bytes=%d-' % start}, bottle.BaseResponse())
    first = window_from(0)                        # held, as Waitress holds a window a slow browser drains
    [(future, _)] = bob.node.prefetcher.pending.values()
    future.result()                               # the next window was fetched meanwhile...
    second = window_from(window)
    assert first.read(window) == VIDEO[:window]   # ...into another buffer
    assert second.read(window) == VIDEO[window:2 * window]
    first.close(), second.close()
    bob.node.prefetcher.close()
    assert len(buffers.spare) == len({id(b) for b in buffers.spare}) <= buffers.keep


def test_comments_and_views_reach_the_origin(homes):
    alice, bob, carol = homes
    bob.node.registry.sync('alice')
    viewer = bob.sign_in('ann')
    item_id = remote_id(bob, 'Family picnic')
    page = viewer.get('/watch/' + item_id)
    assert 'from alice' in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    viewer.post('/watch/%s/comments' % item_id, {'csrf': csrf, 'body': 'Lovely day!'}, status=303)
    viewer.post('/watch/%s/view' % item_id, headers={'X-CSRF-Token': csrf})
    original = alice.node.store.items.get(item_id.split(':', 1)[1])
    assert original.views == 1
    assert [(c['author'], c['body']) for c in alice.node.store.comments.json(original)] == [('ann@bob', 'Lovely day!')]
    assert 'ann@bob' in viewer.get('/watch/' + item_id).text


def test_revocation_bites_at_once_and_items_vanish_at_next_sync(homes):
    alice, bob, carol = homes
    bob.node.registry.sync('alice')
    viewer = bob.sign_in('ann')
    url = '/media/' + remote_id(bob, 'Family picnic')
    viewer.get(url, headers={'Range': 'bytes=0-99'}, status=206)
    alice.accounts.revoke_key('bob')
    assert 'no longer shares' in viewer.get(url, headers={'Range': 'bytes=100-199'}, status=404).text
    ok, message = bob.node.registry.sync('alice')
    assert not ok and 'refused' in message
    assert titles(viewer, 'picnic') == set()


def test_an_offline_origin_keeps_its_listing_and_says_so(homes, network):
    alice, bob, carol = homes
    bob.node.registry.sync('alice')
    viewer = bob.sign_in('ann')
    item_id = remote_id(bob, 'Family picnic')
    app = network.handlers.pop('http://alice.test')
    ok, message = bob.node.registry.sync('alice')
    assert not ok and 'cannot reach' in message
    assert titles(viewer, 'picnic') == {'Family picnic'}
    page = viewer.get('/watch/' + item_id)
    assert 'alice is offline' in page.text and 'cannot be reached' in page.text
    viewer.get('/media/' + item_id, headers={'Range': 'bytes=0-9'}, status=502)
    network.handlers['http://alice.test'] = app
    assert bob.node.registry.sync('alice')[0]
    assert 'offline' not in viewer.get('/watch/' + item_id).text


def test_changes_and_removals_follow_incrementally(homes):
    alice, bob, carol = homes
    bob.node.registry.sync('alice')
    picnic = alice.node.database.Item.get(alice.node.database.Item.title == 'Family picnic')
    alice.store.items.edit(picnic, title='Family picnic 2026')
    extra = alice.add('beach.mp4', tags=['family'], title='Beach day')
    assert bob.node.registry.sync('alice')[0]
    viewer = bob.sign_in('ann')
    assert titles(viewer, 'picnic') == {'Family picnic 2026'} and titles(viewer, 'beach') == {'Beach day'}
    alice.store.items.edit(extra, private=True)
    alice.store.items.delete(alice.node.database.Item.get(alice.node.database.Item.title == 'Family picnic 2026'))
    assert bob.node.registry.sync('alice')[0]
    assert titles(viewer, '') == {'Bike trip'}


def test_an_unchanged_peer_costs_one_small_request(homes, network):
    alice, bob, carol = homes
    bob.node.registry.sync('alice')
    before = len(network.requests)
    assert bob.node.registry.sync('alice') == (True, '0 items updated, 0 removed')
    assert len(network.requests) - before == 1


def test_removing_a_peer_removes_its_items(homes, network):
    alice, bob, carol = homes
    bob.node.registry.sync('alice')
    privtube_config.remove_peer(bob.config_path, 'alice')
    bob.reload(network)
    bob.node.forget_removed_peers()     # as `serve` does when it starts
    assert bob.node.database.Item.select().where(bob.node.database.Item.origin == 'alice').count() == 0


def run_command(*argv):
    """`privtube ARGV`, run in this process."""
    args = privtube.build_parser().parse_args(argv)
    return args.run(args)


def dns_look_ups(monkeypatch):
    """The host names looked up in DNS from now on (each look-up fails, as on a node without DNS)."""
    names = []

    def look_up(host, *args, **kwargs):
        names.append(host)
        raise socket.gaierror('no DNS in this test')
    monkeypatch.setattr(socket, 'getaddrinfo', look_up)
    return names


def held_from(home, origin):
    Item = home.node.database.Item
    return Item.select().where(Item.origin == origin).count()


def bob_with_a_removed_and_a_far_peer(homes):
    """Bob holds alice's items, then alice is taken out of his config by hand and a plain-http peer added."""
    alice, bob, carol = homes
    bob.node.registry.sync('alice')
    assert held_from(bob, 'alice') == 1
    privtube_config.add_peer(bob.config_path, 'far', 'http://far.example.org', 'pt_' + 'k' * 40)
    privtube_config.remove_peer(bob.config_path, 'alice')
    return bob


def test_commands_other_than_serve_neither_look_up_peers_nor_drop_their_items(homes, monkeypatch, caplog):
    bob = bob_with_a_removed_and_a_far_peer(homes)
    looked_up = dns_look_ups(monkeypatch)
    for command in (['user', 'list'], ['group', 'list'], ['key', 'list'], ['peer', 'list'], ['content', 'list']):
        assert run_command('--config', bob.config_path, *command) == 0
    assert looked_up == [] and 'plain http' not in caplog.text
    assert held_from(bob, 'alice') == 1


class ServerThatStopsAtOnce:
    def run(self):
        pass

    def close(self):
        pass


def test_serve_drops_removed_peers_items_and_warns_of_plain_http_peers(homes, monkeypatch, caplog):
    bob = bob_with_a_removed_and_a_far_peer(homes)
    looked_up = dns_look_ups(monkeypatch)
    monkeypatch.setattr(privtube_app, 'create_server', lambda app: ServerThatStopsAtOnce())
    monkeypatch.setattr(privtube_app.Node, 'start_background', lambda node: None)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        assert privtube_app.serve(privtube_config.load(bob.config_path)) == 0
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert looked_up == ['far.example.org']
    assert 'peer far is reached over plain http at a public address' in caplog.text
    assert held_from(bob, 'alice') == 0
    assert not bob.node.database.Peer.select().where(bob.node.database.Peer.name == 'alice').exists()


def test_peer_rm_drops_the_removed_peers_items(homes, monkeypatch):
    alice, bob, carol = homes
    bob.node.registry.sync('alice')
    assert held_from(bob, 'alice') == 1
    looked_up = dns_look_ups(monkeypatch)
    assert run_command('--config', bob.config_path, 'peer', 'rm', 'alice') == 0
    assert 'alice' not in privtube_config.load(bob.config_path).peers
    assert held_from(bob, 'alice') == 0 and looked_up == []


def test_peer_config_is_private_and_refuses_duplicates(homes):
    alice, bob, carol = homes
    assert os.stat(bob.config_path).st_mode & 0o777 == 0o600
    with pytest.raises(privtube_config.ConfigError, match='already exists'):
        privtube_config.add_peer(bob.config_path, 'alice', 'http://x.test', 'pt_abcdefghijklmnop')


def test_peers_page_shows_status_and_syncs_on_request(homes):
    alice, bob, carol = homes
    admin = bob.sign_in('root', admin=True)
    page = admin.get('/admin/peers')
    assert 'alice' in page.text and 'never synced' in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    assert 'Synced alice' in admin.post('/admin/peers/alice/sync', {'csrf': csrf}).text
    assert 'never synced' not in admin.get('/admin/peers').text


@pytest.mark.parametrize('url, warned', [
    ('http://192.168.1.20:8080', False), ('http://127.0.0.1:8080', False), ('http://10.0.0.2', False),
    ('http://nas.local:8080', False), ('https://alice.example.org', False), ('http://8.8.8.8:8080', True),
    ('http://[2001:4860:4860::8888]:8080', True),
])
def test_plain_http_to_a_public_address_is_warned(url, warned):
    import privtube_app
    assert privtube_app.plain_http_to_public(url) is warned


def test_search_filters_by_origin(homes):
    alice, bob, carol = homes
    bob.node.registry.sync('alice')
    viewer = bob.sign_in('ann')

    def by_origin(origin):
        page = viewer.get('/search', {'q': '', 'origin': origin}).text
        return set(re.findall(r'<span class="title">([^<]*)</span>', page))

    assert by_origin('alice') == {'Family picnic'}
    assert by_origin('bob') == by_origin('local') == {'Bike trip'}
    assert by_origin('nobody') == set()
    assert '<option value="alice"' in viewer.get('/search').text
