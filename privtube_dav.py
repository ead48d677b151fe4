"""WebDAV, read-only, under /dav/: what a person may see on the web, as folders for Kodi, VLC, Infuse, rclone
and file managers (README, "Use it from Kodi, VLC or Infuse").

A person signs in with HTTP Basic: their user name and an app password they made on their account page
(never the sign-in password). The tree is Albums/NAME/, Homes/ORIGIN/ and Years/YYYY/ (Unknown when no date
taken is known), each folder listing exactly the items the web shows that person (`store.items.visible_query`
and `store.albums.visible_items`); files are answered by the web's own media code (`privtube_web.media_reply`).
Only OPTIONS, GET, HEAD and PROPFIND with Depth 0 or 1 (or Windows' 1,noroot) are answered; every other
method gets 405.
"""
import base64
import binascii
import datetime
import hmac
import html
import logging
import os
import re
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from collections import OrderedDict, namedtuple
from urllib.parse import quote

import bottle
from peewee import FloatField, ForeignKeyField, IntegrityError, Model, TextField, fn

import privtube_auth as auth
import privtube_media as media
import privtube_web as web_module
from privtube_peer import PeerError
from privtube_store import UPLOADS, StoreError

logger = logging.getLogger('privtube.dav')

PREFIX = '/dav/'
DAV_RULES = ('/dav', '/dav/', '/dav/<path:path>')
READ_METHODS = ('OPTIONS', 'GET', 'PROPFIND')        # HEAD is answered by GET's route
ALLOW = 'OPTIONS, GET, HEAD, PROPFIND'
REALM = 'Basic realm="privtube", charset="UTF-8"'
MAX_APP_NAME = 64
MAX_APP_PASSWORDS = 50                  # per person
MAX_BODY = 64 * 1024                    # a PROPFIND body; clients send a few hundred bytes
MAX_FILE_NAME = 200                     # characters of a name shown in a folder
LAST_USED_STEP = 600                    # seconds: `last used` is written at most this often (each is an fsync)
DAV = '{DAV:}'
PROPS = ('resourcetype', 'displayname', 'getcontentlength', 'getcontenttype', 'getlastmodified', 'getetag',
         'creationdate')
TOP = ('Albums', 'Homes', 'Years')
UNKNOWN_YEAR = 'Unknown'
UNSAFE = re.compile(r'[/\\]')


# --- app passwords ------------------------------------------------------------------------------------

def app_password_model(node_database):
    """The model of schema step 22 (privtube_db.MIGRATIONS), bound to this node's database."""

    class AppPassword(Model):
        user = ForeignKeyField(node_database.User, on_delete='CASCADE')
        name = TextField()
        token_hash = TextField(unique=True)
        created = FloatField()
        last_used = FloatField(null=True)

        class Meta:
            database = node_database.db
            table_name = 'app_password'
    return AppPassword


