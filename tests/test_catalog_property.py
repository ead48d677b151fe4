"""The catalog guarantee (openapi.json, the catalog): a reader that follows pages to `more: false` holds
exactly the items its key may see now, and `removed` never names an item the key could never see (existence
never leaks).

A hypothesis state machine interleaves changes to items, to albums (items join and leave them, albums are
renamed and deleted) and to the key's rules with partial and full reads; a plain model of the items and
albums, kept here independently of the store, says what the key may see.
"""
import tempfile
from urllib.parse import quote

import hypothesis.strategies as st
import pytest
from conftest import NodeFixture
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

pytestmark = pytest.mark.slow      # a long state machine: CI runs it, the fast loop does not

TAGS = ('a', 'b', 'c')
ALBUMS = ('Trip', 'Home', '2024 Summer trip')
RULE_SETS = (('*',), ('tag:a',), ('tag:b',), ('tag:c',), ('tag:a', 'tag:c'), ('tag:b', 'tag:c'),
             ('album:Trip',), ('album:2024 Summer trip', 'tag:a'), ('album:Home', 'album:Trip'))


def may_see(rules, private, tags, albums=()):
    """What a key with `rules` may see, written from the contract, not from privtube_auth."""
    if private:
        return False
    return any(r == '*' or (r.startswith('tag:') and r[4:] in tags) or (r.startswith('album:') and r[6:] in albums)
               for r in rules)


class Reader:
    """A catalog reader of one key: holds id -> item, follows cursors, applies items, removed and reset."""

    def __init__(self, client, headers):
        self.client, self.headers = client, headers
        self.held, self.cursor, self.pages = {}, None, []

    def read_page(self, limit):
        url = '/api/v1/catalog?limit=%d' % limit + ('&since=' + quote(self.cursor) if self.cursor else '')
        page = self.client.get(url, headers=self.headers, status=200).json
        assert len(page['items']) + len(page['removed']) <= limit
        if page['reset']:
            self.held.clear()
        for item in page['items']:
            self.held[item['id']] = item
        for item_id in page['removed']:
            self.held.pop(item_id, None)
        self.cursor = page['cursor']
        self.pages.append(page)
        return page

    def read_to_end(self, limit=1000):
        pages = [self.read_page(limit)]
        while pages[-1]['more']:
            assert len(pages) < 1000, 'the catalog never ends'
            pages.append(self.read_page(limit))
        return pages

    def removed_ever(self):
        return {item_id for page in self.pages for item_id in page['removed']}


