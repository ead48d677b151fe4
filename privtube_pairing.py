"""Pairing two homes with one link: the origin (alice) makes a one-time, expiring pairing link; the joining
node (bob) presents its token to alice's `POST /api/v1/pair`, with the key bob made for alice; alice answers
with the key she made for bob. Each key is made by its own node and travels once, over the exchange; a
node that does not present a live token gets nothing.

The link is `ALICE_PUBLIC_URL/pair?from=ALICE#TOKEN`: bob learns alice's name before he asks, so a clash
with one of bob's peers or keys is refused before anything is made, and the token sits in the fragment,
which no browser sends and no server logs.
"""
import hmac
import json
import logging
import re
import secrets
import threading
import time
from urllib.parse import parse_qs, urlsplit

import privtube_auth as auth
import privtube_config as config_mod
from privtube_peer import PeerClient, PeerError, RequestsTransport
from privtube_store import StoreError

logger = logging.getLogger('privtube.pairing')

LINK_HOURS = 24
RETRY_SECONDS = (2.0, 5.0, 15.0)     # a failed first sync is tried again after each
SYNC_DEADLINE = 120.0           # a first sync run inline (the CLI's) gives up after this
TOKEN = re.compile(r'^[A-Za-z0-9_-]{40,60}$')
KEY = re.compile(r'^[A-Za-z0-9_-]{10,200}$')
REFUSED = 'this pairing link is unknown, used, expired or revoked'
# failed token checks per client: 5 in 5 minutes, then one a minute
FAIL_LIMIT, FAIL_WINDOW = 5, 300


class PairingError(StoreError):
    """A pairing that cannot be made; the message says why, the status is the API's answer."""


