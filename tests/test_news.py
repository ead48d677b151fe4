"""What's new (privtube_news): the home page's "New since your last visit" row, the sentence per home, the
e-mail digest sent to a real SMTP server on loopback, and the account page's digest form."""
import email
import io
import logging
import re
import socketserver
import threading
import time

import pytest
from conftest import page_csrf
from PIL import Image

import privtube_config
import privtube_news


def jpeg():
    out = io.BytesIO()
    Image.new('RGB', (8, 8), (200, 30, 30)).save(out, 'JPEG')
    return out.getvalue()


def add_photo(fixture, name, tags=(), private=False):
    return fixture.add(name, tags=tags, private=private, title=name, data=jpeg())


def end_visit(fixture):
    """Let more than a visit's gap pass (every recorded time moves that far into the past): the next home
    page view starts a new visit."""
    news, gap = privtube_news.News(fixture.store), privtube_news.VISIT_GAP + 1
    news.Reader.update(last_seen_home=news.Reader.last_seen_home - gap,
                       previous_visit=news.Reader.previous_visit - gap).execute()
    news.Arrival.update(arrived=news.Arrival.arrived - gap).execute()


def news_block(page):
    found = re.search(r'<section class="news".*?</section>', page.text, re.S)
    return found.group(0) if found else ''


def card_titles(html):
    return re.findall(r'<span class="title">([^<]*)</span>', html)


@pytest.fixture
def family(node):
    """ann sees the family's items, ben the work items; each has visited the home page once."""
    node.accounts.create_group('family', ['tag:family'])
    node.accounts.create_group('work', ['tag:work'])
    node.add('old.mp4', tags=['family'], title='Old film')
    ann, ben = node.sign_in('ann', groups=['family']), node.sign_in('ben', groups=['work'])
    for client in (ann, ben):
        assert news_block(client.get('/')) == ''       # a first visit has no "last visit"
    return node, ann, ben


def test_each_person_sees_only_what_is_new_to_them(family):
    node, ann, ben = family
    add_photo(node, 'beach.jpg', tags=['family'])
    add_photo(node, 'cake.jpg', tags=['family'])
    node.add('budget.mp4', tags=['work'], title='Budget')
    add_photo(node, 'hidden.jpg', tags=['family'], private=True)
    end_visit(node)
    ann_news, ben_news = news_block(ann.get('/')), news_block(ben.get('/'))
    assert sorted(card_titles(ann_news)) == ['beach.jpg', 'cake.jpg']
    assert 'This home added 2 photos' in ann_news and 'video' not in ann_news
    assert card_titles(ben_news) == ['Budget'] and 'This home added 1 video<' in ben_news
    assert 'Old film' not in ann_news + ben_news and 'hidden' not in ann_news


def test_a_reload_keeps_the_row_for_the_visit(family):
    node, ann, _ = family
    add_photo(node, 'beach.jpg', tags=['family'])
    end_visit(node)
    assert card_titles(news_block(ann.get('/'))) == ['beach.jpg']
    assert card_titles(news_block(ann.get('/'))) == ['beach.jpg']      # the same visit: still new
    end_visit(node)
    assert news_block(ann.get('/')) == ''                             # the next visit: seen


def test_own_uploads_are_not_news_to_their_owner(family):
    node, ann, _ = family
    user = node.node.database.User.get(node.node.database.User.name == 'ann')
    item = add_photo(node, 'mine.jpg')
    item.owner = user.id
    item.save()
    add_photo(node, 'theirs.jpg', tags=['family'])
    end_visit(node)
    assert card_titles(news_block(ann.get('/'))) == ['theirs.jpg']


def test_many_new_items_show_a_row_and_how_many_more(family):
    node, ann, _ = family
    for number in range(15):
        add_photo(node, 'p%02d.jpg' % number, tags=['family'])
    end_visit(node)
    block = news_block(ann.get('/'))
    assert len(card_titles(block)) == privtube_news.NEW_CARDS
    assert 'and 3 more' in block and 'This home added 15 photos' in block


def test_sentences_say_singular_and_plural():
    assert privtube_news.added_sentence("alice's home", {'image': 40, 'video': 2}) == \
        "alice's home added 40 photos and 2 videos"
    assert privtube_news.added_sentence('This home', {'audio': 1}) == 'This home added 1 song'
    assert privtube_news.added_sentence('bob', {'image': 1, 'video': 1, 'audio': 3}) == \
        'bob added 1 photo, 1 video and 3 songs'


