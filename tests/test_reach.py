"""Who can see this? What the watch page tells an owner must be what the node enforces."""
import re

import webtest
from conftest import NodeFixture, submit_login

from privtube_reach import album_reach, item_reach

PASSWORD = 'password-123'


def client_of(node, name):
    client = webtest.TestApp(node.app)
    submit_login(client, name, PASSWORD)
    return client


def reach_rows(page):
    """[(who, why)] of a watch page's "Who can see this?" table."""
    section = page.split('id="reach"')[1].split('</section>')[0]
    return [(re.sub(r'<[^>]+>', '', who).strip(), why.strip())
            for who, why in re.findall(r'<tr><td[^>]*>(.*?)</td>\s*<td[^>]*>(.*?)</td>', section, re.S)]


def test_the_reach_shown_is_the_reach_enforced(tmp_path):
    node = NodeFixture(tmp_path)
    accounts = node.accounts
    accounts.create_group('trip', ['album:Summer trip'])
    accounts.create_group('family', ['tag:family'])
    owner = accounts.create_user('bob', PASSWORD, groups=['family'])
    accounts.create_user('grandma', PASSWORD, groups=['trip'])
    accounts.create_user('cousin', PASSWORD, groups=['family'])
    accounts.create_user('root', PASSWORD, admin=True, groups=[])
    item = node.store.items.create(node.media_file('beach.mp4'), 'Beach', ['beach'], owner_id=owner.id)
    node.store.albums.create('Summer trip', item_ids=[item.id])
    keys = {'alice': node.key('alice', ['album:Summer trip']), 'carol': node.key('carol', ['tag:family']),
            'dave': node.key('dave', ['*'])}
    page = client_of(node, 'bob').get('/watch/' + item.id).text
    rows = reach_rows(page)
    assert rows == [('group members', '*'), ('group trip', 'album:Summer trip'), ('person bob', 'owner'),
                    ('person grandma', 'album:Summer trip'), ('person root', 'administrator'),
                    ('key (peer) alice', 'album:Summer trip'), ('key (peer) dave', '*')]
    shown = {who.split()[-1] for who, _ in rows}
    for name in ('grandma', 'cousin', 'root'):
        status = client_of(node, name).get('/watch/' + item.id, expect_errors=True).status_int
        assert (status == 200) == (name in shown), name
    for name, headers in keys.items():
        status = node.client.get('/api/v1/content/' + item.id, headers=headers, expect_errors=True).status_int
        assert (status == 200) == (name in shown), name
    node.close()


def test_a_private_item_says_so_and_others_are_not_shown_the_reach(tmp_path):
    node = NodeFixture(tmp_path)
    owner = node.accounts.create_user('bob', PASSWORD)
    node.accounts.create_user('mia', PASSWORD)
    secret = node.store.items.create(node.media_file('s.mp4'), 'Secret', private=True, owner_id=owner.id)
    shared = node.store.items.create(node.media_file('t.mp4'), 'Shared', owner_id=owner.id)
    assert 'Private: only you and admins.' in client_of(node, 'bob').get('/watch/' + secret.id).text
    assert 'Who can see this?' not in client_of(node, 'mia').get('/watch/' + shared.id).text
    node.close()


def test_an_albums_reach_counts_the_items_each_one_sees(tmp_path):
    node = NodeFixture(tmp_path)
    node.accounts.create_group('beach', ['tag:beach'])
    node.key('peer', ['album:Trip'])
    first = node.add('a.mp4', tags=['beach'])
    second = node.add('b.mp4')
    hidden = node.add('c.mp4', private=True)
    album = node.store.albums.create('Trip', item_ids=[first.id, second.id, hidden.id])
    found = album_reach(node.store, node.accounts, album)
    rows = {(row.kind, row.name): (row.seen, row.why) for row in found.rows}
    assert found.total == 3 and not found.private
    assert rows[('group', 'beach')] == (1, ['tag:beach'])
    assert rows[('key', 'peer')] == (2, ['album:Trip'])
    assert rows[('group', 'members')] == (2, ['*'])
    node.store.albums.remove_items(album, [first.id, second.id])
    assert album_reach(node.store, node.accounts, album).private
    assert item_reach(node.store, node.accounts, node.store.items.get(second.id)).rows[-1].why == ['*']
    node.close()
