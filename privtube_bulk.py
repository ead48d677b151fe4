"""Select many, change many: one action applied to many items in one transaction.

The web app's grids (album, search, timeline) and the command line send a list of ids and an action.
Only items the person may edit are changed (local items of their own, or any local item for an admin);
the others are counted as skipped with the reason. Every changed item is touched in the catalog with its
new state, so peers' catalogs and the rules that name tags and albums follow at once. If any item fails,
the transaction is rolled back and nothing at all has changed.
"""
import logging
import os
from dataclasses import dataclass, field

import privtube_auth as auth
from privtube_items import now_iso
from privtube_store import StoreError

logger = logging.getLogger('privtube.bulk')

MAX_SELECTION = 3000        # ids in one request (a form of at most 100 KiB); a timeline page has 200
ACTIONS = (('add_tags', 'Add tags'), ('remove_tags', 'Remove tags'), ('add_to_album', 'Add to album'),
           ('remove_from_album', 'Remove from album'), ('make_private', 'Make private'),
           ('make_shared', 'Make shared'), ('delete', 'Delete'))


@dataclass
class Summary:
    """What one action did: how many items it changed, and how many it skipped, by reason."""
    done: str                           # 'Added tag summer to %s', 'Made %s private', …: %s = '12 items'
    changed: int = 0
    unchanged: int = 0                  # editable, but already as asked
    skipped: dict = field(default_factory=dict)

    def skip(self, reason):
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def text(self):
        """One line for a person: 'Added 12 items to album Summer; 2 skipped: not yours.'"""
        line = self.done % ('%d item%s' % (self.changed, '' if self.changed == 1 else 's'))
        if self.unchanged:
            line += '; %d already so' % self.unchanged
        skipped = sum(self.skipped.values())
        if skipped:
            line += '; %d skipped: %s' % (skipped, ', '.join(
                '%s%s' % (reason, '' if count == skipped else ' (%d)' % count)
                for reason, count in sorted(self.skipped.items())))
        return line + '.'


def everyone_may_edit(item):
    """The command line's editor: the node's operator may change every local item."""
    return item.is_local


