"""Share links: made by an item's or album's owner (or an admin), opened under /s/TOKEN without an
account, showing only what they name, for as long as it stays shareable."""
import re
import time

import pytest
import webtest
from conftest import page_csrf

import privtube_auth
import privtube_shares

GONE_TEXT = privtube_shares.GONE[1]


def make_link(client, status=200, **fields):
    """Make a share link through the form; returns the link's path (/s/TOKEN)."""
    target = 'item=%s' % fields['item'] if 'item' in fields else 'album=%s' % fields['album']
    csrf = page_csrf(client.get('/shares/new?' + target).text)
    answer = client.post('/shares', dict({'csrf': csrf, 'days': '7'}, **fields), status=status)
    found = re.search(r'value="https?://[^/"]+(/s/[A-Za-z0-9_-]{43})"', answer.text)
    return found.group(1) if found else answer


def stranger(node):
    return webtest.TestApp(node.app, extra_environ={'REMOTE_ADDR': '203.0.113.%d' % (id(node) % 200 + 1)})


@pytest.fixture
def shared(node):
    """An item owned by ann, and ann signed in."""
    ann = node.sign_in('ann')
    item = node.add('clip.mp4', title='Birthday clip')
    Item, User = node.node.database.Item, node.node.database.User
    Item.update(owner=User.get(name='ann').id).where(Item.id == item.id).execute()
    return node, ann, node.store.items.get(item.id)


def test_owner_makes_a_link_that_shows_the_item_without_an_account(shared):
    node, ann, item = shared
    path = make_link(ann, item=item.id)
    page = stranger(node).get(path)
    assert 'Shared with you via privtube' in page.text and 'Birthday clip' in page.text
    assert 'href="/search' not in page.text and 'Comments' not in page.text and '/logout' not in page.text
    assert page.headers['Referrer-Policy'] == 'no-referrer'
    assert page.headers['X-Content-Type-Options'] == 'nosniff'
    assert "frame-ancestors 'none'" in page.headers['Content-Security-Policy']
    assert '<meta property="og:title" content="Birthday clip">' in page.text
    assert 'og:type' in page.text
    token = path.rsplit('/', 1)[1]
    row = node.node.database.db.execute_sql('SELECT token_hash FROM share').fetchone()
    assert row[0] == privtube_auth.token_hash(token) and token not in str(row)


def test_media_through_the_link_answers_ranges(shared):
    node, ann, item = shared
    path = make_link(ann, item=item.id)
    whole = open(node.store.full_path(item.path), 'rb').read()
    part = stranger(node).get(path + '/media', headers={'Range': 'bytes=10-19'}, status=206)
    assert part.body == whole[10:20]
    assert part.headers['Content-Range'] == 'bytes 10-19/%d' % len(whole)


def test_download_only_when_the_link_allows_it(shared):
    node, ann, item = shared
    closed = make_link(ann, item=item.id)
    assert 'download=1' not in stranger(node).get(closed).text
    stranger(node).get(closed + '/media?download=1', status=403)
    opened = make_link(ann, item=item.id, allow_download='yes')
    assert 'download=1' in stranger(node).get(opened).text
    answer = stranger(node).get(opened + '/media?download=1')
    assert answer.headers['Content-Disposition'].startswith('attachment')


def test_another_member_may_not_share_what_is_not_theirs_but_an_admin_may(shared):
    node, ann, item = shared
    bob = node.sign_in('bob')
    refused = bob.get('/shares/new?item=' + item.id, status=403)
    assert 'only the owner' in refused.text
    csrf = page_csrf(bob.get('/account').text)
    bob.post('/shares', {'csrf': csrf, 'item': item.id, 'days': '7'}, status=403)
    admin = node.sign_in('root', admin=True)
    path = make_link(admin, item=item.id)
    assert 'Birthday clip' in stranger(node).get(path).text
    assert node.node.database.db.execute_sql('SELECT count(*) FROM share').fetchone()[0] == 1


def test_a_peers_item_is_never_shared_on(node):
    admin = node.sign_in('root', admin=True)
    item = node.add('theirs.mp4', title='Their clip')
    Item = node.node.database.Item
    Item.update(origin='bob').where(Item.id == item.id).execute()
    refused = admin.get('/shares/new?item=' + item.id, status=403)
    assert 'only its own home may share it' in refused.text
    csrf = page_csrf(admin.get('/account').text)
    admin.post('/shares', {'csrf': csrf, 'item': item.id, 'days': '7'}, status=403)
    assert node.node.database.db.execute_sql('SELECT count(*) FROM share').fetchone()[0] == 0


