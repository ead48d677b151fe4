"""Dates taken on pages: the timeline, "On this day", cards and watch pages, and search by date taken."""
import datetime
import re

from conftest import NodeFixture

import privtube_timeline

JPEG = b'\xff\xd8\xff\xe0' + bytes(200)
AUDIO = b'ID3\x04' + bytes(200)


def photo(node, name, taken=None, tags=(), private=False, data=JPEG):
    item = node.add(name, tags=tags, private=private, data=data)
    if taken is not None:
        Item = node.node.database.Item
        Item.update(taken=taken).where(Item.id == item.id).execute()
    return node.store.items.get(item.id)


def titles(page):
    return re.findall(r'<span class="title">([^<]*)</span>', page)


def test_the_timeline_groups_photos_and_videos_by_month_newest_first(tmp_path):
    node = NodeFixture(tmp_path)
    photo(node, 'june.jpg', '2024-06-30T23:00:00Z')
    photo(node, 'july.jpg', '2024-07-14T10:15:00Z')
    photo(node, 'old.jpg', '2009-02-01T08:00:00Z')
    node.add('clip.mp4')                             # no date taken: placed by when it was added
    photo(node, 'song.mp3', '2024-07-01T00:00:00Z', data=AUDIO)   # music has no place on it
    photo(node, 'hidden.jpg', '2024-07-02T00:00:00Z', tags=['secret'])
    node.accounts.create_group('family', ['tag:family'])
    member = node.sign_in('mia', groups=['family'])
    photo(node, 'family.jpg', '2024-07-20T00:00:00Z', tags=['family'])
    page = member.get('/timeline').text
    assert titles(page) == ['family.jpg']
    admin = node.sign_in('root', admin=True)
    page = admin.get('/timeline').text
    this_month = datetime.datetime.now(datetime.timezone.utc).strftime('%B %Y')
    assert re.findall(r'<h2>([^<]*)</h2>', page) == [this_month, 'July 2024', 'June 2024', 'February 2009']
    assert titles(page) == ['clip.mp4', 'family.jpg', 'july.jpg', 'hidden.jpg', 'june.jpg', 'old.jpg']
    assert re.findall(r'href="/timeline\?year=([0-9]+)"', page)[-2:] == ['2024', '2009']
    assert '14 Jul 2024' in page
    node.close()


def test_a_year_link_jumps_and_older_pages_follow_on(tmp_path, monkeypatch):
    monkeypatch.setattr(privtube_timeline, 'PAGE', 2)
    node = NodeFixture(tmp_path)
    for day in range(1, 6):
        photo(node, 'day%d.jpg' % day, '2020-03-%02dT12:00:00Z' % day)
    photo(node, 'later.jpg', '2023-01-01T00:00:00Z')
    admin = node.sign_in('root', admin=True)
    assert titles(admin.get('/timeline?year=2020').text) == ['day5.jpg', 'day4.jpg']
    seen, page = [], admin.get('/timeline')
    while True:
        seen += titles(page.text)
        older = re.search(r'href="(/timeline\?before=[^"]+)"', page.text)
        if not older:
            break
        page = admin.get(older.group(1).replace('&amp;', '&'))
    assert seen == ['later.jpg'] + ['day%d.jpg' % day for day in range(5, 0, -1)]
    assert titles(admin.get('/timeline?year=1999').text) == []
    admin.get('/timeline?before=%27%3B--&id=%00', status=200)        # nonsense reads as the newest
    node.close()


def test_on_this_day_shows_earlier_years_newest_first_only_when_there_is_any(tmp_path):
    node = NodeFixture(tmp_path)
    admin = node.sign_in('root', admin=True)
    node.add('today.mp4')
    assert 'On this day' not in admin.get('/').text
    today = datetime.datetime.now(datetime.timezone.utc)
    photo(node, 'three.jpg', today.replace(year=today.year - 3).strftime('%Y-%m-%dT08:00:00Z'))
    photo(node, 'one.jpg', today.replace(year=today.year - 1).strftime('%Y-%m-%dT08:00:00Z'))
    photo(node, 'other day.jpg', (today - datetime.timedelta(days=400)).strftime('%Y-%m-%dT08:00:00Z'))
    page = admin.get('/').text
    row = page.split('On this day')[1].split('</section>')[0]
    assert titles(row) == ['one.jpg', 'three.jpg']
    assert '1 year ago' in row and '3 years ago' in row
    node.close()


def test_watch_pages_and_cards_show_the_date_taken(tmp_path):
    node = NodeFixture(tmp_path)
    item = photo(node, 'beach.jpg', '2024-07-14T10:15:00Z')
    plain = node.add('plain.mp4')
    assert plain.taken_source == 'mtime'        # a file that says nothing is dated by its modification time
    Item = node.node.database.Item
    Item.update(taken=None, taken_source=None).where(Item.id == plain.id).execute()    # as a peer's undated item
    admin = node.sign_in('root', admin=True)
    assert 'taken <time datetime="2024-07-14T10:15:00Z">14 Jul 2024</time>' in admin.get('/watch/' + item.id).text
    assert 'taken' not in admin.get('/watch/' + plain.id).text.split('class="meta"')[1].split('</p>')[0]
    assert '14 Jul 2024' in admin.get('/').text
    node.close()


def test_search_sorts_by_date_taken(tmp_path):
    node = NodeFixture(tmp_path)
    photo(node, 'trip b.jpg', '2021-01-01T00:00:00Z')
    photo(node, 'trip a.jpg', '2023-01-01T00:00:00Z')
    photo(node, 'trip c.jpg', '2010-01-01T00:00:00Z')
    admin = node.sign_in('root', admin=True)
    page = admin.get('/search?q=trip&sort=taken').text
    assert titles(page) == ['trip a.jpg', 'trip b.jpg', 'trip c.jpg']
    assert '<option value="taken" selected>date taken</option>' in page
    node.close()


def test_the_timeline_walks_the_item_when_index(tmp_path):
    """A page, a year jump and each year of the index are index walks, not sorts of the whole library."""
    node = NodeFixture(tmp_path)
    timeline = privtube_timeline.Timeline(node.store)
    admin = node.accounts.user_principal(node.accounts.create_user('root', 'password-123', admin=True))
    queries = []
    node.node.database.db.execute_sql = lambda sql, params=(), *rest, run=node.node.database.db.execute_sql: (
        queries.append((sql, params)) or run(sql, params, *rest))
    timeline.page(admin, ('2020', ''))
    sql, params = queries[-1]
    plan = ' '.join(str(row) for row in node.node.database.db.execute_sql('EXPLAIN QUERY PLAN ' + sql, params))
    assert 'SEARCH t1 USING INDEX item_when' in plan and 'TEMP B-TREE' not in plan, plan
    node.close()
