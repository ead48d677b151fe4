"""Select many, change many: the grids' bulk form (`/bulk`) through the web app, and its command line."""
import os
import re

import pytest
from conftest import NodeFixture, page_csrf

import privtube_bulk

PASSWORD = 'password-123'


@pytest.fixture
def home(tmp_path):
    """bob's three clips, alice's one and alice's private one; bob signed in as a member."""
    node = NodeFixture(tmp_path)
    bob = node.accounts.create_user('bob', PASSWORD)
    alice = node.accounts.create_user('alice', PASSWORD)
    node.bob_items = [owned(node, 'bob%d.mp4' % n, 'Bob %d' % n, bob) for n in range(3)]
    node.alice_item = owned(node, 'alice.mp4', 'Alice clip', alice)
    node.alice_private = owned(node, 'secret.mp4', 'Alice secret', alice, private=True)
    node.bob = signed_in(node, 'bob')
    yield node
    node.close()


def owned(node, relative, title, owner, tags=(), private=False):
    return node.store.items.create(node.media_file(relative), title, list(tags), private, owner_id=owner.id)


def signed_in(node, name):
    import webtest
    from conftest import submit_login
    client = webtest.TestApp(node.app)
    submit_login(client, name, PASSWORD)
    return client


def csrf_of(client, path='/timeline'):
    return page_csrf(client.get(path).text)


def bulk(client, action, ids, status=200, **fields):
    body = [('csrf', csrf_of(client)), ('action', action), ('back', '/timeline')] + [('id', i) for i in ids]
    return client.post('/bulk', body + sorted(fields.items()), status=status)


def summary(response):
    return re.search(r'id="summary">([^<]*)<', response.text).group(1).replace('&#039;', "'")


def ids(items):
    return [item.id for item in items]


def tags(node, item):
    return node.store.items.tags_of(item.id)


def catalog_ids(node, key, since=None):
    read = node.client.get('/api/v1/catalog', params={'since': since} if since else {}, headers=key).json
    return sorted(item['id'] for item in read['items']), sorted(read['removed']), read['cursor']


def test_adding_tags_changes_only_items_of_ones_own_and_a_key_sees_them(home):
    key = home.key('grandma', ['tag:summer'])
    assert catalog_ids(home, key)[0] == []
    chosen = ids(home.bob_items) + [home.alice_item.id, home.alice_private.id, 'A' * 22]
    answer = bulk(home.bob, 'add_tags', chosen, tags='Summer, beach')
    assert summary(answer) == ('Added tags summer, beach to 3 items; 3 skipped: not found (2), not yours (1).')
    assert all(tags(home, item) == ['beach', 'summer'] for item in home.bob_items)
    assert tags(home, home.alice_item) == [] and tags(home, home.alice_private) == []
    assert catalog_ids(home, key)[0] == sorted(ids(home.bob_items))


def test_removing_tags_takes_the_items_out_of_a_keys_catalog(home):
    key = home.key('grandma', ['tag:summer'])
    bulk(home.bob, 'add_tags', ids(home.bob_items), tags='summer, beach')
    _, _, cursor = catalog_ids(home, key)
    answer = bulk(home.bob, 'remove_tags', ids(home.bob_items[:2]), tags='summer')
    assert summary(answer) == 'Removed tag summer from 2 items.'
    assert tags(home, home.bob_items[0]) == ['beach'] and tags(home, home.bob_items[2]) == ['beach', 'summer']
    items, removed, _ = catalog_ids(home, key, cursor)
    assert items == [] and removed == sorted(ids(home.bob_items[:2]))


def test_adding_to_a_new_album_by_name_then_to_an_existing_one_and_removing(home):
    key = home.key('grandma', ['album:Summer'])
    answer = bulk(home.bob, 'add_to_album', ids(home.bob_items[:2]) + [home.alice_item.id], new_album='Summer')
    assert summary(answer) == 'Added 2 items to album Summer; 1 skipped: not yours.'
    album = home.store.albums.by_name('Summer')
    assert album.owner_id == home.accounts.user('bob').id
    assert ids(home.store.albums.items_query(album)) == ids(home.bob_items[:2])
    answer = bulk(home.bob, 'add_to_album', ids(home.bob_items), album=album.id)
    assert summary(answer) == 'Added 1 item to album Summer; 2 already so.'
    assert catalog_ids(home, key)[0] == sorted(ids(home.bob_items))
    answer = bulk(home.bob, 'remove_from_album', ids(home.bob_items[1:]), album=album.id)
    assert summary(answer) == 'Removed 2 items from album Summer.'
    assert catalog_ids(home, key)[0] == [home.bob_items[0].id]


def test_an_album_of_someone_else_cannot_be_chosen(home):
    theirs = home.store.albums.create('Alice only', owner_id=home.accounts.user('alice').id)
    answer = bulk(home.bob, 'add_to_album', ids(home.bob_items), status=403, album=theirs.id)
    assert 'not one you may change' in answer.text
    assert list(home.store.albums.items_query(theirs)) == []


