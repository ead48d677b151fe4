"""The SQL form of the visibility decision (`visible_filter`) agrees with `can_see` on random items."""
import tempfile

from conftest import NodeFixture
from hypothesis import given, settings
from hypothesis import strategies as st

import privtube_auth as auth

TAGS = ['a', 'b', 'c']
RULES = ['*', 'tag:a', 'tag:b', 'tag:c', 'origin:local', 'origin:alice']

items = st.lists(st.tuples(st.lists(st.sampled_from(TAGS), unique=True), st.booleans(), st.booleans(),
                           st.booleans()), max_size=8)
principals = st.tuples(st.sampled_from(['user', 'key']), st.lists(st.sampled_from(RULES), unique=True, max_size=3),
                       st.booleans())


@settings(max_examples=40, deadline=None)
@given(items, principals)
def test_sql_filter_equals_can_see(specs, caller):
    kind, rules, admin = caller
    with tempfile.TemporaryDirectory() as folder:
        fixture = NodeFixture(folder)
        owner = fixture.accounts.create_user('owner', 'password1')
        made = [fixture.add('f%d.mp4' % n, tags=tags, private=private) for n, (tags, private, _, _) in enumerate(specs)]
        for item, (_, _, owned, trashed) in zip(made, specs):
            if owned:
                fixture.node.database.Item.update(owner=owner.id).where(
                    fixture.node.database.Item.id == item.id).execute()
            if trashed:
                fixture.store.trash.move(fixture.store.items.get(item.id))
        principal = auth.Principal(kind, owner.id if kind == 'user' else 1, 'x', rules,
                                   is_admin=admin and kind == 'user')
        by_sql = {i.id for i in fixture.store.items.visible_query(principal)}
        by_python = {i.id for i in fixture.node.database.Item.select()
                     if auth.can_see(principal, i.private, fixture.store.items.tags_of(i.id), owner_id=i.owner_id,
                                     trashed=i.trashed)}
        fixture.close()
    assert by_sql == by_python
