"""The album pages: `/albums` lists the albums a person may see (this node's and peers'), an album page
shows its items in order, and its owner and administrators name, describe, arrange and delete it.

What a person sees of an album comes only from the items they may see (Albums.summaries): an album of
items hidden from them is not listed and its page answers 404, as an unknown one does.
"""
import re

import bottle

import privtube_music as music
from privtube_auth import load_rules
from privtube_db import among
from privtube_reach import album_reach
from privtube_search import result_columns
from privtube_store import StoreError
from privtube_web import WebError, album_cards, cards, grid_tools, may_change_album, own_address, see_other

ALBUM_PAGE = 96     # items on one page of an album


def register(app, web):
    """The albums list, an album's page, and the changes its owner and administrators make."""
    node, store = web.node, web.node.store

    @app.get('/albums')
    def albums(page):
        return albums_page(page, store, error=None, typed={})

    @app.post('/albums')
    def create(page):
        form = bottle.request.forms
        typed = {'name': form.getunicode('name', '') or '', 'description': form.getunicode('description', '') or ''}
        try:
            album = store.albums.create(typed['name'], owner_id=page.user.id, description=typed['description'])
        except StoreError as exc:
            bottle.response.status = exc.status
            return albums_page(page, store, error=str(exc), typed=typed)
        see_other('/albums/' + album.id)

    @app.get('/albums/<album_id>')
    def album(page, album_id):
        found = visible_album(store, page, album_id)
        return album_page(page, node, found, notice=renamed_notice(page, node, found), error=None)

    @app.post('/albums/<album_id>/<change:re:rename|describe|cover|move|remove>')
    def change(page, album_id, change):
        found = changeable_album(store, page, album_id)
        try:
            CHANGES[change](store, page, found, bottle.request.forms)
        except StoreError as exc:
            bottle.response.status = exc.status
            return album_page(page, node, found, notice=None, error=str(exc))
        see_other('/albums/%s%s' % (found.id, '?renamed=1' if change == 'rename' else ''))

    @app.get('/albums/<album_id>/delete')
    def delete_form(page, album_id):
        found = changeable_album(store, page, album_id)
        count = store.albums.visible_items(page.principal, found).count()
        return page.render('album_delete', album=found, count=count)

    @app.post('/albums/<album_id>/delete')
    def delete(page, album_id):
        store.albums.delete(changeable_album(store, page, album_id))
        see_other('/albums')


def albums_page(page, store, error, typed):
    summaries = shown_albums(store, page, store.albums.listing())
    return page.render('albums', albums=album_cards(summaries), error=error, typed=typed)


def album_page(page, node, album, notice, error):
    """An album's grid (one page of it) and, for those who may change it, the forms that do."""
    store = node.store
    number = page_number(bottle.request.query.get('page'))
    Item = store.database.Item
    seen = [item_id for (item_id,) in store.albums.visible_items(page.principal, album).select(Item.id).tuples()]
    items = rows_of(store, seen[(number - 1) * ALBUM_PAGE:number * ALBUM_PAGE + 1])
    manage = may_change_album(page.user, album)
    shown = items[:ALBUM_PAGE]
    songs = music.tracks(shown) if music.is_music(album, shown) else []
    listed = {song.id for song in songs}
    others = [item for item in shown if item.id not in listed]
    return page.render('album', album=album, items=cards(others), number=number, music=music_view(album, songs),
                       reach=album_reach(store, node.accounts, album) if manage else None,
                       **grid_tools(store, page, shown, own_address()),
                       more=len(items) > ALBUM_PAGE, manage=manage,
                       arrange=arrangement(store, page, album, items[:ALBUM_PAGE], seen) if manage else [],
                       reorder=manage and album.kind == 'made', notice=notice, error=error,
                       origin=node.name if album.origin == 'local' else album.origin,
                       naming=rules_naming(node.accounts, album.name) if page.user.is_admin else None)


def rows_of(store, item_ids):
    """The items of `item_ids`, in that order, without their descriptions: an album's order is read as ids
    alone and only a page's rows are read (sorting a thousand whole rows for a page of 96 cost a quarter of
    the page)."""
    Item = store.database.Item
    found = {item.id: item for item in Item.select(*result_columns(Item)).where(Item.id.in_(among(item_ids)))}
    return [found[item_id] for item_id in item_ids if item_id in found]


