"""The web app: sign-in, browse, search, watch, upload, comments and views, account and admin pages.

Every page goes through `PagePlugin`: it finds the server-side session (`Web.page()`), checks the session's
CSRF token on every state change, and maps refusals to pages. Routes are registered by concern (the
`register_*` functions here, the admin pages in privtube_admin.py); every item goes through
`store.items.visible` or `auth.visible_filter`.
"""
import hashlib
import hmac
import ipaddress
import logging
import math
import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from http.cookies import CookieError, SimpleCookie
from urllib.parse import quote, unquote

import bottle
from peewee import SQL

import privtube_auth as auth
import privtube_media as media
import privtube_music as music
import privtube_news
import privtube_peer_copies
import privtube_remux
from privtube_api import ANONYMOUS_API, media_headers
from privtube_bulk import ACTIONS
from privtube_comments import body_html
from privtube_gateway import gateway_reply
from privtube_items import LIMITS, MAX_COMMENT, MAX_DESCRIPTION, MAX_TITLE, shown_date, shown_time, utcnow
from privtube_peer import PeerError
from privtube_playback import Playback, clock
from privtube_reach import item_reach
from privtube_store import Duplicate, StoreError, check_text
from privtube_subtitles import default_track
from privtube_timeline import Timeline

logger = logging.getLogger('privtube.web')

HERE = os.path.dirname(os.path.abspath(__file__))
VIEWS = os.path.join(HERE, 'views')
STATIC = os.path.join(HERE, 'views', 'static')
VIEWS_LOOKUP = [VIEWS]   # one list object: Bottle caches compiled templates by the lookup's id
COOKIE = 'privtube_session'
LOGIN_COOKIE = 'privtube_login'      # the sign-in form's pre-session token
SESSION_IDLE = 30 * 24 * 3600
SESSION_TOUCH = 600
PAGE_SIZE = 24
SEARCH_ALBUMS = 6       # albums shown above a search's items
# the reviewed routes open without a session (the API's, ANONYMOUS_API, check their own credential)
ANONYMOUS = {'/login', '/setup', '/healthz',   # the reviewed routes open without a session
             # share links (privtube_shares): the token is the credential, found by its hash; failed
             # look-ups and wrong passwords are throttled per client; only the one item or album it names
             '/s/<token>', '/s/<token>/<what:re:media|thumb|preview>', '/s/<token>/item/<item_id>',
             '/s/<token>/item/<item_id>/<what:re:media|thumb|preview>',
             # a password reset link: its one-time token is the credential, wrong ones throttled
             '/reset',
             '/invite',    # the invite's token is the credential (privtube_invites), throttled
             # read-only WebDAV (privtube_dav): HTTP Basic with an app password on every request, throttled
             # as sign-in; no cookie is read and nothing changes (writes get 405), so it needs no CSRF token
             '/dav', '/dav/', '/dav/<path:path>'} | ANONYMOUS_API
SAFE_METHODS = ('GET', 'HEAD', 'OPTIONS')       # every other method changes state: it needs the CSRF token
# how a state change may be sent: forms POST; scripts (the resumable upload's) also PATCH and DELETE, which no
# form of another site can send, and always carry the token in the X-CSRF-Token header
CHANGING_METHODS = ('POST', 'PATCH', 'DELETE')
SORTS = (('relevance', 'best match'), ('newest', 'newest'), ('taken', 'date taken'),   # search's orders
         ('views', 'most viewed'))
# failed password checks in 5 minutes: of one account from one client, of distinct accounts from one client,
# and of one account from everywhere; after that, one more each 5 minutes / limit
PAIR_LIMIT, CLIENT_LIMIT, ACCOUNT_LIMIT = 5, 10, 50


class WebError(Exception):
    """A request the web app refuses: `status` is the HTTP status, the message is shown on the page."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def see_other(location):
    """Answer 303 at `location`, a path of this site, keeping the headers and cookies set so far. This is
    `bottle.redirect` except that the path stays relative: Bottle would prefix the scheme and host it reads
    from the request's Host and X-Forwarded-* headers, which the node trusts only from a configured proxy."""
    answer = bottle.response.copy(cls=bottle.HTTPResponse)
    answer.status = 303
    answer.body = ''
    answer.set_header('Location', location)
    raise answer


class Throttle:
    """At most `limit` failures per bucket in `window` seconds, then one more each window/limit seconds
    (a leaky bucket: one number per bucket). At most `size` buckets are kept: forgiven ones are dropped,
    and past `size` the least recently failed."""

    def __init__(self, limit=5, window=300, size=20000, clock=time.monotonic):
        self.limit, self.window, self.size, self.clock = limit, window, size, clock
        self.step = window / limit
        self.debts = OrderedDict()      # bucket -> when all its failures are forgiven (by `clock`)
        self.lock = threading.Lock()

    def wait(self, *buckets):
        """Seconds until each of `buckets` may take another failure; 0 when none is blocked."""
        now = self.clock()
        with self.lock:
            return max([self.debts.get(bucket, now) + self.step - now - self.window for bucket in buckets] + [0])

    def blocked(self, *buckets):
        return self.wait(*buckets) > 0

    def active(self, bucket):
        """True while `bucket` has a failure not yet forgiven."""
        with self.lock:
            return self.debts.get(bucket, 0) > self.clock()

    def fail(self, *buckets):
        now = self.clock()
        with self.lock:
            for bucket in buckets:
                self.debts[bucket] = max(self.debts.pop(bucket, now), now) + self.step
            while self.debts and (len(self.debts) > self.size or next(iter(self.debts.values())) <= now):
                self.debts.popitem(last=False)


