"""The web app: sign-in, browse, search, watch, upload, comments and views, account and admin pages.

Every page goes through `signed_in()` (a server-side session), every state change through a POST with
the session's CSRF token, and every item through `store.items.visible` or `auth.visible_filter`.
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
from privtube_api import media_headers
from privtube_gateway import gateway_reply
from privtube_registry import PeerError
from privtube_store import MAX_COMMENT, StoreError, check_text

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
ANONYMOUS = {'/login', '/setup', '/healthz'}
# failed password checks in 5 minutes: of one account from one client, of distinct accounts from one client,
# and of one account from everywhere; after that, one more each 5 minutes / limit
PAIR_LIMIT, CLIENT_LIMIT, ACCOUNT_LIMIT = 5, 10, 50


class Redirect(Exception):
    def __init__(self, location):
        super().__init__(location)
        self.location = location


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


class TryLater(StoreError):
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
    """A template from views/ (found by absolute path, whatever the working directory)."""
    return bottle.template(name, template_lookup=VIEWS_LOOKUP, human_size=human_size, **values)


def human_size(size):
    for unit in ('bytes', 'KB', 'MB', 'GB'):
        if size < 1000 or unit == 'GB':
            return ('%d %s' if unit == 'bytes' else '%.1f %s') % (size, unit)
        size /= 1000.0


def same_secret(sent, expected):
    """Constant-time check of a token sent with a request: any text, while compare_digest refuses a str
    with non-ASCII characters (Bottle hands over bytes past ASCII as Latin-1 characters)."""
    return hmac.compare_digest(sent.encode('utf-8', 'surrogatepass'), expected.encode('utf-8'))


def session_hash(token):
    return hashlib.sha256(token.encode('utf-8', 'surrogateescape')).hexdigest()


class Web:
    """Request-level helpers bound to one node."""

    def __init__(self, node):
        self.node = node
        self.database = node.database
        self.throttle = SignInThrottle()
        self.passwords = PasswordGate(max(1, node.config.get('server', 'threads') // 2))
        self.dummy_hash = auth.hash_password('not a real password')

    # sessions
    def start_session(self, user):
        """A new session id for `user` in this browser; the session it had before, if any, ends."""
        self.delete_current_session()
        token = secrets.token_urlsafe(32)
        now = time.time()
        self.database.Session.create(id_hash=session_hash(token), user=user.id, csrf=secrets.token_urlsafe(24),
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

    def signed_in(self):
        """(session, user, principal) of the request, or redirect to /login."""
        session = self.current_session()
        if session is None:
            raise Redirect('/login?next=' + quote(own_address(), safe=''))
        if session.last_seen < time.time() - SESSION_TOUCH:   # a write per page would cost an fsync each
            self.database.Session.update(last_seen=time.time()).where(
                self.database.Session.id_hash == session.id_hash).execute()
        user = session.user
        return session, user, self.node.accounts.user_principal(user)

    def check_csrf(self, session):
        sent = bottle.request.headers.raw('X-CSRF-Token') or ''
        if not sent and bottle.request.content_type.startswith(('application/x-www-form-urlencoded',
                                                                'multipart/form-data')):
            sent = bottle.request.forms.get('csrf') or ''   # only forms are parsed: an upload body stays unread
        if bottle.request.method != 'POST' or not same_secret(sent, session.csrf):
            raise StoreError('the form expired; reload the page and try again', 403)

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
        account, client = name.lower()[:64], client_bucket(self.client_address())
        wait = self.throttle.wait(account, client)
        if wait:
            raise TryLater('Too many failed sign-ins. Wait a few minutes and try again.', wait)
        user = self.matching_user(name, password)
        if user is None:
            self.throttle.fail(account, client)
        return user

    def matching_user(self, name, password):
        if len(password) > auth.MAX_PASSWORD or len(name) > 64:
            return None
        user = self.database.User.get_or_none(self.database.User.name == name)
        if user is None:
            self.passwords.check(password, self.dummy_hash)
            return None
        return user if self.passwords.check(password, user.password_hash) else None


def own_address():
    """The path and query of this request, percent-encoded: where to come back to after sign-in."""
    query = bottle.request.query_string
    return quote(bottle.request.fullpath) + ('?' + query if query else '')


def live_session(database, token):
    """The session whose id is `token`, unless it is unknown or idle too long; else None."""
    if not token or len(token) > 100:
        return None
    Session = database.Session
    session = Session.get_or_none(Session.id_hash == session_hash(token))
    if session is None or session.last_seen < time.time() - SESSION_IDLE:
        return None
    return session


def session_token(cookie_header):
    """The session id in a Cookie header, read as Bottle reads it ('' when there is none)."""
    try:
        morsel = SimpleCookie(cookie_header).get(COOKIE)
    except CookieError:
        return ''
    return morsel.value if morsel is not None else ''


def make_web(node):
    """The web app as a Bottle app; the API is mounted on it by `make_app`."""
    app = bottle.Bottle()
    web = Web(node)
    store = node.store
    app.install(PagePlugin(web))

    @app.get('/static/<name:re:[a-z]+\\.(css|js|svg)>', skip=True)
    def static(name):
        return bottle.static_file(name, root=STATIC)

    @app.get('/setup', anonymous=True)
    def setup_form():
        token = bottle.request.query.get('token', '')
        expected = web.setup_token()
        if expected is None or not same_secret(token, expected):
            bottle.response.status = 404
            return render('message', title='Setup is done', user=None,
                          message='This node already has an administrator. Sign in instead.')
        return render('setup', user=None, token=token, error=None)

    @app.post('/setup', anonymous=True)
    def setup_submit():
        form = bottle.request.forms
        expected = web.setup_token()
        if expected is None or not same_secret(form.get('token', ''), expected):
            raise StoreError('this setup link is no longer valid', 403)
        try:
            user = node.accounts.create_user(form.getunicode('username', ''), form.getunicode('password', ''),
                                             admin=True)
        except auth.AuthError as exc:
            bottle.response.status = 400
            return render('setup', user=None, token=expected, error=str(exc))
        node.database.Secret.delete().where(node.database.Secret.name == 'setup_token').execute()
        web.start_session(user)
        raise Redirect('/')

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
            return login_page(web, try_later(refused))
        if user is None:
            bottle.response.status = 401
            return login_page(web, 'Wrong user name or password.')
        web.start_session(user)
        web.set_cookie(LOGIN_COOKIE, '', max_age=0)
        raise Redirect(quote(safe_next(), safe=PATH_SAFE))

    @app.get('/logout')
    def logout_form(session, user, principal):
        return render('logout', user=user, csrf=session.csrf)

    @app.post('/logout')
    def logout(session, user, principal):
        web.check_csrf(session)
        web.end_session()
        raise Redirect('/login')

    @app.get('/')
    def home(session, user, principal):
        Item = node.database.Item
        visible = store.items.visible_query(principal)
        recent = list(visible.order_by(Item.created.desc(), SQL('rowid DESC')).limit(12))
        popular = list(visible.where(Item.views > 0).order_by(Item.views.desc(), Item.id).limit(12))
        return render('home', user=user, csrf=session.csrf, recent=recent, popular=popular)

    @app.get('/search')
    def search(session, user, principal):
        query = bottle.request.query
        q = (query.getunicode('q') or '')[:1000]
        sort = query.get('sort') if query.get('sort') in ('relevance', 'newest', 'views') else 'relevance'
        kind = query.get('kind') if query.get('kind') in media.MEDIA_KINDS else ''
        tag = (query.getunicode('tag') or '').strip().lower()[:64]
        page = int(query.get('page')) if re.fullmatch(r'[0-9]{1,4}', query.get('page') or '') else 1
        page = max(page, 1)
        origin = (query.getunicode('origin') or '').strip()[:64]
        results, more, ranked = store.search.query(principal, q, tag=tag, kind=kind, sort=sort,
                                                   origin='local' if origin == node.name else origin,
                                                   offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        return render('search', user=user, csrf=session.csrf, q=q, sort=sort, kind=kind, tag=tag, page=page,
                      origin=origin, origins=[node.name] + sorted(node.registry.peers()),
                      results=results, more=more, newest_instead=bool(q and sort == 'relevance' and results
                                                                      and not ranked))

    @app.get('/watch/<item_id>')
    def watch(session, user, principal, item_id):
        item = store.items.visible(principal, item_id)
        comments, comments_error = item_comments(node, item)
        playable, why_not = media.playability(item.mime, item.codecs)
        return render('watch', user=user, csrf=session.csrf, item=item, tags=store.items.tags_of(item.id),
                      kind=media.media_kind(item.mime) if playable else 'other', why_not=why_not,
                      comments=comments, comments_error=comments_error,
                      may_edit=may_edit(user, item), owner=item.owner.name if item.owner_id else None,
                      origin=node.name if item.is_local else item.origin, offline=offline_since(node, item))

    @app.get('/media/<item_id>')
    def item_media(session, user, principal, item_id):
        item = store.items.visible(principal, item_id)
        if not item.is_local:
            return gateway_reply(node, item, media_headers(), bottle.response)
        download = bottle.request.query.get('download') == '1'
        name = os.path.basename(item.path) if download else None
        body = media.file_response(bottle.response, media_headers(), store.open_media(item), item.mime, name)
        if download:
            bottle.response.set_header('Content-Disposition', media.content_disposition('attachment', name))
        return body

    @app.get('/thumb/<item_id>')
    def thumbnail(session, user, principal, item_id):
        item = store.items.visible(principal, item_id)
        if item.is_local:
            return media.file_response(bottle.response, media_headers(), store.open_thumbnail(item),
                                       'image/jpeg')
        path = node.registry.thumbnails.path(item.id)
        if not path or not os.path.exists(path):
            raise StoreError('this item has no thumbnail', 404)
        return media.file_response(bottle.response, media_headers(), open(path, 'rb'), 'image/jpeg')

    @app.post('/watch/<item_id>/comments')
    def post_comment(session, user, principal, item_id):
        web.check_csrf(session)
        item = store.items.visible(principal, item_id)
        body = check_text(bottle.request.forms.getunicode('body') or '', 'comment', MAX_COMMENT, required=True)
        if item.is_local:
            store.comments.add(item, user.name, body, user_id=user.id)
        else:
            node.remote.post(item, user.name, body)
        raise Redirect('/watch/%s#comments' % item.id)

    @app.post('/watch/<item_id>/comments/<comment_id>/delete')
    def delete_comment(session, user, principal, item_id, comment_id):
        web.check_csrf(session)
        item = store.items.visible(principal, item_id)
        if not item.is_local:
            raise StoreError('comments on items of %s are deleted there' % item.origin, 403)
        store.comments.delete(item, comment_id, lambda c: user.is_admin or c.user_id == user.id)
        raise Redirect('/watch/%s#comments' % item.id)

    @app.post('/watch/<item_id>/view')
    def count_view(session, user, principal, item_id):
        web.check_csrf(session)
        item = store.items.visible(principal, item_id)
        if not item.is_local:
            node.remote.view(item, viewer_id(node, user))
            return {'counted': True, 'views': item.views + 1}
        counted = item.owner_id != user.id and store.items.count_view(item, principal.tag, 'web')
        return {'counted': bool(counted), 'views': store.items.get(item.id).views}

    @app.get('/upload')
    def upload_form(session, user, principal):
        return render('upload', user=user, csrf=session.csrf, error=None,
                      max_mb=node.config.get('store', 'max_upload_mb'))

    @app.post('/upload')
    def upload(session, user, principal):
        web.check_csrf(session)
        item = receive_upload(store, user)
        node.media.wake.set()
        if bottle.request.headers.raw('X-Requested-With') == 'fetch':
            return {'id': item.id, 'url': '/watch/' + item.id}
        raise Redirect('/watch/' + item.id)

    @app.get('/edit/<item_id>')
    def edit_form(session, user, principal, item_id):
        item = editable(store, principal, user, item_id)
        return render('edit', user=user, csrf=session.csrf, item=item, tags=store.items.tags_of(item.id),
                      error=None)

    @app.post('/edit/<item_id>')
    def edit(session, user, principal, item_id):
        web.check_csrf(session)
        item = editable(store, principal, user, item_id)
        form = bottle.request.forms
        store.items.edit(item, form.getunicode('title', ''), form.getunicode('description', ''),
                         auth.split_tag_list(form.getunicode('tags', '')), bool(form.get('private')))
        raise Redirect('/watch/' + item.id)

    @app.post('/delete/<item_id>')
    def delete(session, user, principal, item_id):
        web.check_csrf(session)
        store.items.delete(editable(store, principal, user, item_id))
        raise Redirect('/')

    @app.get('/account')
    def account(session, user, principal):
        return render('account', user=user, csrf=session.csrf, error=None, done=False)

    @app.post('/account')
    def change_password(session, user, principal):
        web.check_csrf(session)
        form = bottle.request.forms
        try:
            matches = web.login(user.name, form.getunicode('current', '') or '') is not None
        except TryLater as refused:
            return render('account', user=user, csrf=session.csrf, error=try_later(refused), done=False)
        if not matches:
            bottle.response.status = 400
            return render('account', user=user, csrf=session.csrf, error='The current password is wrong.',
                          done=False)
        node.accounts.set_password(user.name, form.getunicode('password', '') or '', keep_session=session.id_hash)
        return render('account', user=user, csrf=session.csrf, error=None, done=True)

    add_admin_routes(app, web)
    return app


def add_admin_routes(app, web):
    node = web.node
    accounts = node.accounts

    @app.get('/admin/users')
    def users(session, user, principal):
        require_admin(user)
        return render('admin_users', user=user, csrf=session.csrf, users=accounts.users(),
                      groups=accounts.groups(), error=None)

    @app.post('/admin/users')
    def users_change(session, user, principal):
        form = admin_form(web, session, user)
        if form.get('action') == 'remove':
            if form.getunicode('name') == user.name:
                raise StoreError('you cannot remove yourself')
            accounts.remove_user(form.getunicode('name', ''))
        else:
            groups = [g for g in form.getall('groups')] or None
            accounts.create_user(form.getunicode('name', ''), form.getunicode('password', ''),
                                 admin=bool(form.get('admin')), groups=groups)
        raise Redirect('/admin/users')

    @app.get('/admin/groups')
    def groups(session, user, principal):
        require_admin(user)
        return render('admin_groups', user=user, csrf=session.csrf, groups=accounts.groups(),
                      load_rules=auth.load_rules)

    @app.post('/admin/groups')
    def groups_change(session, user, principal):
        form = admin_form(web, session, user)
        if form.get('action') == 'remove':
            accounts.remove_group(form.getunicode('name', ''))
        else:
            accounts.create_group(form.getunicode('name', ''), (form.getunicode('rules', '') or '').split())
        raise Redirect('/admin/groups')

    @app.get('/admin/peers')
    def peers(session, user, principal):
        require_admin(user)
        return render('admin_peers', user=user, csrf=session.csrf, peers=peer_rows(node), started=None)

    @app.post('/admin/peers')
    def peers_sync(session, user, principal):
        name = admin_form(web, session, user).getunicode('name', '')
        if name not in node.registry.peers():
            raise StoreError('no peer named %s' % name, 404)
        threading.Thread(target=node.registry.sync, args=(name,), name='privtube-sync-now', daemon=True).start()
        return render('admin_peers', user=user, csrf=session.csrf, peers=peer_rows(node), started=name)

    @app.get('/admin/keys')
    def keys(session, user, principal):
        require_admin(user)
        return render('admin_keys', user=user, csrf=session.csrf, keys=accounts.keys(), load_rules=auth.load_rules,
                      new_key=None, peer_line=None)

    @app.post('/admin/keys')
    def keys_change(session, user, principal):
        form = admin_form(web, session, user)
        new_key = peer_line = None
        if form.get('action') == 'revoke':
            accounts.revoke_key(form.getunicode('name', ''))
        else:
            _, new_key = accounts.create_key(form.getunicode('name', ''), (form.getunicode('rules', '') or '').split(),
                                             manage=bool(form.get('manage')))
            peer_line = 'privtube peer add %s %s --key %s' % (node.name, node.config.base_url, new_key)
        return render('admin_keys', user=user, csrf=session.csrf, keys=accounts.keys(), load_rules=auth.load_rules,
                      new_key=new_key, peer_line=peer_line)


def item_comments(node, item):
    """(comments, error message): a peer's item has its comments at the origin, which may be offline."""
    if item.is_local:
        return node.store.comments.json(item), None
    try:
        return node.remote.comments(item), None
    except PeerError as exc:
        return [], 'Sorry, comments unavailable right now: they live at %s, which cannot be reached (%s).' % (
            item.origin, exc)


