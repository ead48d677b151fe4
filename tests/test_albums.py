"""Albums: named, ordered sets of one origin's items whose membership decides visibility as tags do."""
import os
import re

import pytest
from conftest import NodeFixture, page_csrf

import privtube_auth as auth
from privtube_store import StoreError


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


# --- helpers ---------------------------------------------------------------------------------------

PASSWORD = 'password-123'


def csrf_of(page):
    return page_csrf(page.text)


def owned(node, relative, owner, tags=(), private=False, taken=None):
    item = node.store.items.create(node.media_file(relative), os.path.basename(relative), list(tags), private,
                                   owner_id=owner.id if owner else None)
    if taken:
        node.store.database.Item.update(taken=taken).where(node.store.database.Item.id == item.id).execute()
    return node.store.items.get(item.id)


def album_ids(page):
    return re.findall(r'href="/albums/([^"/?]+)"', page.text)


def titles_in_grid(page):
    return re.findall(r'<span class="title">([^<]*)</span>', page.text)


@pytest.fixture
def family(node):
    """An admin, an owner ('mum', a member of everything shared) and 'grandma', whose group sees only the
    album '2024 Summer trip'."""
    node.accounts.create_group('grandparents', ['album:2024 Summer trip'])
    node.admin = node.sign_in('root', admin=True)
    node.mum = node.sign_in('mum')
    node.grandma = node.sign_in('grandma', groups=['grandparents'])
    node.mum_user = node.accounts.user('mum')
    return node


# --- the store ---------------------------------------------------------------------------------------

def test_reordering_a_hand_made_album_keeps_the_others_in_their_order(node):
    items = [node.add('%d.mp4' % n) for n in range(4)]
    album = node.store.albums.create('Best', item_ids=[i.id for i in items])
    node.store.albums.move(album, items[3].id, 1)
    assert [i.id for i in node.store.albums.items_query(album)] == [items[n].id for n in (3, 0, 1, 2)]
    node.store.albums.move(album, items[3].id, 99)        # past the end: last
    assert [i.id for i in node.store.albums.items_query(album)] == [i.id for i in items]
    with pytest.raises(StoreError):
        node.store.albums.move(album, node.add('other.mp4').id, 1)


def test_a_folder_album_is_in_the_order_taken_and_cannot_be_reordered(node):
    late, early = node.add('late.jpg'), node.add('early.jpg')
    Item = node.store.database.Item
    Item.update(taken='2024-07-20T10:00:00Z').where(Item.id == late.id).execute()
    Item.update(taken='2024-07-14T10:00:00Z').where(Item.id == early.id).execute()
    album = node.store.albums.create('Holidays/2024', kind='folder', folder='Holidays/2024',
                                     item_ids=[late.id, early.id])
    assert [i.id for i in node.store.albums.items_query(album)] == [early.id, late.id]
    with pytest.raises(StoreError, match='hand-made'):
        node.store.albums.move(album, late.id, 1)


def test_removing_the_cover_from_an_album_clears_the_cover(node):
    first, second = node.add('a.mp4'), node.add('b.mp4')
    album = node.store.albums.create('Trip', item_ids=[first.id, second.id])
    node.store.albums.set_cover(album, second.id)
    node.store.albums.remove_items(album, [second.id])
    assert node.store.albums.get(album.id).cover_id is None
    with pytest.raises(StoreError):
        node.store.albums.set_cover(album, second.id)        # no longer in it


def test_a_peers_album_is_changed_only_at_its_origin(node):
    album = node.store.database.Album.create(id='alice:' + 'a' * 32, origin='alice', name='Theirs')
    for change in (lambda: node.store.albums.rename(album, 'Mine'), lambda: node.store.albums.delete(album),
                   lambda: node.store.albums.add_items(album, [node.add('x.mp4').id])):
        with pytest.raises(StoreError) as refused:
            change()
        assert refused.value.status == 403


