"""Playback positions: recorded per person and item, resumed, finished (watched), "Continue watching"."""
import datetime
import json
import re

import pytest
from conftest import page_csrf
from test_network import link, remote_id

from privtube_playback import Playback, clock, is_finished


def video(node, name='film.mp4', duration=600.0, **options):
    item = node.add(name, **options)
    item.duration = duration
    item.save()
    return item


def position(client, item_id, csrf, status=200, **sent):
    return client.post('/watch/%s/position' % item_id, json.dumps(sent), status=status,
                       headers={'Content-Type': 'application/json', 'X-CSRF-Token': csrf})


def signed_in(node, name='mia'):
    client = node.sign_in(name)
    return client, page_csrf(client.get('/upload').text)


def user(node, name='mia'):
    return node.node.database.User.get(node.node.database.User.name == name)


@pytest.mark.parametrize('at, duration, finished', [
    (0, 600, False), (300, 600, False), (569, 600, False), (570, 600, True),    # 95% of ten minutes
    (3590, 7200, False), (6840, 7200, True),                                    # 5% left of two hours
    (250, 280, False), (266, 280, True),              # a short clip: 30 s before the end is still the middle
    (5, None, False),
])
def test_finished_means_little_is_left(at, duration, finished):
    assert is_finished(at, duration) is finished


def test_clock_shows_hours_only_when_there_are_some():
    assert (clock(187), clock(59.6), clock(3723), clock(None)) == ('3:07', '1:00', '1:02:03', '0:00')


def test_a_position_is_kept_and_the_watch_page_resumes_there(node):
    item = video(node)
    client, csrf = signed_in(node)
    assert position(client, item.id, csrf, position=123.4, duration=600).json == {'position': 123.4,
                                                                                   'finished': False}
    assert 'data-resume="123.4"' in client.get('/watch/' + item.id).text
    other, _ = signed_in(node, 'leo')           # per person: someone else starts at the beginning
    assert 'data-resume=""' in other.get('/watch/' + item.id).text


def test_near_the_start_or_finished_there_is_nothing_to_resume(node):
    item = video(node)
    client, csrf = signed_in(node)
    position(client, item.id, csrf, position=4)
    assert 'data-resume=""' in client.get('/watch/' + item.id).text
    assert position(client, item.id, csrf, position=590).json['finished'] is True
    assert 'data-resume=""' in client.get('/watch/' + item.id).text
    position(client, item.id, csrf, position=3)         # reopened: the first seconds leave it watched
    assert Playback(node.store).state(user(node), item).finished
    position(client, item.id, csrf, position=60)        # watched again past the start: in progress again
    assert not Playback(node.store).state(user(node), item).finished


def test_a_beacon_sends_the_token_as_a_form_field(node):
    item = video(node)
    client, csrf = signed_in(node)
    client.post('/watch/%s/position' % item.id, {'csrf': csrf, 'position': '42.5', 'duration': '600'})
    assert Playback(node.store).resume_point(user(node), item) == 42.5


def test_without_the_csrf_token_nothing_is_recorded(node):
    item = video(node)
    client, csrf = signed_in(node)
    client.post('/watch/%s/position' % item.id, json.dumps({'position': 50}), status=403,
                headers={'Content-Type': 'application/json'})
    client.post('/watch/%s/position' % item.id, {'position': '50', 'csrf': 'wrong'}, status=403)
    position(client, item.id, 'wrong', status=403, position=50)
    assert Playback(node.store).state(user(node), item) is None


@pytest.mark.parametrize('sent', [{'position': 'abc'}, {'position': -1}, {'position': 1e12}, {'position': None},
                                  {'position': True}, {'position': 10, 'duration': 'NaN'}, {},
                                  {'position': 10, 'duration': [1]}])
def test_bad_numbers_are_refused(node, sent):
    item = video(node)
    client, csrf = signed_in(node)
    position(client, item.id, csrf, status=400, **sent)
    assert Playback(node.store).state(user(node), item) is None


def test_bad_numbers_in_json_that_python_reads_as_infinity_are_refused(node):
    item = video(node)
    client, csrf = signed_in(node)
    client.post('/watch/%s/position' % item.id, '{"position": Infinity}', status=400,
                headers={'Content-Type': 'application/json', 'X-CSRF-Token': csrf})


