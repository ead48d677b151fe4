"""Shared fixtures: every test node gets its own config, database and media folder under tmp_path."""
import os
import re
import sys

import pytest
import webtest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import openapi_check  # noqa: E402

import privtube_app  # noqa: E402
import privtube_auth  # noqa: E402
import privtube_config  # noqa: E402

openapi_check.install()
API_DESCRIPTION = openapi_check.Description(openapi_check.load())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    """Record the API answers of each test from its setup on (openapi_check)."""
    openapi_check.start()
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A test that passed fails when an API answer it produced is not as openapi.json describes."""
    result = yield
    wrong = openapi_check.failures(API_DESCRIPTION, openapi_check.stop())
    if wrong:
        raise AssertionError('API answers not as openapi.json describes:\n' + '\n'.join(wrong[:20]))
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    openapi_check.stop()
    return (yield)


@pytest.fixture(autouse=True)
def cheap_password_hashes(request, monkeypatch):
    """Most tests sign people in, and at the real scrypt cost (0.1 s a hash) hashing would be most of the
    suite's time. Hashes keep their own N, so verifying is unchanged; tests of the cost itself are marked
    `real_password_cost` and get the real one."""
    if request.node.get_closest_marker('real_password_cost') is None:
        monkeypatch.setattr(privtube_auth, 'SCRYPT_N', 2 ** 10)


def write_config(folder, text='', name='testnode'):
    path = os.path.join(str(folder), 'config.ini')
    with open(path, 'w', encoding='utf-8') as fh:
        fh.write('[node]\nname = %s\n' % name + text)
    return path


def login_token(page_text):
    """The token in a sign-in page's form, which the POST must send back ('' when there is none)."""
    found = re.search(r'<form method="post" action="/login".*?name="csrf" value="([^"]*)"', page_text, re.S)
    return found.group(1) if found else ''


def page_csrf(page_text):
    """The session's CSRF token in a page's forms (every state-changing form carries it)."""
    found = re.search(r'<input type="hidden" name="csrf" value="([^"]+)">', page_text)
    assert found, 'no csrf field in the page'
    return found.group(1)


def submit_login(client, name, password, status=303, **kwargs):
    """Sign in with a WebTest client as a browser does: open the form (its cookie and token), then post it."""
    token = login_token(client.get('/login').text)
    return client.post('/login', {'username': name, 'password': password, 'csrf': token}, status=status, **kwargs)