def test_expiry_is_1_to_90_days(shared):
    node, ann, item = shared
    for days in ('0', '91', 'x'):
        answer = make_link(ann, status=400, item=item.id, days=days)
        assert 'a link lasts 1 to 90 days' in answer.text
    make_link(ann, item=item.id, days='90')
    expires, created = node.node.database.db.execute_sql('SELECT expires, created FROM share').fetchone()
    assert expires - created == 90 * 86400


def test_expired_revoked_and_unknown_links_say_the_same(shared):
    node, ann, item = shared
    expired, revoked = make_link(ann, item=item.id), make_link(ann, item=item.id)
    node.node.database.db.execute_sql('UPDATE share SET expires = ? WHERE id = 1', (time.time() - 1,))
    listing = ann.get('/shares')
    revoke = re.findall(r'href="(/shares/\d+/revoke)"', listing.text)
    assert revoke == ['/shares/2/revoke']       # the expired one has nothing to revoke
    confirm = ann.get(revoke[0])
    assert 'stops working at once' in confirm.text
    ann.post(revoke[0], {'csrf': page_csrf(confirm.text)}, status=200)   # no confirm: asked again
    assert 'Birthday clip' in stranger(node).get(revoked).text
    ann.post(revoke[0], {'csrf': page_csrf(confirm.text), 'confirm': 'yes'}, status=303)
    pages = [stranger(node).get(path, status=404).text for path in (expired, revoked, '/s/' + 'x' * 43, '/s/short')]
    assert all(GONE_TEXT in text and 'Birthday clip' not in text for text in pages)
    assert len({text for text in pages}) == 1
    assert 'revoked' in ann.get('/shares').text and 'expired' in ann.get('/shares').text


def test_revoke_needs_the_csrf_token_and_the_maker(shared):
    node, ann, item = shared
    path = make_link(ann, item=item.id)
    ann.post('/shares/1/revoke', {'confirm': 'yes'}, status=403)
    bob = node.sign_in('bob')
    bob.post('/shares/1/revoke', {'csrf': page_csrf(bob.get('/account').text), 'confirm': 'yes'}, status=404)
    assert 'Birthday clip' not in bob.get('/shares').text
    assert 'Birthday clip' in stranger(node).get(path).text


def test_a_link_to_an_item_made_private_later_is_refused_at_once(shared):
    node, ann, item = shared
    path = make_link(ann, item=item.id)
    visitor = stranger(node)
    visitor.get(path + '/media', status=200)
    node.store.items.edit(item, private=True)
    assert GONE_TEXT in visitor.get(path, status=404).text
    visitor.get(path + '/media', status=404)
    node.store.items.edit(node.store.items.get(item.id), private=False)
    visitor.get(path, status=200)
    node.store.trash.move(node.store.items.get(item.id))
    visitor.get(path + '/media', status=404)


def test_a_private_item_cannot_be_shared(shared):
    node, ann, item = shared
    node.store.items.edit(item, private=True)
    assert 'make it shared first' in ann.get('/shares/new?item=' + item.id, status=403).text


def test_opens_are_counted(shared):
    node, ann, item = shared
    path = make_link(ann, item=item.id)
    for _ in range(3):
        stranger(node).get(path)
    stranger(node).get(path + '/media')           # the player's requests are not opens
    assert re.search(r"<td[^>]*>3</td>", ann.get('/shares').text)


def test_album_link_shows_its_items_and_nothing_else(node):
    ann = node.sign_in('ann')
    inside, outside = node.add('a/in.mp4', title='Inside'), node.add('a/out.mp4', title='Outside')
    hidden = node.add('a/hidden.mp4', title='Hidden', private=True)
    album = node.store.albums.create('Trip', owner_id=node.node.database.User.get(name='ann').id,
                                     item_ids=[inside.id, hidden.id])
    path = make_link(ann, album=album.id)
    visitor = stranger(node)
    page = visitor.get(path)
    assert 'Trip' in page.text and 'Inside' in page.text
    assert 'Outside' not in page.text and 'Hidden' not in page.text
    assert 'Inside' in visitor.get('%s/item/%s' % (path, inside.id)).text
    visitor.get('%s/item/%s/media' % (path, inside.id), headers={'Range': 'bytes=0-3'}, status=206)
    for other in (outside.id, hidden.id):
        assert GONE_TEXT in visitor.get('%s/item/%s' % (path, other), status=404).text
        visitor.get('%s/item/%s/media' % (path, other), status=404)
    node.store.albums.remove_items(album, [inside.id])
    visitor.get('%s/item/%s/media' % (path, inside.id), status=404)
    node.store.albums.delete(node.store.albums.get(album.id))
    visitor.get(path, status=404)