def offline_since(node, item):
    """When the origin of a peer's item last answered, if its last sync failed; else None."""
    if item.is_local:
        return None
    state = node.database.Peer.get_or_none(node.database.Peer.name == item.origin)
    if state is None or state.status != 'failed':
        return None
    return time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(state.last_success)) if state.last_success else 'ever'


def viewer_id(node, user):
    """An opaque, stable id for this user at other nodes: counts views without naming anyone."""
    return hashlib.sha256(('%s/%d' % (node.name, user.id)).encode()).hexdigest()[:24]


def peer_rows(node):
    """[(name, url, state)] of the configured peers, in name order."""
    Peer = node.database.Peer
    states = {row.name: row for row in Peer.select()}
    return [(name, peer["url"], states.get(name)) for name, peer in sorted(node.registry.peers().items())]


def admin_form(web, session, user):
    """The submitted form of an admin page, once the CSRF token and the admin role are checked."""
    web.check_csrf(session)
    require_admin(user)
    return bottle.request.forms


def require_admin(user):
    if not user.is_admin:
        raise StoreError('only administrators may open this page', 403)


def may_edit(user, item):
    """Only the origin changes an item: owners and admins edit local items only."""
    return item.is_local and (user.is_admin or (item.owner_id is not None and item.owner_id == user.id))