class NodeFixture:
    """A node on disk plus a WebTest client and helpers to make keys and files."""

    def __init__(self, folder, config_text='', name='testnode', transport=None):
        self.folder = str(folder)
        self.config_path = write_config(folder, config_text, name)
        self.config = privtube_config.load(self.config_path)
        self.app = privtube_app.make_app(self.config, transport=transport)
        self.node = self.app.node
        self.store = self.node.store
        self.accounts = self.node.accounts
        self.client = webtest.TestApp(self.app)
        self.media_dir = self.config.get('store', 'media_dir')

    def key(self, name, rules=('*',), manage=False):
        """Issue a key; returns the Authorization headers that present it."""
        _, token = self.accounts.create_key(name, list(rules), manage=manage)
        return {'Authorization': 'Bearer ' + token}

    def media_file(self, relative, data=b'\x00\x00\x00\x18ftypmp42' + bytes(range(256)) * 40):
        path = os.path.join(self.media_dir, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as fh:
            fh.write(data)
        return path

    def add(self, relative, tags=(), private=False, title=None, data=None):
        """Put a file in the media folder and index it; returns the item."""
        path = self.media_file(relative, data) if data is not None else self.media_file(relative)
        return self.store.items.create(path, title or os.path.basename(relative), list(tags), private)

    def reload(self, transport):
        """Rebuild the node from its (edited) config file, as a restart would."""
        self.node.close()
        self.config = privtube_config.load(self.config_path)
        self.app = privtube_app.make_app(self.config, transport=transport)
        self.node, self.store, self.accounts = self.app.node, self.app.node.store, self.app.node.accounts
        self.client = webtest.TestApp(self.app)
        return self

    def sign_in(self, name, password='password-123', admin=False, groups=None):
        """Create a user and return a WebTest client signed in as them."""
        self.accounts.create_user(name, password, admin=admin, groups=groups)
        client = webtest.TestApp(self.app)
        submit_login(client, name, password)
        return client

    def close(self):
        self.node.close()


@pytest.fixture(scope='session')
def chromium():
    """One Chromium for every browser test of the run (launching one costs about a second); each test
    opens contexts of its own in it, which test_browser.browser closes after the test."""
    from test_browser import launch_chromium
    playwright, launched = launch_chromium()
    yield launched
    launched.close()
    playwright.stop()


@pytest.fixture
def node(tmp_path):
    made = NodeFixture(tmp_path)
    yield made
    made.close()


@pytest.fixture
def make_node(tmp_path):
    """Factory for several isolated nodes in one test: make_node('alice')."""
    made = []

    def build(name='node', config_text=''):
        folder = tmp_path / name
        folder.mkdir()
        fixture = NodeFixture(folder, config_text)
        made.append(fixture)
        return fixture
    yield build
    for fixture in made:
        fixture.close()


class LoopbackNetwork:
    """The outbound HTTP seam for tests: routes each URL to an in-process node's WSGI app.

    `handlers[base_url]` may also be a function(method, path, headers, body) -> Reply, to play a
    misbehaving peer; a base URL with no handler is offline.
    """

    def __init__(self):
        self.handlers = {}
        self.requests = []
        self.windows = []       # the Range of each media window asked for

    def __call__(self, method, url, headers, body=None, max_bytes=None, deadline=None, verify=True):
        from privtube_peer import PeerError
        base = next((b for b in self.handlers if url.startswith(b + '/')), None)
        self.requests.append((method, url))
        if base is None:
            raise PeerError('cannot reach the peer: ConnectionError', 502)
        handler, path = self.handlers[base], url[len(base):]
        if not hasattr(handler, 'wsgi') and callable(handler) and not hasattr(handler, 'routes'):
            reply = handler(method, path, headers, body)
        else:
            reply = in_own_thread(lambda: self.call_app(handler, method, path, headers, body))
        if max_bytes is not None and len(reply.body) > max_bytes:
            raise PeerError('the peer sent more than %d bytes' % max_bytes, 502)
        return reply

    def read_window(self, url, headers, buffer, deadline=None, verify=True):
        """The media-window path of the seam: the same routing, the body copied into `buffer`."""
        from privtube_peer import PeerError, Reply
        self.windows.append(headers.get('Range'))
        reply = self('GET', url, headers, max_bytes=len(buffer), deadline=deadline, verify=verify)
        if len(reply.body) > len(buffer):
            raise PeerError('the peer sent more than %d bytes' % len(buffer), 502)
        buffer[:len(reply.body)] = reply.body
        return Reply(reply.status, reply.headers, memoryview(buffer)[:len(reply.body)])

    @staticmethod
    def call_app(app, method, path, headers, body):
        import webob

        from privtube_peer import Reply
        request = webob.Request.blank(path, method=method, headers=headers, body=body or b'')
        answer = request.get_response(app)
        return Reply(answer.status_int, dict(answer.headers), answer.body)


def in_own_thread(work):
    """Run `work` in a fresh thread: Bottle keeps the current request in thread-locals, so a node
    calling another node's app in the same thread would overwrite its own request."""
    import threading
    result = {}

    def run():
        try:
            result['value'] = work()
        except BaseException as exc:   # handed back to the caller's thread
            result['error'] = exc
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if 'error' in result:
        raise result['error']
    return result['value']


@pytest.fixture
def network(tmp_path):
    """make(name, config_text='') builds a node on the shared loopback network at http://NAME.test."""
    net = LoopbackNetwork()
    made = []

    def make(name, config_text=''):
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)
        fixture = NodeFixture(folder, config_text, name=name, transport=net)
        net.handlers['http://%s.test' % name] = fixture.app
        made.append(fixture)
        return fixture
    net.make = make
    yield net
    for fixture in made:
        fixture.close()