class AppPasswords:
    """The app passwords of one node's people: what WebDAV clients sign in with.

    An app password is 256 random bits made by the node, so it is stored as the project's fast token hash
    (`auth.token_hash`, SHA-256) and looked up by it: no scrypt is needed or run per request, because a
    guess at a 256-bit secret fails whatever the hash costs, and a client sends it with every request.
    """

    def __init__(self, database, config):
        self.database, self.config = database, config
        self.AppPassword = app_password_model(database)

    def of(self, user):
        AppPassword = self.AppPassword
        return list(AppPassword.select().where(AppPassword.user == user.id).order_by(AppPassword.created,
                                                                                     AppPassword.id))

    def create(self, user, name):
        """A new app password named `name` for `user`; returns (row, password). Only its hash is kept."""
        name = self.check_name(user, name)
        password = new_password()
        try:
            row = self.AppPassword.create(user=user.id, name=name, token_hash=auth.token_hash(password),
                                          created=time.time())
        except IntegrityError:      # the same name, made a moment ago by another request (the table's UNIQUE)
            raise auth.AuthError('you already have an app password named %s; choose another name' % name)
        return row, password

    def check_name(self, user, name):
        """The name, trimmed, when it is 1-MAX_APP_NAME printable characters and not yet one of theirs."""
        name = ' '.join((name or '').split())
        if not name:
            raise auth.AuthError('give the app password a name, such as the app or device it is for')
        if len(name) > MAX_APP_NAME or not name.isprintable():
            raise auth.AuthError('a name must be 1-%d printable characters' % MAX_APP_NAME)
        AppPassword = self.AppPassword
        mine = AppPassword.select().where(AppPassword.user == user.id)
        if mine.where(fn.lower(AppPassword.name) == name.lower()).exists():
            raise auth.AuthError('you already have an app password named %s; choose another name' % name)
        if mine.count() >= MAX_APP_PASSWORDS:
            raise auth.AuthError('you have %d app passwords; revoke one first' % MAX_APP_PASSWORDS)
        return name

    def revoke(self, user, app_id):
        """Delete one of `user`'s app passwords; False when they have none with that id."""
        row = self.mine(user, app_id)
        return row is not None and bool(row.delete_instance())

    def mine(self, user, app_id):
        """`user`'s app password of id `app_id` (the text of a URL), or None."""
        AppPassword = self.AppPassword
        if not re.fullmatch(r'[0-9]{1,18}', app_id or ''):
            return None
        return AppPassword.get_or_none((AppPassword.id == int(app_id)) & (AppPassword.user == user.id))

    def user_of(self, accounts, name, password):
        """The user whose name and app password these are, or None. The password is found by its hash and
        compared in constant time; a sign-in password is never one."""
        if len(name) > auth.MAX_NAME or not password or len(password) > 200:
            return None
        user = accounts.find_user(name)
        digest = auth.token_hash(password)
        row = self.AppPassword.get_or_none(self.AppPassword.token_hash == digest)
        if user is None or row is None or row.user_id != user.id or not hmac.compare_digest(row.token_hash, digest):
            return None
        if row.last_used is None or row.last_used < time.time() - LAST_USED_STEP:
            self.AppPassword.update(last_used=time.time()).where(self.AppPassword.id == row.id).execute()
        return user


def new_password():
    """256 random bits as URL-safe text that does not begin with `-`: command-line clients (`rclone
    obscure PASSWORD`, curl's `-u`) would read such a password as an option."""
    while True:
        password = secrets.token_urlsafe(32)
        if not password.startswith('-'):
            return password


def basic_credentials(header):
    """(name, password) of an `Authorization: Basic` header (UTF-8, RFC 7617), or None."""
    scheme, _, data = (header or '').strip().partition(' ')
    if scheme.lower() != 'basic' or not data or len(data) > 1024:
        return None
    try:
        text = base64.b64decode(data.strip(), validate=True).decode('utf-8')
    except (binascii.Error, ValueError):
        return None
    name, colon, password = text.partition(':')
    return (name, password) if colon else None


def dav_address(config):
    """The /dav/ address to type into an app: the node's public_url when set, else the address this page
    was opened at (shown only to the person who opened it)."""
    public = config.get('node', 'public_url')
    if public:
        return public.rstrip('/') + PREFIX
    parts = bottle.request.urlparts
    return '%s://%s%s' % (parts.scheme, parts.netloc, PREFIX)


def app_password_section(apps, user, new=None, error=None, typed=''):
    """What views/app_passwords.tpl shows: the person's app passwords, a new one (shown once), a refusal."""
    return {'rows': apps.of(user), 'new': new, 'error': error, 'typed': typed, 'address': dav_address(apps.config),
            'max_name': MAX_APP_NAME}


