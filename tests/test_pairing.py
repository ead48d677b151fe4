"""Pairing two homes with one link: the exchange over the loopback network, its refusals, and the pages."""
import json
import re
import time

import pytest
from conftest import in_own_thread, page_csrf

import privtube_config
from privtube_pairing import REFUSED, PairingError, parse_link
from privtube_peer import PeerError, Reply


def home(network, name):
    """A node at http://NAME.test that says so as its public URL, with a family and a secret item."""
    made = network.make(name, 'public_url = http://%s.test\n' % name)
    made.family = made.add('%s-family.mp4' % name, tags=['family'], title='%s family' % name)
    made.secret = made.add('%s-secret.mp4' % name, tags=['secret'], title='%s secret' % name)
    return made


def wait_for_syncs(fixture):
    for thread in fixture.node.pairing.syncs:
        thread.join(30)


def peer_items(fixture, origin):
    Item = fixture.node.database.Item
    return {row.title for row in Item.select().where(Item.origin == origin)}


def peers_in_file(fixture):
    return privtube_config.load(fixture.config_path).peers


def exchange(fixture, body, address='192.0.2.7'):
    return fixture.client.post('/api/v1/pair', json.dumps(body), content_type='application/json',
                               extra_environ={'REMOTE_ADDR': address}, expect_errors=True)


@pytest.fixture
def pair(network):
    alice, bob = home(network, 'alice'), home(network, 'bob')
    return network, alice, bob


def test_a_link_pairs_both_ways_with_keys_each_node_made_and_both_sync(pair):
    network, alice, bob = pair
    link = alice.node.pairing.create(['tag:family'])
    assert link.startswith('http://alice.test/pair?from=alice#')
    name, (ok, message) = bob.node.pairing.join(link, ['tag:family'], sync='inline')
    assert (name, ok) == ('alice', True), message
    wait_for_syncs(alice)
    # each side holds the other as a peer, with the key the OTHER node made (only its hash is stored there)
    bob_peer, alice_peer = peers_in_file(bob)['alice'], peers_in_file(alice)['bob']
    assert bob_peer['url'] == 'http://alice.test' and alice_peer['url'] == 'http://bob.test'
    assert alice.accounts.key_principal(bob_peer['key']).name == 'bob'
    assert bob.accounts.key_principal(alice_peer['key']).name == 'alice'
    assert alice.accounts.key_principal(bob_peer['key']).rules == ['tag:family']
    # both synced at once, and each sees only what the other allowed
    assert peer_items(bob, 'alice') == {'alice family'}
    assert peer_items(alice, 'bob') == {'bob family'}
    assert alice.node.pairing.open_links() == []


def test_a_first_sync_that_fails_is_tried_again_soon(pair, monkeypatch):
    """The other home hiccups on the first catalog read (busy, restarting): bob tries again within moments
    instead of leaving the new peer empty until the next scheduled sync."""
    network, alice, bob = pair
    monkeypatch.setattr('privtube_pairing.RETRY_SECONDS', (0.05, 0.05))
    asked = []

    def hiccup(method, path, headers, body):
        if path.startswith('/api/v1/catalog'):
            asked.append(path)
            if len(asked) == 1:
                return Reply(503, {'Content-Type': 'application/json'}, b'{"error": "busy"}')
        return network.call_app(alice.app, method, path, headers, body)
    network.handlers['http://alice.test'] = lambda *args: in_own_thread(lambda: hiccup(*args))
    link = alice.node.pairing.create(['tag:family'])
    assert bob.node.pairing.join(link, ['tag:family']) == ('alice', None)
    wait_for_syncs(bob)
    assert len(asked) >= 2
    assert peer_items(bob, 'alice') == {'alice family'}
    assert bob.node.registry.state('alice').status == 'ok'


