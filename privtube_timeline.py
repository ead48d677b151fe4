"""Photos and videos by when they were taken: the timeline's pages, its years, and "on this day".

An item's moment is `taken` when known, else `created` (COALESCE(taken, created)); the index `item_when`
(migration 14) holds exactly that expression and the id, so a page, a jump to a year and each year of the
index are one walk down an index, however large the library.
"""
import re

from peewee import Tuple, fn

import privtube_media as media
from privtube_db import Prepared
from privtube_items import shown_month

PAGE = 200                  # items on a timeline page
ON_THIS_DAY = 12            # items in the home page's row
MOMENT = re.compile(r'[0-9]{4}(?:-[0-9]{2}(?:-[0-9]{2}(?:T[0-9]{2}:[0-9]{2}:[0-9]{2}Z?)?)?)?\Z')
SHOWN_KINDS = ('image', 'video')
LOW, HIGH = '\uffffLOW', '\uffffHIGH'     # stand-ins for values of a Prepared statement


def moment(Item):
    """When an item was taken, else when it was added: what the timeline sorts and groups by."""
    return fn.coalesce(Item.taken, Item.created)


class Timeline:
    """The timeline of the items one principal may see, read from the store's items."""

    def __init__(self, store):
        self.store, self.Item = store, store.database.Item

    def shown(self, principal):
        """The photos and videos `principal` may see (music and other files have no place on it)."""
        Item = self.Item
        kinds = [Item.mime.startswith(kind + '/') for kind in SHOWN_KINDS]
        return self.store.items.visible_query(principal).where(kinds[0] | kinds[1])

    def page(self, principal, before=None, limit=None):
        """(items, next) of the newest `limit` (default PAGE) items older than `before` (a (moment, id)
        pair, or None for the newest); `next` is the pair to ask for the page after, None on the last page."""
        Item, limit = self.Item, limit or PAGE
        query = self.shown(principal)
        if before is not None:
            # the plain bound makes SQLite seek the index; the row value alone had it scan from the top
            query = query.where((moment(Item) <= before[0]) & (Tuple(moment(Item), Item.id) < Tuple(*before)))
        rows = list(query.select(*card_columns(Item)).order_by(moment(Item).desc(), Item.id.desc()).limit(limit + 1))
        last = rows[limit - 1] if len(rows) > limit else None
        return rows[:limit], (item_moment(last), last.id) if last else None

    def years(self, principal, most=200):
        """The years that hold any item `principal` may see, newest first: one index probe a year."""
        Item, years = self.Item, []
        newest = (self.shown(principal).where(moment(Item) < LOW).select(moment(Item))
                  .order_by(moment(Item).desc(), Item.id.desc()).limit(1))
        run = Prepared(self.store.db, newest, LOW)
        while len(years) < most:
            row = run.first(years[-1] if years else '9999~')
            if not row or not row[0] or not row[0][:4].isdigit():
                break
            years.append(row[0][:4])
        return years

    def on_this_day(self, principal, today, limit=ON_THIS_DAY):
        """[(item, years ago)] taken on `today`'s month and day in earlier years, newest year first:
        one index range a year, from the year of the oldest date taken."""
        Item = self.Item
        first = Item.select(fn.MIN(Item.taken)).where(Item.taken.is_null(False)).scalar()
        if not first or not first[:4].isdigit():
            return []
        that_day = (self.shown(principal).where((Item.taken >= LOW) & (Item.taken < HIGH)).select(Item.id)
                    .order_by(Item.taken.desc()).limit(limit))
        run, found = Prepared(self.store.db, that_day, LOW, HIGH), []
        for year in range(today.year - 1, int(first[:4]) - 1, -1):
            day = '%04d-%02d-%02d' % (year, today.month, today.day)
            found += [(item_id, today.year - year) for item_id, in run.all(day, day + 'U')]
            if len(found) >= limit:
                break
        rows = {item.id: item for item in Item.select(*card_columns(Item)).where(
            Item.id.in_([item_id for item_id, _ in found[:limit]]))} if found else {}
        return [(rows[item_id], years) for item_id, years in found[:limit] if item_id in rows]


def card_columns(Item):
    """What a card and the bulk form read of an item: a third of its columns, a third less time a page."""
    return (Item.id, Item.title, Item.mime, Item.views, Item.created, Item.taken, Item.thumbnail, Item.origin,
            Item.owner, Item.private, Item.duration)


def item_moment(item):
    return item.taken or item.created


def by_month(items):
    """[(anchor, heading, [(item, kind)])] of items in timeline order: one group per month."""
    months = []
    for item in items:
        month = item_moment(item)[:7]
        if not months or months[-1][0] != 'm' + month:
            months.append(('m' + month, month_heading(month), []))
        months[-1][2].append((item, media.media_kind(item.mime)))
    return months


def month_heading(month):
    try:
        return shown_month(month)
    except ValueError:
        return 'Date unknown'


def parse_before(query):
    """The (moment, id) pair an "older" link or a year link asks for; None for the newest items."""
    year = query.get('year') or ''
    if re.fullmatch(r'[0-9]{4}', year):
        return ('%04d' % (int(year) + 1), '')
    before, item_id = query.get('before') or '', query.get('id') or ''
    if MOMENT.match(before) and re.fullmatch(r'[A-Za-z0-9_.:-]{0,130}', item_id):
        return (before, item_id)
    return None
