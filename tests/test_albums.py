"""Albums: named, ordered sets of one origin's items whose membership decides visibility as tags do."""
from conftest import NodeFixture


def test_an_album_rule_follows_membership_renames_and_deletion(tmp_path):
    node = NodeFixture(tmp_path)
    first, second = node.add('a.mp4'), node.add('b.mp4')
    key = node.key('reader', ['album:Trip'])
    assert node.client.get('/api/v1/catalog', headers=key).json['items'] == []
    album = node.store.albums.create('Trip', item_ids=[first.id])
    read = node.client.get('/api/v1/catalog', headers=key).json
    assert [item['id'] for item in read['items']] == [first.id] and read['items'][0]['albums'] == ['Trip']
    node.store.albums.rename(album, 'Elsewhere')
    after = node.client.get('/api/v1/catalog', params={'since': read['cursor']}, headers=key).json
    assert after['removed'] == [first.id] and after['items'] == []
    node.store.albums.rename(album, 'Trip')
    node.store.albums.add_items(album, [second.id])
    assert [item.id for item in node.store.albums.items_query(album)] == [first.id, second.id]
    node.store.albums.delete(album)
    node.client.get('/api/v1/content/' + first.id, headers=key, status=404)
    assert node.store.items.get(first.id) is not None        # deleting an album keeps its items