def register_account(app, web):
    """The account page's app passwords: make one (shown once), revoke one (asked first)."""
    apps = web.app_passwords

    @app.post('/account/app-passwords')
    def create_app_password(page):
        typed = (bottle.request.forms.getunicode('name') or '')[:1000]
        try:
            row, password = apps.create(page.user, typed)
        except auth.AuthError as exc:
            bottle.response.status = 400
            section = app_password_section(apps, page.user, error='Not made: %s.' % exc, typed=typed)
            return web.account_page(page, app_passwords=section)
        logger.info('user %s made the app password %r', page.user.name, row.name)
        new = {'name': row.name, 'password': password, 'user': page.user.name}
        return web.account_page(page, app_passwords=app_password_section(apps, page.user, new=new))

    @app.route('/account/app-passwords/<app_id>/revoke', method=('GET', 'POST'))
    def revoke_app_password(page, app_id):
        """Asks first (GET, or a POST without `confirm`), then deletes: the next request with it is refused."""
        row = apps.mine(page.user, app_id)
        if row is None:
            raise web_module.WebError('no such app password', 404)
        if bottle.request.method == 'GET' or bottle.request.forms.get('confirm') != 'yes':
            return page.render('confirm', title='Revoke the app password %s?' % row.name,
                               action='/account/app-passwords/%d/revoke' % row.id, back='/account#app-passwords',
                               message='Apps that sign in with %s can no longer reach your media.' % row.name,
                               button='Revoke')
        apps.revoke(page.user, app_id)
        logger.info('user %s revoked the app password %r', page.user.name, row.name)
        web_module.see_other('/account#app-passwords')


# --- the tree -----------------------------------------------------------------------------------------

Entry = namedtuple('Entry', 'name item')       # item None: a folder


def safe_name(name, fallback='untitled'):
    """A name as one path segment: readable (no control or bidi characters), no slash or backslash, not
    '.' or '..', at most MAX_FILE_NAME characters (the extension kept)."""
    name = UNSAFE.sub('_', media.readable_name(name or '')).strip()
    if name in ('', '.', '..'):
        name = fallback
    if len(name) > MAX_FILE_NAME:
        stem, extension = os.path.splitext(name)
        extension = extension if len(extension) <= 12 else ''
        name = stem[:MAX_FILE_NAME - len(extension)].rstrip() + extension
    return name


def numbered(name, number, is_file):
    stem, extension = os.path.splitext(name) if is_file else (name, '')
    return '%s (%d)%s' % (stem, number, extension)


def unique_names(wanted, is_file):
    """[(name, thing)] for [(name wanted, tie key, thing)]: each name unique in the folder regardless of
    case (Windows and macOS clients fold it), clashes numbered `name (2).ext` in order of the tie key, so
    the same things get the same names on every listing."""
    taken, named = set(), []
    for name, _, thing in sorted(wanted, key=lambda row: (row[0].casefold(), row[0], row[1])):
        shown, number = name, 2
        while shown.casefold() in taken:
            shown, number = numbered(name, number, is_file), number + 1
        taken.add(shown.casefold())
        named.append((shown, thing))
    return named


def file_name(item):
    """What a file is called: its own name in the media folder; an upload (which the node renamed) and a
    peer's item by their title with the extension of their type."""
    if item.is_local and item.path and not item.path.startswith(UPLOADS + '/'):
        return safe_name(os.path.basename(item.path))
    extension = (os.path.splitext(item.path)[1] if item.path else '') or media.EXTENSIONS.get(item.mime, '')
    title = item.title or 'untitled'
    if extension and title.lower().endswith(extension.lower()):
        extension = ''
    return safe_name(title + extension)


