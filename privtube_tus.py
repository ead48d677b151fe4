"""Resumable uploads at /upload/tus: the tus 1.0 core protocol with its creation and termination
extensions (https://tus.io/protocols/resumable-upload), for signed-in people. PagePlugin checks the session
and, on every POST, PATCH and DELETE, the CSRF token, which scripts send in the X-CSRF-Token header.

The bytes grow in the uploads folder under a temporary name (store.uploads.begin/append); the last PATCH
makes the item, as a form upload does, and names it in `X-Privtube-Item` (or the item already holding the
same content in `X-Privtube-Duplicate`). BodyGate (privtube_app) lets a signed-in PATCH send up to the cap.
"""
import base64
import binascii
import re

import bottle

import privtube_auth as auth
from privtube_items import MAX_DESCRIPTION, MAX_TITLE
from privtube_store import Duplicate, check_text
from privtube_web import WebError, upload_album

TUS_VERSION = '1.0.0'
ROOT = '/upload/tus'
OFFSET_TYPE = 'application/offset+octet-stream'
MAX_FILENAME = 255
NUMBER = re.compile(r'[0-9]{1,18}\Z')


def register(app, web):
    """The tus routes: OPTIONS (what the server speaks), creation, offset, append and termination."""
    node, store = web.node, web.node.store

    @app.route(ROOT, method='OPTIONS')
    def capabilities(page):
        resumable_headers()
        bottle.response.set_header('Tus-Version', TUS_VERSION)
        bottle.response.set_header('Tus-Extension', 'creation,termination')
        bottle.response.set_header('Tus-Max-Size', str(store.uploads.max_bytes))
        bottle.response.status = 204
        return ''

    @app.post(ROOT)
    def create(page):
        resumable_headers()
        details = upload_metadata(bottle.request.headers.get('Upload-Metadata', ''))
        length = header_number('Upload-Length')
        if length == 0:
            raise WebError('the file is empty')
        album = upload_album(store, page.user, details.pop('album', ''))
        upload_id = store.uploads.begin(length, page.user.id, dict(details, album_id=album and album.id))
        bottle.response.status = 201
        bottle.response.set_header('Location', '%s/%s' % (ROOT, upload_id))
        return ''

    @app.route(ROOT + '/<upload_id>', method='HEAD')
    def offset(page, upload_id):
        resumable_headers()
        partial = store.uploads.partial(upload_id, page.user.id)
        bottle.response.set_header('Upload-Offset', str(partial['offset']))
        bottle.response.set_header('Upload-Length', str(partial['length']))
        return ''

    @app.route(ROOT + '/<upload_id>', method='PATCH')
    def append(page, upload_id):
        resumable_headers()
        if bottle.request.content_type.split(';')[0].strip().lower() != OFFSET_TYPE:
            raise WebError('a PATCH of an upload has the type %s' % OFFSET_TYPE, 415)
        start, length = header_number('Upload-Offset'), header_number('Content-Length')
        try:
            offset, item = store.uploads.append(upload_id, page.user.id, start, bottle.request.environ['wsgi.input'],
                                                length, page.principal)
        except Duplicate as twin:
            offset, item = length + start, None
            bottle.response.set_header('X-Privtube-Duplicate', twin.item.id)
        if item is not None:
            node.media.wake.set()
            bottle.response.set_header('X-Privtube-Item', item.id)
        bottle.response.set_header('Upload-Offset', str(offset))
        bottle.response.status = 204
        return ''

    @app.delete(ROOT + '/<upload_id>')
    def terminate(page, upload_id):
        resumable_headers()
        store.uploads.cancel(upload_id, page.user.id)
        bottle.response.status = 204
        return ''


def resumable_headers():
    """Every tus answer says its version and is never cached; a request of another version gets 412."""
    bottle.response.set_header('Tus-Resumable', TUS_VERSION)
    bottle.response.set_header('Cache-Control', 'no-store')
    if bottle.request.method != 'OPTIONS' and bottle.request.headers.get('Tus-Resumable') != TUS_VERSION:
        bottle.response.set_header('Tus-Version', TUS_VERSION)
        raise WebError('this server speaks tus %s: send Tus-Resumable: %s' % (TUS_VERSION, TUS_VERSION), 412)


def header_number(name):
    raw = bottle.request.headers.get(name) or ''
    if not NUMBER.match(raw):
        raise WebError('%s must be a whole number of bytes' % name)
    return int(raw)


def upload_metadata(header):
    """The upload's details from `Upload-Metadata` (`key base64value` pairs, comma-separated): its file
    name, title, description, album name, tags and `private` (present or not); other keys are ignored."""
    pairs = {}
    for part in header.split(',') if header.strip() else ():
        key, _, value = part.strip().partition(' ')
        try:
            pairs[key] = base64.b64decode(value.strip(), validate=True).decode('utf-8')
        except (binascii.Error, UnicodeDecodeError):
            raise WebError('Upload-Metadata has a value that is not base64 UTF-8 text')
    name = check_text(pairs.get('filename', ''), 'file name', MAX_FILENAME)
    return {'filename': name, 'title': check_text(pairs.get('title', ''), 'title', MAX_TITLE),
            'description': check_text(pairs.get('description', ''), 'description', MAX_DESCRIPTION),
            'album': pairs.get('album', ''), 'tags': auth.split_tag_list(pairs.get('tags', '')),
            'private': 'private' in pairs and pairs['private'] not in ('', '0', 'false')}
