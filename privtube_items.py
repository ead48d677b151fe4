"""The item's shape: its fields, text limits, date formats, and the validation of what peers send.

`ITEM_FIELDS` is the one list of an item's fields. The item model (privtube_db), the API's ITEM
(`row_json`), the check of what peers send (`checked_item`) and the registry's upsert of peers' rows
(`PEER_COLUMNS`) are all read from it: a new field is a line here and a migration step in privtube_db.
"""
import datetime
import json
import re
import time
from dataclasses import dataclass

import privtube_auth as auth
from privtube_peer import PeerError

# --- text limits: the most characters of each text (forms' maxlength come from LIMITS) ---------------

MAX_TITLE, MAX_DESCRIPTION, MAX_COMMENT = 200, 10000, 5000
MAX_AUTHOR = 64             # the author a script names when it posts a comment with its key
MAX_PEER_AUTHOR = 200       # an author as a peer shows it: `author@KEYNAME`, longer than the name it took
MAX_VIEWER = 128            # the opaque viewer id of a counted view
MAX_DATE = 40               # a date as a peer sends it
MAX_CURSOR = 200            # a catalog cursor as a peer sends it
MAX_COMMENT_ID = 64
MAX_TAG_TEXT = 200          # an artist or album name read from a song's tags
MAX_SUBTITLES = 40          # subtitle tracks of one item
MAX_SUBTITLE_LABEL = 80
MAX_LANG = 16               # a BCP 47 language tag such as 'en', 'pt-BR' ('' when unknown)
SUBTITLE_ID = re.compile(r'^[A-Za-z0-9_-]{1,32}\Z')
LIMITS = {'title': MAX_TITLE, 'description': MAX_DESCRIPTION, 'comment': MAX_COMMENT, 'author': MAX_AUTHOR,
          'viewer': MAX_VIEWER, 'tag': auth.MAX_TAG, 'tags': auth.MAX_TAGS, 'name': auth.MAX_NAME,
          'password': auth.MAX_PASSWORD, 'password_min': auth.MIN_PASSWORD, 'album': auth.MAX_ALBUM}

# --- dates: every time the node stores or sends is ISO 8601 UTC in whole seconds; pages show minutes --

ISO_FORMAT = '%Y-%m-%dT%H:%M:%SZ'
SHOWN_FORMAT = '%Y-%m-%d %H:%M UTC'


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def iso(moment):
    return moment.strftime(ISO_FORMAT)


def now_iso():
    return iso(utcnow())


def iso_of(timestamp):
    """A Unix time as ISO 8601 UTC."""
    return time.strftime(ISO_FORMAT, time.gmtime(timestamp))


def shown_time(timestamp, missing='never'):
    """A Unix time as a page shows it; `missing` when there is none."""
    return time.strftime(SHOWN_FORMAT, time.gmtime(timestamp)) if timestamp else missing


MONTHS = ('Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec')
DAY = re.compile(r'([0-9]{4})-([0-9]{2})-([0-9]{2})')


def shown_date(text):
    """An ISO 8601 date as people read it, '14 Jul 2024'; '' when it is none or not a date. (A timeline
    page shows 200: strptime took a quarter of its time.)"""
    found = DAY.match(text or '')
    if not found or not 1 <= int(found.group(2)) <= 12 or not 1 <= int(found.group(3)) <= 31:
        return ''
    return '%d %s %s' % (int(found.group(3)), MONTHS[int(found.group(2)) - 1], found.group(1))


def shown_month(text):
    """The month of an ISO 8601 date as a heading shows it, 'July 2024'."""
    return datetime.datetime.strptime(text[:7], '%Y-%m').strftime('%B %Y')


def storable(text):
    """True when `text` can be written as UTF-8, as SQLite stores it: a lone surrogate (what a JSON escape
    such as "\\ud800" decodes to) cannot."""
    try:
        text.encode('utf-8')
    except UnicodeEncodeError:
        return False
    return True