class Tree:
    """The folders one person sees, made from the same visibility code as the web's pages: a folder's
    entries are computed when asked; a file is found by its folder's names (`FileNames` keeps them a while)
    and checked with `store.items.visible` at every request."""

    def __init__(self, node, principal, names):
        self.node, self.store, self.principal, self.names = node, node.store, principal, names
        self.Item = node.database.Item

    def folders(self, top):
        return {'Albums': self.albums, 'Homes': self.homes, 'Years': self.years}.get(top, lambda: None)()

    def entries(self, parts):
        """[Entry] of the folder at `parts` (names of the path), or None when it is no folder."""
        if not parts:
            return [Entry(name, None) for name in TOP]
        found = self.folders(parts[0]) if len(parts) <= 2 else None
        if found is None or len(parts) == 1:
            return None if found is None else [Entry(name, None) for name in found]
        name = matching(found, parts[1])
        return None if name is None else self.files(found[name]())

    def find(self, parts):
        """('folder', [Entry]) or ('file', Entry) at `parts`, or None; StoreError 404 for a file this person
        may no longer see."""
        if len(parts) != 3:
            listed = self.entries(parts)
            return None if listed is None else ('folder', listed)
        names = self.names.get(self.principal, parts[:2], self.store, lambda: self.file_names(parts[:2]))
        name = matching(names or {}, parts[2])
        return None if name is None else ('file', Entry(name, self.store.items.visible(self.principal, names[name])))

    def file_names(self, parent):
        """{file name: item id} of the file folder at `parent`, from the few columns a name is made of; None
        when there is no such folder."""
        found = self.folders(parent[0])
        name = matching(found or {}, parent[1])
        if name is None:
            return None
        return {shown: item.id for shown, item in self.named(found[name]())}

    def files(self, items):
        return [Entry(name, item) for name, item in self.named(items)]

    def named(self, query):
        """[(file name, item)] of a folder's items query, read with only the columns a listing shows (a
        whole item row took twice as long to read)."""
        Item = self.Item
        items = query.select(Item.id, Item.path, Item.title, Item.mime, Item.origin, Item.size, Item.created,
                             Item.updated)
        return unique_names([(file_name(item), item.id, item) for item in items], True)

    def albums(self):
        """{folder name: items function} of the albums with items this person may see (as the albums page
        counts them); a peer's album is called "NAME (from PEER)"."""
        albums = self.store.albums
        shown = [summary.album for summary in albums.summaries(self.principal, albums.listing()) if summary.count]
        wanted = [(safe_name(album.name if album.origin == 'local' else '%s (from %s)' % (album.name, album.origin)),
                   album.id, album) for album in shown]
        return {name: (lambda album=album: albums.visible_items(self.principal, album))
                for name, album in unique_names(wanted, False)}

    def homes(self):
        """{folder name: items function} of the homes (this node, each peer) with items this person may see."""
        Item, visible = self.Item, self.store.items.visible_query(self.principal)
        origins = [origin for origin, in visible.select(Item.origin).distinct().tuples()]
        wanted = [(safe_name(self.node.name or 'This home') if origin == 'local' else safe_name(origin), origin,
                   origin) for origin in origins]
        return {name: (lambda origin=origin: visible.where(Item.origin == origin))
                for name, origin in unique_names(wanted, False)}

    def years(self):
        """{folder name: items function}: one folder per year taken, and Unknown for items without one."""
        Item, visible = self.Item, self.store.items.visible_query(self.principal)
        year = fn.substr(Item.taken, 1, 4)
        known = sorted({found for found, in visible.select(year).distinct().tuples()
                        if found and re.fullmatch(r'[0-9]{4}', found)}, reverse=True)
        folders = {found: (lambda found=found: visible.where(year == found)) for found in known}
        undated = Item.taken.is_null(True) | ~fn.GLOB('[0-9][0-9][0-9][0-9]', year)
        if visible.where(undated).exists():
            folders[UNKNOWN_YEAR] = lambda: visible.where(undated)
        return folders


class FileNames:
    """{file name: item id} of recently listed folders, per person and state of the library: a player's
    Range requests each find their file without listing its folder again (a folder of 5,000 files took
    0.8 s a request). The key holds the library's change stamp (`AlbumStats.stamp`: items, albums, peers'
    syncs) and the person's rules, and an entry lasts `seconds`; a name is only a hint, the item it names
    is checked with `store.items.visible` at every request."""

    def __init__(self, size=64, seconds=60, clock=time.monotonic):
        self.size, self.seconds, self.clock = size, seconds, clock
        self.kept = OrderedDict()       # key -> (when made, names)
        self.lock = threading.Lock()

    def get(self, principal, parent, store, make):
        key = (principal.identity, tuple(principal.rules), principal.is_admin, tuple(parent),
               store.album_stats.stamp())
        now = self.clock()
        with self.lock:
            made, names = self.kept.pop(key, (None, None))
            if made is not None and made > now - self.seconds:
                self.kept[key] = (made, names)
                return names
        names = make()
        with self.lock:
            self.kept[key] = (now, names)
            while len(self.kept) > self.size:
                self.kept.popitem(last=False)
        return names


