"""Random sequences of actions on two linked nodes never let anyone see what they must not (README,
Security: "Who sees what", revocation included).

A hypothesis state machine drives a home node and a peer node, alice, wired in one process through the
loopback seam of conftest.py. Items are added, retagged, made private or shared and deleted on both nodes;
on the home node groups are (re)made with other rules, users come and go and join and leave groups, keys are
issued, changed and revoked; alice changes or revokes the key she issued home, and home adds and removes
alice as a peer the way `privtube peer add` and `privtube peer rm` do. Home syncs after most changes at alice,
and sometimes only later.

After every step each principal of the home node is checked against a model kept here and written from the
meaning of the rules (README, "Command line": Rules), never from privtube_auth: signed-in users through the
web app (home page, search, watch page, media with Range, comment and view posts), keys through the API
(catalog, detail, media GET and HEAD, comments), and removed users and revoked keys too. Listings and searches
show exactly the items the principal may see, and those open; every other item, whatever its origin, answers
404 on every route and looks like no item at all. A peer's item that home still lists from its last sync but
the peer no longer shares stops streaming at once.
"""
import dataclasses
import os
import re
import tempfile

import hypothesis.strategies as st
import pytest
import webtest
from conftest import LoopbackNetwork, NodeFixture, submit_login
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import privtube_app
import privtube_auth
import privtube_config

pytestmark = pytest.mark.slow      # a long state machine: CI runs it, the fast loop does not

TAGS = ('a', 'b', 'c')
GROUPS = ('members', 'friends', 'family')
USERS = ('ann', 'bob', 'cy')
KEYS = ('k1', 'k2')
GROUP_RULES = (('*',), ('tag:a',), ('tag:b',), ('origin:local',), ('origin:alice',), ('tag:a', 'origin:alice'),
               ('tag:c', 'origin:local'))
KEY_RULES = (('*',), ('tag:a',), ('tag:b',), ('tag:a', 'tag:c'), ('origin:local',), ('origin:alice',))
MAX_HOME_ITEMS, MAX_ALICE_ITEMS = 6, 4
PASSWORD = 'password-123'
RANGE, START, END = 'bytes=16-47', 16, 47
HEAD = b'\x00\x00\x00\x18ftypmp42'
UNKNOWN = 'NoSuchItemAnywhere0000'     # the shape of an id, of no item

tag_sets = st.sets(st.sampled_from(TAGS))
indexes = st.integers(0, 99)
owners = st.sampled_from(USERS + (None,))
syncs = st.sampled_from((True, True, False))     # home syncs after a change at alice, or not yet
changes = st.one_of(tag_sets, st.booleans(), st.just('delete'))     # new tags, private or shared, deleted


# --- the model: what the rules mean (README, "Command line": Rules), independent of privtube_auth ---------

@dataclasses.dataclass
class Item:
    id: str             # as the home node names it: a local id, or alice:ID for a peer's item
    title: str
    tags: frozenset
    private: bool
    data: bytes
    owner: str = None   # a home user's name
    origin: str = 'local'


@dataclasses.dataclass
class User:
    admin: bool
    groups: set


def rule_allows(rule, item, origin):
    """`*` is everything shared, `tag:NAME` an item with that tag, `origin:NAME` an item of that node."""
    if rule == '*':
        return True
    kind, _, value = rule.partition(':')
    return value in item.tags if kind == 'tag' else value == origin


def key_may_see(rules, item):
    """A key sees its own node's shared items that one of its rules allows: never private, never a peer's."""
    return item.origin == 'local' and not item.private and any(rule_allows(r, item, 'local') for r in rules)


def user_may_see(name, user, rules, item):
    """Admins see everything; owners their own items; others a shared item that a rule of a group allows."""
    if user.admin or (item.origin == 'local' and item.owner == name):
        return True
    return not item.private and any(rule_allows(r, item, item.origin) for r in rules)



def listed(page):
    """The item ids a listing or search page links to."""
    return set(re.findall(r'href="/watch/([^"#?]+)"', page.text))


# --- what each caller tries ----------------------------------------------------------------------------

def web_watch(machine, client, csrf, item_id, status):
    return client.get('/watch/' + item_id, status=status)


def web_media(machine, client, csrf, item_id, status):
    return client.get('/media/' + item_id, headers={'Range': RANGE}, status=status)


def web_comment(machine, client, csrf, item_id, status):
    return client.post('/watch/%s/comments' % item_id, {'csrf': csrf, 'body': 'peek'}, status=status)


