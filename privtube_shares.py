"""Share links: one local item or album shown to someone without an account, under /s/TOKEN.

The token is random (256 bits), stored only as its hash and found by that hash (one indexed look-up,
whatever the token: unknown and expired links cost the same). A link shows only what it names, and only
while that stays shareable: a local item that is neither private nor in the trash; an album's items are
checked one by one at each request. Failed look-ups and wrong passwords are throttled per client.
"""
import hashlib
import hmac
import os
import re
import secrets
import time
from urllib.parse import urlsplit

import bottle
from peewee import BooleanField, FloatField, ForeignKeyField, IntegerField, Model, TextField

import privtube_auth as auth
import privtube_media as media
from privtube_api import media_headers
from privtube_store import StoreError
from privtube_web import (
    SignInThrottle,
    Throttle,
    TryLater,
    WebError,
    client_bucket,
    may_change_album,
    may_edit,
    render,
    same_secret,
    see_other,
    try_later,
)

DEFAULT_DAYS, MAX_DAYS = 7, 90
TOKEN = re.compile(r'[A-Za-z0-9_-]{43}')
UNLOCK_COOKIE = 'privtube_share'          # scoped to /s/TOKEN: the password was given in this browser
FORM_COOKIE = 'privtube_share_form'       # scoped to /s/TOKEN: the password form's token
LOOKUP_LIMIT, LOOKUP_WINDOW = 20, 300     # failed look-ups of /s/ links per client in 5 minutes
ALBUM_SHOWN = 200                         # items an album's share page shows
GONE = ('This link does not work', 'This share link has expired, was revoked, or its address is not complete. '
        'Ask the person who sent it for a new link.')


def share_model(database):
    """The share table (migration step 24) as a model bound to this node's database."""
    Item, Album, User = database.Item, database.Album, database.User

    class Share(Model):
        token_hash = TextField(unique=True)
        item = ForeignKeyField(Item, null=True, on_delete='CASCADE')
        album = ForeignKeyField(Album, null=True, on_delete='CASCADE')
        created_by = ForeignKeyField(User, on_delete='CASCADE', column_name='created_by')
        created = FloatField()
        expires = FloatField()
        password_hash = TextField(null=True)
        allow_download = BooleanField(default=False)
        revoked = FloatField(null=True)
        opens = IntegerField(default=0)
        secret = TextField()                # signs this link's cookies

        class Meta:
            database = Item._meta.database
            table_name = 'share'

    return Share


def shareable_item(item):
    """True while a share link may show `item`: this node's own, not private, not in the trash."""
    return item is not None and item.is_local and not item.private and item.trashed is None


def share_state(share, now=None):
    """'active', 'expired' or 'revoked' (what the Shared links page says)."""
    if share.revoked is not None:
        return 'revoked'
    return 'expired' if share.expires <= (now or time.time()) else 'active'