class Pairing:
    """Pairing links of one node: making them (alice), answering their exchange (alice), joining (bob)."""

    def __init__(self, node, clock=time.time):
        from privtube_web import Throttle  # deferred: the web module imports the API, which imports this
        self.node = node
        self.clock = clock
        self.failures = Throttle(FAIL_LIMIT, FAIL_WINDOW)
        self.syncs = []         # first syncs started in the background (tests wait for them)

    @property
    def db(self):
        return self.node.database.db

    # --- alice: links -----------------------------------------------------------------------------

    def create(self, rules, hours=LINK_HOURS):
        """A new pairing link whose joining node gets a key with `rules`; the link is shown once."""
        rules = auth.parse_rules(rules)
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self.db.atomic():
            self.db.execute_sql('INSERT INTO pairing (token_hash, rules, created, expires) VALUES (?, ?, ?, ?)',
                                (auth.token_hash(token), auth.dump_rules(rules), now, now + hours * 3600))
        return make_link(self.node.config.base_url, self.node.name, token)

    def open_links(self):
        """[(id, rules, created, expires)] of the links not used, revoked or expired, newest first."""
        rows = self.db.execute_sql('SELECT id, rules, created, expires FROM pairing WHERE used IS NULL AND '
                                   'revoked IS NULL AND expires > ? ORDER BY id DESC', (self.clock(),)).fetchall()
        return [(row[0], auth.load_rules(row[1]), row[2], row[3]) for row in rows]

    def revoke(self, link_id):
        with self.db.atomic():
            changed = self.db.execute_sql('UPDATE pairing SET revoked = ? WHERE id = ? AND revoked IS NULL',
                                          (self.clock(), link_id)).rowcount
        if not changed:
            raise PairingError('no open pairing link with that number', 404)

    # --- alice: the exchange ----------------------------------------------------------------------

    def accept(self, body, client):
        """Answer bob's exchange `body` ({token, name, url, key}); {name, key} for bob, or PairingError.

        A wrong token counts against the client; the token is spent in the transaction that checks it,
        and given back only when alice could not finish (a name clash, a config that cannot be written).
        """
        from privtube_web import TryLater
        bucket = client_bucket(client)
        wait = self.failures.wait(bucket)
        if wait:
            raise TryLater('too many wrong pairing links; try again later', wait)
        token = body.get('token')
        link = self.spend(token) if isinstance(token, str) and TOKEN.match(token) else None
        if link is None:
            self.failures.fail(bucket)
            raise PairingError(REFUSED, 403)
        link_id, rules = link
        try:
            name, url, key = exchange_fields(body)
            self.check_free(name)
            _, issued = self.node.accounts.create_key(name, auth.load_rules(rules))
        except PairingError:
            self.give_back(link_id)
            raise
        except auth.AuthError as exc:
            self.give_back(link_id)
            raise PairingError(str(exc), 409 if 'exists' in str(exc) else 400)
        try:
            if key:
                config_mod.add_peer(self.node.config.path, name, url, key)
        except (config_mod.ConfigError, OSError) as exc:
            self.node.accounts.revoke_key(name)
            self.give_back(link_id)
            raise PairingError('cannot add the peer: %s' % one_line(exc), 409 if 'exists' in str(exc) else 400)
        with self.db.atomic():
            self.db.execute_sql('UPDATE pairing SET peer = ? WHERE id = ?', (name, link_id))
        logger.info('paired with %s (%s)%s', name, url, '' if key else ', one way')
        if key:
            self.sync_soon(name)
        return {'name': self.node.name, 'key': issued}

    def spend(self, token):
        """(id, rules) of the live link of `token`, marked used in the same transaction; None if none."""
        digest = auth.token_hash(token)
        with self.db.atomic():
            row = self.db.execute_sql('SELECT id, token_hash, rules, expires, used, revoked FROM pairing '
                                      'WHERE token_hash = ?', (digest,)).fetchone()
            if row is None or not hmac.compare_digest(row[1], digest):
                return None
            if row[4] is not None or row[5] is not None or row[3] <= self.clock():
                return None
            self.db.execute_sql('UPDATE pairing SET used = ? WHERE id = ?', (self.clock(), row[0]))
        return row[0], row[2]

    def give_back(self, link_id):
        with self.db.atomic():
            self.db.execute_sql('UPDATE pairing SET used = NULL WHERE id = ?', (link_id,))

    def check_free(self, name):
        """PairingError(409) when a peer or key of this node already has `name`, or it is the node's own."""
        if name.lower() == self.node.name.lower() or name.lower() == 'local':
            raise PairingError('%s is the name of this node; a peer needs another name' % name, 409)
        if name in self.node.registry.peers():
            raise PairingError('a peer named %s already exists' % name, 409)
        ApiKey = self.node.database.ApiKey
        if ApiKey.get_or_none(ApiKey.name == name) is not None:
            raise PairingError('a key named %s already exists' % name, 409)

    # --- bob: joining -----------------------------------------------------------------------------

    def join(self, link, rules, sync='background'):
        """Join the home of pairing `link`; bob's key for it gets `rules` (none: a one-way pairing).

        Returns (peer name, sync result or None). Nothing stays made when the origin refuses or answers
        badly: bob's key for it is removed again.
        """
        url, name, token = parse_link(link)
        rules = auth.parse_rules(rules) if rules else []
        self.check_free(name)
        key = ''
        if rules:
            _, key = self.node.accounts.create_key(name, rules)
        try:
            answer = self.exchange(url, {'token': token, 'name': self.node.name,
                                         'url': self.node.config.base_url, 'key': key or None})
            if answer['name'] != name:
                raise PeerError('the other home answered with the name %r, not %r' % (answer['name'][:64], name))
            config_mod.add_peer(self.node.config.path, name, url, answer['key'])
        except (PeerError, config_mod.ConfigError, OSError):
            if key:
                self.node.accounts.revoke_key(name)
            raise
        logger.info('joined %s (%s)', name, url)
        if sync == 'inline':
            return name, self.node.registry.sync(name)
        self.sync_soon(name)
        return name, None

    def exchange(self, url, body):
        """POST the exchange to the origin at `url` through the node's seam; its checked answer."""
        client = PeerClient('pairing', url, '', self.transport())
        reply = client.pair(json.dumps(body).encode('utf-8'))
        if reply.status == 403:
            raise PeerError('the other home refused: %s' % REFUSED, 403)
        if reply.status != 200:
            raise PeerError('the other home refused the pairing (%d%s)'
                            % (reply.status, error_of(reply.body)), 502)
        try:
            answer = json.loads(bytes(reply.body).decode('utf-8'))
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise PeerError('the other home sent malformed JSON', 502)
        if not isinstance(answer, dict) or not isinstance(answer.get('name'), str) \
                or not isinstance(answer.get('key'), str) or not KEY.match(answer['key']):
            raise PeerError('the other home answered without a name and a key', 502)
        return answer

    def transport(self):
        registry = self.node.registry
        if registry.transport is None:
            registry.transport = RequestsTransport()
        return registry.transport

    def sync_soon(self, name):
        """A first sync of peer `name` in a thread of its own (its connection is its own).

        Both homes start their first sync within moments of each other, on machines that may be busy: a
        first sync that fails is tried again after each of RETRY_SECONDS before the schedule takes over
        (else a hiccup left the new peer empty until the next scheduled sync, `sync_minutes` later).
        """
        def run():
            waits = list(RETRY_SECONDS)
            while True:
                try:
                    with self.node.database.db.connection_context():
                        ok, message = self.node.registry.sync(name)
                except Exception:   # a thread has no caller to tell: the peer's status says what went wrong
                    logger.exception('the first sync of %s failed', name)
                    ok, message = False, 'an error'
                if ok or not waits or name not in self.node.registry.peers():
                    return
                wait = waits.pop(0)
                logger.info('the first sync of %s did not finish (%s); trying again in %g s', name, message, wait)
                time.sleep(wait)
        thread = threading.Thread(target=run, name='privtube-pair-sync', daemon=True)
        self.syncs.append(thread)
        thread.start()


def make_link(base_url, name, token):
    return '%s/pair?from=%s#%s' % (base_url.rstrip('/'), name, token)