class Bulk:
    """Bulk actions on one node's store."""

    def __init__(self, store):
        self.store, self.database, self.db = store, store.database, store.database.db

    def editable(self, ids, may_see, may_edit, summary):
        """The items of `ids` that `may_edit` allows, in the order given; the rest counted as skipped.
        An id `may_see` denies is 'not found', like an unknown one: existence never leaks."""
        ids = [i for i in dict.fromkeys(ids) if isinstance(i, str)]
        if len(ids) > MAX_SELECTION:
            raise StoreError('select at most %d items at once' % MAX_SELECTION)
        Item = self.database.Item
        rows = {item.id: item for item in Item.select().where(Item.id.in_(ids))} if ids else {}
        chosen = []
        for item_id in ids:
            item = rows.get(item_id)
            if item is None or not may_see(item):
                summary.skip('not found')
            elif not may_edit(item):
                summary.skip('not yours' if item.is_local else 'from another node')
            else:
                chosen.append(item)
        return chosen

    def apply(self, action, ids, may_see=lambda item: True, may_edit=everyone_may_edit, tags=(), album=None,
              new_album='', owner_id=None):
        """Do `action` (a name of ACTIONS) to the editable items of `ids`; returns a Summary."""
        if action not in dict(ACTIONS):
            raise StoreError('unknown action %r' % str(action)[:40])
        run = getattr(self, action)
        with self.db.atomic():
            summary = Summary(done=DONE[action])
            items = self.editable(ids, may_see, may_edit, summary)
            if action in ('add_tags', 'remove_tags'):
                run(items, checked_tags(tags), summary)
            elif action in ('add_to_album', 'remove_from_album'):
                run(items, album, new_album, owner_id, summary)
            else:
                run(items, summary)
        return summary

    # --- the actions: each is given the editable items and runs inside apply's transaction ---------------

    def add_tags(self, items, tags, summary):
        summary.done = 'Added tag%s %s to %%s' % ('' if len(tags) == 1 else 's', ', '.join(tags))
        self.retag(items, lambda now: now + [t for t in tags if t not in now], summary)

    def remove_tags(self, items, tags, summary):
        summary.done = 'Removed tag%s %s from %%s' % ('' if len(tags) == 1 else 's', ', '.join(tags))
        self.retag(items, lambda now: [t for t in now if t not in tags], summary)

    def retag(self, items, change, summary):
        """Give each item the tags `change(its tags)` returns; touch those whose tags changed."""
        ids = [item.id for item in items]
        tags, changed = self.store.items.tags_for(ids), []
        for item in items:
            wanted = change(tags[item.id])
            if wanted == tags[item.id]:
                summary.unchanged += 1
                continue
            tags[item.id] = self.checked_item_tags(item, wanted)
            changed.append(item)
        self.write_tags(changed, tags)
        summary.changed = len(changed)

    def write_tags(self, items, tags):
        """Store the new tags of `items` ({item id: tags}), log their states and re-index their text."""
        if not items:
            return
        ItemTag, ids = self.database.ItemTag, [item.id for item in items]
        ItemTag.delete().where(ItemTag.item.in_(ids)).execute()
        rows = [{'item': item_id, 'tag': tag} for item_id in ids for tag in tags[item_id]]
        for start in range(0, len(rows), 5000):         # SQLite takes at most 32,766 values a statement
            ItemTag.insert_many(rows[start:start + 5000]).execute()
        self.save(items, tags)
        self.store.search.index_many(', '.join('?' * len(ids)), ids)

    def checked_item_tags(self, item, tags):
        try:
            return auth.normalize_tags(tags)
        except auth.AuthError as exc:
            raise StoreError('nothing was changed: "%s" cannot have those tags (%s)' % (item.title, exc))

    def add_to_album(self, items, album, new_album, owner_id, summary):
        if album is None:
            if not (new_album or '').strip():
                raise StoreError('choose an album, or give the name of a new one')
            album = self.store.albums.create(new_album, owner_id=owner_id)
        elif album.origin != 'local':
            raise StoreError('albums of other nodes are changed there', 403)
        summary.done = 'Added %%s to album %s' % album.name.replace('%', '%%')
        summary.changed = self.store.albums.add_items(album, [item.id for item in items])
        summary.unchanged = len(items) - summary.changed

    def remove_from_album(self, items, album, new_album, owner_id, summary):
        if album is None or album.origin != 'local':
            raise StoreError('choose an album of this node to remove the items from')
        summary.done = 'Removed %%s from album %s' % album.name.replace('%', '%%')
        summary.changed = self.store.albums.remove_items(album, [item.id for item in items])
        summary.unchanged = len(items) - summary.changed

    def make_private(self, items, summary):
        self.set_private(items, True, summary)

    def make_shared(self, items, summary):
        self.set_private(items, False, summary)

    def set_private(self, items, private, summary):
        changing = [item for item in items if bool(item.private) != private]
        for item in changing:
            item.private = private
        self.save(changing)
        summary.changed, summary.unchanged = len(changing), len(items) - len(changing)

    def delete(self, items, summary):
        bulk_delete(self.store, items)
        summary.changed = len(items)

    # --- helpers ------------------------------------------------------------------------------------------

    def save(self, items, tags=None):
        """Record the items' changed visibility state: new change numbers and their states logged."""
        for item in items:
            item.updated = now_iso()
        self.store.catalog.touch_all(items, ('updated', 'private'), tags=tags)


def bulk_delete(store, items):
    """Move `items` to the trash inside the caller's transaction. Each move renames a file; if a later one
    fails, the files already moved go back before the error rolls the records back, so nothing is left
    half-done."""
    moved = []
    try:
        for item in items:
            moved.append(store.trash.move(item))
    except BaseException:
        for item in reversed(moved):
            put_back(store, item)
        raise


def put_back(store, item):
    source = os.path.join(store.media_dir, item.path)
    target = os.path.join(store.media_dir, store.trash.original_path(item))
    try:
        os.rename(source, target)
    except OSError as exc:
        logger.warning('could not put %s back: %s', store.trash.original_path(item), exc)


DONE = {'add_tags': 'Added tags to %s', 'remove_tags': 'Removed tags from %s', 'add_to_album': 'Added %s',
        'remove_from_album': 'Removed %s', 'make_private': 'Made %s private', 'make_shared': 'Made %s shared',
        'delete': 'Moved %s to the Trash'}


def checked_tags(tags):
    """The tags an action names: at least one, each a valid tag."""
    tags = auth.normalize_tags(tags)
    if not tags:
        raise StoreError('give at least one tag')
    return tags
