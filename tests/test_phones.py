"""What a page says beside its layout (issue 13, phones and keyboards): the search box keeps the query,
"1 view" is singular, the node's own name heads its pages, and cards say when their origin is offline."""
import re

from conftest import NodeFixture
from test_network import link, remote_id

import privtube_web
from privtube_items import shown_time


def test_the_header_search_shows_the_current_query(node):
    node.add('picnic.mp4', title='Lakeside picnic')
    client = node.sign_in('ann')
    page = client.get('/search', {'q': 'picnic <b>'})
    assert '<input type="search" name="q" value="picnic &lt;b&gt;" placeholder="Search"' in page.text
    assert 'name="q" value="" placeholder="Search"' in client.get('/').text


def test_one_view_is_singular_on_the_watch_page_and_the_cards(node):
    item = node.add('picnic.mp4', title='Lakeside picnic')
    client = node.sign_in('ann')
    watch = '/watch/' + item.id
    assert '<span id="views">0</span> <span id="views-unit">views</span>' in client.get(watch).text
    node.node.database.Item.update(views=1).where(node.node.database.Item.id == item.id).execute()
    assert '<span id="views">1</span> <span id="views-unit">view</span>' in client.get(watch).text
    assert '1 view ·' in client.get('/').text and '1 views' not in client.get('/').text


def test_a_named_node_shows_its_name_in_the_header_and_title(tmp_path):
    named = NodeFixture(tmp_path, name='Smith family')
    try:
        page = named.sign_in('ann').get('/')
        assert '<a class="brand" href="/">Smith family<small> · privtube</small></a>' in page.text
        assert '<title>Home · Smith family · privtube</title>' in page.text
        assert 'Smith family' in named.client.get('/login').text
    finally:
        named.close()


def test_a_node_without_a_name_says_privtube_not_its_host_name(tmp_path):
    unnamed = NodeFixture(tmp_path, name='')
    try:
        page = unnamed.sign_in('ann').get('/')
        assert '<a class="brand" href="/">privtube</a>' in page.text and '<title>Home · privtube</title>' in page.text
    finally:
        unnamed.close()


def test_cards_of_an_offline_origin_say_so_before_anyone_clicks(network):
    alice, bob = network.make('alice'), network.make('bob')
    alice.add('picnic.mp4', title='Family picnic')
    link(network, alice, bob)
    assert bob.node.registry.sync('alice')[0]
    viewer = bob.sign_in('ann')
    assert 'offline since' not in viewer.get('/search', {'q': 'picnic'}).text
    network.handlers.pop('http://alice.test')
    assert not bob.node.registry.sync('alice')[0]
    last = bob.node.database.Peer.get_by_id('alice').last_success
    for page in (viewer.get('/search', {'q': 'picnic'}), viewer.get('/')):
        note = re.search(r'<span class="offline">alice: offline since ([^<]+)</span>', page.text)
        assert note, 'a card of an offline origin does not say so'
        assert note.group(1) == shown_time(last)
    assert 'alice is offline' in viewer.get('/watch/' + remote_id(bob, 'Family picnic')).text


def test_offline_origins_cost_one_query_per_page_however_many_cards(network, monkeypatch):
    alice, bob = network.make('alice'), network.make('bob')
    for number in range(6):
        alice.add('clip%d.mp4' % number, title='Clip %d' % number)
    link(network, alice, bob)
    bob.node.registry.sync('alice')
    network.handlers.pop('http://alice.test')
    bob.node.registry.sync('alice')
    viewer = bob.sign_in('ann')
    calls = []
    real = privtube_web.offline_origins
    monkeypatch.setattr(privtube_web, 'offline_origins', lambda database: calls.append(1) or real(database))
    page = viewer.get('/search', {'q': 'clip'})
    assert page.text.count('alice: offline since') == 6 and len(calls) == 1


def test_every_cell_of_a_stacked_table_names_its_column(tmp_path):
    """On a phone the admin tables stack their cells, each under its column's name (data-label)."""
    peer = '[peer:alice]\nurl = http://alice.test\nkey = %s\n' % ('k' * 43)
    admin_node = NodeFixture(tmp_path, config_text=peer)
    try:
        admin = admin_node.sign_in('root', admin=True)
        admin_node.accounts.create_key('grandma', ['*'])
        item = admin_node.add('picnic.mp4', title='Lakeside picnic')
        for path in ('/admin/users', '/admin/groups', '/admin/keys', '/admin/peers', '/watch/' + item.id):
            text = admin.get(path).text
            tables = re.findall(r'<table class="[^"]*stack[^"]*">(.*?)</table>', text, re.S)
            assert tables, 'no stacked table on %s' % path
            for cell in re.findall(r'<td([^>]*)>(.*?)</td>', ''.join(tables), re.S):
                labelled = 'data-label=' in cell[0] or '<form' in cell[1] or not cell[1].strip()
                assert labelled, 'a cell without its column on %s: %s' % (path, cell[1][:60])
    finally:
        admin_node.close()
