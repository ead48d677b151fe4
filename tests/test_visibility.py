"""The SQL form of the visibility decision (`visible_filter`) agrees with `can_see` on random items, their
tags and their albums (joined, then an album renamed or deleted); and so do the albums' counts made from
the sums of their items' states."""
import tempfile

from conftest import NodeFixture
from hypothesis import given, settings
from hypothesis import strategies as st

import privtube_auth as auth

TAGS = ['a', 'b', 'c']
ALBUMS = ['Trip', 'Home']
RULES = ['*', 'tag:a', 'tag:b', 'tag:c', 'origin:local', 'origin:alice', 'album:Trip', 'album:Home',
         'album:2024 Summer trip']

items = st.lists(st.tuples(st.lists(st.sampled_from(TAGS), unique=True), st.booleans(), st.booleans(),
                           st.booleans(), st.lists(st.sampled_from(ALBUMS), unique=True)), max_size=8)
principals = st.tuples(st.sampled_from(['user', 'key']), st.lists(st.sampled_from(RULES), unique=True, max_size=3),
                       st.booleans())
album_changes = st.sampled_from(['none', 'rename Trip', 'delete Home'])


def make_albums(fixture, made, specs, change):
    """The albums the specs name, with their items; then one renamed or deleted."""
    albums = fixture.store.albums
    for name in ALBUMS:
        members = [item.id for item, spec in zip(made, specs) if name in spec[4]]
        if members:
            albums.create(name, item_ids=members)
    if change == 'rename Trip' and albums.by_name('Trip'):
        albums.rename(albums.by_name('Trip'), '2024 Summer trip')
    if change == 'delete Home' and albums.by_name('Home'):
        albums.delete(albums.by_name('Home'))


@settings(max_examples=40, deadline=None)
@given(items, principals, album_changes)
def test_sql_filter_equals_can_see(specs, caller, change):
    kind, rules, admin = caller
    with tempfile.TemporaryDirectory() as folder:
        fixture = NodeFixture(folder)
        owner = fixture.accounts.create_user('owner', 'password1')
        made = [fixture.add('f%d.mp4' % n, tags=spec[0], private=spec[1]) for n, spec in enumerate(specs)]
        for item, (_, _, owned, _, _) in zip(made, specs):
            if owned:
                fixture.node.database.Item.update(owner=owner.id).where(
                    fixture.node.database.Item.id == item.id).execute()
        make_albums(fixture, made, specs, change)
        for item, spec in zip(made, specs):
            if spec[3]:
                fixture.store.trash.move(fixture.store.items.get(item.id))
        principal = auth.Principal(kind, owner.id if kind == 'user' else 1, 'x', rules,
                                   is_admin=admin and kind == 'user')
        by_sql = {i.id for i in fixture.store.items.visible_query(principal)}
        by_python = {i.id for i in fixture.node.database.Item.select()
                     if auth.can_see(principal, i.private, fixture.store.items.tags_of(i.id), owner_id=i.owner_id,
                                     trashed=i.trashed, albums=fixture.store.albums.names_of(i.id))}
        albums = fixture.store.albums.listing()
        summed = [summary.count for summary in fixture.store.albums.summaries(principal, albums)]
        counted = [fixture.store.albums.visible_items(principal, album).count() for album in albums]
        fixture.close()
    assert by_sql == by_python
    assert summed == counted        # the albums' sums per state (AlbumStats) decide as the SQL filter does