def test_a_peer_sentence_counts_what_arrived_from_it_and_may_be_seen(network):
    alice, bob = network.make('alice'), network.make('bob')
    for name in ('a.jpg', 'b.jpg', 'c.jpg'):
        add_photo(alice, name, tags=['family'])
    alice.add('picnic.mp4', tags=['family'], title='Picnic')
    add_photo(alice, 'office.jpg', tags=['work'])          # not shared with bob at all
    add_photo(alice, 'secret.jpg', tags=['family'], private=True)
    Item = alice.node.database.Item
    Item.update(created='2020-01-01T00:00:00Z').execute()   # made long ago: they are new to bob all the same
    _, token = alice.accounts.create_key('bob', ['tag:family'])
    privtube_config.add_peer(bob.config_path, 'alice', 'http://alice.test', token)
    bob.reload(network)
    bob.accounts.create_group('kids', ['origin:alice'])
    viewer = bob.sign_in('cy', groups=['kids'])
    viewer.get('/')
    add_photo(bob, 'bobs-own.jpg')                        # bob's, but not for cy
    assert bob.node.registry.sync('alice')[0]
    end_visit(bob)
    block = news_block(viewer.get('/'))
    assert "alice&#039;s home added 3 photos and 1 video" in block
    assert sorted(card_titles(block)) == ['Picnic', 'a.jpg', 'b.jpg', 'c.jpg']
    assert 'This home' not in block and 'bobs-own' not in block


# --- the e-mail digest ---------------------------------------------------------------------------------

class SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: records each message; refuses recipients when the server says so."""

    def reply(self, line):
        self.wfile.write(line.encode() + b'\r\n')

    def handle(self):
        self.reply('220 test ESMTP')
        mail = {}
        while True:
            line = self.rfile.readline().decode('utf-8', 'replace').rstrip('\r\n')
            command = line[:4].upper()
            if not line or command == 'QUIT':
                self.reply('221 bye')
                return
            if command in ('EHLO', 'HELO'):
                self.reply('250 test')
            elif command == 'MAIL':
                mail = {'from': line}
                self.reply('250 ok')
            elif command == 'RCPT':
                self.reply('550 no such mailbox' if self.server.refuse else '250 ok')
            elif command == 'DATA':
                self.reply('354 go on')
                mail['data'] = self.read_data()
                self.server.messages.append(email.message_from_bytes(mail['data']))
                self.reply('250 queued')
            else:
                self.reply('250 ok')

    def read_data(self):
        lines = []
        while True:
            line = self.rfile.readline()
            if line in (b'.\r\n', b'.\n', b''):
                return b''.join(lines)
            lines.append(line[1:] if line.startswith(b'..') else line)


@pytest.fixture
def smtp():
    server = socketserver.ThreadingTCPServer(('127.0.0.1', 0), SmtpHandler)
    server.daemon_threads = True
    server.messages, server.refuse = [], False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def mailing(tmp_path, smtp):
    from conftest import NodeFixture
    config = 'public_url = https://media.example.org\n[mail]\nsmtp_host = 127.0.0.1\nsmtp_port = %d\n' \
             'starttls = 0\nfrom = home@example.org\n' % smtp.server_address[1]
    (tmp_path / 'mailing').mkdir()
    fixture = NodeFixture(tmp_path / 'mailing', config)
    yield fixture
    fixture.close()


def choose(client, address, digest, status=303):
    page = client.get('/account')
    return client.post('/account/digest', {'csrf': page_csrf(page.text), 'email': address, 'digest': digest},
                       status=status)


class Clock:
    def __init__(self):
        self.now = time.time()

    def __call__(self):
        return self.now


def body_of(message):
    return message.get_payload(decode=True).decode('utf-8')


def test_digests_hold_only_what_each_person_may_see_and_come_when_due(mailing, smtp):
    node = mailing
    node.accounts.create_group('family', ['tag:family'])
    node.accounts.create_group('work', ['tag:work'])
    ann, ben = node.sign_in('ann', groups=['family']), node.sign_in('ben', groups=['work'])
    clock = Clock()
    digest = privtube_news.Digest(node.node, clock=clock)
    digest.news.clock = clock
    # the web form keeps the real time as the start; a digest counts from there
    choose(ann, 'ann@example.org', 'daily'), choose(ben, 'ben@example.org', 'weekly')
    add_photo(node, 'beach.jpg', tags=['family'])
    node.add('budget.mp4', tags=['work'], title='Budget')
    add_photo(node, 'hidden.jpg', tags=['family'], private=True)
    clock.now += 3600
    assert digest.send_due() == 0 and smtp.messages == []                   # not a day yet
    clock.now += 24 * 3600
    assert digest.send_due() == 1
    [mail] = smtp.messages
    assert mail['To'] == 'ann@example.org' and mail['From'] == 'home@example.org'
    text = body_of(mail)
    assert 'beach.jpg' in text and 'Budget' not in text and 'hidden' not in text
    beach = node.node.database.Item.get(node.node.database.Item.title == 'beach.jpg')
    assert 'https://media.example.org/watch/%s' % beach.id in text and 'This home added 1 photo' in text
    assert "1 new item" in mail['Subject']
    clock.now += 7 * 24 * 3600
    assert digest.send_due() == 1                # ben's weekly one; ann has nothing new: no mail
    assert [m['To'] for m in smtp.messages] == ['ann@example.org', 'ben@example.org']
    text = body_of(smtp.messages[1])
    assert 'Budget' in text and 'beach' not in text


def test_a_refused_mail_leaves_the_last_digest_time_and_is_sent_later(mailing, smtp, caplog):
    node = mailing
    ann = node.sign_in('ann')
    choose(ann, 'ann@example.org', 'daily')
    news = privtube_news.News(node.store)
    Reader = news.Reader
    before = Reader.get().last_digest
    add_photo(node, 'beach.jpg')
    clock = Clock()
    clock.now += 2 * 24 * 3600
    digest = privtube_news.Digest(node.node, clock=clock)
    smtp.refuse = True
    with caplog.at_level(logging.WARNING, logger='privtube.news'):
        assert digest.send_due() == 0
    assert Reader.get().last_digest == before and 'could not send the daily e-mail to ann' in caplog.text
    smtp.refuse = False
    assert digest.send_due() == 1 and 'beach.jpg' in body_of(smtp.messages[0])
    assert Reader.get().last_digest == clock.now


def test_an_unreachable_mail_server_is_logged_not_fatal(node, caplog):
    node.sign_in('ann')
    user = node.node.database.User.get()
    news = privtube_news.News(node.store)
    news.choose(user, 'ann@example.org', 'daily')
    add_photo(node, 'beach.jpg')
    node.config.values[('mail', 'smtp_host')] = '127.0.0.1'
    node.config.values[('mail', 'smtp_port')] = 1      # nothing listens there
    clock = Clock()
    clock.now += 2 * 24 * 3600
    before = news.Reader.get().last_digest
    assert privtube_news.Digest(node.node, clock=clock).send_due() == 0
    assert news.Reader.get().last_digest == before


def test_the_digest_loop_runs_only_with_a_mail_server_and_stops(node, mailing):
    assert privtube_news.start_digests(node.node) is None
    loop = privtube_news.start_digests(mailing.node)
    assert loop.thread.is_alive()
    loop.stop()
    assert not loop.thread.is_alive()


# --- the account page's form ---------------------------------------------------------------------------

@pytest.mark.parametrize('address, digest, says', [
    ('not an address', 'daily', 'does not look like an e-mail address'),
    ('', 'weekly', 'Type the e-mail address'),
    ('ann@example.org', 'hourly', 'Choose how often'),
    ('ann@example.org\r\nBcc: x@evil.example', 'daily', 'does not look like an e-mail address'),
])
def test_the_digest_form_says_what_is_wrong_and_keeps_what_was_typed(node, address, digest, says):
    ann = node.sign_in('ann')
    page = choose(ann, address, digest, status=400)
    assert says in page.text and '<nav' in page.text
    assert 'value="%s"' % address.split('\r')[0] in page.text or '\r' in address
    assert privtube_news.News(node.store).Reader.get().digest == 'none'


def test_the_digest_form_saves_and_shows_the_choice(node):
    ann = node.sign_in('ann')
    page = choose(ann, ' ann@example.org ', 'weekly').follow()
    assert 'Your e-mail choice was saved' in page.text and 'value="ann@example.org"' in page.text
    assert re.search(r'value="weekly" checked', page.text)
    assert 'no mail server set up yet' in page.text
    page = choose(ann, '', 'none').follow()
    assert re.search(r'value="none" checked', page.text)


def test_the_digest_form_needs_the_csrf_token(node):
    ann = node.sign_in('ann')
    ann.post('/account/digest', {'email': 'ann@example.org', 'digest': 'daily'}, status=403)


def test_a_visit_ends_after_the_gap_and_views_within_it_keep_its_start(node):
    """The visit logic on its own clock: views 10 minutes apart are one visit, however long it lasts."""
    node.accounts.create_user('ann', 'password-123')
    user = node.node.database.User.get()
    clock = Clock()
    news = privtube_news.News(node.store, clock)
    assert news.visit(user) is None
    first = clock.now
    clock.now += privtube_news.VISIT_GAP + 5
    assert news.visit(user) == first
    second = clock.now
    for _ in range(6):                          # an hour of views, each within the gap of the one before
        clock.now += 600
        assert news.visit(user) == first
    clock.now += privtube_news.VISIT_GAP + 5
    assert news.visit(user) == second + 3600


def test_a_title_in_a_mail_is_one_line_of_printable_text():
    """A peer's title could carry line breaks meant to forge lines (or headers) of the mail."""
    assert privtube_news.one_line('Picnic\r\nBcc: x@evil.example\x00\x1b[31m') == 'Picnic Bcc: x@evil.example [31m'