def test_items_one_may_not_see_are_404_and_photos_have_no_position(node):
    hidden = video(node, 'secret.mp4', private=True)
    photo = node.add('photo.jpg', data=b'\xff\xd8\xff\xe0' + bytes(200))
    client, csrf = signed_in(node)
    position(client, hidden.id, csrf, status=404, position=50)
    position(client, 'no-such-item', csrf, status=404, position=50)
    position(client, photo.id, csrf, status=400, position=50)


def test_continue_watching_lists_begun_items_newest_first_without_finished_or_hidden_ones(node):
    first, second, done, hidden = (video(node, name) for name in ('a.mp4', 'b.mp4', 'c.mp4', 'd.mp4'))
    client, csrf = signed_in(node)
    for item, at in ((first, 100), (second, 200), (done, 599), (hidden, 300)):
        position(client, item.id, csrf, position=at)
    node.store.items.edit(hidden, private=True)          # no longer shared with mia
    mia = user(node)
    account = node.accounts.user_principal(mia)
    assert [item.id for item in Playback(node.store).continue_watching(mia, account)] == [second.id, first.id]
    home = client.get('/').text
    row = home.split('<h2>Continue watching</h2>', 1)[1].split('</section>', 1)[0]
    assert re.findall(r'data-id="([^"]+)"', row) == [second.id, first.id]
    assert 'aria-label="33% watched"' in row and 'value="33"' in row
    assert home.index('Continue watching') < home.index('<h2>Recent</h2>')
    assert home.count('<span class="watched">Watched</span>') == 1         # c.mp4 in Recent
    assert '<span class="duration">10:00</span>' in home
    found = client.get('/search', {'q': 'c'}).text      # search results carry the same marks
    assert '<span class="watched">Watched</span>' in found and '% watched' not in found


def test_forget_and_clear(node):
    item, other = video(node), video(node, 'other.mp4')
    playback, mia = Playback(node.store), None
    node.accounts.create_user('mia', 'password-123')
    mia = user(node)
    playback.record(mia, item, 100)
    playback.record(mia, other, 100)
    assert playback.forget(mia, item) == 1 and playback.state(mia, item) is None
    assert playback.clear(mia) == 1 and playback.state(mia, other) is None


def test_a_peers_item_keeps_its_position_on_the_readers_node(network):
    alice, bob = network.make('alice'), network.make('bob')
    item = video(alice, 'picnic.mp4', title='Picnic')
    alice.store.catalog.touch(item)
    item.save()
    link(network, alice, bob)
    assert bob.node.registry.sync('alice')[0]
    far = remote_id(bob, 'Picnic')
    client, csrf = signed_in(bob)
    assert position(client, far, csrf, position=200).json['finished'] is False
    assert 'data-resume="200.0"' in client.get('/watch/' + far).text
    assert alice.node.database.Playback.select().count() == 0
    assert not any('position' in url for _, url in network.requests)       # nothing of it goes to alice


def taken_today(node, name, years_ago):
    """A video taken on today's day `years_ago` years back: it shows in "On this day"."""
    item = video(node, name)
    today = datetime.datetime.now(datetime.timezone.utc)
    item.taken = today.replace(year=today.year - years_ago).strftime('%Y-%m-%dT08:00:00Z')
    item.save()
    return item


def test_every_grid_of_cards_shows_progress_and_watched(node):
    begun, done = video(node, 'begun.mp4'), taken_today(node, 'done.mp4', 2)
    album = node.store.albums.create('Trip', item_ids=[begun.id, done.id])
    client, csrf = signed_in(node)
    position(client, begun.id, csrf, position=300)
    position(client, done.id, csrf, position=599)
    for url in ('/albums/' + album.id, '/timeline', '/search?q=mp4'):
        grid = client.get(url).text
        assert grid.count('<span class="watched">Watched</span>') == 1, url
        assert 'aria-label="50% watched"' in grid, url
        assert '<span class="duration">10:00</span>' in grid, url
    home = client.get('/').text
    row = home.split('<h2>On this day</h2>', 1)[1].split('</section>', 1)[0]
    assert '<span class="watched">Watched</span>' in row


