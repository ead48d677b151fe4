"""The full-text search index: the one place that knows an item's row in `item_fts`, writes it (one item,
or many in one statement for sync) and searches it, showing only what a principal may see.

The table itself is made by migration 4 of privtube_db (remade with the albums' names by migration 11, and
with songs' artists and albums by migration 15);
its rowid is the item's, so a search joins the two without an index of its own.
"""
import json
import re
import threading
from collections import OrderedDict

from peewee import SQL, Column, fn

import privtube_auth as auth
from privtube_db import Prepared

RANKED_MATCHES = 500         # visible matches ranked by bm25; a word in more of the library lists the newest
SHAPES = 256            # prepared searches kept: a few per person and filter
# stand-ins of a prepared search for its text, offset and limit (values no search has)
MATCH, OFFSET, LIMIT = '\uffffMATCH', 10 ** 15 + 1, 10 ** 15 + 2
# The row of every item whose id the SQL fragment `%s` selects: its text, its tags, its origin, the
# names of its albums ("summer" finds the items of "2024 Summer trip") and a song's artist, album artist
# and tagged album (a peer's songs carry their artist). Rows go in in rowid order: a peer's 100,000 rows in
# the order of their ids took three times as long to index.
INDEX_ROWS = (
    'INSERT INTO item_fts (rowid, item_id, title, description, tags, origin, albums, artist) '
    "SELECT rowid, id, title, description, coalesce((SELECT group_concat(tag, ' ') FROM item_tag "
    "WHERE item_id = item.id), ''), origin, coalesce((SELECT group_concat(album.name, ' ') FROM album_item "
    "JOIN album ON album.id = album_item.album_id WHERE album_item.item_id = item.id), ''), "
    "trim(coalesce(artist, '') || ' ' || coalesce(album_artist, '') || ' ' || coalesce(music_album, '')) "
    'FROM item WHERE id IN (%s) ORDER BY rowid')
UNINDEX_ROWS = 'DELETE FROM item_fts WHERE rowid IN (SELECT rowid FROM item WHERE id IN (%s))'


def joined(Item, checked=True):
    """The join of an item to its row: by rowid, a lookup in the item table itself (twice as fast as its
    text id's index for a common word's thousands of matches), and the ids compared as a check when
    `checked`. Reading a row's id costs a lookup of the index's own copy of the row: counting a common
    word's matches spent two thirds of its time on it, so counts join by rowid alone (what they count is
    still each item's own visibility: a stray row could only nudge the count, never show an item)."""
    by_rowid = Column(Item, 'rowid') == SQL('item_fts.rowid')
    return (by_rowid, Item.id == SQL('item_fts.item_id')) if checked else (by_rowid,)


def fts_query(text):
    """An FTS5 query that matches every word of `text` by prefix; user syntax is never passed through."""
    words = re.findall(r'\w+', text or '')[:12]
    return ' '.join('"%s"*' % word for word in words) or None


def result_columns(Item):
    """What a list of results reads of an item: every column but the description and the file's path (a
    description may be ten thousand characters that no card shows)."""
    return [field for field in Item._meta.sorted_fields if field.name not in ('description', 'path')]