class SignInThrottle:
    """Failed password checks, counted so that guessing stays slow without locking out the wrong people:
    per account and client (typos lock only that pair), per client over distinct accounts (a spray),
    and per account from everywhere, far above the pair's limit (guesses from many addresses)."""

    def __init__(self, window=300, clock=time.monotonic):
        self.pairs = Throttle(PAIR_LIMIT, window, clock=clock)
        self.clients = Throttle(CLIENT_LIMIT, window, clock=clock)
        self.accounts = Throttle(ACCOUNT_LIMIT, window, clock=clock)

    def wait(self, account, client):
        """Seconds until this client may try this account again; 0 when it may now."""
        return max(self.pairs.wait((account, client)), self.clients.wait(client), self.accounts.wait(account))

    def fail(self, account, client):
        if not self.pairs.active((account, client)):   # an account this client has not failed lately
            self.clients.fail(client)
        self.pairs.fail((account, client))
        self.accounts.fail(account)


def client_bucket(address):
    """A client as the throttle counts it: its IPv4 address, or its IPv6 /64 (one home or host holds a
    whole /64, so single IPv6 addresses would be free for the asking)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network('%s/64' % ip.exploded, strict=False))


class TryLater(WebError):
    """A 429 whose request may be sent again after `retry_after` seconds."""

    def __init__(self, message, retry_after):
        super().__init__(message, 429)
        self.retry_after = max(1, math.ceil(retry_after))


class PasswordGate:
    """At most `limit` password checks at once. Each costs about 0.1 s of a core (scrypt) in a worker
    thread: a burst of sign-ins (or a password spray) would otherwise take every thread from the pages.
    One past the limit is told at once to try again in a moment (429), without waiting for a slot."""

    def __init__(self, limit):
        self.slots = threading.BoundedSemaphore(limit)

    def check(self, password, password_hash):
        if not self.slots.acquire(blocking=False):
            raise TryLater('Many people are signing in right now. Please try again in a moment.', 1)
        try:
            return auth.verify_password(password, password_hash)
        finally:
            self.slots.release()


def setup_token(database):
    """The one-time first-run token, made when the node has no user yet; None once one exists."""
    if database.User.select().exists():
        return None
    Secret = database.Secret
    row = Secret.get_or_none(Secret.name == 'setup_token')
    if row is None:
        row = Secret.create(name='setup_token', value=secrets.token_urlsafe(24))
    return row.value


def render(name, **values):
    """A template from views/ (found by absolute path, whatever the working directory); every template
    gets the text limits (its forms' maxlength) and the time format."""
    return bottle.template(name, template_lookup=VIEWS_LOOKUP, human_size=human_size, limits=LIMITS,
                           shown_time=shown_time, shown_date=shown_date, clock=clock, body_html=body_html,
                           current=current, **values)


def current(prefix):
    """` aria-current="page"` for a menu link whose section (`prefix`) holds the page being shown."""
    try:
        path = bottle.request.path
    except RuntimeError:       # rendered outside a request
        return ''
    return ' aria-current="page"' if path == prefix or path.startswith(prefix.rstrip('/') + '/') else ''


def human_size(size):
    for unit in ('bytes', 'KB', 'MB', 'GB'):
        if size < 1000 or unit == 'GB':
            return ('%d %s' if unit == 'bytes' else '%.1f %s') % (size, unit)
        size /= 1000.0


def same_secret(sent, expected):
    """Constant-time check of a token sent with a request: any text, while compare_digest refuses a str
    with non-ASCII characters (Bottle hands over bytes past ASCII as Latin-1 characters)."""
    return hmac.compare_digest(sent.encode('utf-8', 'surrogatepass'), expected.encode('utf-8'))


class Web:
    """Request-level helpers bound to one node."""

    def __init__(self, node):
        self.node = node
        self.database = node.database
        self.throttle = SignInThrottle()
        self.passwords = PasswordGate(max(1, node.config.get('server', 'threads') // 2))
        self.dummy_hash = auth.hash_password('not a real password')
        self.site = node.config.get('node', 'name')    # '' when unset: pages then say just "privtube"
        self.news = privtube_news.News(node.store)      # what is new for each person, and their digests
        self.app_passwords = None       # WebDAV's app passwords: privtube_dav.register sets them

    def render(self, name, **values):
        """A page of this node: its header and title carry the node's name when one is set."""
        return render(name, site=self.site, **values)

    def account_page(self, page, **values):
        """The account page (views/account.tpl): the password form, the digest form and the app passwords
        section (privtube_dav); `values` override what each shows by default."""
        import privtube_dav  # deferred: it imports this module
        shown = {'error': None, 'done': False, 'digest': privtube_news.digest_form(self.node, self.news, page.user),
                 'app_passwords': privtube_dav.app_password_section(self.app_passwords, page.user)}
        return page.render('account', **dict(shown, **values))

    # sessions
    def start_session(self, user):
        """A new session id for `user` in this browser; the session it had before, if any, ends."""
        self.delete_current_session()
        token = secrets.token_urlsafe(32)
        now = time.time()
        self.database.Session.create(id_hash=auth.token_hash(token), user=user.id, csrf=secrets.token_urlsafe(24),
                                     created=now, last_seen=now)
        self.set_cookie(COOKIE, token, max_age=SESSION_IDLE)

    def set_cookie(self, name, value, max_age=None):
        """One of the node's cookies: HttpOnly, SameSite=Lax, Secure over https; Max-Age only (no Expires)."""
        secure = bottle.request.urlparts.scheme == 'https'
        options = {} if max_age is None else {'max_age': max_age}
        bottle.response.set_cookie(name, value, httponly=True, samesite='lax', secure=secure, path='/', **options)

    def current_session(self):
        return live_session(self.database, bottle.request.get_cookie(COOKIE))

    def delete_current_session(self):
        session = self.current_session()
        if session is not None:
            session.delete_instance()

    def end_session(self):
        self.delete_current_session()
        self.set_cookie(COOKIE, '', max_age=0)

    def page(self, admin=False):
        """The signed-in request's Page, or a redirect to /login. A state change must carry the session's
        CSRF token, and an admin page (`admin`) an administrator."""
        page = self.signed_in()
        if bottle.request.method not in SAFE_METHODS:
            self.check_csrf(page.session)
        if admin:
            require_admin(page.user)
        return page

    def signed_in(self):
        """The Page of the request's session, or redirect to /login."""
        session = self.current_session()
        if session is None and wants_json():     # a page's script: it keeps what was typed and says so
            raise WebError('you are signed out; sign in again in another tab, then send it again', 401)
        if session is None:
            see_other('/login?next=' + quote(own_address(), safe=''))
        if session.last_seen < time.time() - SESSION_TOUCH:   # a write per page would cost an fsync each
            self.database.Session.update(last_seen=time.time()).where(
                self.database.Session.id_hash == session.id_hash).execute()
        user = session.user
        return Page(self, session, user, self.node.accounts.user_principal(user))

    def check_csrf(self, session):
        sent = bottle.request.headers.raw('X-CSRF-Token') or ''
        if not sent and bottle.request.content_type.startswith(('application/x-www-form-urlencoded',
                                                                'multipart/form-data')):
            sent = bottle.request.forms.get('csrf') or ''   # only forms are parsed: an upload body stays unread
        if bottle.request.method not in CHANGING_METHODS or not same_secret(sent, session.csrf):
            raise WebError('the form expired; reload the page and try again', 403)

    # the sign-in form
    def login_token(self):
        """The token of this browser's sign-in form: its pre-session cookie, set when it has none."""
        token = bottle.request.get_cookie(LOGIN_COOKIE) or ''
        if not re.fullmatch(r'[A-Za-z0-9_-]{32}', token):
            token = secrets.token_urlsafe(24)
            self.set_cookie(LOGIN_COOKIE, token)     # no Max-Age: it lasts as long as the browser's session
        return token

    def sent_by_login_form(self):
        """False when another site may have sent this sign-in (login CSRF: its visitor signed in to an
        account of the attacker's). The node's form carries a token bound to a pre-session cookie; a
        request without one passes only when no browser marks it, as a browser sends `Origin` (and
        `Sec-Fetch-Site`) with every cross-site form, and a script that signs in sends neither."""
        environ = bottle.request.environ
        site = environ.get('HTTP_SEC_FETCH_SITE')          # raw: no decoding to fail
        if site is not None and site not in ('same-origin', 'none'):
            return False
        cookie = bottle.request.get_cookie(LOGIN_COOKIE) or ''
        if 'csrf' in bottle.request.forms or cookie:
            return bool(cookie) and same_secret(bottle.request.forms.get('csrf') or '', cookie)
        return site is None and 'HTTP_ORIGIN' not in environ

    def setup_token(self):
        return setup_token(self.database)

    def client_address(self):
        return bottle.request.remote_addr if self.node.config.get('server', 'trusted_proxy') else \
            bottle.request.environ.get('REMOTE_ADDR', '')

    def login(self, name, password):
        """The user when the name and password match; None (after equal work) otherwise. Every password
        check of the web app comes here: through the sign-in throttle (TryLater when it blocks) and the gate."""
        account, client = name.lower()[:auth.MAX_NAME], client_bucket(self.client_address())
        wait = self.throttle.wait(account, client)
        if wait:
            raise TryLater('Too many failed sign-ins. Wait a few minutes and try again.', wait)
        user = self.matching_user(name, password)
        if user is None:
            self.throttle.fail(account, client)
        return user

    def matching_user(self, name, password):
        if len(password) > auth.MAX_PASSWORD or len(name) > auth.MAX_NAME:
            return None
        user = self.node.accounts.find_user(name)
        if user is None:
            self.passwords.check(password, self.dummy_hash)
            return None
        return user if self.passwords.check(password, user.password_hash) else None


class Page:
    """What a signed-in page's handler is given: the session, its user and principal, and `render()`."""

    def __init__(self, web, session, user, principal):
        self.web, self.session, self.user, self.principal = web, session, user, principal

    def render(self, name, **values):
        """The page `name` for this user, its forms carrying the session's CSRF token; its cards say which
        origins are offline (`offline_origins`, one query for the whole page)."""
        return self.web.render(name, user=self.user, csrf=self.session.csrf,
                               offline_origins=offline_origins(self.web.database), **values)


def own_address():
    """The path and query of this request, percent-encoded: where to come back to after sign-in."""
    query = bottle.request.query_string
    return quote(bottle.request.fullpath) + ('?' + query if query else '')


def live_session(database, token):
    """The session whose id is `token`, unless it is unknown or idle too long; else None."""
    if not token or len(token) > 100:
        return None
    Session, User = database.Session, database.User
    # plain SQL, as for every query each page makes: building Peewee's queries cost more than running them
    found = list(Session.raw('SELECT * FROM session WHERE id_hash = ?', auth.token_hash(token)))
    if not found or found[0].last_seen < time.time() - SESSION_IDLE:
        return None
    session = found[0]
    users = list(User.raw('SELECT * FROM user WHERE id = ?', session.user_id))
    if users:
        session.user = users[0]
    return session if users else None


def session_token(cookie_header):
    """The session id in a Cookie header, read as Bottle reads it ('' when there is none)."""
    try:
        morsel = SimpleCookie(cookie_header).get(COOKIE)
    except CookieError:
        return ''
    return morsel.value if morsel is not None else ''


def make_web(node):
    """The web app as a Bottle app; the API is mounted on it by `make_app`."""
    import privtube_admin  # deferred: the admin and album pages' modules import this one
    import privtube_albums
    import privtube_dav
    import privtube_invites
    import privtube_tus
    app = bottle.Bottle()
    web = Web(node)
    app.install(PagePlugin(web))

    @app.get('/static/<name:re:[a-z]+\\.(css|js|svg)>', skip=True)
    def static(name):
        return bottle.static_file(name, root=STATIC)

    import privtube_library  # deferred, as the admin pages
    import privtube_pairing
    import privtube_playback
    import privtube_shares
    import privtube_subtitles
    for register in (register_setup, register_sign_in, register_browse, register_uploads, register_trash,
                     register_comments, privtube_library.register, privtube_albums.register, privtube_admin.register,
                     privtube_invites.register, privtube_tus.register, privtube_playback.register,
                     privtube_subtitles.register, privtube_news.register, privtube_shares.register,
                     privtube_pairing.register_web, privtube_dav.register):
        register(app, web)
    return app


def register_setup(app, web):
    """The first run: the setup link makes the node's first administrator."""
    node = web.node

    @app.get('/setup', anonymous=True)
    def setup_form():
        token = bottle.request.query.get('token', '')
        expected = web.setup_token()
        if expected is None:
            bottle.response.status = 404
            return web.render('message', title='Setup is done', user=None,
                          message='This node already has an administrator. Sign in instead.')
        if not same_secret(token, expected):
            bottle.response.status = 404
            return web.render('message', title='Setup needs its link', user=None, message=SETUP_WHERE)
        return web.render('setup', user=None, token=token, error=None, username='')

    @app.post('/setup', anonymous=True)
    def setup_submit():
        form = bottle.request.forms
        expected = web.setup_token()
        if expected is None or not same_secret(form.get('token', ''), expected):
            raise WebError('this setup link is no longer valid', 403)
        try:
            user = node.accounts.create_user(form.getunicode('username', ''), form.getunicode('password', ''),
                                             admin=True)
        except auth.AuthError as exc:
            bottle.response.status = 400
            return web.render('setup', user=None, token=expected, error=str(exc),
                              username=form.getunicode('username', ''))
        node.database.Secret.delete().where(node.database.Secret.name == 'setup_token').execute()
        web.start_session(user)
        see_other('/')


SETUP_WHERE = ('This node has no administrator yet. Open the setup link that `privtube serve` printed when it '
               'started (in its output, or in the log of the service that runs it): it ends in /setup?token=... '
               'and makes the first administrator.')


def register_sign_in(app, web):
    """Sign-in and sign-out, and the account page (a password change)."""
    node, news, account_page = web.node, web.news, web.account_page

    @app.get('/login', anonymous=True)
    def login_form():
        return login_page(web, None)

    @app.post('/login', anonymous=True)
    def login_submit():
        refuse_control_characters()
        if not web.sent_by_login_form():
            bottle.response.status = 403
            return login_page(web, 'The sign-in form expired. Please sign in again.')
        form = bottle.request.forms
        name, password = form.getunicode('username', '') or '', form.getunicode('password', '') or ''
        try:
            user = web.login(name, password)
        except TryLater as refused:
            return login_page(web, try_later(refused), name)
        if user is None:
            bottle.response.status = 401
            return login_page(web, 'Wrong user name or password.', name)
        web.start_session(user)
        web.set_cookie(LOGIN_COOKIE, '', max_age=0)
        see_other(quote(safe_next(), safe=PATH_SAFE))

    @app.get('/logout')
    def logout_form(page):
        return page.render('logout')

    @app.post('/logout')
    def logout(page):
        web.end_session()
        see_other('/login')

    @app.get('/account')
    def account(page):
        return account_page(page, digest=digest_form(page, bottle.request.query))

    @app.post('/account')
    def change_password(page):
        form = bottle.request.forms
        try:
            matches = web.login(page.user.name, form.getunicode('current', '') or '') is not None
        except TryLater as refused:
            return account_page(page, error=try_later(refused))
        if not matches:
            bottle.response.status = 400
            return account_page(page, error='The current password is wrong.')
        try:
            node.accounts.set_password(page.user.name, form.getunicode('password', '') or '',
                                       keep_session=page.session.id_hash)
        except auth.AuthError as exc:
            bottle.response.status = 400
            return account_page(page, error='The new password was not saved: %s.' % exc)
        return account_page(page, done=True)

    def digest_form(page, query=None):
        return privtube_news.digest_form(node, news, page.user, saved=bool(query and query.get('digest') == 'saved'))


def register_browse(app, web):
    """The start page, search, the watch page, and the media and thumbnails they show."""
    node, store = web.node, web.node.store
    playback, news = Playback(store), web.news

    @app.get('/')
    def home(page):
        Item = node.database.Item
        visible = store.items.visible_query(page.principal)
        recent = list(visible.order_by(Item.created.desc(), SQL('rowid DESC')).limit(12))
        popular = list(visible.where(Item.views > 0).order_by(Item.views.desc(), Item.id).limit(12))
        resuming = playback.continue_watching(page.user, page.principal)
        years_ago = Timeline(store).on_this_day(page.principal, utcnow())
        new = news.home_row(page.user, page.principal)
        shown = resuming + recent + popular + [item for item, _ in years_ago] + (
            [item for item, _ in new['items']] if new else [])
        return page.render('home', recent=cards(recent), popular=cards(popular), resuming=cards(resuming),
                           news=new, marks=card_marks(store, page, shown), on_this_day=on_this_day(years_ago))

    @app.get('/search')
    def search(page):
        asked = search_form(bottle.request.query)
        q, sort, origin, number = asked['q'], asked['sort'], asked['origin'], asked['page']
        results, more, ranked = store.search.query(page.principal, q, tag=asked['tag'], kind=asked['kind'], sort=sort,
                                             origin='local' if origin == node.name else origin,
                                             offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        return page.render('search', origins=[node.name] + sorted(node.registry.peers()), kinds=media.MEDIA_KINDS,
                           sorts=SORTS, results=cards(results), more=more,
                           albums=matching_albums(store, page.principal, q, number),
                           newest_instead=bool(q and sort == 'relevance' and results and not ranked),
                           **grid_tools(store, page, results, own_address()), **asked)

    @app.get('/watch/<item_id>')
    def watch(page, item_id):
        item = store.items.visible(page.principal, item_id)
        comments, comments_error = item_comments(node, item, page.user)
        play = privtube_remux.playback(node, item)
        kind = play.kind
        return page.render('watch', item=item, tags=store.items.tags_of(item.id), kind=kind, src=play.src,
                           why_not=play.why_not, preparing=play.preparing, comments=comments,
                           comments_error=comments_error, seek_links=kind in ('video', 'audio'),
                           original=item.mime in media.PLAYABLE_IMAGES,
                           may_edit=may_edit(page.user, item), owner=item.owner.name if item.owner_id else None,
                           reach=item_reach(store, node.accounts, item) if may_edit(page.user, item) else None,
                           origin=node.name if item.is_local else item.origin, offline=offline_since(node, item),
                           resume=playback.resume_point(page.user, item), subtitles=item.subtitles,
                           song_album=music.song_album(store, item) if media.media_kind(item.mime) == 'audio' else None,
                           default_track=default_track(item.subtitles),
                           watched=playback.is_watched(page.user, item))

    @app.get('/media/<item_id>')
    def item_media(page, item_id):
        item = store.items.visible(page.principal, item_id)
        return media_reply(node, item, download=bottle.request.query.get('download') == '1')

    @app.get('/play/<item_id>')
    def play(page, item_id):
        """What a watch page's player plays when the original will not: the item's browser-playable copy
        (privtube_remux), else the original."""
        item = store.items.visible(page.principal, item_id)
        if not item.is_local:
            body = privtube_peer_copies.play_reply(node, item, media_headers(), bottle.response)
            if body is None:
                bottle.redirect('/media/%s' % item.id, 302)
            return body
        copy = node.remux.open_copy(item)
        if copy is None:
            bottle.redirect('/media/%s' % item.id, 302)
        return media.file_response(bottle.response, media_headers(), *copy)

    @app.get('/preview/<item_id>')
    def preview(page, item_id):
        """What a watch page and the gallery show of a photo: its display-sized preview, else the original."""
        item = store.items.visible(page.principal, item_id)
        if item.is_local and item.preview:
            return media.file_response(bottle.response, media_headers(), store.open_preview(item), 'image/jpeg')
        cached = None if item.is_local else node.registry.previews.fetched(item)
        if cached:
            return media.file_response(bottle.response, media_headers(), open(cached, 'rb'), 'image/jpeg')
        bottle.redirect('/media/%s' % item.id, 302)

    @app.get('/thumb/<item_id>')
    def thumbnail(page, item_id):
        item = store.items.visible(page.principal, item_id)
        if item.is_local:
            return media.file_response(bottle.response, media_headers(), store.open_thumbnail(item),
                                       'image/jpeg')
        path = node.registry.thumbnails.path(item.id)
        if not path or not os.path.exists(path):
            raise WebError('this item has no thumbnail', 404)
        return media.file_response(bottle.response, media_headers(), open(path, 'rb'), 'image/jpeg')


def media_reply(node, item, download=False):
    """The bytes of `item` (one the caller checked the person may see) for this request: a local file with
    Range, If-Range and ETag, handed to Bottle as a file object that Waitress sends zero-copy; a peer's item
    through the gateway, in its windows. The web's media URL and WebDAV's files (privtube_dav) answer with
    this; `download` asks for an attachment named after the file."""
    if not item.is_local:
        return gateway_reply(node, item, media_headers(), bottle.response)
    name = os.path.basename(item.path) if download else None
    body = media.file_response(bottle.response, media_headers(), node.store.open_media(item), item.mime, name)
    if download:
        bottle.response.set_header('Content-Disposition', media.content_disposition('attachment', name))
    return body


def register_uploads(app, web):
    """What members add and change: uploads, their edits and deletions."""
    node, store = web.node, web.node.store

    @app.get('/upload')
    def upload_form(page):
        return upload_page(page, node)

    @app.post('/upload')
    def upload(page):
        scripted = bottle.request.headers.raw('X-Requested-With') == 'fetch'
        try:
            item = receive_upload(store, page)
        except Duplicate as twin:
            return duplicate_answer(page, node, twin.item, scripted)
        node.media.wake.set()
        if scripted:
            return {'id': item.id, 'url': '/watch/' + item.id}
        see_other('/watch/' + item.id)

    @app.get('/edit/<item_id>')
    def edit_form(page, item_id):
        item = editable(store, page, item_id)
        return page.render('edit', item=item, error=None, typed={
            'title': item.title, 'description': item.description, 'tags': ', '.join(store.items.tags_of(item.id)),
            'private': item.private})

    @app.post('/edit/<item_id>')
    def edit(page, item_id):
        item = editable(store, page, item_id)
        form = bottle.request.forms
        typed = {'title': form.getunicode('title', ''), 'description': form.getunicode('description', ''),
                 'tags': form.getunicode('tags', ''), 'private': bool(form.get('private'))}
        try:
            store.items.edit(item, typed['title'], typed['description'], auth.split_tag_list(typed['tags']),
                             typed['private'])
        except (auth.AuthError, StoreError) as exc:
            bottle.response.status = getattr(exc, 'status', 400)
            return page.render('edit', item=item, error='Not saved: %s.' % exc, typed=typed)
        see_other('/watch/' + item.id)

    @app.route('/delete/<item_id>', method=('GET', 'POST'))
    def delete(page, item_id):
        """Asks first (GET, or a POST without `confirm`), then moves the item to the trash."""
        item = editable(store, page, item_id)
        if bottle.request.method == 'GET' or bottle.request.forms.get('confirm') != 'yes':
            return page.render('confirm', title='Delete %s?' % item.title, action='/delete/' + item.id,
                               message='%s goes to the Trash, where you can restore it for %d days; '
                                       'after that it is removed for good.' % (item.title, store.trash.days),
                               button='Move to the Trash', back='/edit/' + item.id)
        store.trash.move(item)
        see_other('/trash')


def register_trash(app, web):
    """The Trash page: deleted items their owners (and admins) restore or delete for good."""
    store = web.node.store

    @app.get('/trash')
    def trash(page):
        items = store.trash.listing(page.user)
        return page.render('trash', items=cards(items), days=store.trash.days, days_left=store.trash.days_left,
                           original=store.trash.original_path, show_owner=page.user.is_admin)

    @app.post('/trash/<item_id>/restore')
    def restore(page, item_id):
        item = store.trash.restore(trashed_item(store, page, item_id))
        see_other('/watch/' + item.id)

    @app.route('/trash/<item_id>/delete', method=('GET', 'POST'))
    def delete_forever(page, item_id):
        item = trashed_item(store, page, item_id)
        if bottle.request.method == 'GET' or bottle.request.forms.get('confirm') != 'yes':
            return page.render('confirm', title='Delete %s for good?' % item.title, back='/trash',
                               action='/trash/%s/delete' % item.id, button='Delete for good',
                               message='%s and its file are removed for good. This cannot be undone.' % item.title)
        store.trash.delete_forever(item)
        see_other('/trash')


def trashed_item(store, page, item_id):
    """A trashed item `page.user` may restore: their own, or any for an admin; else 404 (as unknown)."""
    item = store.items.get(item_id)
    if item is None or item.trashed is None or not may_edit(page.user, item):
        raise WebError('no such item in the trash', 404)
    return item


def upload_page(page, node, error=None, duplicate=None):
    """The upload form, keeping what was typed, with the albums this person may add to."""
    return page.render('upload', error=error, duplicate=duplicate, max_mb=node.config.get('store', 'max_upload_mb'),
                       albums=addable_albums(node.store, page.user), form=bottle.request.forms)


def duplicate_answer(page, node, twin, scripted):
    """409 for an upload whose content is already the item `twin`: where it is, as JSON for the page's
    script, else the form again with a link to it."""
    bottle.response.status = 409
    if scripted:
        return {'error': 'this file is already in the library',
                'duplicate': {'id': twin.id, 'url': '/watch/' + twin.id}}
    return upload_page(page, node, error='This file is already in the library:', duplicate=twin)


def addable_albums(store, user):
    """Hand-made albums `user` may add uploads to: their own, every one for an admin."""
    return [album for album in store.albums.listing('local')
            if album.kind == 'made' and (user.is_admin or album.owner_id == user.id)]


def upload_album(store, user, name):
    """The album an upload goes into, by name: one `user` may add to, or a new one of theirs; None
    for no name. (Folder albums follow their folders; an upload lands in the uploads folder.)"""
    name = (name or '').strip()
    if not name:
        return None
    album = store.albums.by_name(name)
    if album is None:
        try:
            return store.albums.create(name, owner_id=user.id)
        except StoreError as exc:
            album = store.albums.by_name(name)      # made meanwhile by another file of the same queue
            if exc.status != 409 or album is None:
                raise
    if album.kind != 'made':
        raise WebError('%s is a folder of the media folder; choose another album name' % album.name)
    if not (user.is_admin or album.owner_id == user.id):
        raise WebError('the album %s belongs to someone else; choose another name' % album.name, 403)
    return album


def register_comments(app, web):
    """What members say about an item: comments, and the views they count."""
    node, store = web.node, web.node.store

    @app.post('/watch/<item_id>/comments')
    def post_comment(page, item_id):
        """A new comment; a script asking for JSON gets it (201) and the page stays as it is."""
        item = store.items.visible(page.principal, item_id)
        body = check_text(bottle.request.forms.getunicode('body') or '', 'comment', MAX_COMMENT, required=True)
        if item.is_local:
            comment = dict(store.comments.add(item, page.user.name, body, user_id=page.user.id),
                           may_delete=may_delete_comment(page.user, page.user.id))
        else:
            comment = dict(node.remote.post(item, page.user.name, body), may_delete=False)
        if wants_json():
            bottle.response.status = 201
            return comment
        see_other('/watch/%s#comments' % item.id)

    @app.post('/watch/<item_id>/comments/<comment_id>/delete')
    def delete_comment(page, item_id, comment_id):
        item = store.items.visible(page.principal, item_id)
        if not item.is_local:
            raise WebError('comments on items of %s are deleted there' % item.origin, 403)
        store.comments.delete(item, comment_id, lambda comment: may_delete_comment(page.user, comment.user_id))
        if wants_json():
            return {'deleted': comment_id}
        see_other('/watch/%s#comments' % item.id)

    @app.post('/watch/<item_id>/view')
    def count_view(page, item_id):
        item = store.items.visible(page.principal, item_id)
        if not item.is_local:
            node.remote.view(item, viewer_id(node, page.user))
            return {'counted': True, 'views': item.views + 1}
        counted = item.owner_id != page.user.id and store.items.count_view(item, page.principal.identity, 'web')
        return {'counted': bool(counted), 'views': store.items.get(item.id).views}


def wants_json():
    """True when a page's script asks for JSON (comments.js): the answer and refusals are JSON then."""
    return 'application/json' in (bottle.request.headers.get('Accept') or '')


def search_form(query):
    """The search page's fields from its query string, each cut to what the search takes."""
    page = query.get('page') or ''
    return {'q': (query.getunicode('q') or '')[:1000],
            'sort': query.get('sort') if query.get('sort') in dict(SORTS) else 'relevance',
            'kind': query.get('kind') if query.get('kind') in media.MEDIA_KINDS else '',
            'tag': (query.getunicode('tag') or '').strip().lower()[:64],
            'page': max(int(page), 1) if re.fullmatch(r'[0-9]{1,4}', page) else 1,
            'origin': (query.getunicode('origin') or '').strip()[:64]}


def cards(items):
    """[(item, kind)] for a list of cards: the kind names the card's icon and label."""
    return [(item, media.media_kind(item.mime)) for item in items]


def on_this_day(found):
    """[(item, kind, 'N years ago')] for the home page's "On this day" row."""
    return [(item, media.media_kind(item.mime), '%d year%s ago' % (years, '' if years == 1 else 's'))
            for item, years in found]


def selectable(user, items):
    """The ids of `items` this person may select for a bulk change: those they may edit."""
    return {item.id for item in items if may_edit(user, item)}


def card_marks(store, page, items):
    """views/cards.tpl's `marks` for every card of a page (one query, whatever the number of grids):
    how far this person got in each item, shown as a progress bar or "Watched"."""
    return Playback(store).marks(page.user, items)


def grid_tools(store, page, items, back):
    """What a grid's page needs beside its cards: views/bulk.tpl's values for selecting many, and
    views/cards.tpl's `selectable` and `marks`. `back` is where the summary page links back to."""
    chosen = selectable(page.user, items)
    albums = store.albums.listing('local') if chosen else []    # no form without an item to change
    return {'selectable': chosen, 'marks': card_marks(store, page, items), 'actions': ACTIONS, 'back': back,
            'bulk_albums': [album for album in albums           # folders follow the files
                            if album.kind == 'made' and may_change_album(page.user, album)]}


def may_change_album(user, album):
    """Only the origin changes an album: its owner and administrators change local albums only (a
    folder album, which nobody owns, only administrators)."""
    return album.origin == 'local' and (user.is_admin or (album.owner_id is not None and album.owner_id == user.id))


def album_cards(summaries):
    """[(summary, kind)] for a list of album cards: the kind of the cover names its icon when it has no
    thumbnail."""
    return [(summary, media.media_kind(summary.cover.mime) if summary.cover else 'other') for summary in summaries]


def matching_albums(store, principal, q, number):
    """The first SEARCH_ALBUMS albums named by the words of a search that have items `principal` may see:
    the first page of results shows them above the items."""
    if not q or number > 1:
        return []
    shown = [summary for summary in store.albums.summaries(principal, store.albums.matching(q)) if summary.count]
    return album_cards(shown[:SEARCH_ALBUMS])


def item_comments(node, item, user):
    """(comments, error message): a peer's item has its comments at the origin, which may be offline.
    Each comment says whether `user` may delete it (`may_delete`), by the rule the delete route applies."""
    if item.is_local:
        writers = comment_writers(node.database, item)
        return [dict(comment, may_delete=may_delete_comment(user, writers.get(comment['id'])))
                for comment in node.store.comments.json(item)], None
    try:
        return [dict(comment, may_delete=False) for comment in node.remote.comments(item)], None
    except PeerError as exc:
        return [], 'Sorry, comments unavailable right now: they live at %s, which cannot be reached (%s).' % (
            item.origin, exc)


def comment_writers(database, item):
    """{comment id: id of the user who wrote it, None for a key's} of a local item's comments."""
    Comment = database.Comment
    return dict(Comment.select(Comment.id, Comment.user).where(Comment.item == item.id).tuples())


def may_delete_comment(user, writer_id):
    """Administrators delete any comment of a local item; members the ones they wrote (by user id:
    names are not unique across nodes, a peer's `al@bob` is not the local user `al@bob`)."""
    return user.is_admin or writer_id == user.id


def offline_since(node, item):
    """When the origin of a peer's item last answered, if its last sync failed; else None."""
    return None if item.is_local else offline_origins(node.database).get(item.origin)


def offline_origins(database):
    """{peer name: when it last answered} of the peers whose last sync failed: what cards and the watch
    page say before anyone clicks an item that cannot be fetched now."""
    failed = database.db.execute_sql("SELECT name, last_success FROM peer WHERE status = 'failed'").fetchall()
    return {name: shown_time(last_success, 'never') for name, last_success in failed}


def viewer_id(node, user):
    """An opaque, stable id for this user at other nodes: counts views without naming anyone."""
    return hashlib.sha256(('%s/%d' % (node.name, user.id)).encode()).hexdigest()[:24]


def require_admin(user):
    if not user.is_admin:
        raise WebError('only administrators may open this page', 403)


def may_edit(user, item):
    """Only the origin changes an item: owners and admins edit local items only."""
    return item.is_local and (user.is_admin or (item.owner_id is not None and item.owner_id == user.id))


def editable(store, page, item_id):
    item = store.items.visible(page.principal, item_id)
    if not may_edit(page.user, item):
        raise WebError('only the owner of this item or an administrator may change it', 403)
    return item


def receive_upload(store, page):
    """The file as the raw request body (metadata in the query) or, without JavaScript, a multipart form."""
    request, user = bottle.request, page.user
    if (request.content_type or '').startswith('multipart/form-data'):
        upload = request.files.get('file')
        if upload is None:
            raise WebError('choose a file to upload')
        fields, stream, length = request.forms, upload.file, content_size(upload.file)
        name = upload.raw_filename or ''
    else:
        fields, stream = request.query, request.environ['wsgi.input']
        length = int(request.environ.get('CONTENT_LENGTH') or 0)
        name = request.query.getunicode('filename') or ''
    extension = os.path.splitext(name)[1]
    if length <= 0:
        raise WebError('the file is empty')
    title = check_text(fields.getunicode('title') or '', 'title', MAX_TITLE) or 'untitled'
    description = check_text(fields.getunicode('description') or '', 'description', MAX_DESCRIPTION)
    tags = auth.split_tag_list(fields.getunicode('tags') or '')
    album = upload_album(store, user, fields.getunicode('new_album') or fields.getunicode('album'))
    return store.uploads.save_stream(stream, length, extension, title, tags, private=bool(fields.get('private')),
                                     owner_id=user.id, description=description, album=album,
                                     principal=page.principal, original_name=name or title)


def content_size(fh):
    fh.seek(0, 2)
    size = fh.tell()
    fh.seek(0)
    return size


def try_later(refused):
    """Answer 429 with the wait in Retry-After; returns the message for the page."""
    bottle.response.status = refused.status
    bottle.response.set_header('Retry-After', str(refused.retry_after))
    return str(refused)


def login_page(web, error, name=''):
    """The sign-in form, with this browser's token, where to go after and the name typed; before the first
    run's setup, where the setup link is."""
    refuse_control_characters()
    unset = not web.database.User.select().exists()
    return web.render('login', user=None, error=error, next=safe_next(), csrf=web.login_token(),
                      username=name[:auth.MAX_NAME],
                      setup_where=SETUP_WHERE if unset else None)


CONTROL = re.compile('[\x00-\x1f\x7f]')
PATH_SAFE = "/?#&=;:@!$'()*+,%"      # kept as they are when `next` is percent-encoded for Location


def refuse_control_characters():
    """400 for control characters in the address or the form's `next`: CR, LF or NUL in a Location."""
    if CONTROL.search(unquote(bottle.request.query_string) + (bottle.request.forms.get('next') or '')):
        raise WebError('the address has control characters', 400)


def safe_next():
    """Where to go after sign-in: a path of this site in every browser's reading of it, else '/'."""
    target = bottle.request.query.getunicode('next') or bottle.request.forms.getunicode('next') or '/'
    return local_path(target) or '/'


def local_path(target):
    """`target` (a URL's path and query), or None when a browser could read it as another site's:
    no scheme, no '//', no backslash, no control character (browsers drop tabs), encoded or not."""
    decoded = fully_unquoted(target)
    if decoded is None or not target.startswith('/') or '//' in decoded or '\\' in decoded:
        return None
    return None if CONTROL.search(decoded) else target


def fully_unquoted(text, rounds=5):
    """`text` percent-decoded until nothing changes; None when it is still encoded after `rounds`."""
    for _ in range(rounds):
        text, before = unquote(text), text
        if text == before:
            return text
    return None


class PagePlugin:
    """Wraps every web route: the database connection, the sign-in check, the CSRF token of every state
    change and the admin role (`Web.page()`), and the one place where refusals become pages.

    A route opens without a session only when it says `anonymous=True` and is on the reviewed list
    (ANONYMOUS: sign-in and setup check their own tokens); its handler gets no Page. Every other handler
    gets the Page first, and `admin=True` in a route's options admits administrators only."""
    name, api = 'privtube_web', 2
    REFUSALS = (WebError, StoreError, auth.AuthError, PeerError)   # each has its HTTP status (400 if not)

    def __init__(self, web):
        self.web = web

    def apply(self, callback, route):
        anonymous, admin = route.config.get('anonymous'), route.config.get('admin', False)
        if anonymous and route.rule not in ANONYMOUS:
            raise ValueError('%s is not on the reviewed list of anonymous routes' % route.rule)

        def wrapper(*args, **kwargs):
            set_page_headers(bottle.response)
            try:
                with self.web.node.database.serving():
                    if anonymous:
                        return callback(*args, **kwargs)
                    return callback(self.web.page(admin), *args, **kwargs)
            except self.REFUSALS as exc:
                bottle.response.status = getattr(exc, 'status', 400)
                if wants_json():
                    return {'error': str(exc)}
                return self.refusal_page(exc, not anonymous)

        return wrapper

    def refusal_page(self, refused, signed_in):
        """A refusal in the page with its header and menu (for whoever is signed in); a missing or hidden
        item or album says so in words that fit both, so the page never tells which it was."""
        session = self.web.current_session() if signed_in else None
        user = session.user if session is not None else None
        if getattr(refused, 'status', 400) == 404 and str(refused) in NOT_SHARED_REASONS:
            return self.web.render('message', title='Not found', message=NOT_SHARED, user=user)
        return self.web.render('message', title='Sorry', message=str(refused), user=user)


NOT_SHARED = 'This item does not exist or is not shared with you - ask its owner.'
NOT_SHARED_REASONS = ('not found', 'no such album')     # what the store and the album pages say of a 404


def set_page_headers(response):
    """No framing, no other site's scripts or objects, no address leaked to other sites."""
    response.set_header('X-Frame-Options', 'DENY')
    response.set_header('Content-Security-Policy', "default-src 'self'; media-src 'self'; "
                        "img-src 'self' data:; object-src 'none'; frame-ancestors 'none'")
    response.set_header('Referrer-Policy', 'same-origin')