def test_password_form_unlocks_this_link_only_and_is_throttled(shared):
    node, ann, item = shared
    path = make_link(ann, item=item.id, password='secret-words')
    other = make_link(ann, item=item.id, password='secret-words')
    visitor = stranger(node)
    form = visitor.get(path, status=401)
    assert 'Birthday clip' not in form.text and 'This link has a password' in form.text
    visitor.get(path + '/media', status=401)
    csrf = page_csrf(form.text)
    visitor.post(path, {'password': 'secret-words'}, status=403)          # no form token
    wrong = visitor.post(path, {'csrf': csrf, 'password': 'wrong-words'}, status=401)
    assert 'not the password' in wrong.text
    visitor.post(path, {'csrf': csrf, 'password': 'secret-words'}, status=303)
    assert 'Birthday clip' in visitor.get(path).text
    visitor.get(path + '/media', status=200)
    visitor.get(other, status=401)                # the cookie belongs to one link
    guesser = webtest.TestApp(node.app, extra_environ={'REMOTE_ADDR': '198.51.100.7'})
    csrf = page_csrf(guesser.get(other, status=401).text)
    answers = [guesser.post(other, {'csrf': csrf, 'password': 'guess-%d' % n}, expect_errors=True).status_int
               for n in range(7)]
    assert answers[:5] == [401] * 5 and answers[5:] == [429, 429]
    blocked = guesser.post(other, {'csrf': csrf, 'password': 'secret-words'}, status=429)
    assert blocked.headers['Retry-After']


def test_guessing_tokens_hits_the_rate_limit(shared):
    node, ann, item = shared
    path = make_link(ann, item=item.id)
    guesser = webtest.TestApp(node.app, extra_environ={'REMOTE_ADDR': '198.51.100.9'})
    statuses = [guesser.get('/s/%043d' % n, expect_errors=True).status_int
                for n in range(privtube_shares.LOOKUP_LIMIT + 2)]
    assert statuses[:privtube_shares.LOOKUP_LIMIT] == [404] * privtube_shares.LOOKUP_LIMIT
    assert statuses[-1] == 429
    guesser.get(path, status=429)                 # even a right guess is refused now
    stranger(node).get(path, status=200)          # another client is not


@pytest.mark.slow
def test_unknown_and_expired_tokens_take_the_same_time(shared):
    """Both are one look-up by the token's hash: a guess learns nothing from how long the answer takes."""
    node, ann, item = shared
    make_link(ann, item=item.id)
    expired = 'y' * 43
    node.node.database.db.execute_sql('UPDATE share SET expires = ?, token_hash = ?',
                                      (time.time() - 1, privtube_auth.token_hash(expired)))
    shares = privtube_shares.Shares(node.node)

    def timed(candidate, rounds=40):
        start = time.perf_counter()
        for _ in range(rounds):
            assert shares.find(candidate) is None
        return (time.perf_counter() - start) / rounds
    known, unknown = [], []
    for _ in range(30):             # interleaved, the fastest of each: the machine's load is shared noise
        known.append(timed(expired))
        unknown.append(timed('z' * 43))
    assert abs(min(known) - min(unknown)) < max(min(known), min(unknown)) * 0.5


def give_thumbnail(node, item):
    """A cached thumbnail for `item`, as the media worker would make it."""
    import os

    from PIL import Image
    path = node.store.thumbnail_path(item.id)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new('RGB', (32, 18), (200, 30, 30)).save(path, 'JPEG')
    Item = node.node.database.Item
    Item.update(thumbnail=True).where(Item.id == item.id).execute()


def test_chat_previews_get_the_title_and_the_links_own_thumbnail(shared):
    node, ann, item = shared
    give_thumbnail(node, item)
    path = make_link(ann, item=item.id)
    page = stranger(node).get(path)
    image = re.search(r'<meta property="og:image" content="https?://[^/"]+([^"]+)">', page.text).group(1)
    assert image == path + '/thumb'
    thumb = stranger(node).get(image)
    assert thumb.content_type == 'image/jpeg' and thumb.body[:2] == b'\xff\xd8'
    stranger(node).get('/thumb/%s' % item.id, status=303)       # the member route still wants a session


def test_an_albums_link_previews_its_first_item(node):
    ann = node.sign_in('ann')
    first = node.add('b/first.mp4', title='First')
    give_thumbnail(node, first)
    album = node.store.albums.create('Beach', owner_id=node.node.database.User.get(name='ann').id,
                                     item_ids=[first.id])
    path = make_link(ann, album=album.id)
    page = stranger(node).get(path)
    assert '<meta property="og:title" content="Beach">' in page.text
    assert '%s/item/%s/thumb' % (path, first.id) in page.text
    stranger(node).get('%s/item/%s/thumb' % (path, first.id), status=200)


