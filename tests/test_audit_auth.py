"""Audit of sign-in and bodies (issue 10): large bodies before credentials, login CSRF and open redirects,
password checks that all go through the throttle, throttles that lock out only the guesser, sessions
ended by a new password, and cookies that carry one meaning."""
import os
import re
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from urllib.parse import urlsplit

import pytest
import requests
import webtest
from conftest import login_token, submit_login
from test_serve import free_port, wait_for

import privtube_config
import privtube_web
from privtube_app import Node
from privtube_web import ACCOUNT_LIMIT, CLIENT_LIMIT, COOKIE, PAIR_LIMIT, SignInThrottle, Throttle

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = 'password-123'
MIB = 1024 * 1024
ANNOUNCED = 300 * MIB
MP4 = b'\x00\x00\x00\x18ftypmp42'


def browser(node, address='192.0.2.1'):
    """A fresh browser (its own cookie jar) coming from `address`."""
    return webtest.TestApp(node.app, extra_environ={'REMOTE_ADDR': address})


def try_sign_in(node, name, password, address, status):
    return submit_login(browser(node, address), name, password, status=status)


def login_form(page):
    return next(form for form in page.forms.values() if form.action == '/login')


def web_of(node):
    return next(plugin.web for plugin in node.app.plugins if getattr(plugin, 'name', '') == 'privtube_web')


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def frozen_throttle(node):
    """Give the node's web app a sign-in throttle on a clock that moves only when the test says."""
    clock = Clock()
    web_of(node).throttle = SignInThrottle(clock=clock)
    return clock


# --- 5. no anonymous body reaches the disk ------------------------------------------------------------

