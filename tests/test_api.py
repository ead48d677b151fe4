"""The Content Management API end to end through WebTest: every endpoint and bad input to each."""
import pytest

from privtube_version import VERSION


@pytest.fixture
def api(node):
    node.item = node.add('clip.mp4', tags=['family'], title='Clip')
    node.reader = node.key('reader')
    node.manager = node.key('manager', manage=True)
    return node


def test_node_info(api):
    assert api.client.get('/api/v1/node', headers=api.reader).json == {'name': 'testnode', 'version': VERSION,
                                                                         'api': 1}


def test_item_has_every_contract_field(api):
    item = api.client.get('/api/v1/content/' + api.item.id, headers=api.reader).json
    assert set(item) == {'id', 'title', 'description', 'tags', 'mime', 'size', 'created', 'updated', 'views',
                         'comments', 'duration', 'width', 'height', 'thumbnail', 'albums', 'taken',
                         'artist', 'track', 'subtitles'}
    assert item['tags'] == ['family'] and item['duration'] is None and item['thumbnail'] is False
    assert item['created'].endswith('Z')


def test_catalog_pages_and_cursor(api):
    for n in range(5):
        api.add('more%d.mp4' % n)
    seen, cursor = [], None
    while True:
        url = '/api/v1/catalog?limit=2' + ('&since=' + cursor if cursor else '')
        page = api.client.get(url, headers=api.reader).json
        assert page['node'] == 'testnode' and len(page['items']) <= 2
        seen += [i['id'] for i in page['items']]
        cursor = page['cursor']
        if not page['more']:
            break
    assert len(seen) == 6 == len(set(seen))
    again = api.client.get('/api/v1/catalog?since=' + cursor, headers=api.reader).json
    assert again['items'] == [] and again['removed'] == [] and again['more'] is False


def test_comments_list_post_delete(api):
    url = '/api/v1/content/%s/comments' % api.item.id
    posted = api.client.post_json(url, {'author': 'ann', 'body': 'Lovely!'}, headers=api.reader, status=201).json
    assert posted['author'] == 'ann@reader' and posted['body'] == 'Lovely!'
    assert api.client.get(url, headers=api.reader).json['comments'] == [posted]
    assert api.client.get('/api/v1/content/' + api.item.id, headers=api.reader).json['comments'] == 1
    api.client.delete(url + '/' + posted['id'], headers=api.reader, status=204)
    assert api.client.get(url, headers=api.reader).json['comments'] == []
    assert api.client.get('/api/v1/content/' + api.item.id, headers=api.reader).json['comments'] == 0


def test_views_count_once_per_key_viewer_item(api):
    url = '/api/v1/content/%s/views' % api.item.id
    for viewer in ('tv', 'tv', 'phone'):
        api.client.post_json(url, {'viewer': viewer}, headers=api.reader, status=204)
    api.client.post_json(url, {'viewer': 'tv'}, headers=api.manager, status=204)
    assert api.client.get('/api/v1/content/' + api.item.id, headers=api.reader).json['views'] == 3


def test_view_counts_again_after_six_hours(api):
    url = '/api/v1/content/%s/views' % api.item.id
    api.client.post_json(url, {'viewer': 'tv'}, headers=api.reader, status=204)
    api.node.database.ViewMark.update(counted_at=api.node.database.ViewMark.counted_at - 6 * 3600 - 1).execute()
    api.client.post_json(url, {'viewer': 'tv'}, headers=api.reader, status=204)
    assert api.client.get('/api/v1/content/' + api.item.id, headers=api.reader).json['views'] == 2


def test_manage_key_uploads_edits_and_deletes(api):
    created = api.client.post('/api/v1/content?title=Beach&tags=Summer,%20family', b'\xff\xd8\xff' + b'p' * 999,
                              headers=dict(api.manager, **{'Content-Type': 'image/jpeg'}), status=201).json
    assert (created['title'], created['tags'], created['mime'], created['size']) == \
        ('Beach', ['summer', 'family'], 'image/jpeg', 1002)
    edited = api.client.patch_json('/api/v1/content/' + created['id'],
                                   {'title': 'Beach 2024', 'tags': ['sea'], 'description': 'Waves'},
                                   headers=api.manager).json
    assert (edited['title'], edited['tags'], edited['description']) == ('Beach 2024', ['sea'], 'Waves')
    api.client.delete('/api/v1/content/' + created['id'], headers=api.manager, status=204)
    api.client.get('/api/v1/content/' + created['id'], headers=api.manager, status=404)