def editable(store, principal, user, item_id):
    item = store.items.visible(principal, item_id)
    if not may_edit(user, item):
        raise StoreError('only the owner of this item or an administrator may change it', 403)
    return item


def receive_upload(store, user):
    """The file as the raw request body (metadata in the query) or, without JavaScript, a multipart form."""
    request = bottle.request
    if (request.content_type or '').startswith('multipart/form-data'):
        upload = request.files.get('file')
        if upload is None:
            raise StoreError('choose a file to upload')
        fields, stream, length = request.forms, upload.file, content_size(upload.file)
        extension = os.path.splitext(upload.raw_filename or '')[1]
    else:
        fields, stream = request.query, request.environ['wsgi.input']
        length = int(request.environ.get('CONTENT_LENGTH') or 0)
        extension = os.path.splitext(request.query.getunicode('filename') or '')[1]
    if length <= 0:
        raise StoreError('the file is empty')
    title = check_text(fields.getunicode('title') or '', 'title', 200) or 'untitled'
    description = check_text(fields.getunicode('description') or '', 'description', 10000)
    tags = auth.split_tag_list(fields.getunicode('tags') or '')
    return store.uploads.save_stream(stream, length, extension, title, tags, private=bool(fields.get('private')),
                                     owner_id=user.id, description=description)


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


