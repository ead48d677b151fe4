"""The item's shape is written once: the migrations build the tables the models describe, and every field the
item table says peers send is checked and stored, so a new field is a line of the table and a migration step."""
import pytest
from test_hostile_peers import GOOD_ID, FakePeer, home_reading, item, page

import privtube_auth
import privtube_items
from privtube_db import Database
from privtube_items import PEER_VALUES, row_json

SQLITE_TYPES = {'TEXT': 'TEXT', 'INT': 'INTEGER', 'AUTO': 'INTEGER', 'FLOAT': 'REAL', 'BOOL': 'INTEGER'}
MODELS = ('User', 'UserGroup', 'Membership', 'Item', 'ItemTag', 'Tombstone', 'ItemState', 'ApiKey', 'Comment',
          'ViewMark', 'Secret', 'Session', 'Peer', 'Album', 'AlbumItem')


@pytest.fixture(scope='module')
def database(tmp_path_factory):
    made = Database(str(tmp_path_factory.mktemp('fresh') / 'fresh.db'))
    yield made
    made.close()


def migrated_columns(database, table):
    """{column: (type, nullable, default)} of a table as the migrations made it; a key column's nullability
    is the key's."""
    rows = database.db.execute_sql('PRAGMA table_info(%s)' % table).fetchall()
    return {name: (kind, not notnull and not key, default) for _, name, kind, notnull, default, key in rows}


def modelled_columns(model):
    keys = {field.column_name for field in model._meta.get_primary_keys()}
    return {field.column_name: (SQLITE_TYPES[field.field_type], field.null and field.column_name not in keys,
                                sql_default(field.default)) for field in model._meta.sorted_fields}


def sql_default(value):
    """A model's default as the migration would write it (None: none, or one the node computes)."""
    if value is None or callable(value):
        return None
    return "'%s'" % value if isinstance(value, str) else str(int(value))


@pytest.mark.parametrize('name', MODELS)
def test_the_migrated_tables_are_the_models(database, name):
    model = getattr(database, name)
    migrated, modelled = migrated_columns(database, model._meta.table_name), modelled_columns(model)
    assert migrated.keys() == modelled.keys()
    for column, (kind, nullable, default) in modelled.items():
        assert migrated[column][:2] == (kind, nullable), column
        if default is not None:     # a peer's row is inserted in SQL: it gets the migration's default
            assert migrated[column][2] == default, column


def test_every_item_column_is_in_the_item_table(database):
    columns = {row[1] for row in database.db.execute_sql('PRAGMA table_info(item)').fetchall()}
    assert columns == {field.name + ('_id' if field.kind == 'user' else '') for field in privtube_items.COLUMNS}


# a value of each kind a peer may send, and one it may not
VALID = {'text': lambda field: 'T' * field.limit, 'date': lambda field: '2026-02-03T04:05:06Z',
         'mime': lambda field: 'audio/ogg', 'int': lambda field: 12345, 'real': lambda field: 12.5,
         'bool': lambda field: True, 'tags': lambda field: ['alpha', 'beta'],
         'albums': lambda field: ['2024 Summer trip', 'Holidays/Grandma 80th'],
         'subtitles': lambda field: [{'id': 's1', 'lang': 'en', 'label': 'English'},
                                     {'id': 'film-de-forced', 'lang': 'de', 'label': 'Deutsch (forced)'}]}
INVALID = {'text': lambda field: 'T' * (field.limit + 1), 'date': lambda field: 'D' * (field.limit + 1),
           'mime': lambda field: 'not a mime', 'int': lambda field: -1, 'real': lambda field: 'long',
           'bool': lambda field: 'yes', 'tags': lambda field: 'alpha', 'albums': lambda field: ['line\nbreak'],
           'subtitles': lambda field: [{'id': '../etc/passwd', 'lang': 'en', 'label': 'x'}]}


@pytest.fixture
def peer(network):
    evil = FakePeer(page([item()]))
    return home_reading(network, evil), evil


def stored(home, name):
    row = home.node.database.Item.get_by_id('evil:' + GOOD_ID)
    tags, albums = home.store.items.tags_of(row.id), home.store.albums.names_of(row.id)
    lists = {'tags': tags, 'albums': albums}
    return lists[name] if name in lists else getattr(row, name), row_json(row.__data__, tags, albums)[name]


@pytest.mark.parametrize('field', PEER_VALUES, ids=[field.name for field in PEER_VALUES])
def test_every_field_peers_send_is_stored_and_listed(peer, field):
    home, evil = peer
    value = VALID[field.kind](field)
    evil.catalog = page([item(**{field.name: value})])
    assert home.node.registry.sync('evil')[0]
    assert stored(home, field.name) == (value, value)


@pytest.mark.parametrize('field', PEER_VALUES, ids=[field.name for field in PEER_VALUES])
def test_every_field_peers_send_is_checked(peer, field):
    home, evil = peer
    before = stored(home, field.name)
    evil.catalog = page([item(**{field.name: INVALID[field.kind](field)})])
    ok, message = home.node.registry.sync('evil')
    assert not ok and 'invalid' in message, message
    assert stored(home, field.name) == before


def test_forms_take_their_maxlength_from_the_limits(node):
    viewer = node.sign_in('ann', admin=True)
    page_text = viewer.get('/upload').text
    assert 'name="title" maxlength="%d"' % privtube_items.MAX_TITLE in page_text
    assert 'maxlength="%d"' % privtube_items.MAX_DESCRIPTION in page_text
    login = node.client.get('/login').text
    assert 'maxlength="%d"' % privtube_auth.MAX_NAME in login and 'maxlength="%d"' % privtube_auth.MAX_PASSWORD in login