def parse_link(link):
    """(origin URL, origin name, token) of a pairing link; PairingError when it is none."""
    link = (link or '').strip()
    parts = urlsplit(link)
    names = parse_qs(parts.query).get('from', [''])
    if parts.scheme not in ('http', 'https') or not parts.netloc or not parts.path.endswith('/pair') \
            or len(names) != 1 or not config_mod.PEER_NAME.match(names[0]) or not TOKEN.match(parts.fragment):
        raise PairingError('this is not a pairing link (it looks like https://HOME/pair?from=NAME#TOKEN)')
    url = '%s://%s%s' % (parts.scheme, parts.netloc, parts.path[:-len('/pair')])
    return url.rstrip('/'), names[0], parts.fragment


def exchange_fields(body):
    """(name, url, key) of an exchange request; PairingError(400) when a field is wrong."""
    name, url, key = (body.get(field) for field in ('name', 'url', 'key'))
    if not isinstance(name, str) or not config_mod.PEER_NAME.match(name) or name.lower() == 'local':
        raise PairingError('name must be a node name (letters, digits, _ . -)')
    if key is not None and (not isinstance(key, str) or not KEY.match(key)):
        raise PairingError('key must be a privtube key or null')
    if key:
        if not isinstance(url, str):
            raise PairingError('url must be the joining node\'s address')
        try:
            config_mod.check_url(url)
        except config_mod.ConfigError as exc:
            raise PairingError(str(exc))
    return name, url if isinstance(url, str) else '', key or ''


def error_of(body):
    """': MESSAGE' of a JSON error answer, printable and short; '' when there is none."""
    try:
        message = json.loads(bytes(body[:4096]).decode('utf-8')).get('error')
    except (ValueError, UnicodeDecodeError, AttributeError, RecursionError):
        return ''
    if not isinstance(message, str):
        return ''
    return ': ' + ''.join(c for c in message if c.isprintable())[:200]


def one_line(exc):
    return ' '.join(str(exc).split())


def client_bucket(address):
    from privtube_web import client_bucket as bucket_of
    return bucket_of(address)


# --- routes -------------------------------------------------------------------------------------

def register_api(api, node):
    """`POST /api/v1/pair`, the one API route that acts without a key: the pairing token is its credential.

    Request (JSON): {"token": TOKEN, "name": "bob", "url": "https://bob.example", "key": KEY or null}
    - token: the fragment of alice's pairing link; name: bob's node name (alice's peer and key are named so);
      url: bob's public URL (needed when key is given); key: the key bob made for alice, null for one way.
    Answers: 200 {"name": "alice", "key": KEY} (alice's key for bob, with the link's rules; bob is added as
    alice's peer when he sent a key); 400 {"error"} a field is wrong; 403 {"error"} the token is unknown,
    used, expired or revoked (one message for all); 409 {"error"} alice already has a peer or key of that
    name (the token stays usable); 429 {"error"} too many wrong tokens from this client (Retry-After).
    """
    import bottle

    from privtube_api import json_body

    @api.post('/pair', anonymous=True)
    def pair():
        from privtube_web import TryLater
        try:
            return node.pairing.accept(json_body(), client_address(node))
        except TryLater as exc:
            bottle.response.set_header('Retry-After', str(exc.retry_after))
            raise StoreError(str(exc), 429)


def client_address(node):
    import bottle
    return bottle.request.remote_addr if node.config.get('server', 'trusted_proxy') else \
        bottle.request.environ.get('REMOTE_ADDR', '')


def register_web(app, web):
    """The pairing block of /admin/peers: make a link (alice), paste one (bob), revoke an open link."""
    import bottle

    from privtube_web import see_other
    node = web.node

    def show(page, **values):
        from privtube_admin import pairing_block, peer_rows
        shown = pairing_block(node)
        shown.update(values)
        return page.render('admin_peers', peers=peer_rows(node), error=None, typed={}, result=None, **shown)

    @app.post('/admin/peers/pair', admin=True)
    def pair_create(page):
        rules = auth.split_rules(bottle.request.forms.getunicode('rules', ''))
        try:
            link = node.pairing.create(rules)
        except auth.AuthError as exc:
            bottle.response.status = 400
            return show(page, pairing_error=str(exc), typed_rules=' '.join(rules))
        return show(page, new_link=link)

    @app.post('/admin/peers/pair/join', admin=True)
    def pair_join(page):
        form = bottle.request.forms
        link, rules_text = form.getunicode('link', ''), form.getunicode('rules', '')
        try:
            name, _ = node.pairing.join(link, auth.split_rules(rules_text))
        except (PeerError, StoreError, auth.AuthError, config_mod.ConfigError) as exc:
            bottle.response.status = 400
            return show(page, pairing_error=one_line(exc), typed_link=link, typed_join_rules=rules_text)
        return show(page, joined=name)

    @app.post('/admin/peers/pair/revoke', admin=True)
    def pair_revoke(page):
        raw = bottle.request.forms.get('id', '')
        if not raw.isdigit():
            raise PairingError('no open pairing link with that number', 404)
        node.pairing.revoke(int(raw))
        see_other('/admin/peers')


def pairing_view(node):
    """What the pairing block shows: the open links."""
    return {'links': node.pairing.open_links(), 'public_url': node.config.base_url}