def test_search_finds_items_by_album_name_and_follows_renames_and_removal(node):
    trip, other = node.add('beach.mp4', title='Beach'), node.add('snow.mp4', title='Snow')
    principal = auth.Principal('user', 0, 'root', is_admin=True)

    def found(text):
        return [item.id for item in node.store.search.query(principal, text)[0]]
    album = node.store.albums.create('2024 Summer trip', item_ids=[trip.id])
    assert found('summer') == [trip.id] and found('summ trip') == [trip.id]
    node.store.albums.rename(album, 'Sommerferien')
    assert found('summer') == [] and found('sommer') == [trip.id]
    node.store.albums.add_items(album, [other.id])
    assert sorted(found('sommer')) == sorted([trip.id, other.id])
    node.store.albums.remove_items(album, [trip.id])
    assert found('sommer') == [other.id]
    node.store.albums.delete(album)
    assert found('sommer') == []


def test_the_catalog_names_only_the_albums_an_item_is_in(node):
    first, second = node.add('a.mp4'), node.add('b.mp4')
    node.store.albums.create('Trip', item_ids=[first.id])
    node.store.albums.create('Both', item_ids=[first.id, second.id])
    node.store.albums.create('Private', item_ids=[node.add('p.mp4', private=True).id])
    key = node.key('reader', ['*'])
    items = {item['id']: item for item in node.client.get('/api/v1/catalog', headers=key).json['items']}
    assert items[first.id]['albums'] == ['Both', 'Trip'] and items[second.id]['albums'] == ['Both']
    assert 'Private' not in str(items)


# --- the web pages ---------------------------------------------------------------------------------

def test_the_albums_page_lists_only_albums_with_items_the_person_may_see(family):
    node = family
    mum = node.mum_user
    trip = [owned(node, 'trip%d.jpg' % n, mum, taken='2024-07-%02dT10:00:00Z' % (14 + n)) for n in range(3)]
    hidden = owned(node, 'secret.jpg', mum, private=True)
    node.store.albums.create('2024 Summer trip', item_ids=[t.id for t in trip] + [hidden.id])
    secret = node.store.albums.create('Secret', item_ids=[hidden.id])
    grandma = node.grandma.get('/albums')
    assert '2024 Summer trip' in grandma.text and 'Secret' not in grandma.text and secret.id not in grandma.text
    assert '3 items · 2024-07-14 – 2024-07-16' in grandma.text          # the private one is not counted
    node.grandma.get('/albums/' + secret.id, status=404)
    node.grandma.get('/albums/' + 'x' * 22, status=404)                  # the same answer as unknown
    token = csrf_of(node.grandma.get('/account'))
    for change in ('rename', 'remove', 'delete'):                         # changes say no more than pages
        node.grandma.post('/albums/%s/%s' % (secret.id, change), {'csrf': token, 'name': 'x', 'item': hidden.id},
                          status=404)
    node.grandma.get('/albums/%s/delete' % secret.id, status=404)
    assert node.store.albums.get(secret.id).name == 'Secret'
    assert '4 items' in node.mum.get('/albums').text and 'Secret' in node.mum.get('/albums').text


def test_an_album_page_shows_its_visible_items_in_order_and_nothing_to_change_for_others(family):
    node = family
    mum = node.mum_user
    items = [owned(node, 'n%d.jpg' % n, mum) for n in range(3)]
    album = node.store.albums.create('2024 Summer trip', owner_id=mum.id, item_ids=[items[2].id, items[0].id])
    page = node.grandma.get('/albums/' + album.id)
    assert titles_in_grid(page) == ['n2.jpg', 'n0.jpg']
    assert '/rename' not in page.text and 'Delete this album' not in page.text
    token = csrf_of(node.grandma.get('/account'))
    node.grandma.post('/albums/%s/rename' % album.id, {'csrf': token, 'name': 'Mine'}, status=403)
    node.grandma.post('/albums/%s/delete' % album.id, {'csrf': token}, status=403)
    assert node.store.albums.get(album.id).name == '2024 Summer trip'