class SearchIndex:
    """Items' title, description, tags, origin, albums and artist in the full-text index, and searches over
    them."""

    def __init__(self, store):
        self.store, self.database, self.db = store, store.database, store.database.db
        self.shapes, self.shapes_lock = OrderedDict(), threading.Lock()

    def index(self, item_id):
        """(Re)write the row of one item from what its record and tags hold now."""
        self.index_many('?', [item_id])

    def index_many(self, ids_sql, params=()):
        """(Re)write the rows of the items whose ids the SQL fragment `ids_sql` selects, in two statements:
        one statement per item took six times as long for a peer's catalog."""
        self.db.execute_sql(UNINDEX_ROWS % ids_sql, params)
        self.db.execute_sql(INDEX_ROWS % ids_sql, params)

    def unindex(self, item_id):
        self.db.execute_sql(UNINDEX_ROWS % '?', (item_id,))

    def query(self, principal, text, tag='', kind='', origin='', sort='relevance', offset=0, limit=24):
        """([item], more, ranked) of the items `principal` may see that match every word of `text` by prefix,
        in the order `sort` names: 'relevance', 'newest' (added), 'taken' (shot, else added) or 'views'.

        Ranking by relevance costs a bm25 score per match, so a query matching more than RANKED_MATCHES
        items (a word in half the library) lists the newest matches instead; `ranked` says which it did.
        Only matches `principal` may see are counted: the notice this drives must not reveal hidden items.
        """
        match = fts_query(text)
        if match and sort == 'relevance':
            newest = self.newest_matches(principal, match, tag, kind, origin)
            if len(newest) <= RANKED_MATCHES:
                rows = self.rows_at(self.ranked(match, newest, offset, limit + 1))
                return rows[:limit], len(rows) > limit, True
            if offset + limit < len(newest):            # the newest matches are this page
                rows = self.rows_at(newest[offset:offset + limit + 1])
                return rows[:limit], len(rows) > limit, False
        shape = self.shape(principal, tag, kind, origin, sort if match or sort != 'relevance' else 'newest',
                           bool(match))
        values = ((match,) if match else ()) + (offset, limit + 1)        # the shape's stand-ins, in order
        rows = list(self.database.Item.raw(shape.sql, *shape.values(*values)))
        return rows[:limit], len(rows) > limit, False

    def ranked(self, match, rowids, offset, limit):
        """The rowids among `rowids` (matches a person may see) in the order of their bm25 scores, the
        newest first among equals; the unary + keeps SQLite from looking each rowid up in the index on
        its own (a hundred times slower)."""
        return [rowid for (rowid,) in self.db.execute_sql(
            'SELECT rowid FROM item_fts WHERE item_fts MATCH ? AND +rowid IN (SELECT value FROM json_each(?)) '
            'ORDER BY rank, rowid DESC LIMIT ? OFFSET ?', (match, json.dumps(rowids), limit, offset)).fetchall()]

    def shape(self, principal, tag, kind, origin, sort, match, counting=False):
        """The Prepared statement of a search of this shape, built once and kept (SHAPES of them): the
        text, the offset and the limit are its stand-ins, everything else (who asks, their rules, the
        filters, the order) is its key."""
        key = (principal.kind, principal.id, principal.is_admin, tuple(principal.rules), tag, kind, origin, sort,
               match, counting)
        with self.shapes_lock:
            found = self.shapes.pop(key, None)
        if found is None:
            found = Prepared(self.db, self.built(principal, tag, kind, origin, sort, match, counting),
                             *((MATCH,) if match else ()), OFFSET, LIMIT)
        with self.shapes_lock:
            self.shapes[key] = found                # the most recently used last
            while len(self.shapes) > SHAPES:
                self.shapes.popitem(last=False)
        return found

    def built(self, principal, tag, kind, origin, sort, match, counting):
        Item = self.database.Item
        query = self.filtered(principal, tag, kind, origin)
        if match:
            query = query.from_(Item, SQL('item_fts')).where(SQL('item_fts MATCH ?', [MATCH]),
                                                             *joined(Item, not counting))
        if counting:
            return query.select(Column(Item, 'rowid')).order_by(SQL('item_fts.rowid DESC')).offset(OFFSET).limit(LIMIT)
        if sort == 'views':
            order = [Item.views.desc(), Item.created.desc(), Item.id]
        elif sort == 'taken':   # when it was shot, else when it was added: the timeline's order
            order = [fn.coalesce(Item.taken, Item.created).desc(), Item.id.desc()]
        elif not match:
            order = [Item.created.desc(), Item.id]
        else:   # rowid order is the index's own, so SQLite stops after one page instead of sorting every match
            order = [SQL('item_fts.rowid DESC')]
        return query.select(*result_columns(Item)).order_by(*order).offset(OFFSET).limit(LIMIT)

    def filtered(self, principal, tag, kind, origin):
        """The items `principal` may see, narrowed to a tag, a media kind and an origin when given."""
        Item, ItemTag = self.database.Item, self.database.ItemTag
        query = self.store.items.visible_query(principal)
        if tag:
            query = query.where(auth.rule_filter('tag:' + tag, Item, ItemTag))
        if kind:
            query = query.where(Item.mime.startswith(kind + '/'))
        if origin:      # 'local' or a peer's name: the same test as the rule origin:NAME
            query = query.where(auth.rule_filter('origin:' + origin, Item, ItemTag))
        return query

    def newest_matches(self, principal, match, tag, kind, origin):
        """The rowids of the visible items that `match` finds, newest first, no further than one past
        RANKED_MATCHES: few enough to rank, or else (a word in half the library) the first of them are
        the page itself, newest first. Only matches `principal` may see are counted: the notice this
        drives must not reveal hidden items."""
        shape = self.shape(principal, tag, kind, origin, 'relevance', True, counting=True)
        return [rowid for (rowid,) in shape.all(match, 0, RANKED_MATCHES + 1)]

    def rows_at(self, rowids):
        """The result rows of the items at `rowids`, in that order, each checked against its index row."""
        Item = self.database.Item
        found = {row.rowid_: row for row in Item.raw(
            'SELECT %s, item.rowid AS rowid_ FROM item JOIN item_fts ON item_fts.rowid = item.rowid '
            'WHERE item.rowid IN (SELECT value FROM json_each(?)) AND item.id = item_fts.item_id'
            % ', '.join('item.' + field.column_name for field in result_columns(Item)), json.dumps(rowids))}
        return [found[rowid] for rowid in rowids if rowid in found]
