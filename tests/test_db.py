"""Schema versions: a database of the first version is upgraded on open without losing rows."""
import sqlite3

import pytest
from peewee import SqliteDatabase

import privtube_db
from privtube_db import Database, SchemaError, migrate


def first_version_database(path):
    db = SqliteDatabase(path, pragmas=privtube_db.PRAGMAS)
    migrate(db, target=1)
    db.execute_sql("INSERT INTO item (id, path, title, mime, size, mtime_ns, created, updated, seq) "
                   "VALUES ('AAAAAAAAAAAAAAAAAAAAAA', 'a.mp4', 'Old film', 'video/mp4', 10, 1, "
                   "'2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 1)")
    db.execute_sql("INSERT INTO item_tag (item_id, tag) VALUES ('AAAAAAAAAAAAAAAAAAAAAA', 'family')")
    db.execute_sql("INSERT INTO apikey (name, token_hash, rules, created) VALUES ('bob', 'h', '[\"*\"]', 'x')")
    db.execute_sql("INSERT INTO comment (id, item_id, author, body, created, key_id) "
                   "VALUES ('c1', 'AAAAAAAAAAAAAAAAAAAAAA', 'al@bob', 'hi', 'x', 1)")
    db.close()


def test_first_version_upgrades_without_losing_rows(tmp_path):
    path = str(tmp_path / 'old.db')
    first_version_database(path)
    database = Database(path)
    assert database.db.execute_sql('PRAGMA user_version').fetchone()[0] == privtube_db.SCHEMA_VERSION
    item = database.Item.get_by_id('AAAAAAAAAAAAAAAAAAAAAA')
    assert (item.title, item.owner_id) == ('Old film', None)
    assert [t.tag for t in database.ItemTag.select()] == ['family']
    assert database.Comment.get_by_id('c1').key.name == 'bob'
    assert database.UserGroup.get(database.UserGroup.name == 'members').rules == '["*"]'
    database.close()


def test_reopening_a_current_database_changes_nothing(tmp_path):
    path = str(tmp_path / 'n.db')
    Database(path).close()
    database = Database(path)
    assert database.UserGroup.select().count() == 1
    database.close()


def test_pragmas_are_in_force(tmp_path):
    database = Database(str(tmp_path / 'n.db'))
    with database.db.connection_context():
        assert database.db.execute_sql('PRAGMA journal_mode').fetchone()[0] == 'wal'
        assert database.db.execute_sql('PRAGMA foreign_keys').fetchone()[0] == 1
        assert database.db.execute_sql('PRAGMA busy_timeout').fetchone()[0] >= 5000
    database.close()


def test_newer_database_is_refused_not_recreated(tmp_path):
    path = str(tmp_path / 'future.db')
    conn = sqlite3.connect(path)
    conn.execute('PRAGMA user_version = 999')
    conn.close()
    with pytest.raises(SchemaError, match='newer'):
        Database(path)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    path = tmp_path / 'junk.db'
    path.write_bytes(b'this is not sqlite' * 100)
    with pytest.raises(SchemaError, match='cannot open database'):
        Database(str(path))
    assert path.read_bytes().startswith(b'this is not sqlite')


def test_opening_while_another_connection_writes_does_not_fail(tmp_path):
    """Regression: `backup` (and any command) failed with 'database is locked' while serve was writing."""
    import threading
    path = str(tmp_path / 'busy.db')
    Database(path).close()
    stop = threading.Event()

    def write():
        conn = sqlite3.connect(path, timeout=30)
        while not stop.is_set():
            with conn:
                conn.execute("UPDATE counter SET value = value + 1 WHERE name = 'seq'")
            stop.wait(0.002)      # a busy node: short writes, one after another
        conn.close()
    writer = threading.Thread(target=write)
    writer.start()
    try:
        for _ in range(30):
            database = Database(path)
            with database.db.connection_context():
                with database.db.atomic():
                    database.db.execute_sql('SELECT count(*) FROM item').fetchone()   # read, then write
                    database.next_seq()
            database.close()
    finally:
        stop.set()
        writer.join()


def test_step_11_writes_the_album_names_of_older_items_into_the_search_index(tmp_path):
    path = str(tmp_path / 'ten.db')
    db = SqliteDatabase(path, pragmas=privtube_db.PRAGMAS)
    migrate(db, target=10)
    db.execute_sql("INSERT INTO item (id, path, title, mime, size, mtime_ns, created, updated, seq) "
                   "VALUES ('AAAAAAAAAAAAAAAAAAAAAA', 'a.mp4', 'Beach', 'video/mp4', 10, 1, "
                   "'2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 1)")
    db.execute_sql("INSERT INTO album (id, name, created, updated) VALUES ('BBBBBBBBBBBBBBBBBBBBBB', "
                   "'2024 Summer trip', 'x', 'x')")
    db.execute_sql("INSERT INTO album_item (album_id, item_id) VALUES ('BBBBBBBBBBBBBBBBBBBBBB', "
                   "'AAAAAAAAAAAAAAAAAAAAAA')")
    db.close()
    database = Database(path)
    found = database.db.execute_sql("SELECT item_id, albums FROM item_fts WHERE item_fts MATCH 'summer'").fetchall()
    assert found == [('AAAAAAAAAAAAAAAAAAAAAA', '2024 Summer trip')]
    database.close()