class CatalogMachine(RuleBasedStateMachine):
    """One node, one reader key; the model holds every item's current state and every state it ever had."""

    def __init__(self):
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.node = NodeFixture(self.folder.name)
        self.rules = ('*',)
        self.reader = Reader(self.node.client, self.node.key('reader', self.rules))
        self.items = {}        # id -> {'title', 'tags', 'private', 'comments'}
        self.albums = {}       # name -> [ids of its items]
        self.history = {}      # id -> [(private, tags, albums)] every visibility state the item ever had
        self.trashed = {}      # id -> state, of the items in the trash (gone for the key until restored)
        self.made = 0
        self.rules_changed = False   # since the reader's cursor was issued

    def teardown(self):
        self.node.close()
        self.folder.cleanup()

    # --- the model ---------------------------------------------------------------------------------

    def visible_now(self):
        return {item_id: state for item_id, state in self.items.items()
                if may_see(self.rules, state['private'], state['tags'], self.albums_of(item_id))}

    def ever_visible(self):
        """Ids the key could see, under its current rules, in some state the item ever had."""
        return {item_id for item_id, states in self.history.items()
                if any(may_see(self.rules, private, tags, albums) for private, tags, albums in states)}

    def pick(self, index):
        """The item at `index` in the order the items were made: ids are random, so an order by id would
        pick other items when Hypothesis replays the same steps, and its replays would not be the same."""
        ids = list(self.items)
        return ids[index % len(ids)]

    def albums_of(self, item_id):
        return sorted(name for name, members in self.albums.items() if item_id in members)

    def log_state(self, item_id):
        """Record the item's state now; an item in the trash has none the key may see until restored."""
        if item_id not in self.items:
            return
        state = self.items[item_id]
        self.history[item_id].append((state['private'], tuple(state['tags']), tuple(self.albums_of(item_id))))

    # --- changes -----------------------------------------------------------------------------------

    @initialize(rules=st.sampled_from(RULE_SETS), tags=st.sets(st.sampled_from(TAGS)), private=st.booleans())
    def start(self, rules, tags, private):
        self.node.accounts.set_key_rules('reader', list(rules))
        self.rules = rules
        self.add_item(tags, private)

    @rule(tags=st.sets(st.sampled_from(TAGS)), private=st.booleans())
    def add_item(self, tags, private):
        self.made += 1
        title = 'item %d' % self.made
        item = self.node.add('m/%d.mp4' % self.made, tags=sorted(tags), private=private, title=title)
        self.items[item.id] = {'title': title, 'tags': sorted(tags), 'private': private, 'comments': 0}
        self.history[item.id] = []
        self.log_state(item.id)

    @precondition(lambda self: self.items)
    @rule(index=st.integers(0, 1000), tags=st.sets(st.sampled_from(TAGS)))
    def change_tags(self, index, tags):
        item_id = self.pick(index)
        self.node.store.items.edit(self.node.store.items.get(item_id), tags=sorted(tags))
        self.items[item_id]['tags'] = sorted(tags)
        self.log_state(item_id)

    @precondition(lambda self: self.items)
    @rule(index=st.integers(0, 1000))
    def change_title(self, index):
        item_id = self.pick(index)
        self.made += 1
        title = 'retitled %d' % self.made
        self.node.store.items.edit(self.node.store.items.get(item_id), title=title)
        self.items[item_id]['title'] = title

    @precondition(lambda self: self.items)
    @rule(index=st.integers(0, 1000), private=st.booleans())
    def set_private(self, index, private):
        item_id = self.pick(index)
        self.node.store.items.edit(self.node.store.items.get(item_id), private=private)
        self.items[item_id]['private'] = private
        self.log_state(item_id)

    @precondition(lambda self: self.items)
    @rule(index=st.integers(0, 1000))
    def add_comment(self, index):
        """A change that is not about visibility still gives the item a new change number."""
        item_id = self.pick(index)
        self.node.store.comments.add(self.node.store.items.get(item_id), 'x@y', 'hello')
        self.items[item_id]['comments'] += 1

    @precondition(lambda self: self.items)
    @rule(index=st.integers(0, 1000))
    def delete_item(self, index):
        item_id = self.pick(index)
        self.node.store.items.delete(self.node.store.items.get(item_id))
        del self.items[item_id]
        for members in self.albums.values():
            if item_id in members:
                members.remove(item_id)

    @precondition(lambda self: self.items)
    @rule(index=st.integers(0, 1000), name=st.sampled_from(ALBUMS))
    def join_album(self, index, name):
        """An item joins an album (made when there is none of that name)."""
        item_id = self.pick(index)
        albums = self.node.store.albums
        album = albums.by_name(name) or albums.create(name)
        albums.add_items(album, [item_id])
        members = self.albums.setdefault(name, [])
        if item_id not in members:
            members.append(item_id)
        self.log_state(item_id)

    @precondition(lambda self: any(self.albums.values()))
    @rule(index=st.integers(0, 1000))
    def leave_album(self, index):
        pairs = [(name, item_id) for name in sorted(self.albums) for item_id in self.albums[name]]
        name, item_id = pairs[index % len(pairs)]
        albums = self.node.store.albums
        albums.remove_items(albums.by_name(name), [item_id])
        self.albums[name].remove(item_id)
        self.log_state(item_id)

    @precondition(lambda self: self.albums and len(self.albums) < len(ALBUMS))
    @rule(index=st.integers(0, 1000), new=st.sampled_from(ALBUMS))
    def rename_album(self, index, new):
        old = sorted(self.albums)[index % len(self.albums)]
        if new in self.albums:
            return
        albums = self.node.store.albums
        albums.rename(albums.by_name(old), new)
        self.albums[new] = self.albums.pop(old)
        for item_id in self.albums[new]:
            self.log_state(item_id)

    @precondition(lambda self: self.albums)
    @rule(index=st.integers(0, 1000))
    def delete_album(self, index):
        name = sorted(self.albums)[index % len(self.albums)]
        albums = self.node.store.albums
        albums.delete(albums.by_name(name))
        for item_id in self.albums.pop(name):
            self.log_state(item_id)

    @precondition(lambda self: self.items)
    @rule(index=st.integers(0, 1000))
    def trash_item(self, index):
        item_id = self.pick(index)
        self.node.store.trash.move(self.node.store.items.get(item_id))
        self.trashed[item_id] = self.items.pop(item_id)

    @precondition(lambda self: self.trashed)
    @rule(index=st.integers(0, 1000))
    def restore_item(self, index):
        item_id = list(self.trashed)[index % len(self.trashed)]     # in the order they went (see pick)
        self.node.store.trash.restore(self.node.store.items.get(item_id))
        self.items[item_id] = self.trashed.pop(item_id)
        self.log_state(item_id)

    @rule(rules=st.sampled_from(RULE_SETS))
    def change_rules(self, rules):
        self.node.accounts.set_key_rules('reader', list(rules))
        self.rules = rules
        self.rules_changed = True

    # --- reads -------------------------------------------------------------------------------------

    @rule(limit=st.integers(1, 4))
    def read_one_page(self, limit):
        self.check_page(self.reader.read_page(limit))

    @rule(limit=st.integers(1, 4))
    def read_to_the_end(self, limit):
        page = self.reader.read_page(limit)
        self.check_page(page)
        while page['more']:
            page = self.reader.read_page(limit)
            self.check_page(page)
        self.check_reader_holds_exactly_what_the_key_may_see()

    def check_page(self, page):
        had_cursor = len(self.reader.pages) > 1
        assert page['reset'] is (self.rules_changed and had_cursor)
        self.rules_changed = False
        visible = self.visible_now()
        for item in page['items']:
            assert item['id'] in visible, 'a page lists an item the key may not see'
            self.assert_same_content(item, visible[item['id']], self.albums_of(item['id']))
        leaked = set(page['removed']) - self.ever_visible()
        assert not leaked, 'removed names items the key could never see: %s' % sorted(leaked)

    def check_reader_holds_exactly_what_the_key_may_see(self):
        visible = self.visible_now()
        assert set(self.reader.held) == set(visible)
        for item_id, item in self.reader.held.items():
            self.assert_same_content(item, visible[item_id], self.albums_of(item_id))

    @staticmethod
    def assert_same_content(item, state, albums):
        assert (item['title'], item['tags'], item['comments'], item['albums']) == (
            state['title'], state['tags'], state['comments'], albums)

    @invariant()
    def never_private_in_removed(self):
        always_private = {i for i, states in self.history.items() if all(private for private, _, _ in states)}
        assert not always_private & self.reader.removed_ever()