class Shares:
    """The share links of one node: made, listed, revoked, and found by their token."""

    def __init__(self, node):
        self.node, self.store = node, node.store
        self.Share = share_model(node.database)

    def create(self, user, days, password, allow_download, item=None, album=None):
        """A new link to `item` or `album` (checked by the caller) and its token, shown only this once."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        password_hash = auth.hash_password(password) if password else None
        share = self.Share.create(token_hash=auth.token_hash(token), item=item.id if item else None,
                                  album=album.id if album else None, created_by=user.id, created=now,
                                  expires=now + days * 86400, password_hash=password_hash,
                                  allow_download=bool(allow_download), secret=secrets.token_urlsafe(32))
        return share, token

    def find(self, token):
        """The live share whose token is `token`, else None: looked up by the token's hash (an index
        probe whose cost does not depend on how much of a stored token a guess matches)."""
        wanted = auth.token_hash(token if TOKEN.fullmatch(token or '') else 'not a token')
        share = self.Share.get_or_none(self.Share.token_hash == wanted)
        if share is None or not hmac.compare_digest(share.token_hash, wanted) or share_state(share) != 'active':
            return None
        return share if self.target_alive(share) else None

    def target_alive(self, share):
        if share.item_id is not None:
            return shareable_item(self.store.items.get(share.item_id))
        album = self.store.albums.get(share.album_id)
        return album is not None and album.origin == 'local'

    def listing(self, user):
        """The links `user` made (every link for an admin), newest first."""
        query = self.Share.select().order_by(self.Share.created.desc())
        return list(query if user.is_admin else query.where(self.Share.created_by == user.id))

    def own(self, user, share_id):
        """A link `user` made (any link for an admin); WebError 404 otherwise."""
        share = self.Share.get_or_none(self.Share.id == share_id)
        if share is None or not (user.is_admin or share.created_by_id == user.id):
            raise WebError('no such share link', 404)
        return share

    def revoke(self, user, share_id):
        share = self.own(user, share_id)
        if share.revoked is None:
            share.revoked = time.time()
            share.save()
        return share

    def opened(self, share):
        self.Share.update(opens=self.Share.opens + 1).where(self.Share.id == share.id).execute()

    def album_items(self, share):
        """The shared album's items a link may show, in the album's order."""
        album = self.store.albums.get(share.album_id)
        Item = self.node.database.Item
        return list(self.store.albums.items_query(album).where(
            (Item.origin == 'local') & (Item.private == False)).limit(ALBUM_SHOWN))   # noqa: E712

    def item_of(self, share, item_id):
        """The item a request under this link asks for: the shared item, or an item of the shared album
        that is still in it and shareable; StoreError 404 otherwise."""
        if share.item_id is not None:
            item = self.store.items.get(share.item_id) if item_id in (None, share.item_id) else None
        else:
            item = self.store.items.get(item_id) if item_id else None
            if item is not None and not self.store.albums.holds(self.store.albums.get(share.album_id), item.id):
                item = None
        if not shareable_item(item):
            raise StoreError('this link does not show that', 404)
        return item


def target_name(store, share):
    """What a link points to, as its maker's list shows it."""
    if share.item_id is not None:
        item = store.items.get(share.item_id)
        return ('item', item.title if item else 'deleted item', '/watch/%s' % share.item_id)
    album = store.albums.get(share.album_id)
    return ('album', album.name if album else 'deleted album', '/albums/%s' % share.album_id)


def share_days(text):
    """The form's expiry in days: a whole number 1-90 (7 when empty)."""
    text = (text or '').strip()
    if not text:
        return DEFAULT_DAYS
    if not re.fullmatch(r'[0-9]{1,3}', text) or not 1 <= int(text) <= MAX_DAYS:
        raise WebError('a link lasts 1 to %d days' % MAX_DAYS)
    return int(text)


def link_base(node):
    """Where people reach this node: public_url, else the address this browser used."""
    if node.config.get('node', 'public_url'):
        return node.config.base_url
    parts = bottle.request.urlparts
    return '%s://%s' % (parts.scheme, parts.netloc)


def loopback(base):
    """True when a link's address names this computer only (no public_url, opened on loopback)."""
    host = (urlsplit(base).hostname or '').strip('[]')
    return host == 'localhost' or host.startswith('127.') or host == '::1'


def share_headers(response):
    """The token is in the address: no Referer to anyone, no framing, no sniffing, no caching."""
    response.set_header('Referrer-Policy', 'no-referrer')
    response.set_header('X-Content-Type-Options', 'nosniff')
    response.set_header('Cache-Control', 'no-store')


def unlock_value(share):
    """The cookie that says this browser gave the link's password (a MAC with the link's own secret)."""
    return hmac.new(share.secret.encode(), b'unlocked', hashlib.sha256).hexdigest()


class ShareGate:
    """The anonymous side's checks: a client that failed too many look-ups waits; so does one that
    guesses a link's password (per link and client, per client over links, per link from everywhere)."""

    def __init__(self, web, shares):
        self.web, self.shares = web, shares
        self.lookups = Throttle(LOOKUP_LIMIT, LOOKUP_WINDOW)
        self.passwords = SignInThrottle()

    def client(self):
        return client_bucket(self.web.client_address())

    def open(self, token):
        """The live share of `token`, or TryLater / the "does not work" page as a StoreError."""
        client = self.client()
        wait = self.lookups.wait(client)
        if wait:
            raise TryLater('Too many links that do not work were opened from here. Wait a few minutes.', wait)
        share = self.shares.find(token)
        if share is None:
            self.lookups.fail(client)
            raise StoreError(GONE[1], 404)
        return share

    def unlocked(self, share):
        if share.password_hash is None:
            return True
        return same_secret(bottle.request.get_cookie(UNLOCK_COOKIE) or '', unlock_value(share))

    def check_password(self, share, password):
        """True when `password` is the link's; TryLater while this client or link is throttled."""
        account, client = 'share/%d' % share.id, self.client()
        wait = self.passwords.wait(account, client)
        if wait:
            raise TryLater('Too many wrong passwords. Wait a few minutes and try again.', wait)
        if self.web.passwords.check(password[:auth.MAX_PASSWORD + 1], share.password_hash):
            return True
        self.passwords.fail(account, client)
        return False


