"""Comments in place: times in comment bodies become seek links (escaped first), and the comment routes
answer JSON to a page's script (comments.js) while forms without a script still come back with 303."""
import re

import pytest
from conftest import page_csrf
from test_network import homes, remote_id  # noqa: F401  (homes is a fixture)

from privtube_comments import body_html, seconds_of

JSON = {'Accept': 'application/json'}


@pytest.mark.parametrize('word, seconds', [('0:45', 45), ('12:07', 727), ('1:02:03', 3723), ('100:00', 6000),
                                           ('0:00', 0)])
def test_times_read_as_seconds(word, seconds):
    assert seconds_of(word) == seconds


@pytest.mark.parametrize('word', ['12:07pm', '1:2:3', '10:61', '1:60:00', 'a0:45', '0:45:', '123:45:00', '١:٢٣'])
def test_words_that_are_not_times_stay_text(word):
    assert seconds_of(word) is None
    assert '<a' not in body_html('see %s here' % word)


def test_times_become_seek_links():
    assert body_html('at 0:45 and 1:02:03!') == (
        'at <a class="seek" href="#player" data-seek="45">0:45</a> and '
        '<a class="seek" href="#player" data-seek="3723">1:02:03</a>!')


@pytest.mark.parametrize('body', ['<script>alert(1)</script> 0:45', '0:45<img src=x onerror=alert(1)>',
                                  '"0:45" onclick="x" 0:45\'>', '<a href="javascript:x">1:00</a>',
                                  '&lt;b&gt; 0:45 &amp;', '0:45</a><script>x</script>'])
def test_hostile_bodies_reach_the_page_as_text(body):
    shown = body_html(body)
    tags = re.findall(r'<[^>]*>', shown)
    assert all(re.fullmatch(r'<a class="seek" href="#player" data-seek="\d+">|</a>', tag) for tag in tags), tags
    assert re.sub(r'<[^>]*>', '', shown).replace('&lt;', '<').replace('&gt;', '>').replace('&quot;', '"') \
        .replace('&#x27;', "'").replace('&amp;', '&') == body


def test_without_a_player_times_stay_text():
    assert body_html('at 0:45 <b>', seek_links=False) == 'at 0:45 &lt;b&gt;'


def watch_page(node, client, item):
    page = client.get('/watch/' + item.id)
    return page, page_csrf(page.text)


def test_a_comment_posted_by_a_script_comes_back_as_json(node):
    item = node.add('clip.mp4', title='Clip')
    ann = node.sign_in('ann')
    _, csrf = watch_page(node, ann, item)
    answer = ann.post('/watch/%s/comments' % item.id, {'body': 'Look at 0:45 <b>'}, headers=dict(JSON, **{
        'X-CSRF-Token': csrf}), status=201)
    comment = answer.json
    assert set(comment) == {'id', 'author', 'body', 'created', 'may_delete'}
    assert (comment['author'], comment['body'], comment['may_delete']) == ('ann', 'Look at 0:45 <b>', True)
    assert [c['id'] for c in node.store.comments.json(item)] == [comment['id']]


def test_a_script_may_send_the_token_as_a_form_field(node):
    item = node.add('clip.mp4', title='Clip')
    ann = node.sign_in('ann')
    _, csrf = watch_page(node, ann, item)
    ann.post('/watch/%s/comments' % item.id, {'body': 'hi', 'csrf': csrf}, headers=JSON, status=201)
    assert len(node.store.comments.json(item)) == 1


def test_a_json_comment_without_the_token_is_refused_as_json(node):
    item = node.add('clip.mp4', title='Clip')
    ann = node.sign_in('ann')
    answer = ann.post('/watch/%s/comments' % item.id, {'body': 'sneaky'}, headers=JSON, status=403)
    assert answer.content_type == 'application/json' and 'expired' in answer.json['error']
    assert node.store.comments.json(item) == []