TestCatalogGuarantee = CatalogMachine.TestCase
TestCatalogGuarantee.settings = settings(max_examples=60, stateful_step_count=40, deadline=None,
                                         suppress_health_check=[HealthCheck.too_slow])


# --- pinned cases ----------------------------------------------------------------------------------


def reader_of(node, name='reader', rules=('*',)):
    return Reader(node.client, node.key(name, rules))


def test_item_made_private_after_a_read_is_listed_in_removed(node):
    item = node.add('a.mp4', title='A')
    reader = reader_of(node)
    reader.read_to_end()
    assert set(reader.held) == {item.id}
    node.store.items.edit(item, private=True)
    page = reader.read_to_end()[-1]
    assert page['removed'] == [item.id] and page['items'] == []
    assert reader.held == {}


def test_item_private_from_the_start_then_deleted_is_never_in_removed(node):
    secret = node.add('secret.mp4', private=True, tags=['a'])
    shown = node.add('shown.mp4', tags=['a'])
    reader = reader_of(node)
    reader.read_to_end()
    node.store.items.delete(secret)
    reader.read_to_end()
    assert secret.id not in reader.removed_ever()
    assert set(reader.held) == {shown.id}


def test_private_item_deleted_in_the_middle_of_a_paged_read_is_never_in_removed(node):
    shown = [node.add('s%d.mp4' % n) for n in range(2)]
    secret = node.add('secret.mp4', private=True)
    reader = reader_of(node)
    reader.read_page(1)
    node.store.items.delete(secret)
    reader.read_to_end(limit=1)
    assert secret.id not in reader.removed_ever()
    assert set(reader.held) == {i.id for i in shown}


def test_changed_rules_reset_the_reader(node):
    a = node.add('a.mp4', tags=['a'])
    node.add('b.mp4', tags=['b'])
    reader = reader_of(node)
    reader.read_to_end()
    assert len(reader.held) == 2
    node.accounts.set_key_rules('reader', ['tag:a'])
    page = reader.read_page(1000)
    assert page['reset'] is True
    reader.read_to_end()
    assert set(reader.held) == {a.id}
    assert reader.read_page(1000)['reset'] is False


def test_changed_rules_in_the_middle_of_a_paged_read_reset_the_reader(node):
    a = [node.add('a%d.mp4' % n, tags=['a']) for n in range(3)]
    node.add('b.mp4', tags=['b'])
    reader = reader_of(node)
    reader.read_page(1)
    node.accounts.set_key_rules('reader', ['tag:a'])
    assert reader.read_page(1)['reset'] is True
    reader.read_to_end(limit=1)
    assert set(reader.held) == {i.id for i in a}


