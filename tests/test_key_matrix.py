"""Who may do what through the Content Management API (README, Security: "Who sees what"): every caller against
every action on a shared tagged item, a shared untagged item and a private item, then revocation, comment
authorship and deletion rights, and view counting.

A denied item is answered exactly as an unknown id is, so its existence never leaks.
"""
import pytest

DATA = b'\x00\x00\x00\x18ftypmp42' + bytes(range(256)) * 8
UNKNOWN_ID = 'A' * 22

# caller -> the items it may see; callers missing here present no usable key
VISIBLE = {
    'everything': {'tagged', 'untagged'},    # key with *
    'family': {'tagged'},                    # key with tag:family, which the tagged item carries
    'work': set(),                           # key with tag:work, which no item carries
    'manager': {'tagged', 'untagged'},       # manage key with *: private items stay hidden even from it
}
NO_KEY = ('revoked', 'unknown', 'anonymous')
CALLERS = list(VISIBLE) + list(NO_KEY) + ['in query']
ITEMS = ['tagged', 'untagged', 'private']
MANAGE_ACTIONS = {'patch', 'delete'}
ALLOWED = {'catalog': 200, 'item': 200, 'media': 200, 'head': 200, 'range': 206, 'thumbnail': 404, 'preview': 404,
           'comments': 200, 'comment': 201, 'view': 204, 'patch': 200, 'delete': 204}


class Setup:
    """A node with the three items and every kind of caller."""

    def __init__(self, node):
        self.node, self.client, self.store = node, node.client, node.store
        self.items = {
            'tagged': node.add('tagged.mp4', tags=['family'], title='Tagged', data=DATA),
            'untagged': node.add('untagged.mp4', title='Untagged', data=DATA),
            'private': node.add('private.mp4', tags=['family'], private=True, title='Private', data=DATA),
        }
        self.keys = {
            'everything': node.key('everything'),
            'family': node.key('family', ['tag:family']),
            'work': node.key('work', ['tag:work']),
            'manager': node.key('manager', manage=True),
            'revoked': node.key('revoked'),
            'unknown': {'Authorization': 'Bearer pt_' + 'x' * 43},
            'anonymous': {},
        }
        node.accounts.revoke_key('revoked')
        self.query_token = self.keys['everything']['Authorization'].split(' ', 1)[1]

    def call(self, caller, action, item_id):
        """Perform `action` on `item_id` as `caller`; returns the WebTest response, whatever its status."""
        headers = dict(self.keys.get(caller, {}))
        path = '/api/v1/catalog' if action == 'catalog' else '/api/v1/content/' + item_id
        path += {'media': '/media', 'head': '/media', 'range': '/media', 'thumbnail': '/thumbnail',
                 'preview': '/preview', 'comments': '/comments', 'comment': '/comments',
                 'view': '/views'}.get(action, '')
        if caller == 'in query':
            path += '?key=' + self.query_token
        if action == 'range':
            headers['Range'] = 'bytes=10-19'
        if action == 'head':
            return self.client.head(path, headers=headers, expect_errors=True)
        if action == 'comment':
            return self.client.post_json(path, {'author': 'ann', 'body': 'Nice'}, headers=headers, expect_errors=True)
        if action == 'view':
            return self.client.post_json(path, {'viewer': 'tv'}, headers=headers, expect_errors=True)
        if action == 'patch':
            return self.client.patch_json(path, {'title': 'Renamed'}, headers=headers, expect_errors=True)
        if action == 'delete':
            return self.client.delete(path, headers=headers, expect_errors=True)
        return self.client.get(path, headers=headers, expect_errors=True)


@pytest.fixture
def setup(node):
    return Setup(node)


def expected_status(caller, item, action):
    if caller in NO_KEY:
        return 401
    if caller == 'in query':
        return 400
    if action in MANAGE_ACTIONS and caller != 'manager':
        return 403   # decided before the item is looked up, so unknown ids get 403 too: nothing leaks
    if action != 'catalog' and item not in VISIBLE[caller]:
        return 404
    return ALLOWED[action]


@pytest.mark.parametrize('action', list(ALLOWED))
@pytest.mark.parametrize('item', ITEMS)
@pytest.mark.parametrize('caller', CALLERS)
def test_caller_action_matrix(setup, caller, item, action):
    target = setup.items[item]
    response = setup.call(caller, action, target.id)
    assert response.status_int == expected_status(caller, item, action)
    if response.status_int >= 400 and action != 'head':
        assert set(response.json) == {'error'}
    if response.status_int == 401:
        assert response.headers['WWW-Authenticate'].startswith('Bearer')
    seen = caller in VISIBLE and item in VISIBLE[caller]
    if caller in VISIBLE and not seen:
        assert_same_as_unknown_id(setup, caller, action, response)
    assert_effect(setup, caller, item, action, response, allowed=seen and response.status_int < 400)


