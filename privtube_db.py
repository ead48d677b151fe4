"""The node's SQLite database: schema versions, migrations and Peewee models.

Each node gets its own `Database` with its own model classes, so one process (a test, a benchmark) can
hold several isolated nodes. The schema is built by numbered SQL steps; `PRAGMA user_version` records
the last step applied, and an old database is upgraded on open, one logged transaction per step.
"""
import contextlib
import json
import logging
import os
import sqlite3

from peewee import (
    SQL,
    BooleanField,
    CompositeKey,
    DatabaseError,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    SqliteDatabase,
    TextField,
)

from privtube_items import ITEM_FIELDS, LISTS, json_list, now_iso

logger = logging.getLogger('privtube.db')

# busy_timeout first: the pragmas after it may wait for another process's write to finish
PRAGMAS = {'busy_timeout': 10000, 'journal_mode': 'wal', 'foreign_keys': 1, 'synchronous': 'full'}

MIGRATIONS = {
    1: [  # the content store, its change log and keys
        """CREATE TABLE item (
            id TEXT PRIMARY KEY, path TEXT UNIQUE, title TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '', mime TEXT NOT NULL, size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL,
            views INTEGER NOT NULL DEFAULT 0, comments INTEGER NOT NULL DEFAULT 0,
            duration REAL, width INTEGER, height INTEGER, thumbnail INTEGER NOT NULL DEFAULT 0,
            private INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL)""",
        "CREATE INDEX item_seq ON item (seq)",
        """CREATE TABLE item_tag (
            item_id TEXT NOT NULL REFERENCES item (id) ON DELETE CASCADE, tag TEXT NOT NULL,
            PRIMARY KEY (item_id, tag))""",
        "CREATE INDEX item_tag_tag ON item_tag (tag)",
        "CREATE TABLE tombstone (item_id TEXT PRIMARY KEY, seq INTEGER NOT NULL)",
        "CREATE INDEX tombstone_seq ON tombstone (seq)",
        """CREATE TABLE item_state (
            seq INTEGER PRIMARY KEY, item_id TEXT NOT NULL, private INTEGER NOT NULL,
            tags TEXT NOT NULL, deleted INTEGER NOT NULL)""",
        "CREATE INDEX item_state_item ON item_state (item_id, seq)",
        "CREATE TABLE counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
        "INSERT INTO counter (name, value) VALUES ('seq', 0)",
        """CREATE TABLE apikey (
            id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, token_hash TEXT NOT NULL UNIQUE,
            rules TEXT NOT NULL, manage INTEGER NOT NULL DEFAULT 0, generation INTEGER NOT NULL DEFAULT 1,
            created TEXT NOT NULL)""",
        """CREATE TABLE comment (
            id TEXT PRIMARY KEY, item_id TEXT NOT NULL REFERENCES item (id) ON DELETE CASCADE,
            author TEXT NOT NULL, body TEXT NOT NULL, created TEXT NOT NULL,
            key_id INTEGER REFERENCES apikey (id) ON DELETE SET NULL)""",
        "CREATE INDEX comment_item ON comment (item_id, created)",
    ],
    2: [  # local accounts and groups; items and comments gain an owning user
        """CREATE TABLE user (
            id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,
            is_admin INTEGER NOT NULL DEFAULT 0, created TEXT NOT NULL)""",
        "CREATE TABLE usergroup (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, rules TEXT NOT NULL)",
        """CREATE TABLE membership (
            user_id INTEGER NOT NULL REFERENCES user (id) ON DELETE CASCADE,
            group_id INTEGER NOT NULL REFERENCES usergroup (id) ON DELETE CASCADE,
            PRIMARY KEY (user_id, group_id))""",
        """INSERT INTO usergroup (name, rules) VALUES ('members', '["*"]')""",
        "ALTER TABLE item ADD COLUMN owner_id INTEGER REFERENCES user (id) ON DELETE SET NULL",
        "ALTER TABLE comment ADD COLUMN user_id INTEGER REFERENCES user (id) ON DELETE SET NULL",
    ],
    3: [  # views counted once per principal, viewer and item in a window
        """CREATE TABLE view_mark (
            item_id TEXT NOT NULL REFERENCES item (id) ON DELETE CASCADE, principal TEXT NOT NULL,
            viewer TEXT NOT NULL, counted_at REAL NOT NULL, PRIMARY KEY (item_id, principal, viewer))""",
    ],
    4: [  # web sessions, node-made secrets and full-text search
        "CREATE TABLE secret (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE session (
            id_hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES user (id) ON DELETE CASCADE,
            csrf TEXT NOT NULL, created REAL NOT NULL, last_seen REAL NOT NULL)""",
        """CREATE VIRTUAL TABLE item_fts USING fts5(
            item_id UNINDEXED, title, description, tags, origin,
            tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')""",
        """INSERT INTO item_fts (rowid, item_id, title, description, tags, origin)
            SELECT rowid, id, title, description,
                   coalesce((SELECT group_concat(tag, ' ') FROM item_tag WHERE item_id = item.id), ''), 'local'
            FROM item""",
    ],
    5: [  # indexes for the home page's recent and most viewed lists
        "CREATE INDEX item_created ON item (created)",
        "CREATE INDEX item_views ON item (views)",
    ],
    6: [  # the registry: items of peers (id "ORIGIN:ID", no path) and each peer's sync state
        "ALTER TABLE item ADD COLUMN origin TEXT NOT NULL DEFAULT 'local'",
        "CREATE INDEX item_origin ON item (origin)",
        """CREATE TABLE peer (
            name TEXT PRIMARY KEY, cursor TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT 'never synced',
            last_attempt REAL, last_success REAL, last_error TEXT NOT NULL DEFAULT '',
            item_count INTEGER NOT NULL DEFAULT 0)""",
    ],
    7: [  # catalog reads walk this node's own items in change order
        "CREATE INDEX item_origin_seq ON item (origin, seq)",
    ],
    8: [  # what probing found in each file, and whether it is still to be probed
        "ALTER TABLE item ADD COLUMN container TEXT",
        "ALTER TABLE item ADD COLUMN codecs TEXT",
        "ALTER TABLE item ADD COLUMN media_state TEXT NOT NULL DEFAULT 'pending'",
        "ALTER TABLE item ADD COLUMN media_error TEXT NOT NULL DEFAULT ''",
        "UPDATE item SET media_state = 'done' WHERE origin != 'local'",
        "CREATE INDEX item_media_state ON item (media_state)",
    ],
    9: [  # probe every file again with the reader that opens only the item's file (older probes could be
          # made to read other files, and stored the tools' error text, server paths included)
        "UPDATE item SET media_state = 'pending', media_error = '' WHERE origin = 'local'",
    ],
    10: [  # albums (folders, music, hand-made; peers' by name), when items were taken, content hashes, trash
        """CREATE TABLE album (
            id TEXT PRIMARY KEY, origin TEXT NOT NULL DEFAULT 'local', name TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT 'made', folder TEXT, description TEXT NOT NULL DEFAULT '',
            cover_id TEXT REFERENCES item (id) ON DELETE SET NULL,
            owner_id INTEGER REFERENCES user (id) ON DELETE SET NULL,
            created TEXT NOT NULL, updated TEXT NOT NULL, UNIQUE (origin, name))""",
        "CREATE UNIQUE INDEX album_folder ON album (folder) WHERE folder IS NOT NULL",
        """CREATE TABLE album_item (
            album_id TEXT NOT NULL REFERENCES album (id) ON DELETE CASCADE,
            item_id TEXT NOT NULL REFERENCES item (id) ON DELETE CASCADE,
            position INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (album_id, item_id))""",
        "CREATE INDEX album_item_item ON album_item (item_id, album_id)",
        "ALTER TABLE item_state ADD COLUMN albums TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE item ADD COLUMN taken TEXT",
        "ALTER TABLE item ADD COLUMN taken_source TEXT",
        "ALTER TABLE item ADD COLUMN content_hash TEXT",
        "ALTER TABLE item ADD COLUMN trashed REAL",
        "CREATE INDEX item_taken ON item (taken)",
        "CREATE INDEX item_content_hash ON item (content_hash)",
        "CREATE INDEX item_trashed ON item (trashed) WHERE trashed IS NOT NULL",
    ],
    11: [  # search matches album names: the full-text table again, with the names of each item's albums
        "DROP TABLE item_fts",
        """CREATE VIRTUAL TABLE item_fts USING fts5(
            item_id UNINDEXED, title, description, tags, origin, albums,
            tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')""",
        """INSERT INTO item_fts (rowid, item_id, title, description, tags, origin, albums)
            SELECT rowid, id, title, description,
                   coalesce((SELECT group_concat(tag, ' ') FROM item_tag WHERE item_id = item.id), ''), origin,
                   coalesce((SELECT group_concat(album.name, ' ') FROM album_item JOIN album
                             ON album.id = album_item.album_id WHERE album_item.item_id = item.id), '')
            FROM item""",
        # an album's first item it may show (its cover) without sorting every item of the album
        "CREATE INDEX album_item_position ON album_item (album_id, position)",
    ],
    12: [  # the timeline walks items by when they were taken (else added), newest first, a page at a time
        "CREATE INDEX item_when ON item (coalesce(taken, created), id)",
    ],
    13: [  # photos get display previews; songs their tags; videos subtitles and a remuxed copy; where
           # each person stopped watching
        "ALTER TABLE item ADD COLUMN preview INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE item ADD COLUMN artist TEXT",
        "ALTER TABLE item ADD COLUMN album_artist TEXT",
        "ALTER TABLE item ADD COLUMN music_album TEXT",
        "ALTER TABLE item ADD COLUMN disc INTEGER",
        "ALTER TABLE item ADD COLUMN track INTEGER",
        "ALTER TABLE item ADD COLUMN year INTEGER",
        "ALTER TABLE item ADD COLUMN subtitles TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE item ADD COLUMN remux TEXT",
        """CREATE TABLE playback (
            user_id INTEGER NOT NULL REFERENCES user (id) ON DELETE CASCADE,
            item_id TEXT NOT NULL REFERENCES item (id) ON DELETE CASCADE,
            position REAL NOT NULL DEFAULT 0, duration REAL, finished INTEGER NOT NULL DEFAULT 0,
            updated REAL NOT NULL, PRIMARY KEY (user_id, item_id))""",
        "CREATE INDEX playback_recent ON playback (user_id, updated)",
    ],
    14: [  # search finds songs by artist and album: the full-text table again, with their tags' names
        "DROP TABLE item_fts",
        """CREATE VIRTUAL TABLE item_fts USING fts5(
            item_id UNINDEXED, title, description, tags, origin, albums, artist,
            tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')""",
        """INSERT INTO item_fts (rowid, item_id, title, description, tags, origin, albums, artist)
            SELECT rowid, id, title, description,
                   coalesce((SELECT group_concat(tag, ' ') FROM item_tag WHERE item_id = item.id), ''), origin,
                   coalesce((SELECT group_concat(album.name, ' ') FROM album_item JOIN album
                             ON album.id = album_item.album_id WHERE album_item.item_id = item.id), ''),
                   trim(coalesce(artist, '') || ' ' || coalesce(album_artist, '') || ' ' || coalesce(music_album, ''))
            FROM item""",
        # songs probed before tags were read are probed again, so they get their tags and music albums
        "UPDATE item SET media_state = 'pending' WHERE origin = 'local' AND mime LIKE 'audio/%' AND artist IS NULL",
    ],
    15: [  # probe local videos of containers that carry text subtitles again: their tracks are offered now
        "UPDATE item SET media_state = 'pending', media_error = '' WHERE origin = 'local' AND trashed IS NULL "
        "AND media_state = 'done' AND mime IN ('video/mp4', 'video/quicktime', 'video/webm', 'video/x-matroska')",
    ],
    16: [  # photos are read by Pillow now: upright thumbnails, display previews owed after them, and the
           # HEIC photos once sniffed as MP4 videos known for what they are
        "ALTER TABLE item ADD COLUMN preview_owed INTEGER NOT NULL DEFAULT 0",
        """UPDATE item SET mime = CASE WHEN lower(path) LIKE '%.heif' THEN 'image/heif' ELSE 'image/heic' END
           WHERE origin = 'local' AND mime = 'video/mp4'
             AND (lower(path) LIKE '%.heic' OR lower(path) LIKE '%.heif')""",
        """UPDATE item SET media_state = 'pending', media_error = '' WHERE origin = 'local'
           AND mime IN ('image/jpeg', 'image/png', 'image/gif', 'image/webp', 'image/heic', 'image/heif')""",
        "CREATE INDEX item_preview_owed ON item (preview_owed) WHERE preview_owed",
    ],
    17: [  # what's new: when each item arrived on this node (a peer's `created` is the peer's time), each
           # person's visits of the home page and their e-mail digest (privtube_news); IF NOT EXISTS: tests
           # set an older user_version on a new database and upgrade it again
        """CREATE TABLE IF NOT EXISTS item_arrival (
            item_id TEXT PRIMARY KEY REFERENCES item (id) ON DELETE CASCADE, arrived REAL NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS item_arrival_arrived ON item_arrival (arrived)",
        "INSERT OR IGNORE INTO item_arrival (item_id, arrived) "
        "SELECT id, coalesce(CAST(strftime('%s', created) AS REAL), 0) FROM item",
        # an upsert that updates a row fires no INSERT trigger: only items new to this node get a time
        """CREATE TRIGGER IF NOT EXISTS item_arrived AFTER INSERT ON item BEGIN
            INSERT OR IGNORE INTO item_arrival (item_id, arrived)
            VALUES (new.id, (julianday('now') - 2440587.5) * 86400.0); END""",
        """CREATE TABLE IF NOT EXISTS news_reader (
            user_id INTEGER PRIMARY KEY REFERENCES user (id) ON DELETE CASCADE,
            last_seen_home REAL, previous_visit REAL, email TEXT NOT NULL DEFAULT '',
            digest TEXT NOT NULL DEFAULT 'none', last_digest REAL)""",
    ],
    18: [  # share links (privtube_shares): one item or album for someone without an account; the token is
           # stored only as its hash, and the link dies with its maker, its item or its album
        """CREATE TABLE IF NOT EXISTS share (
            id INTEGER PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE,
            item_id TEXT REFERENCES item (id) ON DELETE CASCADE,
            album_id TEXT REFERENCES album (id) ON DELETE CASCADE,
            created_by INTEGER NOT NULL REFERENCES user (id) ON DELETE CASCADE,
            created REAL NOT NULL, expires REAL NOT NULL, password_hash TEXT,
            allow_download INTEGER NOT NULL DEFAULT 0, revoked REAL, opens INTEGER NOT NULL DEFAULT 0,
            secret TEXT NOT NULL,
            CHECK ((item_id IS NULL) != (album_id IS NULL)))""",
        "CREATE INDEX IF NOT EXISTS share_by_maker ON share (created_by, created)",
    ],
    19: [  # password reset links an admin sends: only the token's hash is kept, one-time and expiring
        """CREATE TABLE IF NOT EXISTS password_reset (
            token_hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES user (id) ON DELETE CASCADE,
            created REAL NOT NULL, expires REAL NOT NULL)""",
    ],
    20: [  # pairing links (privtube_pairing): only the token's hash, the rules the joining node will get
        """CREATE TABLE IF NOT EXISTS pairing (
            id INTEGER PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, rules TEXT NOT NULL, created REAL NOT NULL,
            expires REAL NOT NULL, used REAL, revoked REAL, peer TEXT NOT NULL DEFAULT '')""",
    ],
    21: [  # invite links (one-time, expiring, with the groups the newcomer joins); user names unique
           # regardless of case: triggers, not a unique index, so a database that already holds `Grandma` and
           # `grandma` still upgrades (both stay; no third one may come)
        """CREATE TABLE invite (
            id INTEGER PRIMARY KEY AUTOINCREMENT, token_hash TEXT NOT NULL UNIQUE, groups TEXT NOT NULL,
            created_by_id INTEGER REFERENCES user (id) ON DELETE SET NULL, created REAL NOT NULL,
            expires REAL NOT NULL, used_at REAL, used_by_id INTEGER REFERENCES user (id) ON DELETE SET NULL,
            revoked REAL)""",
        "CREATE INDEX user_name_lower ON user (lower(name))",
        """CREATE TRIGGER user_name_unique_insert BEFORE INSERT ON user
            WHEN EXISTS (SELECT 1 FROM user WHERE lower(name) = lower(NEW.name))
            BEGIN SELECT RAISE(ABORT, 'a user of that name already exists'); END""",
        """CREATE TRIGGER user_name_unique_update BEFORE UPDATE OF name ON user
            WHEN EXISTS (SELECT 1 FROM user WHERE lower(name) = lower(NEW.name) AND id != NEW.id)
            BEGIN SELECT RAISE(ABORT, 'a user of that name already exists'); END""",
    ],
    22: [  # app passwords for WebDAV (privtube_dav): named per person, only the token's hash kept
        """CREATE TABLE app_password (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id INTEGER NOT NULL REFERENCES user (id) ON DELETE CASCADE,
            name TEXT NOT NULL COLLATE NOCASE, token_hash TEXT NOT NULL UNIQUE,
            created REAL NOT NULL, last_used REAL, UNIQUE (user_id, name))""",
    ],
}
SCHEMA_VERSION = max(MIGRATIONS)


class NodeDatabase(SqliteDatabase):
    """SqliteDatabase whose transactions take the write lock at BEGIN (IMMEDIATE).

    A deferred transaction that reads and then writes cannot wait for another writer in WAL mode: it
    fails at once with 'database is locked'. Read-only snapshots ask for atomic('DEFERRED').
    """

    def atomic(self, lock_type='IMMEDIATE'):
        return super().atomic(lock_type=lock_type)


class SchemaError(Exception):
    """The database file is newer than this program or cannot be opened."""


def migrate(db, target=SCHEMA_VERSION):
    """Apply every missing step up to `target`, each in its own transaction; one line at info says what
    happened to the database (created, or upgraded from which schema), each step one at debug."""
    current = db.execute_sql('PRAGMA user_version').fetchone()[0]
    if current > SCHEMA_VERSION:
        raise SchemaError('%s: schema version %d is newer than this privtube (%d)'
                          % (db.database, current, SCHEMA_VERSION))
    steps = sorted(step for step in MIGRATIONS if current < step <= target)    # numbers may skip
    for version in steps:
        with db.atomic():
            for statement in MIGRATIONS.get(version, ()):    # numbers may be held for steps still unmerged
                db.execute_sql(statement)
            db.execute_sql('PRAGMA user_version = %d' % version)
        logger.debug('database %s: schema step %d applied', db.database, version)
    if steps and current == 0:
        logger.info('database created at %s (schema %d)', db.database, steps[-1])
    elif steps:
        logger.info('database %s upgraded from schema %d to %d', db.database, current, steps[-1])


class Database:
    """One node's database and the model classes bound to it."""

    def __init__(self, path, target=SCHEMA_VERSION):
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        self.path = path
        self.db = NodeDatabase(path, pragmas=PRAGMAS)
        try:
            with self.db.connection_context():
                migrate(self.db, target)
        except (sqlite3.DatabaseError, DatabaseError, OSError) as exc:
            raise SchemaError('%s: cannot open database: %s' % (path, exc))
        define_models(self)

    def next_seq(self):
        """Take the next change number; call inside the transaction that makes the change."""
        return self.db.execute_sql(
            "UPDATE counter SET value = value + 1 WHERE name = 'seq' RETURNING value").fetchone()[0]

    def next_seqs(self, count):
        """Take `count` consecutive change numbers at once (for changes to many items); returns the first."""
        last = self.db.execute_sql(
            "UPDATE counter SET value = value + ? WHERE name = 'seq' RETURNING value", (count,)).fetchone()[0]
        return last - count + 1

    @contextlib.contextmanager
    def serving(self):
        """The database for one request: this thread's connection, opened on the thread's first request
        and kept for the next (opening one and setting its pragmas costs more than most queries)."""
        self.db.connect(reuse_if_open=True)
        try:
            yield
        finally:
            if self.db.in_transaction():        # never carry an open transaction into the next request
                self.db.rollback()

    def close(self):
        if not self.db.is_closed():
            self.db.close()


class PathField(TextField):
    """A file's path inside the media folder. A name that is not UTF-8 (decoded by Python with surrogate
    escapes) is stored as its bytes, a BLOB, so every file on disk can be indexed and found again."""

    def db_value(self, value):
        if isinstance(value, str):
            try:
                value.encode('utf-8')
            except UnicodeEncodeError:
                return value.encode('utf-8', 'surrogateescape')
        return value

    def python_value(self, value):
        return value.decode('utf-8', 'surrogateescape') if isinstance(value, bytes) else value


def among(values):
    """The right side of `column.in_(among(ids))`: the values as ONE parameter, a JSON array SQLite reads
    with json_each. Peewee compiles a Python list to one parameter per value; for a catalog page of 1,000
    ids that took longer than running the query, and no list can pass SQLite's limit of parameters."""
    return SQL('(SELECT value FROM json_each(?))', [json.dumps(list(values))])


class Prepared:
    """A Peewee query built once and run with other values for its stand-ins (values of the query that are
    found in its parameters and replaced at each run): building the visibility filter's SQL costs ten
    times more than running it (the timeline runs one query a year shown; a search page runs two)."""

    def __init__(self, db, query, *stand_ins):
        self.db = db
        self.sql, self.params = query.sql()
        self.at = [self.params.index(stand_in) for stand_in in stand_ins]

    def values(self, *values):
        """The parameters of a run whose stand-ins take `values`, in their order."""
        params = list(self.params)
        for at, value in zip(self.at, values):
            params[at] = value
        return params

    def cursor(self, values):
        return self.db.execute_sql(self.sql, self.values(*values))

    def first(self, *values):
        return self.cursor(values).fetchone()

    def all(self, *values):
        return self.cursor(values).fetchall()


class JsonListField(TextField):
    """A list kept as JSON text in its column (peers' lists are stored as the catalog sent them)."""

    def db_value(self, value):
        return value if isinstance(value, str) else json.dumps(list(value or []), separators=(',', ':'))

    def python_value(self, value):
        return value if isinstance(value, list) else json_list(value)


COLUMN_TYPES = {'id': TextField, 'text': TextField, 'date': TextField, 'mime': TextField, 'path': PathField,
                'int': IntegerField, 'real': FloatField, 'bool': BooleanField,
                'subtitles': JsonListField}


def item_columns(User):
    """The item model's fields, from the item table of privtube_items (tags live in their own table)."""
    return {field.name: column(field, User) for field in ITEM_FIELDS if field.kind not in LISTS}


def column(field, User):
    options = {'null': field.null}
    if field.default is not None:
        options['default'] = field.default
    if field.kind == 'user':
        return ForeignKeyField(User, on_delete='SET NULL', **options)
    return COLUMN_TYPES[field.kind](primary_key=field.kind == 'id', unique=field.kind == 'path', **options)


def define_models(holder):
    """Create the model classes bound to `holder.db` and set them as attributes of `holder`."""

    class Base(Model):
        class Meta:
            database = holder.db
            legacy_table_names = False

    people = account_models(Base)
    content = content_models(Base, people['User'])
    node = node_models(Base, people['User'], content)
    for name, model in {**people, **content, **node}.items():
        setattr(holder, name, model)


def account_models(Base):
    """Who signs in and the groups they are in."""

    class User(Base):
        name = TextField(unique=True)
        password_hash = TextField()
        is_admin = BooleanField(default=False)
        created = TextField(default=now_iso)

    class UserGroup(Base):
        name = TextField(unique=True)
        rules = TextField()

        class Meta:
            table_name = 'usergroup'

    class Membership(Base):
        user = ForeignKeyField(User, on_delete='CASCADE')
        group = ForeignKeyField(UserGroup, on_delete='CASCADE')

        class Meta:
            primary_key = CompositeKey('user', 'group')

    class PasswordReset(Base):
        """A one-time link to choose a new password (admin pages): the token's hash, whose and until when."""
        token_hash = TextField(primary_key=True)
        user = ForeignKeyField(User, on_delete='CASCADE')
        created = FloatField()
        expires = FloatField()

    class Invite(Base):
        """A one-time invite link: only its token's hash is kept; `groups` are the names the newcomer joins."""
        token_hash = TextField(unique=True)
        groups = JsonListField()
        created_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created = FloatField()
        expires = FloatField()
        used_at = FloatField(null=True)
        used_by = ForeignKeyField(User, null=True, on_delete='SET NULL', backref='invites_used')
        revoked = FloatField(null=True)

    return {'User': User, 'UserGroup': UserGroup, 'Membership': Membership, 'Invite': Invite,
            'PasswordReset': PasswordReset}


def content_models(Base, User):
    """Items, their tags and the change log peers read."""
    # the item's fields are a table, so its class is made from that table
    Item = type('Item', (Base,), dict(item_columns(User), is_local=property(lambda item: item.origin == 'local')))

    class ItemTag(Base):
        item = ForeignKeyField(Item, on_delete='CASCADE')
        tag = TextField()

        class Meta:
            primary_key = CompositeKey('item', 'tag')

    class Tombstone(Base):
        item_id = TextField(primary_key=True)
        seq = IntegerField()

    class ItemState(Base):
        seq = IntegerField(primary_key=True)
        item_id = TextField()
        private = BooleanField()
        tags = TextField()
        deleted = BooleanField()
        albums = TextField(default='')      # names, one a line: membership decides visibility as tags do

    class Album(Base):
        id = TextField(primary_key=True)
        origin = TextField(default='local')
        name = TextField()                  # what `album:NAME` rules and catalogs name; unique per origin
        kind = TextField(default='made')    # 'folder', 'music' or 'made'
        folder = TextField(null=True)       # a folder album's path inside the media folder
        description = TextField(default='')
        cover = ForeignKeyField(Item, null=True, on_delete='SET NULL', column_name='cover_id')
        owner = ForeignKeyField(User, null=True, on_delete='SET NULL')
        created = TextField(default=now_iso)
        updated = TextField(default=now_iso)

    class AlbumItem(Base):
        album = ForeignKeyField(Album, on_delete='CASCADE')
        item = ForeignKeyField(Item, on_delete='CASCADE')
        position = IntegerField(default=0)

        class Meta:
            primary_key = CompositeKey('album', 'item')

    return {'Item': Item, 'ItemTag': ItemTag, 'Tombstone': Tombstone, 'ItemState': ItemState, 'Album': Album,
            'AlbumItem': AlbumItem}


def node_models(Base, User, content):
    """Keys, comments, views, sessions, secrets and peers."""
    Item = content['Item']

    class ApiKey(Base):
        name = TextField(unique=True)
        token_hash = TextField(unique=True)
        rules = TextField()
        manage = BooleanField(default=False)
        generation = IntegerField(default=1)
        created = TextField(default=now_iso)

        class Meta:
            table_name = 'apikey'

    class Comment(Base):
        id = TextField(primary_key=True)
        item = ForeignKeyField(Item, on_delete='CASCADE')
        author = TextField()
        body = TextField()
        created = TextField(default=now_iso)
        key = ForeignKeyField(ApiKey, null=True, on_delete='SET NULL')
        user = ForeignKeyField(User, null=True, on_delete='SET NULL')

    class ViewMark(Base):
        item = ForeignKeyField(Item, on_delete='CASCADE')
        principal = TextField()
        viewer = TextField()
        counted_at = FloatField()

        class Meta:
            primary_key = CompositeKey('item', 'principal', 'viewer')

    class Secret(Base):
        name = TextField(primary_key=True)
        value = TextField()

    class Session(Base):
        id_hash = TextField(primary_key=True)
        user = ForeignKeyField(User, on_delete='CASCADE')
        csrf = TextField()
        created = FloatField()
        last_seen = FloatField()

    class Peer(Base):
        name = TextField(primary_key=True)
        cursor = TextField(default='')
        status = TextField(default='never synced')
        last_attempt = FloatField(null=True)
        last_success = FloatField(null=True)
        last_error = TextField(default='')
        item_count = IntegerField(default=0)

    class Playback(Base):
        """Where a person stopped in an item (theirs or a peer's), kept on their own node."""
        user = ForeignKeyField(User, on_delete='CASCADE')
        item = ForeignKeyField(Item, on_delete='CASCADE')
        position = FloatField(default=0)
        duration = FloatField(null=True)
        finished = BooleanField(default=False)
        updated = FloatField()

        class Meta:
            primary_key = CompositeKey('user', 'item')

    return {'ApiKey': ApiKey, 'Comment': Comment, 'ViewMark': ViewMark, 'Secret': Secret, 'Session': Session,
            'Peer': Peer, 'Playback': Playback}