def matching(names, asked):
    """The key of `names` that is `asked`, exactly or else regardless of case (as a Windows client asks)."""
    if asked in names:
        return asked
    folded = [name for name in names if name.casefold() == asked.casefold()]
    return folded[0] if folded else None


def href(parts, folder):
    """The percent-encoded path of a resource: every character of a name but letters, digits and `-._~`
    encoded (spaces, `#`, `%`, `?` and non-ASCII as UTF-8)."""
    path = PREFIX + '/'.join(quote(part, safe='') for part in parts)
    return path + '/' if folder and parts else path


# --- PROPFIND -----------------------------------------------------------------------------------------

class DavError(Exception):
    """A request WebDAV refuses: its status and a short reason (a body of XML for `xml`)."""

    def __init__(self, status, message, xml=None):
        super().__init__(message)
        self.status, self.xml = status, xml


def asked_properties(body):
    """('allprop', None), ('propname', None) or ('prop', [qualified names]) of a PROPFIND body (an empty
    one asks for all). A body with a DOCTYPE or entities is refused before it is parsed."""
    if not body.strip():
        return 'allprop', None
    if re.search(rb'<!(DOCTYPE|ENTITY)', body, re.I):
        raise DavError(400, 'a PROPFIND body may not declare a DOCTYPE or entities')
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise DavError(400, 'the PROPFIND body is not well-formed XML')
    if root.tag != DAV + 'propfind':
        raise DavError(400, 'the body is not a DAV:propfind')
    for child in root:
        if child.tag in (DAV + 'allprop', DAV + 'propname'):
            return child.tag[len(DAV):], None
        if child.tag == DAV + 'prop':
            return 'prop', [prop.tag for prop in child]
    raise DavError(400, 'a propfind names allprop, propname or prop')


def read_body():
    """The request's body, at most MAX_BODY bytes (larger ones are refused unread)."""
    raw = bottle.request.environ.get('CONTENT_LENGTH') or '0'
    length = int(raw) if re.fullmatch(r'[0-9]{1,18}', raw) else -1
    if length < 0 or length > MAX_BODY:
        raise DavError(413, 'the request body is too large')
    return bottle.request.environ['wsgi.input'].read(length) if length else b''


def depth():
    """(0 or 1, whether to leave out the resource itself) of the Depth header. Windows' WebDAV client asks
    `1,noroot` for a folder's entries alone; a missing header means infinity (RFC 4918), which is refused, as
    is `infinity,noroot` and anything else."""
    asked = ''.join((bottle.request.environ.get('HTTP_DEPTH') or 'infinity').split()).lower()
    if asked in ('0', '1'):
        return int(asked), False
    if asked == '1,noroot':
        return 1, True
    error = ET.Element(DAV + 'error')
    ET.SubElement(error, DAV + 'propfind-finite-depth')
    raise DavError(403, 'only Depth 0 and 1 are answered', xml=error)


def timestamp_of(text):
    """A Unix time of an ISO 8601 date as items hold them (a peer's may be any text), or None."""
    try:
        moment = datetime.datetime.fromisoformat((text or '').replace('Z', '+00:00'))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def file_properties(store, item, name):
    """{property: text} of a file. A local file's ETag, size and date are its file's, as GET sends them; a
    peer's item has its catalog's size and date and no ETag here."""
    content_type, _ = media.served_type(item.mime)
    found = {'resourcetype': None, 'displayname': name, 'getcontentlength': str(item.size or 0),
             'getcontenttype': content_type}
    stat = file_stat(store, item)
    modified = stat.st_mtime if stat else timestamp_of(item.updated)
    if stat:
        found['getetag'] = media.etag_for(stat)
        found['getcontentlength'] = str(stat.st_size)
    if modified is not None:
        found['getlastmodified'] = media.http_date(modified)   # RFC 1123
    created = timestamp_of(item.created)
    if created is not None:
        found['creationdate'] = datetime.datetime.fromtimestamp(created, datetime.timezone.utc).strftime(
            '%Y-%m-%dT%H:%M:%SZ')
    return found