def assert_same_as_unknown_id(setup, caller, action, response):
    """An item the key may not see is answered exactly as an id that does not exist."""
    unknown = setup.call(caller, action, UNKNOWN_ID)
    assert (response.status_int, response.body) == (unknown.status_int, unknown.body)


def assert_effect(setup, caller, item, action, response, allowed):
    target = setup.items[item]
    if action == 'catalog':
        assert_catalog(setup, caller, response)
        return
    stored = setup.store.items.get(target.id)
    if action == 'delete' and allowed:
        assert stored.trashed is not None          # in the Trash: gone for every key
        setup.client.get('/api/v1/content/' + target.id, headers=setup.keys['manager'], status=404)
        return
    assert stored is not None
    assert stored.title == ('Renamed' if action == 'patch' and allowed else target.title)
    assert stored.comments == (1 if action == 'comment' and allowed else 0)
    assert stored.views == (1 if action == 'view' and allowed else 0)
    if not allowed:
        assert DATA not in response.body
        return
    if action == 'item':
        assert response.json['id'] == target.id and response.json['title'] == target.title
    elif action == 'media':
        assert response.body == DATA and response.headers['X-Content-Type-Options'] == 'nosniff'
    elif action == 'head':
        assert response.body == b'' and int(response.headers['Content-Length']) == len(DATA)
    elif action == 'range':
        assert response.body == DATA[10:20]
        assert response.headers['Content-Range'] == 'bytes 10-19/%d' % len(DATA)
    elif action == 'comments':
        assert response.json == {'comments': []}
    elif action == 'comment':
        assert response.json['author'] == 'ann@' + caller
    elif action == 'patch':
        assert response.json['title'] == 'Renamed'


def assert_catalog(setup, caller, response):
    """A key's catalog lists exactly its visible items: a hidden item is absent, and not counted."""
    if caller not in VISIBLE:
        return
    page = response.json
    listed = sorted(i['id'] for i in page['items'])
    assert listed == sorted(setup.items[name].id for name in VISIBLE[caller])
    assert page['removed'] == [] and page['more'] is False
    assert setup.items['private'].id not in response.text


@pytest.mark.parametrize('caller', CALLERS)
def test_upload_needs_a_manage_key(setup, caller):
    headers = dict(setup.keys.get(caller, {}), **{'Content-Type': 'video/mp4'})
    path = '/api/v1/content?title=New' + ('&key=' + setup.query_token if caller == 'in query' else '')
    before = setup.node.node.database.Item.select().count()
    response = setup.client.post(path, DATA, headers=headers, expect_errors=True)
    expected = 201 if caller == 'manager' else expected_status(caller, 'tagged', 'patch')
    assert response.status_int == expected
    assert setup.node.node.database.Item.select().count() == before + (expected == 201)


# --- revocation -----------------------------------------------------------------------------------


def test_revoked_key_is_refused_on_the_next_request(setup):
    headers, item = setup.keys['everything'], setup.items['tagged']
    setup.client.get('/api/v1/catalog', headers=headers, status=200)
    setup.client.get('/api/v1/content/' + item.id, headers=headers, status=200)
    setup.node.accounts.revoke_key('everything')
    for path in ('/api/v1/catalog', '/api/v1/node', '/api/v1/content/' + item.id,
                 '/api/v1/content/%s/media' % item.id, '/api/v1/content/%s/comments' % item.id):
        setup.client.get(path, headers=headers, status=401)
    setup.client.head('/api/v1/content/%s/media' % item.id, headers=headers, status=401)
    setup.client.get('/api/v1/content/' + item.id, headers=setup.keys['family'], status=200)   # others unaffected


def test_revocation_bites_the_next_range_request_of_a_stream_in_progress(setup):
    headers, url = setup.keys['everything'], '/api/v1/content/%s/media' % setup.items['tagged'].id
    first = setup.client.get(url, headers=dict(headers, Range='bytes=0-99'), status=206)
    assert first.body == DATA[:100]
    setup.node.accounts.revoke_key('everything')
    refused = setup.client.get(url, headers=dict(headers, Range='bytes=100-199', **{'If-Range': first.headers['ETag']}),
                               status=401)
    assert DATA[100:200] not in refused.body


def test_narrowed_rules_bite_the_next_range_request(setup):
    headers, url = setup.keys['everything'], '/api/v1/content/%s/media' % setup.items['untagged'].id
    setup.client.get(url, headers=dict(headers, Range='bytes=0-99'), status=206)
    setup.node.accounts.set_key_rules('everything', ['tag:family'])
    setup.client.get(url, headers=dict(headers, Range='bytes=100-199'), status=404)


def test_item_made_private_during_a_stream_is_refused_on_the_next_range(setup):
    item = setup.items['tagged']
    headers, url = setup.keys['everything'], '/api/v1/content/%s/media' % item.id
    setup.client.get(url, headers=dict(headers, Range='bytes=0-99'), status=206)
    setup.store.items.edit(item, private=True)
    setup.client.get(url, headers=dict(headers, Range='bytes=100-199'), status=404)