def web_view(machine, client, csrf, item_id, status):
    return client.post('/watch/%s/view' % item_id, headers={'X-CSRF-Token': csrf}, status=status)


WEB_ROUTES = (web_watch, web_media, web_comment, web_view)
WEB_ALLOWED = {web_watch: 200, web_media: 206, web_comment: 303, web_view: 200}
# a peer's item home still lists from its last sync, which the peer no longer shares with home
WEB_STALE = {web_watch: 200, web_media: 404, web_comment: [404, 502], web_view: [404, 502]}


def api_detail(machine, headers, item_id, status):
    return machine.api.get('/api/v1/content/' + item_id, headers=headers, status=status)


def api_media(machine, headers, item_id, status):
    return machine.api.get('/api/v1/content/%s/media' % item_id, headers=dict(headers, Range=RANGE), status=status)


def api_media_head(machine, headers, item_id, status):
    return machine.api.head('/api/v1/content/%s/media' % item_id, headers=dict(headers, Range=RANGE), status=status)


def api_comments(machine, headers, item_id, status):
    return machine.api.get('/api/v1/content/%s/comments' % item_id, headers=headers, status=status)


def api_comment(machine, headers, item_id, status):
    return machine.api.post_json('/api/v1/content/%s/comments' % item_id, {'author': 'x', 'body': 'peek'},
                                 headers=headers, status=status)


SEARCHES = (        # search parameters and which of the items the principal may see they keep
    ({'q': 'clip'}, lambda item: True),
    ({'q': ''}, lambda item: True),
    ({'q': '', 'tag': 'a'}, lambda item: 'a' in item.tags),
    ({'q': 'clip', 'origin': 'alice'}, lambda item: item.origin == 'alice'),
    ({'origin': 'home'}, lambda item: item.origin == 'local'),
)


API_ROUTES = (api_detail, api_media, api_media_head, api_comments, api_comment)
API_ALLOWED = {api_detail: 200, api_media: 206, api_media_head: 206, api_comments: 200, api_comment: 201}