def test_making_private_and_shared_reaches_the_catalog(home):
    key = home.key('reader', ['*'])
    _, _, cursor = catalog_ids(home, key)
    answer = bulk(home.bob, 'make_private', ids(home.bob_items[:2]))
    assert summary(answer) == 'Made 2 items private.'
    items, removed, cursor = catalog_ids(home, key, cursor)
    assert removed == sorted(ids(home.bob_items[:2]))
    answer = bulk(home.bob, 'make_shared', ids(home.bob_items))
    assert summary(answer) == 'Made 2 items shared; 1 already so.'
    items, removed, _ = catalog_ids(home, key, cursor)
    assert items == sorted(ids(home.bob_items[:2]))


def test_delete_asks_first_then_deletes_only_ones_own(home):
    chosen = ids(home.bob_items[:2]) + [home.alice_item.id]
    page = bulk(home.bob, 'delete', chosen)
    assert 'Delete 3 items?' in page.text and home.store.items.get(home.bob_items[0].id) is not None
    done = page.forms[1].submit() if len(page.forms) > 1 else page.form.submit()
    assert summary(done) == 'Moved 2 items to the Trash; 1 skipped: not yours.'
    trashed = [home.store.items.get(i) for i in ids(home.bob_items[:2])]
    assert all(item.trashed is not None and item.path.startswith('.trash/') for item in trashed)
    assert not os.path.exists(os.path.join(home.media_dir, 'bob0.mp4'))
    assert os.path.exists(os.path.join(home.media_dir, trashed[0].path))       # kept, in the trash
    assert home.store.items.get(home.alice_item.id).trashed is None
    assert '/trash/%s/restore' % trashed[0].id in home.bob.get('/trash').text
    assert os.path.exists(os.path.join(home.media_dir, 'alice.mp4'))


def test_an_admin_changes_anyones_items(home):
    admin = home.sign_in('root', admin=True)
    answer = bulk(admin, 'add_tags', [home.alice_item.id, home.alice_private.id], tags='family')
    assert summary(answer) == 'Added tag family to 2 items.'


def test_one_failing_item_leaves_nothing_half_done(home):
    full = [str(n) for n in range(50)]
    home.store.items.edit(home.bob_items[2], tags=full)       # one more tag would be past the limit
    key = home.key('reader', ['*'])
    _, _, cursor = catalog_ids(home, key)
    answer = bulk(home.bob, 'add_tags', ids(home.bob_items), status=400, tags='summer')
    assert 'Bob 2' in answer.text and 'nothing was changed' in answer.text
    assert tags(home, home.bob_items[0]) == [] and tags(home, home.bob_items[1]) == []
    assert catalog_ids(home, key, cursor)[:2] == ([], [])


def test_a_new_album_is_not_left_behind_when_adding_to_it_fails(home, monkeypatch):
    def broken(album, item_ids):
        raise privtube_bulk.StoreError('the disk is full')
    monkeypatch.setattr(home.store.albums, 'add_items', broken)
    bulk(home.bob, 'add_to_album', ids(home.bob_items), status=400, new_album='Summer')
    assert home.store.albums.by_name('Summer') is None


def test_the_form_needs_a_selection_and_an_action(home):
    assert 'select at least one' in bulk(home.bob, 'add_tags', [], status=400, tags='x').text
    assert 'choose what to do' in bulk(home.bob, 'melt', ids(home.bob_items), status=400).text
    assert 'give at least one tag' in bulk(home.bob, 'add_tags', ids(home.bob_items), status=400, tags=' , ').text


def test_grids_offer_checkboxes_only_on_items_one_may_edit(home):
    for path in ('/timeline', '/search?q=clip', '/search?q=bob'):
        page = home.bob.get(path).text
        boxes = set(re.findall(r'name="id" value="([^"]+)" form="bulk"', page))
        assert home.alice_item.id not in boxes, path
        assert boxes <= set(ids(home.bob_items)), path
        if boxes:
            assert 'id="bulk"' in page and 'action="/bulk"' in page
    assert set(re.findall(r'name="id" value="([^"]+)"', home.bob.get('/timeline').text)) == set(ids(home.bob_items))


def test_a_thousand_items_change_in_one_go(home):
    many = [home.store.items.create(home.media_file('many/%d.jpg' % n), 'Photo %d' % n, owner_id=None).id
            for n in range(300)]
    admin = home.sign_in('root', admin=True)
    answer = bulk(admin, 'add_tags', many, tags='archive')
    assert summary(answer) == 'Added tag archive to 300 items.'
    Item, ItemTag = home.node.database.Item, home.node.database.ItemTag
    assert ItemTag.select().where(ItemTag.tag == 'archive').count() == 300
    assert Item.select().where(Item.id.in_(many)).count() == 300


def test_names_in_the_summary_and_the_album_list_are_escaped(home):
    answer = bulk(home.bob, 'add_to_album', ids(home.bob_items[:1]), new_album='<script>alert(1)</script>')
    assert '<script>alert(1)' not in answer.text and '&lt;script&gt;alert(1)' in answer.text
    page = home.bob.get('/timeline').text
    assert '<script>alert(1)' not in page and '&lt;script&gt;alert(1)&lt;/script&gt;</option>' in page