def test_the_owner_selects_on_an_album_page_and_sees_who_can_see_it(family):
    """The album's owner gets the grid's selection (ticked items go to /bulk) and the album's reach; a
    viewer gets neither."""
    node = family
    mum = node.mum_user
    items = [owned(node, 's%d.jpg' % n, mum) for n in range(2)]
    album = node.store.albums.create('2024 Summer trip', owner_id=mum.id, item_ids=[i.id for i in items])
    page = node.mum.get('/albums/' + album.id)
    assert page.text.count('form="bulk"') == 2 and 'action="/bulk"' in page.text
    reach = page.text.split('Who can see this?')[1].split('</section>')[0]
    assert 'grandparents' in reach and 'album:2024 Summer trip' in reach
    form = page.forms['bulk']
    form['action'], form['tags'] = 'add_tags', 'beach'
    for box in form.fields['id']:
        box.checked = True
    done = form.submit()
    assert 'Added tag beach to 2 items' in done.follow().text if done.status_int == 303 else done.text
    assert all('beach' in node.store.items.tags_of(i.id) for i in items)
    viewer = node.grandma.get('/albums/' + album.id)
    assert 'form="bulk"' not in viewer.text and 'Who can see this?' not in viewer.text


def test_the_owner_makes_names_describes_arranges_and_deletes_an_album(family):
    node = family
    mum = node.mum_user
    items = [owned(node, 'p%d.jpg' % n, mum) for n in range(3)]
    albums = node.mum.get('/albums')
    made = node.mum.post('/albums', {'csrf': csrf_of(albums), 'name': 'Best of 2024',
                                     'description': 'the good ones'}, status=303)
    album_id = made.headers['Location'].rsplit('/', 1)[1]
    album = node.store.albums.get(album_id)
    assert album.owner_id == mum.id and album.description == 'the good ones'
    node.store.albums.add_items(album, [i.id for i in items])
    page = node.mum.get('/albums/' + album_id)
    token = csrf_of(page)
    assert 'stop' in page.text and 'album:Best of 2024' in page.text        # the rename warning
    node.mum.post('/albums/%s/move' % album_id, {'csrf': token, 'item': items[2].id, 'position': '1'}, status=303)
    node.mum.post('/albums/%s/cover' % album_id, {'csrf': token, 'item': items[1].id}, status=303)
    node.mum.post('/albums/%s/describe' % album_id, {'csrf': token, 'description': 'new words'}, status=303)
    node.mum.post('/albums/%s/remove' % album_id, {'csrf': token, 'item': items[0].id}, status=303)
    renamed = node.mum.post('/albums/%s/rename' % album_id, {'csrf': token, 'name': 'Best'}, status=303)
    shown = node.mum.get(renamed.headers['Location'])
    assert 'Album renamed to' in shown.text and titles_in_grid(shown) == ['p2.jpg', 'p1.jpg']
    album = node.store.albums.get(album_id)
    assert (album.name, album.description, album.cover_id) == ('Best', 'new words', items[1].id)
    Item = node.store.database.Item
    Item.update(thumbnail=True).where(Item.id.in_([i.id for i in items])).execute()
    assert '/thumb/%s' % items[1].id in node.mum.get('/albums').text                  # the chosen cover
    confirm = node.mum.get('/albums/%s/delete' % album_id)
    assert 'Delete the album' in confirm.text and '2 items stay' in confirm.text
    assert node.store.albums.get(album_id) is not None                  # asking deleted nothing
    node.mum.post('/albums/%s/delete' % album_id, {'csrf': token}, status=303)
    assert node.store.albums.get(album_id) is None and all(node.store.items.get(i.id) for i in items)


def test_album_forms_say_what_went_wrong_and_keep_what_was_typed(family):
    node = family
    node.store.albums.create('Taken')
    page = node.mum.get('/albums')
    refused = node.mum.post('/albums', {'csrf': csrf_of(page), 'name': 'Taken', 'description': 'my words'},
                            status=409)
    assert 'already an album named Taken' in refused.text and 'my words' in refused.text
    album = node.store.albums.create('Mine', owner_id=node.mum_user.id,
                                     item_ids=[owned(node, 'a.jpg', node.mum_user).id])
    moved = node.mum.post('/albums/%s/move' % album.id, {'csrf': csrf_of(page), 'item': 'x' * 22,
                                                          'position': '1'}, status=404)
    assert 'not found' in moved.text
    bad = node.mum.post('/albums/%s/move' % album.id, {'csrf': csrf_of(page), 'item': album_items(node, album)[0],
                                                        'position': 'first'}, status=400)
    assert 'whole number' in bad.text


