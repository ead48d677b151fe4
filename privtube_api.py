"""The Content Management API (`/api/v1`): its routes over the store, the plugin that authenticates every
request's bearer key and answers errors as JSON, and the parsing of its parameters and bodies.
"""
import json
import os
import re

import bottle

import privtube_auth as auth
import privtube_media as media
from privtube_items import MAX_AUTHOR, MAX_TITLE, MAX_VIEWER
from privtube_store import CATALOG_DEFAULT, CATALOG_MAX, StoreError, check_text
from privtube_subtitles import Subtitles, webvtt_response

# the reviewed API routes without a key: the pairing exchange, whose one-time token is its credential, and
# the API's description, which holds nothing of the node's (README, "The API's description")
ANONYMOUS_API = {'/api/v1/pair', '/api/v1/openapi.json'}
KEY_PARAMS = {'key', 'api_key', 'apikey', 'token', 'access_token', 'auth', 'authorization', 'bearer'}


def make_api(node):
    """The Content Management API as a Bottle app, to be mounted at /api/v1."""
    api = bottle.Bottle()
    api.install(ApiPlugin(node))
    import privtube_openapi
    import privtube_pairing
    for register in (register_reading, register_comments_and_views, register_management,
                     privtube_pairing.register_api, privtube_openapi.register_api):
        register(api, node)
    return api


def register_reading(api, node):
    """What every key may read: the node, its catalog, and the items, media and thumbnails it may see."""
    store = node.store

    @api.get('/node')
    def node_info(principal):
        return {'name': node.name, 'version': node.version, 'api': 1}

    @api.get('/catalog')
    def catalog(principal):
        limit = int_param('limit', CATALOG_DEFAULT, 1, CATALOG_MAX)
        page = store.catalog.page(principal, bottle.request.query.get('since') or None, limit)
        return dict(node=node.name, **page)

    @api.get('/content/<item_id>')
    def item(principal, item_id):
        found = store.items.visible(principal, item_id)
        return store.items.json(found, store.items.tags_of(found.id))

    @api.get('/content/<item_id>/media')
    def item_media(principal, item_id):
        found = store.items.visible(principal, item_id)
        # named by its title, which the key sees anyway, never by its file's name, which it may not
        name = found.title + os.path.splitext(found.path)[1]
        return media.file_response(bottle.response, media_headers(), store.open_media(found), found.mime,
                                   name)

    @api.get('/content/<item_id>/playable')
    def playable_copy(principal, item_id):
        """The item's browser-playable copy (privtube_remux), served like the original with its own size,
        ETag and type; 404 while it has none ready, as an origin from before copies answers too."""
        found = store.items.visible(principal, item_id)
        copy = node.remux.open_copy(found)
        if copy is None:
            raise StoreError('this item has no copy for browsers', 404)
        return media.file_response(bottle.response, media_headers(), *copy)

    @api.get('/content/<item_id>/thumbnail')
    def thumbnail(principal, item_id):
        found = store.items.visible(principal, item_id)
        return media.file_response(bottle.response, media_headers(), store.open_thumbnail(found),
                                   'image/jpeg')

    @api.get('/content/<item_id>/subtitles/<sid>')
    def subtitles(principal, item_id, sid):
        """One of the item's subtitle tracks as WebVTT; 404 for an id the item does not list."""
        found = store.items.visible(principal, item_id)
        return webvtt_response(Subtitles(store).read(found, sid))
    @api.get('/content/<item_id>/preview')
    def preview(principal, item_id):
        """A photo's display-sized JPEG (long side about 1920 px); 404 when it has none."""
        found = store.items.visible(principal, item_id)
        return media.file_response(bottle.response, media_headers(), store.open_preview(found), 'image/jpeg')


def register_comments_and_views(api, node):
    """Comments and views of the items a key may see."""
    store = node.store

    @api.get('/content/<item_id>/comments')
    def comments(principal, item_id):
        return {'comments': store.comments.json(store.items.visible(principal, item_id))}

    @api.post('/content/<item_id>/comments')
    def post_comment(principal, item_id):
        found = store.items.visible(principal, item_id)
        body = json_body()
        author = check_text(body.get('author', ''), 'author', MAX_AUTHOR, required=True)
        bottle.response.status = 201
        return store.comments.add(found, '%s@%s' % (author, principal.name), body.get('body'), key_id=principal.id)

    @api.delete('/content/<item_id>/comments/<comment_id>')
    def delete_comment(principal, item_id, comment_id):
        found = store.items.visible(principal, item_id)
        store.comments.delete(found, comment_id, lambda c: principal.manage or c.key_id == principal.id)
        bottle.response.status = 204
        return ''

    @api.post('/content/<item_id>/views')
    def post_view(principal, item_id):
        found = store.items.visible(principal, item_id)
        viewer = check_text(json_body().get('viewer', ''), 'viewer', MAX_VIEWER, required=True)
        store.items.count_view(found, principal.identity, viewer)
        bottle.response.status = 204
        return ''