def register(app, web):
    """The Shared links pages of members, and the anonymous /s/ pages."""
    shares = Shares(web.node)
    web.shares = shares
    register_making(app, web, shares)
    register_showing(app, web, shares, ShareGate(web, shares))


def register_making(app, web, shares):
    node, store = web.node, web.node.store

    @app.get('/shares')
    def listing(page):
        return page.render('shares', links=listed(shares, page.user), made=None, link=None, loopback=False)

    @app.get('/shares/new')
    def new_form(page):
        item, album = share_target(store, page, bottle.request.query)
        return page.render('share_new', item=item, album=album, error=None, days=DEFAULT_DAYS, max_days=MAX_DAYS,
                           download=False)

    @app.post('/shares')
    def create(page):
        form = bottle.request.forms
        item, album = share_target(store, page, form)
        password, download = form.getunicode('password') or '', form.get('allow_download') == 'yes'
        try:
            days = share_days(form.get('days'))
            if password:
                auth.check_password_length(password)
        except (WebError, auth.AuthError) as exc:
            bottle.response.status = 400
            return page.render('share_new', item=item, album=album, error=str(exc), days=form.get('days', ''),
                               max_days=MAX_DAYS, download=download)
        share, token = shares.create(page.user, days, password, download, item, album)
        base = link_base(node)
        return page.render('shares', links=listed(shares, page.user), made=share, link='%s/s/%s' % (base, token),
                           loopback=loopback(base))

    @app.route('/shares/<share_id:int>/revoke', method=('GET', 'POST'))
    def revoke(page, share_id):
        if bottle.request.method == 'GET' or bottle.request.forms.get('confirm') != 'yes':
            what = target_name(store, shares.own(page.user, share_id))[1]
            return page.render('confirm', title='Revoke this share link?', action='/shares/%d/revoke' % share_id,
                               message='The link to %s stops working at once, for everyone who has it.' % what,
                               button='Revoke the link', back='/shares')
        shares.revoke(page.user, share_id)
        see_other('/shares')


def listed(shares, user):
    """[(share, (kind, name, address), state)] for the Shared links page."""
    return [(share, target_name(shares.store, share), share_state(share)) for share in shares.listing(user)]


def share_target(store, page, fields):
    """(item, None) or (None, album) a member asks to share: theirs (any for an admin) and this node's."""
    if fields.get('item'):
        item = store.items.visible(page.principal, fields.get('item'))
        if not item.is_local:
            raise WebError('%s is an item of %s: only its own home may share it with people outside '
                           '(sharing is not passed on)' % (item.title, item.origin), 403)
        if not may_edit(page.user, item):
            raise WebError('only the owner of this item or an administrator may share it', 403)
        if item.private:
            raise WebError('%s is private: make it shared first, then make a link' % item.title, 403)
        return item, None
    album = store.albums.get(fields.get('album') or '')
    if album is None:
        raise WebError('choose an item or an album to share', 404)
    if album.origin != 'local':     # not named: the album may be one this person cannot see
        raise WebError('this album belongs to another home: only its own home may share it with people '
                       'outside (sharing is not passed on)', 403)
    if not may_change_album(page.user, album):
        raise WebError('only the owner of this album or an administrator may share it', 403)
    return None, album