def album_items(node, album):
    return [item.id for item in node.store.albums.items_query(album)]


def test_an_admin_sees_which_rules_a_rename_leaves_behind(family):
    node = family
    album = node.store.albums.create('2024 Summer trip', item_ids=[owned(node, 'a.jpg', None).id])
    page = node.admin.get('/albums/' + album.id)
    assert 'group grandparents' in page.text
    assert 'group grandparents' not in node.mum.get('/albums').text


def test_album_names_and_descriptions_are_escaped(family):
    node = family
    evil = '<script>alert(1)</script>'
    node.store.albums.create(evil, description=evil, item_ids=[owned(node, 'a.jpg', None).id])
    for path in ('/albums', '/albums/' + node.store.albums.by_name(evil).id, '/search?q=script'):
        text = node.mum.get(path).text
        assert '<script>alert(1)' not in text and '&lt;script&gt;' in text


def test_search_for_summer_lists_the_album_first_then_its_items(family):
    node = family
    trip = owned(node, 'beach.jpg', node.mum_user)
    owned(node, 'snow.jpg', node.mum_user)
    album = node.store.albums.create('2024 Summer trip', item_ids=[trip.id])
    hidden = node.store.albums.create('Summer secrets', item_ids=[owned(node, 's.jpg', node.mum_user,
                                                                        private=True).id])
    page = node.grandma.get('/search', {'q': 'summer'})
    assert page.text.index('/albums/' + album.id) < page.text.index('/watch/' + trip.id)
    assert hidden.id not in page.text and 'Summer secrets' not in page.text
    assert titles_in_grid(page) == ['2024 Summer trip', 'beach.jpg']
    assert '/albums/' not in node.grandma.get('/search', {'q': 'summer', 'page': '2'}).text.split('<main>')[1] \
        .replace('href="/albums"', '')


def test_the_header_links_to_the_albums(family):
    assert '<a href="/albums">Albums</a>' in family.mum.get('/').text


def test_admin_pages_accept_album_rules_with_spaces(family):
    node = family
    page = node.admin.get('/admin/groups')
    node.admin.post('/admin/groups', {'csrf': csrf_of(page), 'name': 'trip',
                                      'rules': 'album:2024 Summer trip tag:beach'}, status=303)
    assert auth.load_rules(node.accounts.group('trip').rules) == ['album:2024 Summer trip', 'tag:beach']
    keys = node.admin.post('/admin/keys', {'csrf': csrf_of(page), 'name': 'alice',
                                           'rules': 'album:Holidays/2024 Summer trip'})
    assert auth.load_rules(node.accounts.key('alice').rules) == ['album:Holidays/2024 Summer trip']
    assert 'album:Holidays/2024 Summer trip' in keys.text


def test_splitting_a_rules_field_keeps_album_names_with_spaces():
    assert auth.split_rules('* tag:a b album:2024  Summer trip origin:x') == \
        ['*', 'tag:a b', 'album:2024 Summer trip', 'origin:x']
    assert auth.split_rules('bogus album:x') == ['bogus', 'album:x']
    with pytest.raises(auth.AuthError):
        auth.parse_rules(auth.split_rules('bogus album:x'))


# --- two linked nodes --------------------------------------------------------------------------------

def linked(network, rules):
    """alice (a summer trip album of two items, one more item outside it) read by bob under `rules`."""
    from test_network import link
    alice, bob = network.make('alice'), network.make('bob')
    beach, boat = alice.add('beach.mp4', title='Beach'), alice.add('boat.mp4', title='Boat')
    alice.add('office.mp4', title='Office')
    album = alice.store.albums.create('2024 Summer trip', item_ids=[boat.id, beach.id])
    Item = alice.store.database.Item
    for item, day in ((beach, 14), (boat, 15)):
        Item.update(taken='2024-07-%dT10:00:00Z' % day).where(Item.id == item.id).execute()
    link(network, alice, bob, rules)
    assert bob.node.registry.sync('alice')[0]
    return alice, bob, album, beach, boat