# --- comments ---------------------------------------------------------------------------------------


def comments_url(setup, item='tagged'):
    return '/api/v1/content/%s/comments' % setup.items[item].id


def test_comment_author_comes_from_the_key_whatever_the_body_claims(setup):
    body = {'author': 'admin@manager', 'body': 'Hi', 'key': 'manager', 'user': 'admin', 'key_id': 4}
    posted = setup.client.post_json(comments_url(setup), body, headers=setup.keys['family'], status=201).json
    assert posted['author'] == 'admin@manager@family'
    listed = setup.client.get(comments_url(setup), headers=setup.keys['everything']).json['comments']
    assert [c['author'] for c in listed] == ['admin@manager@family']
    # the claimed name gives no rights: only the posting key (or a manage key) may delete it
    setup.client.delete(comments_url(setup) + '/' + posted['id'], headers=setup.keys['everything'], status=403)


@pytest.mark.parametrize('deleter, status', [('family', 204), ('manager', 204), ('everything', 403)])
def test_comment_is_deleted_only_by_its_key_or_a_manage_key(setup, deleter, status):
    posted = setup.client.post_json(comments_url(setup), {'author': 'ann', 'body': 'Hi'},
                                    headers=setup.keys['family'], status=201).json
    setup.client.delete(comments_url(setup) + '/' + posted['id'], headers=setup.keys[deleter], status=status)
    left = setup.client.get(comments_url(setup), headers=setup.keys['everything']).json['comments']
    assert [c['id'] for c in left] == ([] if status == 204 else [posted['id']])
    assert setup.store.items.get(setup.items['tagged'].id).comments == len(left)


def test_unknown_comment_id_is_404(setup):
    setup.client.delete(comments_url(setup) + '/' + 'B' * 22, headers=setup.keys['manager'], status=404)
    setup.client.delete(comments_url(setup) + '/' + 'B' * 22, headers=setup.keys['family'], status=404)


def test_comment_id_of_another_item_is_404(setup):
    posted = setup.client.post_json(comments_url(setup, 'untagged'), {'author': 'ann', 'body': 'Hi'},
                                    headers=setup.keys['everything'], status=201).json
    setup.client.delete(comments_url(setup, 'tagged') + '/' + posted['id'], headers=setup.keys['everything'],
                        status=404)
    assert setup.store.items.get(setup.items['untagged'].id).comments == 1


def test_comment_on_an_item_the_key_cannot_see_is_404_even_for_its_author(setup):
    posted = setup.client.post_json(comments_url(setup, 'untagged'), {'author': 'ann', 'body': 'Hi'},
                                    headers=setup.keys['everything'], status=201).json
    setup.node.accounts.set_key_rules('everything', ['tag:work'])
    setup.client.delete(comments_url(setup, 'untagged') + '/' + posted['id'], headers=setup.keys['everything'],
                        status=404)
    assert setup.store.items.get(setup.items['untagged'].id).comments == 1


def test_comment_of_a_revoked_key_is_not_deletable_by_a_key_that_reuses_its_id(setup):
    last = setup.node.key('last')   # the newest key: its id is the one SQLite hands out again
    posted = setup.client.post_json(comments_url(setup), {'author': 'ann', 'body': 'Hi'}, headers=last,
                                    status=201).json
    setup.node.accounts.revoke_key('last')
    newcomer = setup.node.key('newcomer')
    setup.client.delete(comments_url(setup) + '/' + posted['id'], headers=newcomer, status=403)


# --- views ------------------------------------------------------------------------------------------


def views_of(setup, item='tagged'):
    return setup.client.get('/api/v1/content/' + setup.items[item].id, headers=setup.keys['manager']).json['views']


def post_view(setup, key, viewer, item='tagged'):
    headers = setup.keys[key] if isinstance(key, str) else key
    setup.client.post_json('/api/v1/content/%s/views' % setup.items[item].id, {'viewer': viewer},
                           headers=headers, status=204)


def test_views_count_at_most_once_per_key_viewer_and_item(setup):
    post_view(setup, 'family', 'tv')
    post_view(setup, 'family', 'tv')
    assert views_of(setup) == 1
    post_view(setup, 'family', 'phone')
    assert views_of(setup) == 2
    post_view(setup, 'everything', 'tv')
    assert views_of(setup) == 3
    post_view(setup, 'everything', 'tv', item='untagged')
    assert (views_of(setup), views_of(setup, 'untagged')) == (3, 1)


def test_views_of_a_key_reissued_after_revocation_count_afresh(setup):
    """A new key is another key, even when SQLite hands it the revoked key's id."""
    old = setup.node.key('old')
    post_view(setup, old, 'tv')
    setup.node.accounts.revoke_key('old')
    new = setup.node.key('new')
    post_view(setup, new, 'tv')
    assert views_of(setup) == 2
