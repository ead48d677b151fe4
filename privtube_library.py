"""The library's pages: the timeline, and the bulk changes the grids' selections send (`/bulk`).

Grids (album, search, timeline) include views/bulk.tpl above their cards and pass `selectable` (the ids
this person may edit, from `privtube_web.selectable`) to views/cards.tpl; each card's checkbox belongs
to the bulk form, so ticking boxes and pressing Apply works without JavaScript too.
"""
import bottle

import privtube_auth as auth
from privtube_bulk import ACTIONS, Bulk
from privtube_timeline import Timeline, by_month, parse_before
from privtube_web import WebError, grid_tools, local_path, may_change_album, may_edit, own_address


def register(app, web):
    """The timeline and the bulk form of the web app `app`."""
    store = web.node.store
    timeline, bulk = Timeline(store), Bulk(store)

    @app.get('/timeline')
    def timeline_page(page):
        items, older = timeline.page(page.principal, parse_before(bottle.request.query))
        return page.render('timeline', months=by_month(items), years=timeline.years(page.principal), older=older,
                           **grid_tools(store, page, items, own_address()))

    @app.post('/bulk')
    def bulk_change(page):
        form = bottle.request.forms
        ids, action = form.getall('id'), form.get('action') or ''
        back = local_path(form.getunicode('back') or '') or '/'
        if not ids:
            raise WebError('select at least one item first')
        if action not in dict(ACTIONS):
            raise WebError('choose what to do with the selected items')
        if action == 'delete' and form.get('confirm') != '1':
            return page.render('bulk_confirm', ids=ids, back=back)
        seen = visible_ids(store, page.principal, ids)
        summary = bulk.apply(action, ids, may_see=lambda item: item.id in seen,
                             may_edit=lambda item: may_edit(page.user, item),
                             tags=auth.split_tag_list(form.getunicode('tags') or ''),
                             album=chosen_album(store, page.user, form.get('album') or ''),
                             new_album=form.getunicode('new_album') or '', owner_id=page.user.id)
        return page.render('bulk_done', summary=summary.text(), back=back)


def visible_ids(store, principal, ids):
    """The ids of `ids` that `principal` may see, in one query (the same filter every grid is built from)."""
    Item = store.database.Item
    query = store.items.visible_query(principal).select(Item.id).where(Item.id.in_(list(ids)))
    return {item_id for item_id, in query.tuples()}


def chosen_album(store, user, album_id):
    """The album the form names, or None when it names none (a new album's name may be given instead)."""
    if not album_id:
        return None
    album = store.albums.get(album_id)
    if album is None or not may_change_album(user, album):
        raise WebError('that album is not one you may change', 403)
    return album