def file_stat(store, item):
    """The stat of a local item's file, None for a peer's item or a file gone from the media folder."""
    path = store.full_path(item.path) if item.is_local and item.path else None
    try:
        return os.stat(path) if path else None
    except OSError:
        return None


def folder_properties(name):
    return {'resourcetype': 'collection', 'displayname': name}


def response_element(parent, path, properties, mode, asked):
    """One DAV:response: the properties found (200) and, for a `prop` request, those not found (404)."""
    response = ET.SubElement(parent, DAV + 'response')
    ET.SubElement(response, DAV + 'href').text = path
    if mode == 'prop':
        wanted = [(tag, tag[len(DAV):] if tag.startswith(DAV) else None) for tag in asked]
        found = [(tag, short) for tag, short in wanted if short in properties]
        missing = [tag for tag, short in wanted if short not in properties]
    else:
        found, missing = [(DAV + short, short) for short in PROPS if short in properties], []
    if found:
        prop = propstat(response, '200 OK')
        for tag, short in found:
            value_element(ET.SubElement(prop, tag), short, properties[short], mode == 'propname')
    if missing:
        prop = propstat(response, '404 Not Found')
        for tag in missing:
            ET.SubElement(prop, tag)


def propstat(response, status):
    """A DAV:propstat with `status`; returns its DAV:prop to fill."""
    block = ET.SubElement(response, DAV + 'propstat')
    prop = ET.SubElement(block, DAV + 'prop')
    ET.SubElement(block, DAV + 'status').text = 'HTTP/1.1 ' + status
    return prop


def value_element(element, short, value, names_only):
    if names_only:
        return
    if short == 'resourcetype':
        if value == 'collection':
            ET.SubElement(element, DAV + 'collection')
    else:
        element.text = value


def multistatus(tree, parts, found, how_deep, mode, asked, noroot=False):
    """The 207 body of a PROPFIND: the resource (a folder's left out when `noroot`), and at Depth 1 a
    folder's entries."""
    root = ET.Element(DAV + 'multistatus')
    kind, what = found
    if kind == 'file':          # a file has no entries: `noroot` would leave nothing, so it is answered
        location = parts[:-1] + [what.name]
        response_element(root, href(location, False), file_properties(tree.store, what.item, what.name), mode, asked)
    else:
        if not noroot:
            response_element(root, href(parts, True), folder_properties(parts[-1] if parts else 'privtube'), mode,
                             asked)
        for entry in what if how_deep else ():
            inner = parts + [entry.name]
            properties = folder_properties(entry.name) if entry.item is None else \
                file_properties(tree.store, entry.item, entry.name)
            response_element(root, href(inner, entry.item is None), properties, mode, asked)
    return xml_bytes(root)


def xml_bytes(element):
    """An element as a UTF-8 XML document, DAV: the default namespace (others get prefixes of their own;
    a property asked without any namespace leaves DAV: prefixed, as an unqualified name needs the default)."""
    default = None if any(not inner.tag.startswith('{') for inner in element.iter()) else 'DAV:'
    return ET.tostring(element, encoding='utf-8', xml_declaration=True, default_namespace=default)


# --- the routes ---------------------------------------------------------------------------------------