def register_showing(app, web, shares, gate):
    """The anonymous pages of a link: its item or album, the password form, and the media they show."""
    store = web.node.store

    def guarded(handler):
        """Run `handler(share, ...)` for a live, unlocked link; every refusal is a page of its own."""
        def wrapper(token, *args, **kwargs):
            share_headers(bottle.response)
            try:
                share = gate.open(token)
                if not gate.unlocked(share):
                    return password_page(share, token, None)
                return handler(share, token, *args, **kwargs)
            except TryLater as refused:
                return share_message('Please wait', try_later(refused))
            except (StoreError, WebError) as exc:
                bottle.response.status = exc.status
                return share_message(*GONE) if exc.status == 404 else share_message('Sorry', str(exc))
        return wrapper

    def password_page(share, token, error):
        form_token = bottle.request.get_cookie(FORM_COOKIE) or ''
        if not TOKEN.fullmatch(form_token):
            form_token = secrets.token_urlsafe(32)
            set_share_cookie(token, FORM_COOKIE, form_token, None)
        if error is None:
            bottle.response.status = 401
        return render('share_password', token=token, csrf=form_token, error=error)

    @app.get('/s/<token>', anonymous=True)
    @guarded
    def landing(share, token):
        shares.opened(share)
        if share.album_id is not None:
            album = store.albums.get(share.album_id)
            items = shares.album_items(share)
            return render('share_album', album=album, items=items, token=token, kinds=item_kinds(items),
                          og=og_meta(web.node, token, album.name, items[0] if items else None, 'website'))
        return item_page(share, token, shares.item_of(share, None), None)

    @app.get('/s/<token>/item/<item_id>', anonymous=True)
    @guarded
    def album_item(share, token, item_id):
        return item_page(share, token, shares.item_of(share, item_id), item_id)

    def item_page(share, token, item, item_id):
        base = '/s/%s%s' % (token, '/item/%s' % item.id if item_id else '')
        kind = media.media_kind(item.mime)
        return render('share_item', item=item, kind=kind, base=base, token=token, album=bool(share.album_id),
                      download=share.allow_download,
                      og=og_meta(web.node, token, item.title, item, 'video.other' if kind == 'video' else 'website',
                                 base))

    @app.post('/s/<token>', anonymous=True)
    def unlock(token):
        share_headers(bottle.response)
        try:
            share = gate.open(token)
            if share.password_hash is None:
                see_other('/s/%s' % token)
            form = bottle.request.forms
            sent_form = bottle.request.get_cookie(FORM_COOKIE) or ''
            if not sent_form or not same_secret(form.get('csrf') or '', sent_form):
                bottle.response.status = 403
                return password_page(share, token, 'The form expired. Please type the password again.')
            if not gate.check_password(share, form.getunicode('password') or ''):
                bottle.response.status = 401
                return password_page(share, token, 'That is not the password of this link.')
        except TryLater as refused:
            return share_message('Please wait', try_later(refused))
        except StoreError:
            bottle.response.status = 404
            return share_message(*GONE)
        set_share_cookie(token, UNLOCK_COOKIE, unlock_value(share), max(1, int(share.expires - time.time())))
        see_other('/s/%s' % token)

    def serve(share, item, what):
        headers = media_headers()
        if what == 'thumb':
            return media.file_response(bottle.response, headers, store.open_thumbnail(item), 'image/jpeg')
        if what == 'preview':
            if not item.preview:
                return media.file_response(bottle.response, headers, store.open_media(item), item.mime)
            return media.file_response(bottle.response, headers, store.open_preview(item), 'image/jpeg')
        download = bottle.request.query.get('download') == '1'
        if download and not share.allow_download:
            raise WebError('this link does not offer downloads', 403)
        name = os.path.basename(item.path) if download else None
        body = media.file_response(bottle.response, headers, store.open_media(item), item.mime, name)
        if download:
            bottle.response.set_header('Content-Disposition', media.content_disposition('attachment', name))
        return body

    @app.get('/s/<token>/<what:re:media|thumb|preview>', anonymous=True)
    @guarded
    def shared_media(share, token, what):
        return serve(share, shares.item_of(share, None), what)

    @app.get('/s/<token>/item/<item_id>/<what:re:media|thumb|preview>', anonymous=True)
    @guarded
    def album_media(share, token, item_id, what):
        return serve(share, shares.item_of(share, item_id), what)


def set_share_cookie(token, name, value, max_age):
    """A cookie of one link only: path /s/TOKEN, HttpOnly, SameSite=Lax, Secure over https."""
    options = {} if max_age is None else {'max_age': max_age}
    bottle.response.set_cookie(name, value, path='/s/%s' % token, httponly=True, samesite='lax',
                               secure=bottle.request.urlparts.scheme == 'https', **options)


def share_message(title, message):
    return render('share_message', title=title, message=message)


def item_kinds(items):
    return {item.id: media.media_kind(item.mime) for item in items}


def og_meta(node, token, title, item, og_type, base=None):
    """OpenGraph values for chat apps' previews: the title and, when there is one, the thumbnail."""
    root = link_base(node)
    image = None
    if item is not None and item.thumbnail:
        image = root + (base or '/s/%s/item/%s' % (token, item.id)) + '/thumb'
    return {'title': title, 'type': og_type, 'image': image, 'url': '%s/s/%s' % (root, token)}