# --- the item's fields ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    """One field of an item. Its `kind` is its type in JSON and in the database:
    'id' (string, the key: ORIGIN:ID for a peer's item), 'text' (string of at most `limit` characters),
    'date' (string, ISO 8601 UTC), 'mime' (string TYPE/SUBTYPE), 'int' (integer), 'real' (number),
    'bool' (boolean), 'subtitles' (array of {id, lang, label}, a JSON column),
    'tags' (array of tags, kept in the item_tag table), 'albums' (array of the names of
    the albums it is in, kept in album_item); and, never sent, 'path' (the
    file inside the media folder) and 'user' (the owning user).
    """
    name: str
    kind: str
    limit: int = 0              # text and date: at most this many characters
    null: bool = False          # may be null (unknown); the column is nullable
    default: object = None      # the column's default when this node makes a row
    api: bool = False           # a key of the API's ITEM (the contract's order is this table's)
    peers: bool = False         # peers send it: checked by `checked_item`, stored by the registry's upsert
    blank: object = None        # what a peer's missing (or empty text) value becomes


ITEM_FIELDS = (
    Field('id', 'id', api=True, peers=True),
    Field('path', 'path', null=True),
    Field('title', 'text', MAX_TITLE, api=True, peers=True, blank='untitled'),
    Field('description', 'text', MAX_DESCRIPTION, default='', api=True, peers=True, blank=''),
    Field('tags', 'tags', api=True, peers=True, blank=[]),
    Field('albums', 'albums', api=True, peers=True, blank=[]),
    Field('mime', 'mime', api=True, peers=True),
    Field('size', 'int', api=True, peers=True, blank=0),
    Field('mtime_ns', 'int'),
    Field('created', 'date', MAX_DATE, default=now_iso, api=True, peers=True, blank=''),
    Field('updated', 'date', MAX_DATE, default=now_iso, api=True, peers=True, blank=''),
    Field('views', 'int', default=0, api=True, peers=True, blank=0),
    Field('comments', 'int', default=0, api=True, peers=True, blank=0),
    Field('duration', 'real', null=True, api=True, peers=True),
    Field('width', 'int', null=True, api=True, peers=True),
    Field('height', 'int', null=True, api=True, peers=True),
    Field('thumbnail', 'bool', default=False, api=True, peers=True, blank=False),
    Field('private', 'bool', default=False),
    Field('seq', 'int'),
    Field('owner', 'user', null=True),
    Field('origin', 'text', default='local'),
    Field('container', 'text', null=True),
    Field('codecs', 'text', null=True),
    Field('media_state', 'text', default='pending'),
    Field('media_error', 'text', default=''),
    Field('taken', 'date', MAX_DATE, null=True, api=True, peers=True),   # when it was shot or recorded
    Field('taken_source', 'text', null=True),   # 'exif', 'container', 'name' or 'mtime'
    Field('content_hash', 'text', null=True),   # SHA-256 of the file, hex: duplicates and moved files
    Field('trashed', 'real', null=True),        # Unix time it went to the trash; None when it is not there
    Field('preview', 'bool', default=False),    # a display-sized JPEG (long side about 1920 px) is cached
    Field('preview_owed', 'bool', default=False),   # a photo's preview is still to be made (after thumbnails)
    Field('artist', 'text', MAX_TAG_TEXT, null=True, api=True, peers=True),    # a song's artist
    Field('album_artist', 'text', MAX_TAG_TEXT, null=True),
    Field('music_album', 'text', MAX_TAG_TEXT, null=True),     # the album its tags name
    Field('disc', 'int', null=True),
    Field('track', 'int', null=True, api=True, peers=True),    # its number on the disc
    Field('year', 'int', null=True),
    Field('subtitles', 'subtitles', default=list, api=True, peers=True, blank=[]),  # [{id, lang, label}]
    Field('remux', 'text', null=True),          # 'pending', 'ready' or 'failed': a browser-playable copy
)
LISTS = ('tags', 'albums')          # kept in tables of their own (item_tag, album_item)
COLUMNS = tuple(field for field in ITEM_FIELDS if field.kind not in LISTS)
API_FIELDS = tuple(field for field in ITEM_FIELDS if field.api)
PEER_VALUES = tuple(field for field in ITEM_FIELDS if field.peers and field.kind != 'id')
# what a peer's row takes from the peer; the registry sets the rest (origin, path, seq, ...) itself
PEER_COLUMNS = tuple(field.name for field in PEER_VALUES if field.kind not in LISTS)


API_BLANKS = tuple((field.name, field.blank) for field in API_FIELDS)
# a catalog page's rows: the API's columns and what visibility reads (a page of `SELECT *` spent a third
# of its time on columns no peer is sent), looked up by id: the unary + keeps SQLite from walking the index
# of every local item instead (a page then cost time in proportion to the library: 110 ms at 100,000)
CATALOG_ROWS = ('SELECT %s FROM item WHERE id IN (SELECT value FROM json_each(?)) AND +origin = \'local\''
                % ', '.join(dict.fromkeys(['id', 'private', 'trashed'] + [field.name for field in API_FIELDS
                                                                          if field.kind not in LISTS])))
API_BOOLS = tuple(field.name for field in API_FIELDS if field.kind == 'bool')
API_JSON = tuple(field.name for field in API_FIELDS if field.kind == 'subtitles')


def json_list(value):
    """The list a JSON column's text holds; [] for anything that is not one."""
    if not value or value == '[]':      # most items' lists: a catalog page reads a thousand
        return []
    try:
        found = json.loads(value)
    except ValueError:
        return []
    return found if isinstance(found, list) else []


def row_json(row, tags, albums=()):
    """The contract's ITEM from an item row (a dict of its columns), its tags and its albums' names."""
    item = {name: row.get(name, blank) for name, blank in API_BLANKS}
    item['tags'] = tags         # in their places: the table's
    item['albums'] = list(albums)
    for name in API_BOOLS:      # SQLite has no booleans: a row read without the model holds 0 or 1
        item[name] = bool(item[name])
    for name in API_JSON:       # a row read without the model holds the column's JSON text
        if isinstance(item[name], str):
            item[name] = json_list(item[name])
    return item


# --- validation of what a peer sends ------------------------------------------------------------

REMOTE_ID = re.compile(r'^[A-Za-z0-9_-]{16,64}\Z')     # \Z: `$` lets a final line break through
MIME = re.compile(r'^[a-z0-9.+-]{1,40}/[a-z0-9.+-]{1,80}\Z')
COMMENT_FIELDS = (('id', MAX_COMMENT_ID), ('author', MAX_PEER_AUTHOR), ('body', MAX_COMMENT), ('created', MAX_DATE))


def checked_page(page, most):
    """The catalog page if every part has the contract's shape (at most `most` items and removals);
    PeerError naming the first fault."""
    checked_header(page)
    items, removed = page.get('items'), page.get('removed', [])
    if not isinstance(items, list) or not isinstance(removed, list) or len(items) + len(removed) > most:
        raise PeerError('the catalog has no valid items/removed lists')
    if not all(isinstance(i, str) and REMOTE_ID.match(i) for i in removed):
        raise PeerError('the catalog lists an invalid removed id')
    return [checked_item(item) for item in items], removed


def checked_header(page):
    """(cursor, more) of a catalog page whose cursor and flags have the contract's shape; PeerError if not."""
    if not isinstance(page, dict):
        raise PeerError('the catalog is not a JSON object')
    if not isinstance(page.get('cursor'), str) or len(page['cursor']) > MAX_CURSOR or not storable(page['cursor']):
        raise PeerError('the catalog has no valid cursor')
    if not isinstance(page.get('more', False), bool) or not isinstance(page.get('reset', False), bool):
        raise PeerError('the catalog has invalid more/reset flags')
    return page['cursor'], page.get('more', False)


def checked_item(item):
    """The item of a peer's catalog with every field the peers send checked, in the table's order."""
    if not isinstance(item, dict) or not isinstance(item.get('id'), str) or not REMOTE_ID.match(item['id']):
        raise PeerError('the catalog has an item without a valid id')
    checked = {'id': item['id']}
    try:
        for name, check, blank in PEER_CHECKS:
            checked[name] = check(item.get(name, blank))
    except auth.AuthError as exc:
        raise PeerError('item %s: %s' % (item['id'], exc))
    return checked


def peer_value(field, value):
    """A peer's `value` of `field` if it has the field's shape (missing or empty: the field's blank)."""
    return value_check(field)(value)


def value_check(field):
    """The function that checks a peer's value of `field` (made once per field: a first sync checks a
    hundred thousand items of twenty fields, and deciding the kind for each value took a quarter of it)."""
    if field.kind in ('text', 'date'):
        return lambda value: text(value, field.limit) or field.blank
    if field.kind == 'mime':
        return mime_text
    if field.kind == 'tags':
        return lambda value: auth.normalize_tags(value or []) if isinstance(value or [], list) else bad('tags')
    if field.kind == 'albums':
        return lambda value: auth.album_names(value or []) if isinstance(value or [], list) else bad('albums')
    if field.kind == 'bool':
        return lambda value: value if value is True or value is False else bad(field.name)
    if field.kind == 'subtitles':
        return checked_subtitles
    kinds = int if field.kind == 'int' else (int, float)

    def checked_number(value):
        if value is None:
            return field.blank
        if type(value) in (int, float) and isinstance(value, kinds) and 0 <= value < 2 ** 53:
            return value
        return number(value, kinds, field.name)
    return checked_number


def checked_subtitles(value):
    """A peer's `subtitles` list if every entry is {id, lang, label} of the contract's shape."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_SUBTITLES:
        bad('subtitles')
    found = []
    for entry in value:
        if not isinstance(entry, dict) or not isinstance(entry.get('id'), str) or not SUBTITLE_ID.match(entry['id']):
            bad('subtitles')
        found.append({'id': entry['id'], 'lang': text(entry.get('lang'), MAX_LANG),
                      'label': text(entry.get('label'), MAX_SUBTITLE_LABEL)})
    return found


def checked_comments(data):
    if not isinstance(data, dict) or not isinstance(data.get('comments'), list):
        raise PeerError('the origin sent invalid comments')
    found = []
    for comment in data['comments'][:1000]:
        if not isinstance(comment, dict):
            raise PeerError('the origin sent an invalid comment')
        found.append({name: text(comment.get(name), limit) for name, limit in COMMENT_FIELDS})
    return found


def bad(what):
    raise PeerError('an item has an invalid %s' % what)


def text(value, limit):
    if value is None:
        return ''
    if not isinstance(value, str) or len(value) > limit or '\x00' in value or not (value.isascii() or storable(value)):
        bad('text field')
    return value


def mime_text(value):
    if not isinstance(value, str) or not MIME.match(value):
        bad('mime')
    return value


def number(value, kinds, what):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, kinds) or not 0 <= value < 2 ** 53:
        bad(what)
    return value


# made once the checks above are defined: (name, check, blank) of each field peers send
PEER_CHECKS = tuple((field.name, value_check(field), field.blank) for field in PEER_VALUES)