def test_each_side_chooses_what_the_other_sees(pair):
    network, alice, bob = pair
    bob.node.pairing.join(alice.node.pairing.create(['*']), ['tag:secret'], sync='inline')
    wait_for_syncs(alice)
    assert peer_items(bob, 'alice') == {'alice family', 'alice secret'}
    assert peer_items(alice, 'bob') == {'bob secret'}


def test_a_one_way_pairing_gives_the_origin_no_key_and_no_peer(pair):
    network, alice, bob = pair
    posted = []
    network.handlers['http://alice.test'] = recording(alice.app, posted)
    name, (ok, _) = bob.node.pairing.join(alice.node.pairing.create(['tag:family']), [], sync='inline')
    assert ok and posted[0]['key'] is None
    assert 'bob' not in peers_in_file(alice) and alice.node.pairing.syncs == []
    assert [key.name for key in bob.accounts.keys()] == []
    assert [key.name for key in alice.accounts.keys()] == ['bob']
    assert peer_items(bob, 'alice') == {'alice family'}


def recording(app, posted):
    """A handler that keeps each exchange's JSON body, then lets `app` answer it."""
    from conftest import LoopbackNetwork, in_own_thread

    def handle(method, path, headers, body):
        if path == '/api/v1/pair':
            posted.append(json.loads(body))
        return in_own_thread(lambda: LoopbackNetwork.call_app(app, method, path, headers, body))
    return handle


def test_a_reused_link_is_refused_and_gives_nothing(pair):
    network, alice, bob = pair
    carol = home(network, 'carol')
    link = alice.node.pairing.create(['*'])
    bob.node.pairing.join(link, ['*'], sync='inline')
    with pytest.raises(PeerError) as refused:
        carol.node.pairing.join(link, ['*'], sync='inline')
    assert refused.value.status == 403 and REFUSED in str(refused.value)
    assert peers_in_file(carol) == {} and carol.accounts.keys() == []      # carol's key for alice removed again
    assert [key.name for key in alice.accounts.keys()] == ['bob'] and set(peers_in_file(alice)) == {'bob'}


def test_an_expired_link_is_refused(pair):
    network, alice, bob = pair
    link = alice.node.pairing.create(['*'], hours=24)
    alice.node.pairing.clock = lambda: time.time() + 24 * 3600 + 1
    with pytest.raises(PeerError) as refused:
        bob.node.pairing.join(link, ['*'])
    assert refused.value.status == 403
    assert alice.accounts.keys() == [] and bob.accounts.keys() == [] and peers_in_file(bob) == {}


def test_a_revoked_link_is_refused(pair):
    network, alice, bob = pair
    link = alice.node.pairing.create(['*'])
    [(link_id, rules, _, _)] = alice.node.pairing.open_links()
    alice.node.pairing.revoke(link_id)
    with pytest.raises(PeerError):
        bob.node.pairing.join(link, ['*'])
    assert alice.accounts.keys() == []


def test_unknown_used_and_expired_tokens_get_the_same_answer_and_guessing_is_throttled(pair):
    network, alice, bob = pair
    used = parse_link(alice.node.pairing.create(['*']))[2]
    body = {'name': 'mallory', 'url': 'http://mallory.test', 'key': None}
    assert exchange(alice, dict(body, token=used)).status_int == 200
    answers = [exchange(alice, dict(body, token=token)) for token in (used, 'A' * 43, 'x')]
    assert {(a.status_int, a.text) for a in answers} == {(403, json.dumps({'error': REFUSED}))}
    assert [key.name for key in alice.accounts.keys()] == ['mallory']
    # 5 wrong tokens from one client, then it waits; another client is not blocked, and a live token from
    # the blocked client waits too (it cannot tell a right guess from a wrong one while blocked)
    good = parse_link(alice.node.pairing.create(['*']))[2]
    for wrong in ('B' * 43, None):
        exchange(alice, dict(body, token=wrong))
    throttled = exchange(alice, dict(body, name='eve', token=good))
    assert throttled.status_int == 429 and int(throttled.headers['Retry-After']) > 0
    assert exchange(alice, dict(body, name='eve', token=good), address='198.51.100.9').status_int == 200