class Dav:
    """The /dav/ requests of one node: who asks (Basic with an app password, throttled as sign-in is),
    then the method's answer."""

    def __init__(self, web):
        self.web, self.node = web, web.node
        self.apps = web.app_passwords
        self.throttle = web_module.SignInThrottle()    # its own: a misconfigured app never blocks sign-in
        self.names = FileNames()

    def principal(self):
        """The Principal of the request's credential; DavError 401 (or 429 while throttled) otherwise."""
        credentials = basic_credentials(bottle.request.environ.get('HTTP_AUTHORIZATION'))
        if credentials is None:
            raise DavError(401, 'sign in with your user name and an app password from your account page')
        name, password = credentials
        account, client = name.lower()[:auth.MAX_NAME], web_module.client_bucket(self.web.client_address())
        wait = self.throttle.wait(account, client)
        if wait:
            raise TooMany(wait)
        user = self.apps.user_of(self.node.accounts, name, password)
        if user is None:
            self.throttle.fail(account, client)
            logger.warning('WebDAV sign-in failed for %r from %s', name[:auth.MAX_NAME], client)
            raise DavError(401, 'wrong user name or app password')
        return self.node.accounts.user_principal(user)

    def answer(self, path):
        """Every /dav/ request comes here; refusals become plain text (or XML) with their status."""
        try:
            principal = self.principal()
            method = bottle.request.method
            if method not in READ_METHODS + ('HEAD',):
                raise DavError(405, 'this WebDAV is read-only')
            return self.read(method, principal, path_parts(path))
        except (DavError, StoreError, PeerError) as refused:      # a peer's item whose home cannot be reached: 502
            return refusal(refused)

    def read(self, method, principal, parts):
        if method == 'OPTIONS':
            return options()
        tree = Tree(self.node, principal, self.names)
        found = tree.find(parts)
        if found is None:
            raise DavError(404, 'not found')
        if method == 'PROPFIND':
            how_deep, noroot = depth()
            mode, asked = asked_properties(read_body())
            bottle.response.status = 207
            bottle.response.set_header('Content-Type', 'application/xml; charset=utf-8')
            return multistatus(tree, parts, found, how_deep, mode, asked, noroot)
        kind, what = found
        if kind == 'file':
            return web_module.media_reply(self.node, what.item)
        return folder_page(parts, what)


class TooMany(DavError):
    def __init__(self, wait):
        super().__init__(429, 'too many failed sign-ins; wait a few minutes')
        self.retry_after = max(1, int(wait + 0.999))


def path_parts(path):
    """The names of a /dav/ path (Bottle hands it decoded); empty names (`a//b`, a trailing slash) dropped."""
    return [part for part in (path or '').split('/') if part]


def options():
    bottle.response.set_header('DAV', '1')
    bottle.response.set_header('Allow', ALLOW)
    bottle.response.set_header('MS-Author-Via', 'DAV')
    return b''


def refusal(refused):
    """A refusal as its status with a short text or an XML body; 401 asks for Basic, 405 says what is allowed."""
    status = getattr(refused, 'status', 400)
    response = bottle.response
    response.status = status
    if status == 401:
        response.set_header('WWW-Authenticate', REALM)
    if status == 405:
        response.set_header('Allow', ALLOW)
    if isinstance(refused, TooMany):
        response.set_header('Retry-After', str(refused.retry_after))
    if getattr(refused, 'xml', None) is not None:
        response.set_header('Content-Type', 'application/xml; charset=utf-8')
        return xml_bytes(refused.xml)
    response.set_header('Content-Type', 'text/plain; charset=utf-8')
    return (str(refused) + '\n').encode('utf-8')


def folder_page(parts, entries):
    """GET of a folder: a plain list of links, for a browser opened at a /dav/ address."""
    title = html.escape('/'.join(parts) or 'privtube')
    links = ''.join('<li><a href="%s">%s</a></li>' % (html.escape(href(parts + [entry.name], entry.item is None)),
                                                      html.escape(entry.name + ('/' if entry.item is None else '')))
                    for entry in entries)
    bottle.response.set_header('Content-Type', 'text/html; charset=utf-8')
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>%s</title></head><body>'
            '<h1>%s</h1><ul>%s</ul></body></html>' % (title, title, links)).encode('utf-8')


def register(app, web):
    """The /dav/ routes (they check their own credential: on the reviewed anonymous list of privtube_web),
    and the account page's app passwords."""
    web.app_passwords = AppPasswords(web.node.database, web.node.config)
    dav = Dav(web)

    def read(path=''):
        return dav.answer(path)

    for rule in DAV_RULES:
        app.route(rule, method=list(READ_METHODS), callback=read, anonymous=True)
        app.route(rule, method='ANY', callback=read, anonymous=True)
    register_account(app, web)