def held_titles(node, origin='alice'):
    Item = node.node.database.Item
    return sorted(item.title for item in Item.select().where(Item.origin == origin))


def test_a_key_rule_naming_an_album_shares_its_items_and_follows_them_out(network):
    alice, bob, album, beach, boat = linked(network, ['album:2024 Summer trip'])
    assert held_titles(bob) == ['Beach', 'Boat']
    ann = bob.sign_in('ann')
    listing = ann.get('/albums')
    assert '2024 Summer trip' in listing.text and 'from alice' in listing.text and '2 items' in listing.text
    found = titles_in_grid(ann.get('/search', {'q': 'summer'}))
    assert found[0] == '2024 Summer trip' and sorted(found[1:]) == ['Beach', 'Boat']
    alice.store.albums.remove_items(album, [boat.id])
    assert bob.node.registry.sync('alice')[0]
    assert held_titles(bob) == ['Beach'] and '1 item ·' in ann.get('/albums').text
    alice.store.albums.rename(album, 'Summer 2024')
    assert bob.node.registry.sync('alice')[0]
    assert held_titles(bob) == [] and 'Summer' not in ann.get('/albums').text


def test_a_readers_group_rule_naming_a_peers_album_shows_only_its_items(network):
    alice, bob, album, beach, boat = linked(network, ['*'])
    bob.accounts.create_group('grandparents', ['album:2024 Summer trip'])
    grandma = bob.sign_in('grandma', groups=['grandparents'])
    assert sorted(titles_in_grid(grandma.get('/search', {'q': ''}))) == ['Beach', 'Boat']
    peer_album = bob.store.albums.by_name('2024 Summer trip', origin='alice')
    page = grandma.get('/albums/' + peer_album.id)
    assert titles_in_grid(page) == ['Beach', 'Boat'] and 'An album from alice' in page.text    # by date taken
    assert '/rename' not in page.text                           # a peer's album is changed at its origin
    admin = bob.sign_in('root', admin=True)
    assert '/rename' not in admin.get('/albums/' + peer_album.id).text
    alice.store.albums.remove_items(album, [beach.id])
    assert bob.node.registry.sync('alice')[0]
    assert titles_in_grid(grandma.get('/albums/' + peer_album.id)) == ['Boat']
    assert held_titles(bob) == ['Beach', 'Boat', 'Office']         # the key still shares everything


def test_a_peer_that_sends_no_albums_has_none(network):
    from test_hostile_peers import FakePeer, home_reading, item, page
    old = FakePeer(page([item()]))                      # an older node: its items carry no "albums"
    home = home_reading(network, old)
    assert held_titles(home, 'evil') == ['Good item']
    assert home.store.albums.listing('evil') == []
    home.accounts.create_group('trip', ['album:Trip'])
    assert titles_in_grid(home.sign_in('ann', groups=['trip']).get('/search', {'q': ''})) == []
    old.catalog = page([item(albums=['Trip'])])
    assert home.node.registry.sync('evil')[0]
    assert [album.name for album in home.store.albums.listing('evil')] == ['Trip']


def test_album_names_match_searches_by_word_prefix_whole_words_first(node):
    for name in ('Summertime', '2024 Summer trip', 'Winter', 'summer camp 2023'):
        node.store.albums.create(name)
    assert [a.name for a in node.store.albums.matching('summer')] == ['2024 Summer trip', 'summer camp 2023',
                                                                       'Summertime']
    assert [a.name for a in node.store.albums.matching('SUM tri')] == ['2024 Summer trip']
    assert node.store.albums.matching('ummer') == [] and node.store.albums.matching('"*') == []