class Served:
    """`privtube serve` as a real process; its temporary files go to `spool`, where the test watches them."""

    def __init__(self, folder):
        self.folder, self.port = folder, free_port()
        self.base = 'http://127.0.0.1:%d' % self.port
        self.spool = folder / 'spool'
        self.spool.mkdir()
        self.config = str(folder / 'config.ini')
        with open(self.config, 'w') as fh:
            fh.write('[node]\nname = gated\n[server]\nport = %d\n' % self.port)
        node = Node(privtube_config.load(self.config))
        node.accounts.create_user('ann', PASSWORD)
        self.manage = node.accounts.create_key('uploader', ['*'], manage=True)[1]
        self.reader = node.accounts.create_key('reader', ['*'])[1]
        node.close()
        self.process = subprocess.Popen([sys.executable, os.path.join(ROOT, 'privtube.py'), '--config', self.config,
                                         'serve'], env=dict(os.environ, TMPDIR=str(self.spool)),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(self.base + '/healthz')

    def spooled(self):
        """Bytes in the files the server holds open in its temporary folder (deleted or not)."""
        total = 0
        fd_dir = '/proc/%d/fd' % self.process.pid
        for fd in os.listdir(fd_dir):
            try:
                if os.readlink(os.path.join(fd_dir, fd)).startswith(str(self.spool)):
                    total += os.stat(os.path.join(fd_dir, fd)).st_size
            except OSError:      # closed in the meantime
                pass
        return total

    def signed_in(self):
        """A requests session signed in as ann through the form, and its CSRF token."""
        session = requests.Session()
        form = session.get(self.base + '/login', timeout=10)
        session.post(self.base + '/login', data={'username': 'ann', 'password': PASSWORD,
                                                 'csrf': login_token(form.text)}, timeout=10)
        csrf = re.search(r'name="csrf" value="([^"]+)"', session.get(self.base + '/account', timeout=10).text)
        return session, csrf.group(1)

    def stop(self):
        self.process.terminate()
        self.process.communicate(timeout=10)


@pytest.fixture(scope='module')
def served(tmp_path_factory):
    server = Served(tmp_path_factory.mktemp('gated'))
    yield server
    server.stop()


class SpoolWatch:
    """Samples the server's spooled bytes every few milliseconds; `most` is the largest seen."""

    def __init__(self, served):
        self.served, self.most, self.done = served, 0, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.done.is_set():
            self.most = max(self.most, self.served.spooled())
            time.sleep(0.005)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()


def send_body(served, head, size=4 * MIB, chunked=False):
    """Send `head` and then up to `size` bytes of body, as fast as the server takes them; returns
    (the answer's first bytes, bytes of body sent, spooled bytes while the connection was still open)."""
    sock = socket.create_connection(('127.0.0.1', served.port), timeout=5)
    block = b'x' * 65536
    if chunked:
        block = b'%x\r\n%s\r\n' % (len(block), block)
    sent = 0
    try:
        sock.sendall(head)
        while sent < size:
            sock.sendall(block)
            sent += len(block)
    except OSError:        # the server answered and closed: the rest of the body is not wanted
        pass
    time.sleep(0.2)
    spooled = served.spooled()
    try:
        answer = sock.recv(1000)
    except OSError:        # reset: the server closed with our body unread
        answer = b''
    sock.close()
    return answer, sent, spooled


def head(method, path, length=ANNOUNCED, **headers):
    lines = ['%s %s HTTP/1.1' % (method, path), 'Host: 127.0.0.1']
    if length is not None:
        lines.append('Content-Length: %d' % length)
    lines += ['%s: %s' % (name.replace('_', '-'), value) for name, value in headers.items()]
    return ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')


def refusals(served):
    """(name, request head, chunked) of requests that may not send a large body."""
    session, csrf = served.signed_in()
    cookie = '%s=%s' % (COOKIE, session.cookies[COOKIE])
    form = 'application/x-www-form-urlencoded'
    return [
        ('anonymous sign-in', head('POST', '/login', Content_Type=form), False),
        ('sign-in asking 100-continue', head('POST', '/login', Content_Type=form, Expect='100-continue'), False),
        ('chunked sign-in', head('POST', '/login', None, Content_Type=form, Transfer_Encoding='chunked'), True),
        ('home page', head('POST', '/', Content_Type=form), False),
        ('GET with a body', head('GET', '/healthz'), False),
        ('API upload without a key', head('POST', '/api/v1/content', Content_Type='video/mp4'), False),
        ('API upload with a reader key', head('POST', '/api/v1/content', Content_Type='video/mp4',
                                              Authorization='Bearer ' + served.reader), False),
        ('API upload with a made-up key', head('POST', '/api/v1/content', Content_Type='video/mp4',
                                               Authorization='Bearer pt_' + 'A' * 43), False),
        ('API upload, manage key in the query', head('POST', '/api/v1/content?key=' + served.manage), False),
        ('chunked API upload with a reader key', head('POST', '/api/v1/content', None, Transfer_Encoding='chunked',
                                                      Authorization='Bearer ' + served.reader), True),
        ('web upload without a session', head('POST', '/upload', Content_Type='video/mp4'), False),
        ('web upload with a made-up session', head('POST', '/upload', Content_Type='video/mp4',
                                                   Cookie='%s=%s' % (COOKIE, 'x' * 43)), False),
        ('manage key on the web upload', head('POST', '/upload', Authorization='Bearer ' + served.manage), False),
        ('session on another path', head('POST', '/upload/', Cookie=cookie, X_CSRF_Token=csrf), False),
        ('session on the comment form', head('POST', '/watch/x/comments', Content_Type=form, Cookie=cookie), False),
        ('session with PUT', head('PUT', '/upload', Cookie=cookie, X_CSRF_Token=csrf), False),
    ]


def test_no_body_without_an_upload_credential_reaches_the_disk(served):
    for name, request_head, chunked in refusals(served):
        with SpoolWatch(served) as watch:
            answer, sent, spooled = send_body(served, request_head, chunked=chunked)
        assert answer == b'' or answer.startswith(b'HTTP/1.1 413 '), (name, answer[:200])
        assert spooled == 0 and watch.most == 0, (name, spooled, watch.most)
        assert sent < 4 * MIB, name            # refused before the body, not after reading it
    assert served.spooled() == 0
    assert requests.get(served.base + '/healthz', timeout=5).status_code == 200


def test_many_anonymous_large_bodies_at_once_spool_nothing(served):
    results = []
    attack = head('POST', '/login', Content_Type='application/x-www-form-urlencoded')
    with SpoolWatch(served) as watch:
        attackers = [threading.Thread(target=lambda: results.append(send_body(served, attack, 2 * MIB)))
                     for _ in range(8)]
        for thread in attackers:
            thread.start()
        assert requests.get(served.base + '/healthz', timeout=5).status_code == 200
        for thread in attackers:
            thread.join()
    assert watch.most == 0 and all(spooled == 0 for _, _, spooled in results)


@pytest.mark.parametrize('path, authorization', [('/login', None), ('/api/v1/content', None),
                                                 ('/api/v1/content', 'reader')])
def test_a_refused_large_body_is_told_413_in_the_routes_language(served, path, authorization):
    sock = socket.create_connection(('127.0.0.1', served.port), timeout=5)
    headers = {'Authorization': 'Bearer ' + served.reader} if authorization else {}
    sock.sendall(head('POST', path, **headers))           # the headers alone: nothing unread when it closes
    answer = b''
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    sock.close()
    assert answer.startswith(b'HTTP/1.1 413 ')
    assert b'Connection: close' in answer
    if path.startswith('/api/'):
        assert b'Content-Type: application/json' in answer and b'{"error": "only an upload' in answer


def test_a_signed_in_web_upload_larger_than_a_form_still_works(served):
    session, csrf = served.signed_in()
    data = MP4 + os.urandom(3 * MIB)
    answer = session.post(served.base + '/upload', params={'title': 'Big clip', 'filename': 'big.mp4'}, data=data,
                          headers={'X-CSRF-Token': csrf, 'X-Requested-With': 'fetch', 'Content-Type': 'video/mp4'},
                          timeout=30)
    assert answer.status_code == 200, answer.text
    media = session.get(served.base + '/media/' + answer.json()['id'], timeout=30)
    assert media.content == data
    # and the form a browser without JavaScript sends (multipart, the token inside the body)
    answer = session.post(served.base + '/upload', data={'csrf': csrf, 'title': 'Form clip'},
                          files={'file': ('form.mp4', data + b'x', 'video/mp4')}, allow_redirects=False, timeout=30)
    assert answer.status_code == 303 and '/watch/' in answer.headers['Location']


def test_a_manage_key_api_upload_larger_than_a_form_still_works(served):
    data = MP4 + os.urandom(3 * MIB)
    answer = requests.post(served.base + '/api/v1/content', params={'title': 'API clip'}, data=data,
                           headers={'Authorization': 'Bearer ' + served.manage, 'Content-Type': 'video/mp4'},
                           timeout=30)
    assert answer.status_code == 201, answer.text
    media = requests.get(served.base + '/api/v1/content/%s/media' % answer.json()['id'], timeout=30,
                         headers={'Authorization': 'Bearer ' + served.manage})
    assert media.content == data
    # as curl sends a large body: it waits for 100 Continue first
    sock = socket.create_connection(('127.0.0.1', served.port), timeout=10)
    sock.sendall(head('POST', '/api/v1/content?title=curl', len(data), Authorization='Bearer ' + served.manage,
                      Content_Type='video/mp4', Expect='100-continue'))
    assert sock.recv(100).startswith(b'HTTP/1.1 100 Continue')
    sock.sendall(data)
    assert sock.recv(100).startswith(b'HTTP/1.1 201 ')
    sock.close()


def test_the_largest_edit_form_still_fits_under_the_form_limit(served):
    session, csrf = served.signed_in()
    answer = session.post(served.base + '/upload', params={'title': 'Clip', 'filename': 'clip.mp4'},
                          data=MP4 + b'x' * 1000, timeout=30,
                          headers={'X-CSRF-Token': csrf, 'X-Requested-With': 'fetch', 'Content-Type': 'video/mp4'})
    item = answer.json()['id']
    description = '\u732b' * 10000                       # 10000 characters of 3 bytes, each sent as %XX%XX%XX
    answer = session.post(served.base + '/edit/' + item, data={'csrf': csrf, 'title': 'Clip', 'tags': '',
                                                               'description': description},
                          allow_redirects=False, timeout=30)
    assert answer.status_code == 303, answer.status_code
    assert description in session.get(served.base + '/watch/' + item, timeout=30).text


# --- 7. login CSRF and open redirects ------------------------------------------------------------------

def test_a_sign_in_forged_by_another_site_is_refused(node):
    node.accounts.create_user('attacker', PASSWORD)
    victim = browser(node)
    own_token = login_token(browser(node, '203.0.113.66').get('/login').text)   # the attacker's own form
    evil = {'Origin': 'https://evil.example'}          # what a browser sends with another site's form
    forged = [({}, evil), ({}, {'Origin': 'null'}), ({}, {'Sec-Fetch-Site': 'cross-site'}),
              ({'csrf': own_token}, {}), ({'csrf': ''}, {}), ({'csrf': '\xe4' * 32}, {}),
              ({'csrf': own_token}, {'Sec-Fetch-Site': 'cross-site'}), ({'csrf': own_token}, evil),
              ({'csrf': own_token}, {'Sec-Fetch-Site': '\xe4'})]
    for fields, headers in forged:
        answer = victim.post('/login', dict(fields, username='attacker', password=PASSWORD), headers=headers,
                             status=403)
        assert 'The sign-in form expired' in answer.text
        assert COOKIE not in victim.cookies
    # the victim's own form token, but sent from another page of the same site or another site
    token = login_token(victim.get('/login').text)
    for site in ('cross-site', 'same-site', '\xe4\xff'):
        victim.post('/login', {'username': 'attacker', 'password': PASSWORD, 'csrf': token},
                    headers={'Sec-Fetch-Site': site}, status=403)
    victim.post('/login', {'username': 'attacker', 'password': PASSWORD, 'csrf': token + 'x'}, status=403)
    assert COOKIE not in victim.cookies
    assert node.node.database.Session.select().count() == 0
    # the node's own form works, with or without a browser's Sec-Fetch-Site
    victim.post('/login', {'username': 'attacker', 'password': PASSWORD, 'csrf': token},
                headers={'Sec-Fetch-Site': 'same-origin'}, status=303)
    submit_login(browser(node), 'attacker', PASSWORD)


def test_a_script_that_is_no_browser_still_signs_in_without_the_form(node):
    """The contract's `POST /login` with `username` and `password` keeps working for scripts: without a
    browser's Origin or Sec-Fetch-Site no other site can have sent it, so no login CSRF is possible."""
    node.accounts.create_user('ann', PASSWORD)
    script = browser(node)
    script.post('/login', {'username': 'ann', 'password': PASSWORD}, status=303)
    assert COOKIE in script.cookies
    # a browser that visited the form once must send its token, whatever else it sends
    other = browser(node)
    other.get('/login')
    other.post('/login', {'username': 'ann', 'password': PASSWORD}, status=403)


def test_the_sign_in_token_is_bound_to_its_browser(node):
    node.accounts.create_user('ann', PASSWORD)
    first, second = browser(node), browser(node)
    token_one, token_two = login_token(first.get('/login').text), login_token(second.get('/login').text)
    assert token_one and token_two and token_one != token_two
    assert login_token(first.get('/login').text) == token_one        # two tabs of one browser share it
    first.post('/login', {'username': 'ann', 'password': PASSWORD, 'csrf': token_two}, status=403)
    refused = first.post('/login', {'username': 'ann', 'password': PASSWORD, 'csrf': token_one + 'x'}, status=403)
    # the refusal shows the form again, ready to send
    retry = login_form(refused)
    retry['username'], retry['password'] = 'ann', PASSWORD
    retry.submit(status=303)


OFF_SITE = ['//evil.example', '//evil.example/', '/\\evil.example', '\\/evil.example', '\\\\evil.example',
            '/%5Cevil.example', '%5C%5Cevil.example', '%2F%2Fevil.example', '/%2F/evil.example', '/%2Fevil.example',
            '%2F%5Cevil.example', '/%252F/evil.example', '/%25252F%25252Fevil.example', '/%255Cevil.example',
            '/.//evil.example', '/..//evil.example', '/a//evil.example', 'https://evil.example/',
            'https:%2F%2Fevil.example', 'HTTPS://evil.example', '//evil.example@node', 'javascript:alert(1)',
            'JaVaScRiPt:alert(1)', 'data:text/html,evil', '%20//evil.example', '%EF%BC%8F%EF%BC%8Fevil.example',
            'evil.example', '/%25%30%39/evil.example', '/%2509/evil.example', '/%250d%250aSet-Cookie:%20x=1',
            '%252F%252Fevil.example']
CONTROL = ['/%09/evil.example', '/%0d%0aSet-Cookie:%20x=1', '/%0aevil', '%00', '/x%00', '/%7f', '%0d%0a',
           '/%1b', '/%0b/evil.example', '/%0c/evil.example']


def assert_local(location):
    """A Location every browser reads as a path of this site."""
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc, location
    assert re.fullmatch(r'/(?![/\\])[!-\[\]-~]*', parts.path), location
    assert '//' not in location and '\\' not in location and 'evil' not in location, location


def test_sign_in_goes_back_only_to_a_path_of_this_site(node):
    node.accounts.create_user('ann', PASSWORD)
    for raw in OFF_SITE:
        client = browser(node)
        page = client.get('/login?next=' + raw, status=200)
        form = login_form(page)
        form['username'], form['password'] = 'ann', PASSWORD
        location = form.submit(status=303).headers['Location']
        assert_local(location)
        assert location == '/', (raw, location)
        # the same next in the query of the POST itself
        client = browser(node)
        token = login_token(client.get('/login').text)
        location = client.post('/login?next=' + raw, {'username': 'ann', 'password': PASSWORD, 'csrf': token},
                               status=303).headers['Location']
        assert location == '/', (raw, location)


def test_sign_in_still_goes_back_to_the_page_that_asked(node):
    node.accounts.create_user('ann', PASSWORD)
    for asked in ('/search', '/search?q=cats', '/search?q=a%26b%20c&kind=video', '/watch/%C3%A4', '/watch/a%20b',
                  '/admin/users', '/watch/a%3Fb%26c%23d', '/edit/%25'):
        client = browser(node)
        to_login = client.get(asked, status=303).headers['Location']
        page = client.get(to_login, status=200)
        form = login_form(page)
        form['username'], form['password'] = 'ann', PASSWORD
        location = form.submit(status=303).headers['Location']
        assert_local(location)
        assert location == asked, (asked, location)
    client = browser(node)
    token = login_token(client.get('/login').text)
    location = client.post('/login?next=/search%3Fq%3Dcats', {'username': 'ann', 'password': PASSWORD,
                                                              'csrf': token}, status=303).headers['Location']
    assert location.endswith('/search?q=cats')


def test_control_characters_in_the_sign_in_address_answer_400(node):
    node.accounts.create_user('ann', PASSWORD)
    client = browser(node)
    token = login_token(client.get('/login').text)
    for raw in CONTROL:
        answer = client.get('/login?next=' + raw, expect_errors=True)
        assert answer.status_int == 400, (raw, answer.status)
        assert 'control characters' in answer.text and 'Traceback' not in answer.text
        client.get('/login?other=' + raw, status=400)
        client.post('/login?next=' + raw, {'username': 'ann', 'password': PASSWORD, 'csrf': token}, status=400)
    for value in ('/\r\nSet-Cookie: x=1', '/\x00', '/\t/evil.example'):
        client.post('/login', {'username': 'ann', 'password': PASSWORD, 'csrf': token, 'next': value}, status=400)
    assert COOKIE not in client.cookies


def test_a_protected_page_with_odd_characters_sends_to_sign_in_without_error(node):
    client = browser(node)
    for path in ('/watch/x%00', '/watch/%C3%A4', '/watch/a%3Fb%26c%23d', '/edit/%25'):
        answer = client.get(path, expect_errors=True)
        assert answer.status_int == 303, (path, answer.status)
        assert urlsplit(answer.headers['Location']).path == '/login'
        assert client.get(answer.headers['Location'], expect_errors=True).status_int in (200, 400)


# --- 8. every password check is throttled ------------------------------------------------------------------

def counting_checks(node):
    """The web app's password gate, counting the password checks it runs."""
    gate = web_of(node).passwords
    checks = []
    original = gate.check

    def check(password, password_hash):
        checks.append(password)
        return original(password, password_hash)
    gate.check = check
    return checks


def change_password(client, current, new='a new password 42', status=200):
    page = client.get('/account')
    form = next(f for f in page.forms.values() if f.action == '/account')
    form['current'], form['password'] = current, new
    return form.submit(status=status)


def test_guessing_the_current_password_on_the_account_page_is_throttled(node):
    frozen_throttle(node)
    node.accounts.create_user('ann', PASSWORD)
    client = browser(node, '198.51.100.20')
    submit_login(client, 'ann', PASSWORD)
    checks = counting_checks(node)
    before = node.accounts.user('ann').password_hash
    for n in range(PAIR_LIMIT):
        change_password(client, 'guess %d' % n, status=400)
    assert len(checks) == PAIR_LIMIT
    blocked = change_password(client, 'guess again', status=429)
    assert 'Too many failed sign-ins' in blocked.text and int(blocked.headers['Retry-After']) >= 1
    change_password(client, PASSWORD, status=429)              # not even the right one, until the wait is over
    assert len(checks) == PAIR_LIMIT                           # no scrypt ran for the refused tries
    assert node.accounts.user('ann').password_hash == before
    # the same throttle as the sign-in form: this client's sign-ins to ann wait too
    try_sign_in(node, 'ann', PASSWORD, '198.51.100.20', status=429)
    # and nobody else's sign-in was starved
    node.accounts.create_user('bob', PASSWORD)
    try_sign_in(node, 'bob', PASSWORD, '198.51.100.21', status=303)
    try_sign_in(node, 'ann', PASSWORD, '198.51.100.22', status=303)


def test_the_account_page_checks_passwords_through_the_gate(node):
    node.accounts.create_user('ann', PASSWORD)
    client = browser(node)
    submit_login(client, 'ann', PASSWORD)
    gate = web_of(node).passwords
    held = 0
    while gate.slots.acquire(blocking=False):
        held += 1
    try:
        busy = change_password(client, PASSWORD, status=429)
        assert 'try again in a moment' in busy.text and busy.headers['Retry-After'] == '1'
    finally:
        for _ in range(held):
            gate.slots.release()
    change_password(client, PASSWORD, status=200)


# --- 9. throttles lock out only the guesser ----------------------------------------------------------------

def test_a_childs_typos_do_not_lock_the_admin_out_at_home(node):
    frozen_throttle(node)
    node.accounts.create_user('admin', PASSWORD, admin=True)
    node.accounts.create_user('kid', PASSWORD)
    home = '192.0.2.50'
    for n in range(PAIR_LIMIT + 3):
        try_sign_in(node, 'kid', 'typo %d' % n, home, status=401 if n < PAIR_LIMIT else 429)
    try_sign_in(node, 'kid', PASSWORD, home, status=429)
    try_sign_in(node, 'admin', PASSWORD, home, status=303)
    try_sign_in(node, 'Kid', 'tpyo', home, status=429)           # the name's case makes no new bucket


def test_an_attacker_at_one_address_cannot_lock_the_admin_out_of_another(node):
    frozen_throttle(node)
    node.accounts.create_user('admin', PASSWORD, admin=True)
    checks = counting_checks(node)
    for n in range(3 * PAIR_LIMIT):
        for name in ('admin', 'ADMIN', 'Admin'):
            try_sign_in(node, name, 'guess %d' % n, '203.0.113.5', status=[401, 429])
    assert len(checks) == PAIR_LIMIT
    # the attacker's IPv6 addresses in one /64 are one client
    for n in range(3 * PAIR_LIMIT):
        try_sign_in(node, 'admin', 'guess %d' % n, '2001:db8:1:2::%x' % (n + 1), status=[401, 429])
    assert len(checks) == 2 * PAIR_LIMIT
    try_sign_in(node, 'admin', PASSWORD, '198.51.100.80', status=303)
    try_sign_in(node, 'admin', PASSWORD, '2001:db8:9:9::1', status=303)


def test_spraying_many_accounts_from_one_address_is_blocked(node):
    frozen_throttle(node)
    node.accounts.create_user('ann', PASSWORD)
    for n in range(CLIENT_LIMIT):
        try_sign_in(node, 'user%d' % n, 'Summer2026!', '203.0.113.9', status=401)
    try_sign_in(node, 'user-next', 'Summer2026!', '203.0.113.9', status=429)
    try_sign_in(node, 'ann', PASSWORD, '203.0.113.9', status=429)       # the sprayer's address waits
    try_sign_in(node, 'ann', PASSWORD, '203.0.113.10', status=303)      # nobody else does
    try_sign_in(node, 'user-next', 'Summer2026!', '203.0.113.11', status=401)


def test_guessing_one_account_from_many_addresses_meets_the_account_limit(node):
    frozen_throttle(node)
    node.accounts.create_user('admin', PASSWORD, admin=True)
    assert ACCOUNT_LIMIT >= 10 * PAIR_LIMIT                   # far above what one address may try
    for n in range(ACCOUNT_LIMIT):
        try_sign_in(node, 'admin', 'guess %d' % n, '10.%d.%d.1' % (n // 200, n % 200), status=401)
    try_sign_in(node, 'admin', 'one more', '10.99.0.1', status=429)
    node.accounts.create_user('bob', PASSWORD)
    try_sign_in(node, 'bob', PASSWORD, '10.99.0.1', status=303)          # only that account waits


def test_a_lock_from_elsewhere_lasts_moments_not_the_whole_window():
    clock = Clock()
    throttle = SignInThrottle(clock=clock)
    for n in range(ACCOUNT_LIMIT):                            # a botnet: one guess from each address
        throttle.fail('admin', '10.0.%d.%d' % (n // 250, n % 250))
    assert throttle.wait('admin', '198.51.100.1') > 0
    clock.now += 300 / ACCOUNT_LIMIT + 0.01                   # one account step later
    assert throttle.wait('admin', '198.51.100.1') == 0
    for n in range(PAIR_LIMIT):                               # typos lock a pair for about a minute, not five
        throttle.fail('kid', '192.0.2.50')
    assert 0 < throttle.wait('kid', '192.0.2.50') <= 300 / PAIR_LIMIT
    clock.now += 300 / PAIR_LIMIT + 0.01
    assert throttle.wait('kid', '192.0.2.50') == 0


@pytest.mark.slow
def test_throttle_memory_is_bounded_after_100k_distinct_names():
    clock = Clock()
    throttle = SignInThrottle(clock=clock)
    tracemalloc.start()
    try:
        for n in range(100000):
            throttle.fail('name-%d-%s' % (n, 'x' * 40), '10.%d.%d.%d' % (n >> 16, (n >> 8) & 255, n & 255))
            clock.now += 0.001
        grown = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    buckets = [throttle.pairs, throttle.clients, throttle.accounts]
    assert all(len(bucket.debts) <= bucket.size for bucket in buckets)
    assert grown < 16 * MIB, grown
    clock.now += 3600                                         # an hour later every failure is forgiven
    throttle.fail('late', '192.0.2.1')
    assert sum(len(bucket.debts) for bucket in buckets) == 3


def test_checking_a_throttle_remembers_nothing():
    throttle = Throttle(clock=Clock())
    for n in range(1000):
        assert not throttle.blocked('probe%d' % n)
    assert len(throttle.debts) == 0


# --- 12. a new password ends the sessions ------------------------------------------------------------------

def test_a_password_set_by_the_admin_ends_the_users_sessions(node):
    node.accounts.create_user('ann', PASSWORD)
    laptop, phone = browser(node), browser(node, '192.0.2.2')
    submit_login(laptop, 'ann', PASSWORD)
    submit_login(phone, 'ann', PASSWORD)
    node.accounts.create_user('bob', PASSWORD)
    bob = browser(node, '192.0.2.3')
    submit_login(bob, 'bob', PASSWORD)
    node.accounts.set_password('ann', 'set by the admin')
    for client in (laptop, phone):
        assert urlsplit(client.get('/').headers['Location']).path == '/login'
    bob.get('/', status=200)                                  # other people's sessions go on


def test_privtube_user_passwd_ends_the_users_sessions(node):
    node.accounts.create_user('ann', PASSWORD)
    client = browser(node)
    submit_login(client, 'ann', PASSWORD)
    client.get('/', status=200)
    done = subprocess.run([sys.executable, os.path.join(ROOT, 'privtube.py'), '--config', node.config_path,
                           'user', 'passwd', 'ann', '--password-stdin'], input='changed by cli\n',
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert urlsplit(client.get('/').headers['Location']).path == '/login'
    try_sign_in(node, 'ann', 'changed by cli', '192.0.2.9', status=303)


def test_changing_ones_own_password_keeps_only_this_session(node):
    node.accounts.create_user('ann', PASSWORD)
    laptop, phone = browser(node), browser(node, '192.0.2.2')
    submit_login(laptop, 'ann', PASSWORD)
    submit_login(phone, 'ann', PASSWORD)
    change_password(laptop, PASSWORD)
    laptop.get('/', status=200)
    assert urlsplit(phone.get('/').headers['Location']).path == '/login'
    assert node.node.database.Session.select().count() == 1


# --- 16a. cookies with one meaning -------------------------------------------------------------------------

def cookie_attributes(response, name):
    headers = [h for h in response.headers.getall('Set-Cookie') if h.startswith(name + '=')]
    assert len(headers) == 1, headers
    return {part.split('=', 1)[0].strip().lower(): part.split('=', 1)[-1].strip()
            for part in headers[0].split(';')[1:]}


def test_the_session_cookie_has_max_age_only_and_logout_clears_it_with_max_age_0(node):
    node.accounts.create_user('ann', PASSWORD)
    client = browser(node)
    signed = submit_login(client, 'ann', PASSWORD)
    session = cookie_attributes(signed, COOKIE)
    assert 'expires' not in session
    assert session['max-age'] == str(privtube_web.SESSION_IDLE)
    login = cookie_attributes(browser(node).get('/login'), 'privtube_login')
    assert 'expires' not in login and 'max-age' not in login     # lives as long as the browser session
    assert cookie_attributes(signed, 'privtube_login') == {'max-age': '0', 'httponly': 'HttpOnly',
                                                           'path': '/', 'samesite': 'lax'}
    signed_again = submit_login(client, 'ann', PASSWORD)        # a browser that had a session already
    assert 'expires' not in cookie_attributes(signed_again, COOKIE)
    logout = client.get('/logout')
    form = next(f for f in logout.forms.values() if f.action == '/logout')
    cleared = cookie_attributes(form.submit(status=303), COOKIE)
    assert cleared['max-age'] == '0' and 'expires' not in cleared
    assert COOKIE not in client.cookies