def test_a_page_of_many_grids_reads_the_marks_in_one_query(node, monkeypatch):
    items = [video(node, 'clip%d.mp4' % number) for number in range(5)] + [taken_today(node, 'old.mp4', 1)]
    client, csrf = signed_in(node)
    for item in items:
        position(client, item.id, csrf, position=100)
    calls = []
    marks = Playback.marks
    monkeypatch.setattr(Playback, 'marks', lambda self, user, shown: calls.append(len(shown)) or
                        marks(self, user, shown))
    home = client.get('/').text
    assert calls == [len(items) * 2 + 1] and home.count('% watched"') == len(items) * 2 + 1


def continue_row(client):
    home = client.get('/').text
    if '<h2>Continue watching</h2>' not in home:
        return None
    return home.split('<h2>Continue watching</h2>', 1)[1].split('</section>', 1)[0]


def test_an_item_taken_out_of_continue_watching_leaves_the_row_and_the_page_comes_back(node):
    first, second = video(node, 'a.mp4'), video(node, 'b.mp4')
    client, csrf = signed_in(node)
    position(client, first.id, csrf, position=100)
    position(client, second.id, csrf, position=200)
    row = continue_row(client)
    assert 'action="/continue/%s/remove"' % first.id in row
    assert 'aria-label="Remove a.mp4 from Continue watching"' in row
    assert 'action="/continue/' not in client.get('/').text.split('<h2>Recent</h2>', 1)[1]   # only that row
    answer = client.post('/continue/%s/remove' % first.id, {'csrf': csrf}, status=303)
    assert answer.headers['Location'].endswith('/')
    assert re.findall(r'data-id="([^"]+)"', continue_row(client)) == [second.id]
    answer = client.post('/continue/%s/remove' % second.id, {'csrf': csrf}, headers={'Accept': 'application/json'})
    assert answer.json == {'watched': False}                       # what playback.js asks for: no reload
    assert continue_row(client) is None
    assert 'data-resume=""' in client.get('/watch/' + second.id).text


def test_marking_watched_and_not_watched_from_the_watch_page(node):
    item = video(node)
    client, csrf = signed_in(node)
    position(client, item.id, csrf, position=200)
    page = client.get('/watch/' + item.id).text
    assert 'action="/watch/%s/watched"' % item.id in page and '>Mark as watched</button>' in page
    client.post('/watch/%s/watched' % item.id, {'csrf': csrf}, status=303)
    page = client.get('/watch/' + item.id).text
    assert 'action="/watch/%s/unwatched"' % item.id in page and '>Mark as not watched</button>' in page
    assert 'data-resume=""' in page and continue_row(client) is None       # watched: starts anew, out of the row
    assert '<span class="watched">Watched</span>' in client.get('/').text
    assert client.post('/watch/%s/unwatched' % item.id, {'csrf': csrf},
                       headers={'Accept': 'application/json'}).json == {'watched': False}
    assert Playback(node.store).state(user(node), item) is None
    assert '<span class="watched">' not in client.get('/').text
    assert client.post('/watch/%s/watched' % item.id, {'csrf': csrf},
                       headers={'Accept': 'application/json'}).json == {'watched': True}
    assert Playback(node.store).state(user(node), item).finished


def test_a_video_never_opened_can_be_marked_watched_and_stays_so_when_reopened(node):
    item = video(node)
    client, csrf = signed_in(node)
    client.post('/watch/%s/watched' % item.id, {'csrf': csrf}, status=303)
    position(client, item.id, csrf, position=2)               # reopened, stopped at once: still watched
    assert Playback(node.store).state(user(node), item).finished


@pytest.mark.parametrize('route', ['/watch/%s/watched', '/watch/%s/unwatched', '/continue/%s/remove'])
def test_the_buttons_refuse_hidden_items_photos_and_a_missing_token(node, route):
    hidden = video(node, 'secret.mp4', private=True)
    photo = node.add('photo.jpg', data=b'\xff\xd8\xff\xe0' + bytes(200))
    item = video(node)
    client, csrf = signed_in(node)
    client.post(route % hidden.id, {'csrf': csrf}, status=404)
    client.post(route % 'no-such-item', {'csrf': csrf}, status=404)
    assert 'only videos and songs' in client.post(route % photo.id, {'csrf': csrf}, status=400).text
    client.post(route % item.id, {}, status=403)
    client.post(route % item.id, {'csrf': 'forged'}, status=403)
    assert node.node.database.Playback.select().count() == 0
