"""The full-text search index: the one place that knows an item's row in `item_fts`, writes it (one item,
or many in one statement for sync) and searches it, showing only what a principal may see.

The table itself is made by migration 4 of privtube_db (remade with the albums' names by migration 11, and
with songs' artists and albums by migration 15);
its rowid is the item's, so a search joins the two without an index of its own.
"""
import re

from peewee import SQL, Column, fn

import privtube_auth as auth

RANKED_MATCHES = 1000
# The row of every item whose id the SQL fragment `%s` selects: its text, its tags, its origin, the
# names of its albums ("summer" finds the items of "2024 Summer trip") and a song's artist, album artist
# and tagged album (a peer's songs carry their artist).
INDEX_ROWS = (
    'INSERT INTO item_fts (rowid, item_id, title, description, tags, origin, albums, artist) '
    "SELECT rowid, id, title, description, coalesce((SELECT group_concat(tag, ' ') FROM item_tag "
    "WHERE item_id = item.id), ''), origin, coalesce((SELECT group_concat(album.name, ' ') FROM album_item "
    "JOIN album ON album.id = album_item.album_id WHERE album_item.item_id = item.id), ''), "
    "trim(coalesce(artist, '') || ' ' || coalesce(album_artist, '') || ' ' || coalesce(music_album, '')) "
    'FROM item WHERE id IN (%s)')
UNINDEX_ROWS = 'DELETE FROM item_fts WHERE rowid IN (SELECT rowid FROM item WHERE id IN (%s))'


def joined(Item):
    """The join of an item to its row: by rowid, a lookup in the item table itself (twice as fast as its
    text id's index for a common word's thousands of matches), and the ids compared as a check."""
    return Column(Item, 'rowid') == SQL('item_fts.rowid'), Item.id == SQL('item_fts.item_id')


def fts_query(text):
    """An FTS5 query that matches every word of `text` by prefix; user syntax is never passed through."""
    words = re.findall(r'\w+', text or '')[:12]
    return ' '.join('"%s"*' % word for word in words) or None


class SearchIndex:
    """Items' title, description, tags, origin, albums and artist in the full-text index, and searches over
    them."""

    def __init__(self, store):
        self.store, self.database, self.db = store, store.database, store.database.db

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
        Item = self.database.Item
        match = fts_query(text)
        query = self.filtered(principal, tag, kind, origin)
        if match:
            query = query.from_(Item, SQL('item_fts')).where(SQL('item_fts MATCH ?', [match]), *joined(Item))
        ranked = False
        if sort == 'views':
            order = [Item.views.desc(), Item.created.desc(), Item.id]
        elif sort == 'taken':   # when it was shot, else when it was added: the timeline's order
            order = [fn.coalesce(Item.taken, Item.created).desc(), Item.id.desc()]
        elif not match:
            order = [Item.created.desc(), Item.id]
        else:
            ranked = sort == 'relevance' and self.match_count(query, RANKED_MATCHES + 1) <= RANKED_MATCHES
            # rowid order is the index's own, so SQLite stops after one page instead of sorting every match
            order = [SQL('item_fts.rank'), Item.id] if ranked else [SQL('item_fts.rowid DESC')]
        # objects(): Peewee builds no model rows from a multi-source FROM otherwise
        rows = list(query.order_by(*order).offset(offset).limit(limit + 1).objects())
        return rows[:limit], len(rows) > limit, ranked

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

    def match_count(self, query, cap):
        """How many items `query` (a search: visible items that match) finds, counting no further than `cap`."""
        return query.select(SQL('1')).limit(cap).count()