def test_a_token_is_spent_once_when_presented_at_the_same_time(pair):
    import threading
    network, alice, bob = pair
    token = parse_link(alice.node.pairing.create(['*']))[2]
    won, start = [], threading.Barrier(8)

    def present():
        start.wait()
        with alice.node.database.db.connection_context():
            won.append(alice.node.pairing.spend(token))
    threads = [threading.Thread(target=present) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(won) == 8 and len([result for result in won if result is not None]) == 1


def test_the_exchange_needs_no_key_but_checks_its_fields(pair):
    network, alice, bob = pair
    token = parse_link(alice.node.pairing.create(['*']))[2]
    for wrong in ({'name': '../x', 'key': None}, {'name': 'bob', 'key': 'not a key!'},
                  {'name': 'bob', 'key': 'pt_' + 'a' * 40, 'url': 'ftp://bob.test'}, {'name': 'local'}):
        answer = exchange(alice, dict(wrong, token=token))
        assert answer.status_int == 400 and 'error' in answer.json, wrong
    assert alice.client.post('/api/v1/pair', 'not json', content_type='application/json',
                             expect_errors=True).status_int == 400
    assert alice.accounts.keys() == []
    assert exchange(alice, {'token': token, 'name': 'bob', 'key': None}).status_int == 200   # still live


@pytest.mark.parametrize('answer', [
    Reply(200, {}, b'{"name": "evil"}'),                                    # no key
    Reply(200, {}, b'{"name": "someone-else", "key": "pt_' + b'a' * 40 + b'"}'),   # not the link's name
    Reply(200, {}, b'{"name": "evil", "key": "pt_aaaaaaaaaaaa\\n[peer:x]"}'),  # a key that writes config
    Reply(200, {}, b'not json at all'),
    Reply(200, {}, b'["name", "key"]'),
    Reply(302, {'Location': 'http://elsewhere.test/'}, b''),
    Reply(500, {}, b'{"error": "\\u001b[31mboom"}'),
])
def test_a_bad_answer_from_the_origin_leaves_nothing_configured(network, answer):
    bob = home(network, 'bob')
    network.handlers['http://evil.test'] = lambda method, path, headers, body: answer
    link = 'http://evil.test/pair?from=evil#' + 'T' * 43
    with pytest.raises(PeerError) as failed:
        bob.node.pairing.join(link, ['*'])
    assert '\x1b' not in str(failed.value)
    assert bob.accounts.keys() == [] and peers_in_file(bob) == {}
    with open(bob.config_path) as fh:
        assert 'evil' not in fh.read()


def test_an_unreachable_origin_leaves_nothing(network):
    bob = home(network, 'bob')
    with pytest.raises(PeerError):
        bob.node.pairing.join('http://nowhere.test/pair?from=nowhere#' + 'T' * 43, ['*'])
    assert bob.accounts.keys() == []


def test_a_name_clash_on_the_origin_is_rolled_back_and_the_link_stays_usable(pair):
    network, alice, bob = pair
    alice.key('bob')                    # alice already has a key named bob
    link = alice.node.pairing.create(['*'])
    with pytest.raises(PeerError) as clash:
        bob.node.pairing.join(link, ['*'])
    assert '409' in str(clash.value) and 'bob already exists' in str(clash.value)
    assert bob.accounts.keys() == [] and peers_in_file(bob) == {}
    assert [key.name for key in alice.accounts.keys()] == ['bob'] and peers_in_file(alice) == {}
    alice.accounts.revoke_key('bob')
    assert bob.node.pairing.join(link, ['*'], sync='inline')[1][0]       # the link was not spent


def test_a_peer_clash_on_the_origin_removes_the_key_it_made(pair):
    network, alice, bob = pair
    privtube_config.add_peer(alice.config_path, 'bob', 'http://old-bob.test', 'pt_' + 'o' * 40)
    with pytest.raises(PeerError):
        bob.node.pairing.join(alice.node.pairing.create(['*']), ['*'])
    assert alice.accounts.keys() == [] and peers_in_file(alice)['bob']['url'] == 'http://old-bob.test'
    assert bob.accounts.keys() == [] and peers_in_file(bob) == {}


def test_a_clash_on_the_joining_node_asks_nothing_of_the_origin(pair):
    network, alice, bob = pair
    privtube_config.add_peer(bob.config_path, 'alice', 'http://alice.test', 'pt_' + 'o' * 40)
    link = alice.node.pairing.create(['*'])
    before = len(network.requests)
    with pytest.raises(PairingError, match='peer named alice already exists'):
        bob.node.pairing.join(link, ['*'])
    assert len(network.requests) == before and len(alice.node.pairing.open_links()) == 1


@pytest.mark.parametrize('link', ['', 'alice', 'http://alice.test/pair#' + 'T' * 43,
                                  'http://alice.test/pair?from=alice#short',
                                  'ftp://alice.test/pair?from=alice#' + 'T' * 43,
                                  'http://alice.test/other?from=alice#' + 'T' * 43])
def test_what_is_not_a_pairing_link_is_refused_before_anything_is_sent(pair, link):
    network, alice, bob = pair
    with pytest.raises(PairingError, match='not a pairing link'):
        bob.node.pairing.join(link, ['*'])
    assert network.requests == []


def test_bad_rules_make_no_link(node):
    with pytest.raises(Exception, match='rule'):
        node.node.pairing.create(['colour:red'])
    assert node.node.pairing.open_links() == []


# --- the Peers page ------------------------------------------------------------------------------

def test_pairing_through_the_peers_pages(pair):
    network, alice, bob = pair
    alice_admin, bob_admin = alice.sign_in('root', admin=True), bob.sign_in('root', admin=True)
    page = alice_admin.get('/admin/peers')
    made = alice_admin.post('/admin/peers/pair', {'csrf': page_csrf(page.text), 'rules': 'tag:family'})
    link = re.search(r'<pre id="pair-link">([^<]+)</pre>', made.text).group(1).replace('&amp;', '&')
    assert 'tag:family' in alice_admin.get('/admin/peers').text        # listed as an open link
    page = bob_admin.get('/admin/peers')
    joined = bob_admin.post('/admin/peers/pair/join', {'csrf': page_csrf(page.text), 'link': link,
                                                       'rules': 'tag:family'})
    assert 'Linked with alice' in joined.text
    wait_for_syncs(bob)
    wait_for_syncs(alice)
    assert peer_items(bob, 'alice') == {'alice family'} and peer_items(alice, 'bob') == {'bob family'}
    # the link is spent: pasting it again says so, keeps what was typed, and makes nothing
    again = bob_admin.post('/admin/peers/pair/join', {'csrf': page_csrf(page.text), 'link': link, 'rules': '*'},
                           status=400)
    assert 'peer named alice already exists' in again.text and 'value="%s"' % link.replace('&', '&amp;') in again.text
    assert len(bob.accounts.keys()) == 1


def test_the_join_form_left_empty_makes_a_one_way_pairing(pair):
    network, alice, bob = pair
    admin = bob.sign_in('root', admin=True)
    page = admin.get('/admin/peers')
    assert '<input name="rules" value="">' in page.text          # nothing is shared back unless chosen
    link = alice.node.pairing.create(['tag:family'])
    assert 'Linked with alice' in admin.post('/admin/peers/pair/join', {'csrf': page_csrf(page.text), 'link': link,
                                                                        'rules': ''}).text
    assert bob.accounts.keys() == [] and 'alice' in peers_in_file(bob) and 'bob' not in peers_in_file(alice)


def test_the_pairing_forms_say_what_went_wrong_and_revoke(pair):
    network, alice, bob = pair
    admin = alice.sign_in('root', admin=True)
    csrf = page_csrf(admin.get('/admin/peers').text)
    wrong = admin.post('/admin/peers/pair', {'csrf': csrf, 'rules': 'colour:red'}, status=400)
    assert 'Peers' in wrong.text and 'colour:red' in wrong.text
    bad = admin.post('/admin/peers/pair/join', {'csrf': csrf, 'link': 'hello', 'rules': '*'}, status=400)
    assert 'not a pairing link' in bad.text and 'value="hello"' in bad.text
    admin.post('/admin/peers/pair', {'csrf': csrf, 'rules': '*'})
    [(link_id, _, _, _)] = alice.node.pairing.open_links()
    admin.post('/admin/peers/pair/revoke', {'csrf': csrf, 'id': str(link_id)}, status=303)
    assert alice.node.pairing.open_links() == []
    admin.post('/admin/peers/pair/revoke', {'csrf': csrf, 'id': str(link_id)}, status=404)


def test_the_pairing_forms_are_for_admins_with_the_token(pair):
    network, alice, bob = pair
    member = alice.sign_in('ann')
    member.post('/admin/peers/pair', {'rules': '*'}, status=403)
    admin = alice.sign_in('root', admin=True)
    admin.post('/admin/peers/pair', {'rules': '*'}, status=403)         # no CSRF token
    assert alice.node.pairing.open_links() == []


def test_a_loopback_public_url_is_called_out(node):
    admin = node.sign_in('root', admin=True)
    assert 'other homes cannot reach' in admin.get('/admin/peers').text


# --- two real `serve` processes -----------------------------------------------------------------

@pytest.mark.slow
def test_two_real_nodes_pair_on_the_command_line_and_sync_each_other(tmp_path):
    from test_network_sockets import DATA, Home
    alice, bob = Home(tmp_path, 'alice'), Home(tmp_path, 'bob')
    try:
        for house in (alice, bob):
            for name, tag in (('picnic', 'family'), ('taxes', 'private-stuff')):
                (house.folder / 'media' / ('%s-%s.mp4' % (house.name, name))).write_bytes(DATA[:5000])
            house.cli('scan')
            family = [line.split('\t')[0] for line in house.cli('content', 'list').stdout.splitlines()
                      if 'picnic' in line][0]
            house.cli('content', 'edit', family, '--tag', 'family')
            house.start()
        made = alice.cli('pair', 'create', '--allow', 'tag:family')
        link = made.stdout.strip()
        assert link.startswith(alice.base + '/pair?from=alice#') and 'works once' in made.stderr
        joined = bob.cli('pair', 'join', link, '--allow', 'tag:family')
        assert 'linked with alice' in joined.stderr
        assert synced_items(bob, 'alice') == 1
        deadline = time.monotonic() + 30        # alice's serve syncs bob in the background
        while synced_items(alice, 'bob') != 1 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert synced_items(alice, 'bob') == 1
        for house, other in ((alice, 'bob'), (bob, 'alice')):
            assert house.cli('sync', other).stdout.split('\t')[1] == 'ok'
        # the link is spent: another home presenting it gets nothing
        carol = Home(tmp_path, 'carol')
        refused = carol.cli('pair', 'join', link, '--allow', '*', check=False)
        assert refused.returncode == 1 and 'unknown, used, expired or revoked' in refused.stderr
        assert carol.cli('key', 'list').stdout == '' and carol.cli('peer', 'list').stdout == ''
    finally:
        alice.stop()
        bob.stop()


def synced_items(house, peer):
    """The number of items `house` holds of `peer` (`peer list`'s fifth column)."""
    for line in house.cli('peer', 'list').stdout.splitlines():
        fields = line.split('\t')
        if fields[0] == peer:
            return int(fields[4])
    return None