class RandomActions(RuleBasedStateMachine):
    """Home and alice; the model holds their items, home's groups, users and keys, and alice's key for home."""

    def __init__(self):
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.net = LoopbackNetwork()
        self.home, self.alice = self.make_node('home'), self.make_node('alice')
        self.api = webtest.TestApp(self.home.app)
        self.home_items, self.alice_items = {}, {}      # id -> Item, in creation order
        self.order = {}         # every id home could name -> creation number: checks run in a replayable order
        self.gone = []          # ids (as home names them) of deleted items
        self.groups = {'members': ('*',)}       # a new database's one group
        self.users, self.clients = {}, {}       # name -> User; name -> (web client, csrf token)
        self.keys = {}          # home's keys: name -> (rules, headers)
        self.dead_clients, self.dead_keys = [], []
        self.peer_configured = False
        self.alice_key = None   # rules of the key alice issued home; None when she has none
        self.synced = {}        # alice's items as home holds them since its last sync: alice:ID -> Item
        self.made = self.tick = 0
        self.sign_in('root', admin=True, groups=None)

    def make_node(self, name):
        folder = os.path.join(self.folder.name, name)
        os.makedirs(folder)
        fixture = NodeFixture(folder, name=name, transport=self.net)
        self.net.handlers['http://%s.test' % name] = fixture.app
        return fixture

    def teardown(self):
        self.home.close()
        self.alice.close()
        self.folder.cleanup()

    # --- helpers ---------------------------------------------------------------------------------------

    def sign_in(self, name, admin, groups):
        user = self.home.accounts.create_user(name, PASSWORD, admin=admin, groups=groups)
        client = webtest.TestApp(self.home.app)
        submit_login(client, name, PASSWORD)
        Session = self.home.node.database.Session
        self.clients[name] = (client, Session.get(Session.user == user.id).csrf)
        self.users[name] = User(admin, {'members'} if groups is None else set(groups))

    def new_item(self, fixture, tags, private, owner_id=None):
        self.made += 1
        data = HEAD + (b'item %03d;' % self.made) * 40
        path = fixture.media_file('m/%d.mp4' % self.made, data)
        title = 'clip %d' % self.made
        row = fixture.store.items.create(path, title, sorted(tags), private, owner_id=owner_id)
        return Item(row.id, title, frozenset(tags), private, data)

    @staticmethod
    def change_item(fixture, item, change):
        row = fixture.store.items.get(item.id)
        if change == 'delete':
            fixture.store.items.delete(row)
        elif isinstance(change, bool):
            fixture.store.items.edit(row, private=change)
            item.private = change
        else:
            fixture.store.items.edit(row, tags=sorted(change))
            item.tags = frozenset(change)

    @staticmethod
    def pick(items, index):
        return list(items.values())[index % len(items)]

    def sync(self):
        ok, message = self.home.node.registry.sync('alice')
        assert ok is (self.alice_key is not None), message
        self.synced = self.shared_by_alice()

    def alice_changed(self, sync):
        if self.peer_configured and sync:
            self.sync()

    def shared_by_alice(self):
        """alice's items that her key for home allows now, named as home names them."""
        if self.alice_key is None:
            return {}
        return {'alice:' + item.id: dataclasses.replace(item, id='alice:' + item.id, origin='alice', owner=None)
                for item in self.alice_items.values() if key_may_see(self.alice_key, item)}

    def streams(self, item_id):
        """Home's own items stream; a peer's only while the peer shares it with home, whatever home last
        synced: the origin decides every request."""
        return not item_id.startswith('alice:') or item_id in self.shared_by_alice()

    def user_rules(self, user):
        return {r for group in user.groups for r in self.groups[group]}

    def held_items(self):
        """What home holds and lists: its own items, and alice's items as of its last sync."""
        return dict(self.home_items, **self.synced)

    @initialize(rules=st.sampled_from(KEY_RULES + (None,)),
                alice_items=st.lists(st.tuples(tag_sets, st.booleans()), min_size=1, max_size=2),
                home_items=st.lists(st.tuples(tag_sets, st.booleans(), owners), max_size=2))
    def start(self, rules, alice_items, home_items):
        """Most runs start linked, with items on both nodes and a member besides the admin, so that steps
        are spent on changes rather than on building a network."""
        self.sign_in('ann', admin=False, groups=None)
        for tags, private in alice_items:
            self.add_alice_item(tags, private, sync=False)
        for tags, private, owner in home_items:
            self.add_home_item(tags, private, owner)
        if rules is not None:
            self.add_or_remove_peer(rules)

    # --- items on home ---------------------------------------------------------------------------------

    @precondition(lambda self: len(self.home_items) < MAX_HOME_ITEMS)
    @rule(tags=tag_sets, private=st.booleans(), owner=owners)
    def add_home_item(self, tags, private, owner):
        owner = owner if owner in self.users else None
        owner_id = self.home.accounts.user(owner).id if owner else None
        item = self.new_item(self.home, tags, private, owner_id)
        item.owner = owner
        self.home_items[item.id] = item
        self.order[item.id] = self.made

    @precondition(lambda self: self.home_items)
    @rule(index=indexes, change=changes)
    def change_home_item(self, index, change):
        """Retag, make private or shared, or delete one of home's items."""
        item = self.pick(self.home_items, index)
        self.change_item(self.home, item, change)
        if change == 'delete':
            del self.home_items[item.id]
            self.gone.append(item.id)

    # --- items on alice ------------------------------------------------------------------------------------

    @precondition(lambda self: len(self.alice_items) < MAX_ALICE_ITEMS)
    @rule(tags=tag_sets, private=st.booleans(), sync=syncs)
    def add_alice_item(self, tags, private, sync):
        item = self.new_item(self.alice, tags, private)
        self.alice_items[item.id] = item
        self.order['alice:' + item.id] = self.made
        self.alice_changed(sync)

    @precondition(lambda self: self.alice_items)
    @rule(index=indexes, change=changes, sync=syncs)
    def change_alice_item(self, index, change, sync):
        item = self.pick(self.alice_items, index)
        self.change_item(self.alice, item, change)
        if change == 'delete':
            del self.alice_items[item.id]
            self.gone.append('alice:' + item.id)
        self.alice_changed(sync)

    # --- groups, users and memberships on home -------------------------------------------------------

    @rule(name=st.sampled_from(GROUPS), rules=st.sampled_from(GROUP_RULES))
    def set_group_rules(self, name, rules):
        """A group's rules change by removing it and making it again (`group rm`, `group add`): the group
        made again has no members."""
        if name in self.groups:
            self.remove_group(name)
        self.home.accounts.create_group(name, list(rules))
        self.groups[name] = rules

    @rule(name=st.sampled_from(GROUPS))
    def remove_group(self, name):
        if name not in self.groups:
            return
        self.home.accounts.remove_group(name)
        del self.groups[name]
        for user in self.users.values():
            user.groups.discard(name)

    @rule(name=st.sampled_from(USERS), admin=st.sampled_from((False, False, False, True)),
          groups=st.none() | st.sets(st.sampled_from(GROUPS), max_size=2))
    def add_user(self, name, admin, groups):
        """`user add` joins `members` unless groups are named; a group that does not exist is refused."""
        if name in self.users:
            return
        wanted = {'members'} if groups is None else groups
        groups = None if groups is None else sorted(groups)
        if not wanted <= set(self.groups):
            with pytest.raises(privtube_auth.AuthError, match='no group named'):
                self.home.accounts.create_user(name, PASSWORD, admin=admin, groups=groups)
            return
        self.sign_in(name, admin, groups)

    @rule(name=st.sampled_from(USERS))
    def remove_user(self, name):
        """The removed user's session dies; the items they owned have no owner any more."""
        if name not in self.users:
            return
        self.home.accounts.remove_user(name)
        del self.users[name]
        self.dead_clients = self.dead_clients[-1:] + [self.clients.pop(name)[0]]
        for item in self.home_items.values():
            if item.owner == name:
                item.owner = None

    @rule(name=st.sampled_from(USERS + ('root',)), group=st.sampled_from(GROUPS))
    def join_group(self, name, group):
        """No command changes a user's groups after `user add`, so the membership row is written directly."""
        if name not in self.users or group not in self.groups or group in self.users[name].groups:
            return
        db = self.home.node.database
        db.Membership.create(user=self.home.accounts.user(name).id, group=self.home.accounts.group(group).id)
        self.users[name].groups.add(group)

    @rule(name=st.sampled_from(USERS + ('root',)), group=st.sampled_from(GROUPS))
    def leave_group(self, name, group):
        if name not in self.users or group not in self.users[name].groups:
            return
        Membership = self.home.node.database.Membership
        Membership.delete().where((Membership.user == self.home.accounts.user(name).id)
                                  & (Membership.group == self.home.accounts.group(group).id)).execute()
        self.users[name].groups.discard(group)

    # --- keys on home ----------------------------------------------------------------------------------

    @rule(name=st.sampled_from(KEYS), rules=st.sampled_from(KEY_RULES))
    def issue_or_change_key(self, name, rules):
        if name in self.keys:
            self.home.accounts.set_key_rules(name, list(rules))
            self.keys[name] = (rules, self.keys[name][1])
        else:
            self.keys[name] = (rules, self.home.key(name, rules))

    @rule(name=st.sampled_from(KEYS))
    def revoke_key(self, name):
        if name not in self.keys:
            return
        self.home.accounts.revoke_key(name)
        self.dead_keys = self.dead_keys[-1:] + [self.keys.pop(name)[1]]

    # --- alice as home's peer --------------------------------------------------------------------------

    @rule(rules=st.sampled_from(KEY_RULES))
    def add_or_remove_peer(self, rules):
        """Home's admin runs `privtube peer add alice` with a fresh key alice issued with `rules`, and syncs
        (the running node reads its config again when the file changed); or runs `privtube peer rm alice`,
        which edits the config and drops alice's items."""
        if self.peer_configured:
            privtube_config.remove_peer(self.home.config_path, 'alice')
            node = privtube_app.Node(privtube_config.load(self.home.config_path))
            node.forget_removed_peers()
            node.close()
            self.peer_configured, self.synced = False, {}
            return
        if self.alice_key is not None:
            self.alice.accounts.revoke_key('home')
        _, token = self.alice.accounts.create_key('home', list(rules))
        privtube_config.add_peer(self.home.config_path, 'alice', 'http://alice.test', token)
        self.peer_configured, self.alice_key = True, rules
        self.sync()

    @precondition(lambda self: self.alice_key is not None)
    @rule(rules=st.sampled_from(KEY_RULES + (None,)), sync=syncs)
    def alice_changes_or_revokes_key(self, rules, sync):
        """alice gives the key she issued home other rules (`rules`), or revokes it (None)."""
        if rules is None:
            self.alice.accounts.revoke_key('home')
        else:
            self.alice.accounts.set_key_rules('home', list(rules))
        self.alice_key = rules
        self.alice_changed(sync)

    @rule()
    def home_syncs(self):
        if self.peer_configured:
            self.sync()

    # --- the checks ------------------------------------------------------------------------------------

    @invariant()
    def everyone_sees_exactly_what_they_may(self):
        self.tick += 1
        held = self.held_items()
        every_id = set(held) | {'alice:' + i for i in self.alice_items} | set(self.gone[-3:])
        every_id = sorted(every_id, key=lambda i: self.order[i])
        for n, (name, user) in enumerate(sorted(self.users.items())):
            rules = self.user_rules(user)
            visible = {i for i, item in held.items() if user_may_see(name, user, rules, item)}
            self.check_user(n, name, held, visible, every_id)
        for n, (name, (rules, headers)) in enumerate(sorted(self.keys.items())):
            visible = {i for i, item in held.items() if key_may_see(rules, item)}
            self.check_key(n, headers, held, visible, every_id)
        self.check_the_dead(every_id)

    def check_user(self, n, name, held, visible, every_id):
        client, csrf = self.clients[name]
        params, keeps = SEARCHES[(self.tick + n) % len(SEARCHES)]
        assert listed(client.get('/', status=200)) == visible, 'home page of %s' % name
        assert listed(client.get('/search', params, status=200)) == {i for i in visible if keeps(held[i])}, \
            'search %s of %s' % (params, name)
        hidden = [i for i in every_id if i not in visible]
        for k, item_id in enumerate(hidden):
            WEB_ROUTES[(self.tick + n + k) % len(WEB_ROUTES)](self, client, csrf, item_id, 404)
        if hidden:      # a hidden item looks like no item at all
            item_id = hidden[(self.tick + n) % len(hidden)]
            assert web_watch(self, client, csrf, item_id, 404).text == web_watch(self, client, csrf, UNKNOWN, 404).text
        stale = [i for i in every_id if i in visible and not self.streams(i)]
        for item_id in stale:       # a stream in progress stops at the next request
            web_media(self, client, csrf, item_id, 404)
        if visible:
            item = held[self.rotate(visible, n)]
            route = WEB_ROUTES[(self.tick + n) % len(WEB_ROUTES)]
            if item.id in stale:
                route(self, client, csrf, item.id, WEB_STALE[route])
            else:
                self.check_allowed_answer(route, route(self, client, csrf, item.id, WEB_ALLOWED[route]), item)

    def check_key(self, n, headers, held, visible, every_id):
        catalog = self.api.get('/api/v1/catalog', headers=headers, status=200).json
        assert {i['id'] for i in catalog['items']} == visible and not catalog['more']
        for listed_item in catalog['items']:
            assert set(listed_item['tags']) == held[listed_item['id']].tags
        hidden = [i for i in every_id if i not in visible]
        for k, item_id in enumerate(hidden):
            API_ROUTES[(self.tick + n + k) % len(API_ROUTES)](self, headers, item_id, 404)
        if hidden:
            item_id = hidden[(self.tick + n) % len(hidden)]
            assert api_detail(self, headers, item_id, 404).json == api_detail(self, headers, UNKNOWN, 404).json
        if visible:
            item = held[self.rotate(visible, n)]
            route = API_ROUTES[(self.tick + n) % len(API_ROUTES)]
            self.check_allowed_answer(route, route(self, headers, item.id, API_ALLOWED[route]), item)

    def check_the_dead(self, every_id):
        """A removed user's session and a revoked key open nothing, not even the list."""
        for n, client in enumerate(self.dead_clients):
            path = ('/', '/search?q=clip', '/watch/x', '/media/x')[(self.tick + n) % 4]
            if every_id and path.endswith('/x'):
                path = path[:-1] + every_id[(self.tick + n) % len(every_id)]
            assert '/login' in client.get(path, status=303).headers['Location']
        for n, headers in enumerate(self.dead_keys):
            self.api.get('/api/v1/catalog', headers=headers, status=401)
            if every_id:
                API_ROUTES[(self.tick + n) % len(API_ROUTES)](self, headers, every_id[n % len(every_id)], 401)

    def rotate(self, visible, n):
        ids = sorted(visible, key=lambda i: self.order[i])
        return ids[(self.tick + n) % len(ids)]

    @staticmethod
    def check_allowed_answer(route, answer, item):
        if route in (web_media, api_media):
            assert answer.body == item.data[START:END + 1]
            assert answer.headers['Content-Range'] == 'bytes %d-%d/%d' % (START, END, len(item.data))
        elif route is web_watch:
            assert item.title in answer.text
        elif route is api_detail:
            assert (answer.json['title'], set(answer.json['tags'])) == (item.title, item.tags)


RUNS = int(os.environ.get('PRIVTUBE_RANDOM_RUNS', '12'))      # PRIVTUBE_RANDOM_RUNS=200 looks harder
TestRandomActions = RandomActions.TestCase
TestRandomActions.settings = settings(max_examples=RUNS, stateful_step_count=25, deadline=None,
                                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