def test_private_upload_is_stored_but_never_shown_to_keys(api):
    created = api.client.post('/api/v1/content?title=Diary&private=1', b'\xff\xd8\xff' + b'p' * 99,
                              headers=api.manager, status=201).json
    api.client.get('/api/v1/content/' + created['id'], headers=api.manager, status=404)
    assert api.node.store.items.get(created['id']).private


def test_thumbnail_is_404_until_thumbnails_exist(api):
    response = api.client.get('/api/v1/content/%s/thumbnail' % api.item.id, headers=api.reader, status=404)
    assert response.json['error']


def test_unknown_route_and_method_are_json(api):
    assert api.client.get('/api/v1/nowhere', headers=api.reader, status=404).json['error']
    assert api.client.put('/api/v1/node', headers=api.reader, status=405).json['error']


def test_healthz_needs_no_key(api):
    assert api.client.get('/healthz').json == {'status': 'ok'}


BAD_JSON = [b'', b'not json', b'[1, 2]', b'"text"', b'{"body": ', b'\xff\xfe\x00', b'[' * 100000 + b']' * 100000,
            b'{"author": 5, "body": "x"}', b'{"author": "a", "body": ["x"]}', b'{"author": "a", "body": ""}',
            b'{"author": "", "body": "x"}', b'{"author": "a", "body": "' + b'x' * 5001 + b'"}',
            b'{"author": "a", "body": 1e999999}', b'{"viewer": null}', b'{"viewer": "' + b'v' * 500 + b'"}']


@pytest.mark.parametrize('body', BAD_JSON)
@pytest.mark.parametrize('path', ['comments', 'views'])
def test_bad_json_bodies_are_400(api, path, body):
    response = api.client.post('/api/v1/content/%s/%s' % (api.item.id, path), body, headers=dict(
        api.reader, **{'Content-Type': 'application/json'}), expect_errors=True)
    assert response.status_int in (400, 413)
    assert 'error' in response.json
    assert api.node.database.Comment.select().count() == 0
    assert api.node.store.items.get(api.item.id).views == 0


@pytest.mark.parametrize('changes', [
    {'title': ''}, {'title': 5}, {'title': 'x' * 201}, {'tags': 'family'}, {'tags': [1]}, {'tags': ['a,b']},
    {'private': 'yes'}, {'owner': 'me'}, {'description': None}, {'tags': ['x'] * 51 + [str(n) for n in range(60)]},
])
def test_bad_edits_are_400_and_change_nothing(api, changes):
    api.client.patch_json('/api/v1/content/' + api.item.id, changes, headers=api.manager, status=400)
    item = api.node.store.items.get(api.item.id)
    assert (item.title, api.node.store.items.tags_of(item.id), item.private) == ('Clip', ['family'], False)


@pytest.mark.parametrize('query', ['limit=0', 'limit=1001', 'limit=-1', 'limit=abc', 'limit=99999999999999999999',
                                   'since=garbage', 'since=1.1.5.2', 'since=' + '9' * 200, 'since=1.1.1'])
def test_bad_catalog_queries_are_400(api, query):
    assert api.client.get('/api/v1/catalog?' + query, headers=api.reader, status=400).json['error']


@pytest.mark.parametrize('query', ['title=' + 'x' * 300, 'tags=' + ','.join(str(n) for n in range(60)),
                                   'tags=' + 'y' * 65])
def test_bad_upload_metadata_is_400_and_stores_nothing(api, query):
    api.client.post('/api/v1/content?' + query, b'data', headers=api.manager, status=400)
    assert api.node.database.Item.select().count() == 1


def test_upload_without_length_is_refused(api):
    import webob
    request = webob.Request.blank('/api/v1/content', method='POST', headers=api.manager)
    request.environ.pop('CONTENT_LENGTH', None)
    assert request.get_response(api.app).status_int == 411


@pytest.mark.parametrize('header', ['Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'bearer nope', 'Bearer ' + 'x' * 5000,
                                    'Bearer pt_\u00e9'])
def test_bad_authorization_headers_are_401(api, header):
    response = api.client.get('/api/v1/catalog', headers={'Authorization': header}, status=401)
    assert response.json['error']


@pytest.mark.parametrize('name', ['key', 'api_key', 'token', 'access_token', 'KEY'])
def test_key_in_query_string_is_400_even_with_a_header(api, name):
    api.client.get('/api/v1/catalog?%s=whatever' % name, headers=api.reader, status=400)