def test_a_refused_json_comment_keeps_its_4xx_and_says_why(node):
    item = node.add('clip.mp4', title='Clip')
    ann = node.sign_in('ann')
    _, csrf = watch_page(node, ann, item)
    headers = dict(JSON, **{'X-CSRF-Token': csrf})
    for body in ('   ', 'x' * 5001):
        answer = ann.post('/watch/%s/comments' % item.id, {'body': body}, headers=headers, status=400)
        assert answer.json['error'].startswith('comment must')
    answer = ann.post('/watch/nosuchitem/comments', {'body': 'hi'}, headers=headers, status=404)
    assert answer.json['error']
    assert node.store.comments.json(item) == []


def test_a_signed_out_script_is_told_so_in_json(node):
    item = node.add('clip.mp4', title='Clip')
    answer = node.client.post('/watch/%s/comments' % item.id, {'body': 'hi'}, headers=JSON, status=401)
    assert 'signed out' in answer.json['error']
    node.client.post('/watch/%s/comments' % item.id, {'body': 'hi'}, status=303)     # a form: to /login


def test_forms_without_a_script_still_come_back_with_303(node):
    item = node.add('clip.mp4', title='Clip')
    ann = node.sign_in('ann')
    _, csrf = watch_page(node, ann, item)
    answer = ann.post('/watch/%s/comments' % item.id, {'body': 'hi', 'csrf': csrf}, status=303)
    assert answer.headers['Location'].endswith('/watch/%s#comments' % item.id)


def test_a_comment_deleted_by_a_script_answers_json(node):
    item = node.add('clip.mp4', title='Clip')
    ann, bob = node.sign_in('ann'), node.sign_in('bob')
    _, csrf = watch_page(node, ann, item)
    mine = node.store.comments.add(item, 'ann', 'mine', user_id=node.accounts.user('ann').id)
    headers = dict(JSON, **{'X-CSRF-Token': csrf})
    url = '/watch/%s/comments/%s/delete' % (item.id, mine['id'])
    _, bob_csrf = watch_page(node, bob, item)
    refused = bob.post(url, headers=dict(JSON, **{'X-CSRF-Token': bob_csrf}), status=403)
    assert 'author' in refused.json['error']
    assert ann.post(url, headers=headers, status=200).json == {'deleted': mine['id']}
    assert node.store.comments.json(item) == []


def test_the_watch_page_links_times_of_a_video_and_escapes_the_rest(node):
    item = node.add('clip.mp4', title='Clip')
    node.store.comments.add(item, 'ann', 'from 0:02 on <img src=x onerror=alert(1)>')
    ann = node.sign_in('ann')
    page, _ = watch_page(node, ann, item)
    assert '<a class="seek" href="#player" data-seek="2">0:02</a> on &lt;img src=x' in page.text
    assert '<img src=x' not in page.text


def test_a_json_comment_on_a_peers_item_goes_to_the_origin(homes):  # noqa: F811
    alice, bob, carol = homes
    bob.node.registry.sync('alice')
    viewer = bob.sign_in('ann')
    item_id = remote_id(bob, 'Family picnic')
    csrf = page_csrf(viewer.get('/watch/' + item_id).text)
    answer = viewer.post('/watch/%s/comments' % item_id, {'body': 'Lovely at 0:03!'},
                         headers=dict(JSON, **{'X-CSRF-Token': csrf}), status=201)
    assert (answer.json['author'], answer.json['body'], answer.json['may_delete']) == (
        'ann@bob', 'Lovely at 0:03!', False)
    original = alice.node.store.items.get(item_id.split(':', 1)[1])
    assert [c['id'] for c in alice.node.store.comments.json(original)] == [answer.json['id']]
    assert 'data-seek="3"' in viewer.get('/watch/' + item_id).text


def test_a_json_comment_on_an_offline_peers_item_is_a_json_error(homes):  # noqa: F811
    alice, bob, carol = homes
    bob.node.registry.sync('alice')
    viewer = bob.sign_in('ann')
    item_id = remote_id(bob, 'Family picnic')
    csrf = page_csrf(viewer.get('/watch/' + item_id).text)
    del bob.node.remote.registry.transport.handlers['http://alice.test']
    answer = viewer.post('/watch/%s/comments' % item_id, {'body': 'hello?'},
                         headers=dict(JSON, **{'X-CSRF-Token': csrf}), status='5*')
    assert answer.json['error']