def test_item_changed_between_pages_of_one_read(node):
    first = node.add('1.mp4', title='first', tags=['a'])
    second = node.add('2.mp4', title='second')
    third = node.add('3.mp4', title='third')
    reader = reader_of(node)
    assert [i['id'] for i in reader.read_page(1)['items']] == [first.id]
    node.store.items.edit(first, title='first, renamed', tags=['b'])   # already sent: must come again
    node.store.items.edit(third, private=True)                           # not sent yet: must never come
    node.store.items.edit(second, title='second, renamed')
    reader.read_to_end(limit=1)
    assert {i: (v['title'], v['tags']) for i, v in reader.held.items()} == {
        first.id: ('first, renamed', ['b']), second.id: ('second, renamed', [])}


def test_item_sent_then_hidden_in_the_middle_of_a_paged_read_is_removed(node):
    first = node.add('1.mp4')
    others = [node.add('%d.mp4' % n) for n in range(2, 5)]
    reader = reader_of(node)
    reader.read_page(1)
    assert set(reader.held) == {first.id}
    node.store.items.edit(first, private=True)
    reader.read_to_end(limit=1)
    assert set(reader.held) == {i.id for i in others}
    assert first.id in reader.removed_ever()


def test_item_retagged_into_then_out_of_the_rules_is_removed(node):
    item = node.add('x.mp4', tags=['b'])
    reader = reader_of(node, rules=['tag:a'])
    reader.read_to_end()
    assert reader.held == {}
    node.store.items.edit(item, tags=['a'])
    reader.read_to_end()
    assert set(reader.held) == {item.id}
    node.store.items.edit(item, tags=['c'])
    reader.read_to_end()
    assert reader.held == {}


def test_item_hidden_then_changed_again_behind_the_reader_is_removed(node):
    """The reader's last complete read decides what it may hold, not a later point in the current read."""
    hidden = node.add('x.mp4')
    other = node.add('w.mp4')
    reader = reader_of(node)
    reader.read_to_end()
    node.store.items.edit(hidden, private=True)
    node.store.items.edit(other, title='w, renamed')
    node.store.items.edit(hidden, title='x, renamed')
    reader.read_to_end(limit=1)
    assert set(reader.held) == {other.id}
    assert hidden.id in reader.removed_ever()


def test_cursor_of_a_revoked_key_is_not_honoured_for_a_reissued_key(node):
    """Key ids are SQLite rowids, reused after `key revoke`: a key re-issued under the same name with
    narrower rules got the old id and generation, so the old cursor was accepted without a reset and the
    reader kept items the new key may not see."""
    a = node.add('a.mp4', tags=['a'])
    node.add('b.mp4', tags=['b'])
    reader = reader_of(node, 'peer', ['*'])
    reader.read_to_end()
    assert len(reader.held) == 2
    node.accounts.revoke_key('peer')
    reader.headers = node.key('peer', ['tag:a'])
    reader.read_to_end()
    assert set(reader.held) == {a.id}


def test_item_that_leaves_a_shared_album_is_removed_and_a_renamed_album_takes_its_items_along(node):
    inside, outside = node.add('in.mp4'), node.add('out.mp4')
    album = node.store.albums.create('Trip', item_ids=[inside.id])
    reader = reader_of(node, rules=['album:Trip'])
    reader.read_to_end()
    assert set(reader.held) == {inside.id} and reader.held[inside.id]['albums'] == ['Trip']
    node.store.albums.add_items(album, [outside.id])
    node.store.albums.remove_items(album, [inside.id])
    reader.read_to_end()
    assert set(reader.held) == {outside.id} and inside.id in reader.removed_ever()
    node.store.albums.rename(album, 'Elsewhere')
    reader.read_to_end()
    assert reader.held == {}
    node.store.albums.rename(album, 'Trip')
    reader.read_to_end()
    assert set(reader.held) == {outside.id}
    node.store.albums.delete(album)
    reader.read_to_end()
    assert reader.held == {} and outside.id in reader.removed_ever()


def test_an_album_of_private_items_is_never_named_in_removed(node):
    secret = node.add('secret.mp4', private=True)
    album = node.store.albums.create('Trip', item_ids=[secret.id])
    reader = reader_of(node, rules=['album:Trip'])
    reader.read_to_end()
    node.store.albums.rename(album, 'Other')
    node.store.albums.delete(album)
    reader.read_to_end()
    assert reader.held == {} and secret.id not in reader.removed_ever()