def login_page(web, error):
    """The sign-in form, with this browser's token and where to go after."""
    refuse_control_characters()
    return render('login', user=None, error=error, next=safe_next(), csrf=web.login_token())


CONTROL = re.compile('[\x00-\x1f\x7f]')
PATH_SAFE = "/?#&=;:@!$'()*+,%"      # kept as they are when `next` is percent-encoded for Location


def refuse_control_characters():
    """400 for control characters in the address or the form's `next`: CR, LF or NUL in a Location."""
    if CONTROL.search(unquote(bottle.request.query_string) + (bottle.request.forms.get('next') or '')):
        raise StoreError('the address has control characters', 400)


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
    """Wraps every web route: database connection, sign-in check, and errors as pages."""
    name, api = 'privtube_web', 2

    def __init__(self, web):
        self.web = web

    def apply(self, callback, route):
        anonymous = route.config.get('anonymous')

        def wrapper(*args, **kwargs):
            bottle.response.set_header('X-Frame-Options', 'DENY')
            bottle.response.set_header('Content-Security-Policy', "default-src 'self'; media-src 'self'; "
                                       "img-src 'self' data:; object-src 'none'; frame-ancestors 'none'")
            bottle.response.set_header('Referrer-Policy', 'same-origin')
            try:
                with self.web.node.database.serving():
                    if anonymous:
                        return callback(*args, **kwargs)
                    session, user, principal = self.web.signed_in()
                    return callback(session, user, principal, *args, **kwargs)
            except Redirect as moved:
                bottle.response.status = 303
                bottle.response.set_header('Location', moved.location)
                return ''
            except (StoreError, auth.AuthError, PeerError) as exc:
                bottle.response.status = getattr(exc, 'status', 400)
                return render('message', title='Sorry', message=str(exc), user=None)

        return wrapper