def music_view(album, songs):
    """What the track list of an album of songs shows: its songs in disc and track order, its cover, its
    artist and how long it plays; None for an album that is not mostly songs."""
    if not songs:
        return None
    cover = music.album_cover(album, songs)
    return {'tracks': [(song, music.shown_duration(song.duration)) for song in songs], 'cover': cover,
            'artist': music.album_artist(songs), 'length': music.shown_duration(sum(s.duration or 0 for s in songs)),
            'discs': len({song.disc for song in songs if song.disc}) > 1}


def arrangement(store, page, album, items, seen):
    """[(item, position, up, down)] for the arrange table: each item's place in the album's whole order,
    and the places that move it before the previous or after the next item this person sees (`seen`, the
    ids of those in the album's order)."""
    Item = store.database.Item           # ids only: building 1,000 rows twice cost most of the page
    if page.user.is_admin:               # an administrator sees every item of the album: the same list
        order = {item_id: number for number, item_id in enumerate(seen, 1)}
    else:
        order = {item_id: number for number, (item_id,) in
                 enumerate(store.albums.items_query(album).select(Item.id).tuples(), 1)}
    rows, place = [], {item_id: at for at, item_id in enumerate(seen)}
    for item in items:
        at = place[item.id]
        up = order[seen[at - 1]] if at > 0 else None
        down = order[seen[at + 1]] if at + 1 < len(seen) else None
        rows.append((item, order[item.id], up, down))
    return rows


def shown_albums(store, page, albums):
    """The summaries of `albums` this person may see: those with items visible to them, and the empty
    ones they may fill (their own, or every local one for an administrator)."""
    return [summary for summary in store.albums.summaries(page.principal, albums)
            if summary.count or may_change_album(page.user, summary.album)]


def visible_album(store, page, album_id):
    """The album if this person may see it (as shown_albums decides: an item of it they may see, or theirs
    to fill); else 404, whether it exists or not."""
    album = store.albums.get(album_id)
    if album is None or not (may_change_album(page.user, album) or
                             store.albums.visible_items(page.principal, album).exists()):
        raise WebError('no such album', 404)
    return album


def changeable_album(store, page, album_id):
    album = visible_album(store, page, album_id)
    if not may_change_album(page.user, album):
        raise WebError('only the owner of this album or an administrator may change it', 403)
    return album


def rules_naming(accounts, name):
    """['group family', 'key alice'] of the groups and keys with the rule album:NAME (for administrators:
    a rename leaves those rules naming an album that no longer exists)."""
    rule = 'album:' + name
    return (['group ' + group.name for group in accounts.groups() if rule in load_rules(group.rules)] +
            ['key ' + key.name for key in accounts.keys() if rule in load_rules(key.rules)])


def renamed_notice(page, node, album):
    if bottle.request.query.get('renamed') != '1' or not may_change_album(page.user, album):
        return None
    return 'Album renamed to "%s". Rules naming its old name no longer match it; rules naming album:%s do.' % (
        album.name, album.name)


def page_number(text):
    return max(int(text), 1) if re.fullmatch(r'[0-9]{1,5}', text or '') else 1


def member(store, page, form):
    """The id of an item of the form (`item`) that this person may see; else 404."""
    return store.items.visible(page.principal, form.get('item') or '').id


def position(form):
    text = (form.get('position') or '').strip()
    if not re.fullmatch(r'[0-9]{1,7}', text):
        raise StoreError('the position must be a whole number (1 is first)')
    return int(text)


CHANGES = {     # what each form of an album page does, given the store, the page, the album and the form
    'rename': lambda store, page, album, form: store.albums.rename(album, form.getunicode('name', '') or ''),
    'describe': lambda store, page, album, form: store.albums.describe(album, form.getunicode('description', '')
                                                                       or ''),
    'cover': lambda store, page, album, form: store.albums.set_cover(album, member(store, page, form)),
    'move': lambda store, page, album, form: store.albums.move(album, member(store, page, form), position(form)),
    'remove': lambda store, page, album, form: store.albums.remove_items(album, [member(store, page, form)]),
}