def test_the_albums_page_follows_changes_of_what_a_person_may_see(family):
    """The albums page sums albums up from a cache of their items' states: every change of visibility,
    membership or name shows at once."""
    node = family
    first, second = owned(node, 'a.jpg', node.mum_user), owned(node, 'b.jpg', node.mum_user)
    album = node.store.albums.create('2024 Summer trip', item_ids=[first.id, second.id])
    assert '2 items' in node.grandma.get('/albums').text
    node.store.items.edit(node.store.items.get(second.id), private=True)
    assert '1 item ·' in node.grandma.get('/albums').text
    node.store.albums.remove_items(album, [first.id])
    assert album.id not in node.grandma.get('/albums').text
    node.grandma.get('/albums/' + album.id, status=404)
    node.store.albums.add_items(album, [first.id])
    assert '1 item ·' in node.grandma.get('/albums').text
    node.store.albums.rename(album, 'Elsewhere')
    assert album.id not in node.grandma.get('/albums').text and album.id in node.mum.get('/albums').text


def test_a_new_cover_and_order_show_on_the_albums_page_within_the_same_second(family):
    node = family
    items = [owned(node, '%d.jpg' % n, node.mum_user) for n in range(3)]
    Item = node.store.database.Item
    Item.update(thumbnail=True).where(Item.id.in_([i.id for i in items])).execute()
    album = node.store.albums.create('Trip', item_ids=[i.id for i in items])
    assert '/thumb/%s' % items[0].id in node.mum.get('/albums').text
    node.store.albums.move(album, items[2].id, 1)
    assert '/thumb/%s' % items[2].id in node.mum.get('/albums').text
    node.store.albums.set_cover(album, items[1].id)
    assert '/thumb/%s' % items[1].id in node.mum.get('/albums').text


@pytest.mark.slow
def test_two_real_homes_share_an_album_over_sockets(tmp_path):
    """alice shares one album with bob by a key rule; bob's grandma sees it through a group rule; an item
    taken out of it at alice leaves bob at the next sync. Real `serve` processes on loopback ports."""
    from test_network_sockets import DATA, Home
    alice, bob = Home(tmp_path, 'alice'), Home(tmp_path, 'bob')
    try:
        ids = []
        for name in ('beach', 'boat', 'office'):
            (alice.folder / 'media' / (name + '.mp4')).write_bytes(DATA[:4096] + name.encode())
            ids.append(alice.cli('content', 'add', str(alice.folder / 'media' / (name + '.mp4')), '--title',
                                 name.title()).stdout.strip())
        alice.cli('album', 'add', 'Summer trip', ids[0], ids[1])
        key = alice.cli('key', 'create', 'bob', '--allow', 'album:Summer trip').stdout.strip()
        bob.cli('peer', 'add', 'alice', alice.base, '--key', key)
        bob.cli('group', 'add', 'grandparents', '--allow', 'album:Summer trip')
        bob.cli('user', 'add', 'grandma', '--group', 'grandparents', '--password-stdin', stdin='password-123\n')
        alice.start()
        bob.start()
        assert bob.cli('sync', 'alice').returncode == 0
        grandma = requests_session(bob, 'grandma')
        listing = grandma.get(bob.base + '/albums', timeout=10).text
        assert 'Summer trip' in listing and 'from alice' in listing and '2 items' in listing
        found = grandma.get(bob.base + '/search', params={'q': 'summer'}, timeout=10).text
        assert sorted(titles_in_text(found)[1:]) == ['Beach', 'Boat']
        alice.cli('album', 'remove', 'Summer trip', ids[1])
        bob.cli('sync', 'alice')
        listing = grandma.get(bob.base + '/albums', timeout=10).text
        assert '1 item ·' in listing
        assert titles_in_text(grandma.get(bob.base + '/search', params={'q': 'summer'}, timeout=10).text) == [
            'Summer trip', 'Beach']
    finally:
        alice.stop()
        bob.stop()


def requests_session(home, user, password='password-123'):
    import requests
    from conftest import login_token
    session = requests.Session()
    token = login_token(session.get(home.base + '/login', timeout=10).text)
    session.post(home.base + '/login', data={'username': user, 'password': password, 'csrf': token}, timeout=10)
    return session


def titles_in_text(text):
    return re.findall(r'<span class="title">([^<]*)</span>', text)