def register_management(api, node):
    """Uploads, edits and deletions: manage keys only."""
    store = node.store

    @api.post('/content')
    def upload(principal):
        require_manage(principal)
        query = bottle.request.query
        length = content_length()
        if length <= 0:
            raise StoreError('the file is empty')
        title = check_text(query.getunicode('title', '') or '', 'title', MAX_TITLE) or 'untitled'
        tags = auth.split_tag_list(query.getunicode('tags', ''))
        found = store.uploads.save_stream(bottle.request.environ['wsgi.input'], length, '', title, tags,
                                          private=query.get('private') in ('1', 'true', 'yes'))
        node.media.wake.set()
        bottle.response.status = 201
        return store.items.json(found, tags)

    @api.route('/content/<item_id>', method='PATCH')
    def edit(principal, item_id):
        require_manage(principal)
        found = store.items.visible(principal, item_id)
        changes = json_body()
        unknown = set(changes) - {'title', 'description', 'tags', 'private'}
        if unknown:
            raise StoreError('unknown field %s' % sorted(unknown)[0])
        if None in changes.values():
            raise StoreError('a field may not be null')
        if 'tags' in changes and not isinstance(changes['tags'], list):
            raise StoreError('tags must be a list')
        if 'private' in changes and not isinstance(changes['private'], bool):
            raise StoreError('private must be true or false')
        found = store.items.edit(found, changes.get('title'), changes.get('description'), changes.get('tags'),
                                 changes.get('private'))
        return store.items.json(found, store.items.tags_of(found.id))

    @api.delete('/content/<item_id>')
    def delete(principal, item_id):
        require_manage(principal)
        store.trash.move(store.items.visible(principal, item_id))
        bottle.response.status = 204
        return ''


def require_manage(principal):
    if not principal.manage:
        raise StoreError('this key may not manage content', 403)


def int_param(name, default, low, high):
    raw = bottle.request.query.get(name)
    if raw is None or raw == '':
        return default
    if not re.fullmatch(r'[0-9]{1,9}', raw) or not low <= int(raw) <= high:     # isdigit() takes '²' too
        raise StoreError('%s must be a whole number from %d to %d' % (name, low, high))
    return int(raw)


def media_headers():
    """The request's Range and validators for media serving, whatever bytes they hold."""
    return media.request_headers(bottle.request.environ)


def content_length():
    raw = bottle.request.environ.get('CONTENT_LENGTH') or ''
    if not re.fullmatch(r'[0-9]{1,18}', raw):
        raise StoreError('Content-Length is required', 411)
    return int(raw)


def json_body(limit=64 * 1024):
    length = content_length()
    if length > limit:
        raise StoreError('the JSON body is too large', 413)
    try:
        data = json.loads(bottle.request.environ['wsgi.input'].read(length).decode('utf-8'))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise StoreError('the body is not valid JSON')
    if not isinstance(data, dict):
        raise StoreError('the body must be a JSON object')
    return data


class ApiPlugin:
    """Wraps every API route: refuse keys in the query, authenticate the bearer key, open the
    database around the call, and turn StoreError and AuthError into JSON errors."""
    name, api = 'privtube_api', 2

    def __init__(self, node):
        self.node = node

    def apply(self, callback, route):
        anonymous = route.config.get('anonymous')
        if anonymous and route.rule not in ANONYMOUS_API:
            raise ValueError('%s is not on the reviewed list of anonymous API routes' % route.rule)

        def wrapper(*args, **kwargs):
            bottle.response.set_header('Cache-Control', 'no-store')
            try:
                with self.node.database.serving():
                    refuse_query_keys()
                    if anonymous:       # reviewed: the route checks its own credential
                        return callback(*args, **kwargs)
                    principal = self.node.key_principal(bearer_token())
                    return callback(principal, *args, **kwargs)
            except (StoreError, auth.AuthError) as exc:
                status = getattr(exc, 'status', 400)
                bottle.response.status = status
                bottle.response.content_type = 'application/json'
                if status == 401:
                    bottle.response.set_header('WWW-Authenticate', 'Bearer realm="privtube"')
                return json.dumps({'error': str(exc)})
        return wrapper


def refuse_query_keys():
    names = {name.lower() for name in bottle.request.query.keys()}
    if names & KEY_PARAMS:
        raise StoreError('send the key in the Authorization header, never in the address')


def bearer_token():
    token = bearer_of(bottle.request.environ.get('HTTP_AUTHORIZATION', ''))
    if not token:
        raise StoreError('an Authorization: Bearer key is required', 401)
    return token


def bearer_of(header):
    """The key of an `Authorization: Bearer KEY` header's value ('' when it is no Bearer key)."""
    scheme, _, token = header.partition(' ')
    return token.strip() if scheme.lower() == 'bearer' else ''