def test_another_members_album_is_not_theirs_to_share(node):
    ann = node.sign_in('ann')
    item = node.add('c/one.mp4', title='One')
    album = node.store.albums.create('Ann trip', owner_id=node.node.database.User.get(name='ann').id,
                                     item_ids=[item.id])
    bob = node.sign_in('bob')
    assert 'only the owner of this album' in bob.get('/shares/new?album=' + album.id, status=403).text
    assert 'Share link' not in bob.get('/albums/' + album.id, expect_errors=True).text
    assert 'Share link' in ann.get('/albums/' + album.id).text


def test_every_share_route_with_a_made_up_token_says_only_that_it_does_not_work(shared):
    node, ann, item = shared
    make_link(ann, item=item.id)
    share_rules = [route.rule for route in node.app.routes if route.rule.startswith('/s/')]
    assert len(share_rules) >= 5
    for rule in share_rules:
        url = re.sub(r'<what:[^>]*>', 'media', rule.replace('<token>', 'Q' * 43).replace('<item_id>', item.id))
        visitor = stranger(node)
        for method in ('GET', 'POST') if rule == '/s/<token>' else ('GET',):
            answer = visitor.request(url, method=method, expect_errors=True)
            assert answer.status_int == 404, (method, url)
            assert GONE_TEXT in answer.text and 'Birthday clip' not in answer.text
            assert 'Set-Cookie' not in answer.headers
            assert answer.headers['Referrer-Policy'] == 'no-referrer'


def test_a_peers_album_is_never_shared_on(node):
    admin = node.sign_in('root', admin=True)
    album = node.store.albums.create('Their trip')
    Album = node.node.database.Album
    Album.update(origin='bob').where(Album.id == album.id).execute()
    refused = admin.get('/shares/new?album=' + album.id, status=403)
    assert 'only its own home may share it' in refused.text


def test_a_link_names_public_url_and_says_when_it_only_works_here(tmp_path):
    from conftest import NodeFixture
    for config, shown, warned in (('', 'http://localhost', True),
                                  ('public_url = https://photos.example.org\n', 'https://photos.example.org', False)):
        folder = tmp_path / ('n%d' % warned)
        folder.mkdir()
        node = NodeFixture(folder, config)
        try:
            admin = node.sign_in('root', admin=True)
            item = node.add('x.mp4', title='X')
            csrf = page_csrf(admin.get('/shares/new?item=' + item.id).text)
            made = admin.post('/shares', {'csrf': csrf, 'item': item.id, 'days': '3'}).text
            assert re.search(r'value="%s(:80)?/s/[A-Za-z0-9_-]{43}"' % re.escape(shown), made)
            assert ('works only on this computer' in made) == warned
        finally:
            node.close()


def test_a_link_dies_with_the_person_who_made_it_and_with_its_item(shared):
    node, ann, item = shared
    path = make_link(ann, item=item.id)
    other = node.add('other.mp4', title='Other')
    admin = node.sign_in('root', admin=True)
    kept = make_link(admin, item=other.id)
    node.accounts.remove_user('ann')
    assert GONE_TEXT in stranger(node).get(path, status=404).text
    node.store.trash.delete_forever(node.store.trash.move(node.store.items.get(other.id)))
    stranger(node).get(kept, status=404)
    assert node.node.database.db.execute_sql('SELECT count(*) FROM share').fetchone()[0] == 0


def test_posting_to_a_link_without_a_password_just_opens_it(shared):
    node, ann, item = shared
    path = make_link(ann, item=item.id)
    answer = stranger(node).post(path, {'password': 'whatever'}, status=303)
    assert answer.headers['Location'].endswith(path)


def test_admins_see_and_revoke_everyones_links_members_only_their_own(shared):
    node, ann, item = shared
    path = make_link(ann, item=item.id)
    bob = node.sign_in('bob')
    assert 'Birthday clip' not in bob.get('/shares').text
    admin = node.sign_in('root', admin=True)
    listing = admin.get('/shares').text
    assert 'Birthday clip' in listing and 'data-label="Made by">ann<' in listing
    confirm = admin.get('/shares/1/revoke')
    admin.post('/shares/1/revoke', {'csrf': page_csrf(confirm.text), 'confirm': 'yes'}, status=303)
    stranger(node).get(path, status=404)


def test_a_refused_form_keeps_what_was_typed(shared):
    node, ann, item = shared
    answer = make_link(ann, status=400, item=item.id, days='120', password='short', allow_download='yes')
    assert 'value="120"' in answer.text and 'value="yes" checked' in answer.text
    answer = make_link(ann, status=400, item=item.id, days='5', password='short')
    assert 'at least 8 characters' in answer.text
