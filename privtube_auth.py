"""Who is asking and what they may see: passwords, keys, rules and the one visibility decision."""
import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass, field

from peewee import SQL, IntegrityError, fn

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 15, 8, 1
SCRYPT_MAXMEM = 64 * 1024 * 1024
MIN_PASSWORD, MAX_PASSWORD = 8, 1024
MAX_NAME = 64                       # users, groups, keys and peers
MAX_TAG, MAX_TAGS = 64, 50          # characters of a tag, tags of an item
MAX_ALBUM = 200                     # characters of an album's name (a folder album's is its path)
KEY_PREFIX = 'pt_'
NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.@-]{0,%d}$' % (MAX_NAME - 1))
RULE_KINDS = ('tag', 'album', 'origin')
RULE_FORMS = '*, tag:NAME, album:NAME or origin:NAME'
DEFAULT_GROUP = 'members'           # the group new users join unless told otherwise
RESET_DAYS = 3                      # how long a password reset link lasts


class AuthError(ValueError):
    """Bad input about accounts, groups, keys or rules; the message is shown to the user."""


def hash_password(password):
    check_password_length(password)
    salt = secrets.token_bytes(16)
    digest = scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return 'scrypt$%d$%d$%d$%s$%s' % (SCRYPT_N, SCRYPT_R, SCRYPT_P, b64(salt), b64(digest))


def verify_password(password, stored):
    """True when `password` matches; overlong passwords are refused before any hashing."""
    if len(password) > MAX_PASSWORD:
        return False
    try:
        _, n, r, p, salt, digest = stored.split('$')
        actual = scrypt(password, unb64(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, unb64(digest))


def check_password_length(password):
    if len(password) < MIN_PASSWORD:
        raise AuthError('password must have at least %d characters' % MIN_PASSWORD)
    if len(password) > MAX_PASSWORD:
        raise AuthError('password must have at most %d characters' % MAX_PASSWORD)


def scrypt(password, salt, n, r, p):
    return hashlib.scrypt(password.encode('utf-8'), salt=salt, n=n, r=r, p=p, maxmem=SCRYPT_MAXMEM, dklen=32)


def b64(raw):
    return base64.urlsafe_b64encode(raw).decode('ascii')


def unb64(text):
    return base64.urlsafe_b64decode(text.encode('ascii'))


def new_key_token():
    return KEY_PREFIX + secrets.token_urlsafe(32)


def token_hash(token):
    """Keys are stored only as this digest; a 256-bit random key needs no slow hash."""
    return hashlib.sha256(token.encode('utf-8', 'surrogateescape')).hexdigest()


def check_name(name, what='name'):
    if not isinstance(name, str) or not NAME.match(name):
        raise AuthError('%s must be 1-%d letters, digits or _ . @ - (starting with a letter or digit)'
                        % (what, MAX_NAME))
    return name


def normalize_tag(tag):
    """Tags are case-folded, single-spaced, 1-MAX_TAG printable characters without commas."""
    if not isinstance(tag, str):
        raise AuthError('a tag must be text')
    tag = ' '.join(tag.split()).lower()
    if not tag or len(tag) > MAX_TAG or ',' in tag or not tag.isprintable():
        raise AuthError('tag %r must be 1-%d printable characters without commas' % (tag[:70], MAX_TAG))
    return tag


def each_once(values, check):
    """`values` checked by `check`, each once, in the order given."""
    seen = []
    for value in values:
        value = check(value)
        if value not in seen:
            seen.append(value)
    return seen


def normalize_tags(tags):
    seen = each_once(tags, normalize_tag)
    if len(seen) > MAX_TAGS:
        raise AuthError('at most %d tags' % MAX_TAGS)
    return seen


def album_name(name):
    """An album's name: 1-MAX_ALBUM printable characters (a folder's path inside the media folder, `/`
    between parts), spaces at its ends dropped. Names are kept as written and matched exactly."""
    if not isinstance(name, str):
        raise AuthError('an album name must be text')
    name = name.strip()
    if not name or len(name) > MAX_ALBUM or not name.isprintable():
        raise AuthError('invalid album name %r: it must be 1-%d printable characters' % (name[:70], MAX_ALBUM))
    return name


def album_names(names):
    """Album names, checked, each once, in the order given."""
    return each_once(names, album_name)


def split_tag_list(text):
    """A comma list from a form or query string into normalized tags; blanks are dropped."""
    return normalize_tags(part for part in (text or '').split(',') if part.strip())


def parse_rule(rule):
    rule = rule.strip() if isinstance(rule, str) else rule
    if rule == '*':
        return '*'
    if not isinstance(rule, str) or ':' not in rule:
        raise AuthError('rule %r must be %s' % (rule, RULE_FORMS))
    kind, _, value = rule.partition(':')
    if kind not in RULE_KINDS:
        raise AuthError('rule %r must be %s' % (rule, RULE_FORMS))
    if kind == 'tag':
        return 'tag:' + normalize_tag(value)
    if kind == 'album':
        return 'album:' + album_name(value)
    return 'origin:' + check_name(value.strip(), 'origin name')


def split_rules(text):
    """Rules as a form field holds them, separated by spaces: a word that does not start a rule (`*`,
    `tag:`, `album:`, `origin:`) continues the one before it, so `album:2024 Summer trip` stays one rule."""
    rules = []
    for word in (text or '').split():
        if rules and word != '*' and word.partition(':')[0] not in RULE_KINDS:
            rules[-1] += ' ' + word
        else:
            rules.append(word)
    return rules


def parse_rules(rules):
    parsed = []
    for rule in rules:
        rule = parse_rule(rule)
        if rule not in parsed:
            parsed.append(rule)
    if not parsed:
        raise AuthError('give at least one rule with --allow (%s)' % RULE_FORMS)
    return parsed


def dump_rules(rules):
    return json.dumps(rules)


def load_rules(text):
    return json.loads(text)


@dataclass
class Principal:
    """A caller: a key (peer or script) or a signed-in user."""
    kind: str                  # 'key' or 'user'
    id: int
    name: str
    rules: list = field(default_factory=list)
    manage: bool = False
    is_admin: bool = False
    generation: int = 0

    @property
    def identity(self):
        """Who this is, as a stable string ('user:7', 'key:3'): what view marks are counted by."""
        return '%s:%d' % (self.kind, self.id)


def rule_matches(rule, tags, origin, albums=()):
    if rule == '*':
        return True
    kind, _, value = rule.partition(':')
    if kind == 'tag':
        return value in tags
    if kind == 'album':
        return value in albums
    return value == origin


def can_see(principal, private, tags, origin='local', owner_id=None, albums=(), trashed=None):
    """The one visibility decision: may `principal` see an item with these attributes?

    An item in the trash (`trashed`: when it went there) is gone for everyone; only the Trash page
    shows it. Keys never see private items and never see items of other origins (sharing is not
    transitive). Users see their own items and admins see everything local; others need a matching rule.
    """
    if trashed is not None:
        return False
    if principal.kind == 'key':
        if private or origin != 'local':
            return False
    elif principal.is_admin or (owner_id is not None and owner_id == principal.id and origin == 'local'):
        return True
    elif private:
        return False
    return any(rule_matches(rule, tags, origin, albums) for rule in principal.rules)


def name_taken(name):
    return 'user %s already exists (names are the same in any case); choose another name' % name


class Accounts:
    """Users, groups and keys of one node's database."""

    def __init__(self, database):
        self.database = database
        self.db = database.db

    # users
    def create_user(self, name, password, admin=False, groups=None):
        check_name(name, 'user name')
        self.check_name_free(name)
        wanted = ['members'] if groups is None else list(groups)
        found = self.groups_named(wanted)
        missing = [g for g in wanted if g not in found]
        if missing:
            raise AuthError('no group named %s' % missing[0])
        password_hash = hash_password(password)
        with self.db.atomic():
            return self.add_user(name, password_hash, admin, found.values())

    def add_user(self, name, password_hash, admin, groups):
        """Insert a checked user in the caller's transaction; the database refuses a name taken in any case
        (migration 21's triggers), which is what decides when two requests race for one name."""
        try:
            with self.db.atomic():
                user = self.database.User.create(name=name, password_hash=password_hash, is_admin=admin)
        except IntegrityError:
            raise AuthError(name_taken(name))
        for group in groups:
            self.database.Membership.create(user=user, group=group)
        return user

    def groups_named(self, names):
        UserGroup = self.database.UserGroup
        return {g.name: g for g in UserGroup.select().where(UserGroup.name.in_(list(names)))}

    def check_name_free(self, name):
        if self.find_user(name, exact=False) is not None:
            raise AuthError(name_taken(name))

    def find_user(self, name, exact=True):
        """The user called `name` in any case (`Grandma` signs in as `grandma`), or None. A database older
        than case-blind names may hold `Grandma` and `grandma`: the exact spelling picks one of them, and
        without it (`exact` False, or no exact match) any of them counts as taken."""
        User = self.database.User
        if not isinstance(name, str) or len(name) > MAX_NAME:
            return None
        same = list(User.select().where(fn.lower(User.name) == name.lower()).limit(2))
        spelled = [user for user in same if user.name == name]
        if spelled:
            return spelled[0]
        return same[0] if len(same) == 1 or (same and not exact) else None

    def user(self, name):
        user = self.find_user(name)
        if user is None:
            raise AuthError('no user named %s' % name)
        return user

    def set_password(self, name, password, keep_session=None):
        """A new password for `name`; every session of theirs ends, but `keep_session` (the id hash of
        the session in which they changed it themselves)."""
        user = self.user(name)
        user.password_hash = hash_password(password)
        Session = self.database.Session
        ending = Session.user == user.id
        if keep_session is not None:
            ending &= Session.id_hash != keep_session
        with self.db.atomic():
            user.save()
            Session.delete().where(ending).execute()

    def remove_user(self, name):
        user = self.user(name)
        if user.is_admin:
            self.refuse_last_admin(user, 'remove')
        user.delete_instance()

    def refuse_last_admin(self, user, doing):
        """AuthError when `user` is the node's only administrator: a node without one cannot be run."""
        User = self.database.User
        if not User.select().where(User.is_admin & (User.id != user.id)).exists():
            raise AuthError('%s is the only administrator; make someone else an administrator before you %s '
                            'them' % (user.name, doing))

    def set_user_groups(self, name, groups, admin):
        """`name`'s groups become exactly `groups` and their admin flag `admin`, in one transaction."""
        user = self.user(name)
        UserGroup, Membership = self.database.UserGroup, self.database.Membership
        wanted = list(dict.fromkeys(groups))
        found = {g.name: g for g in UserGroup.select().where(UserGroup.name.in_(wanted))}
        missing = [g for g in wanted if g not in found]
        if missing:
            raise AuthError('no group named %s' % missing[0])
        if user.is_admin and not admin:
            self.refuse_last_admin(user, 'take away the administrator role of')
        with self.db.atomic():
            user.is_admin = bool(admin)
            user.save()
            Membership.delete().where(Membership.user == user.id).execute()
            for group in found.values():
                Membership.create(user=user, group=group)
        return user

    # password reset links
    def create_reset(self, name, days=RESET_DAYS):
        """A one-time link token to choose a new password for `name`, valid `days`; only its hash is kept,
        and an older link of theirs stops working."""
        user = self.user(name)
        token = secrets.token_urlsafe(32)
        PasswordReset = self.database.PasswordReset
        now = time.time()
        with self.db.atomic():
            PasswordReset.delete().where((PasswordReset.user == user.id) | (PasswordReset.expires < now)).execute()
            PasswordReset.create(token_hash=token_hash(token), user=user.id, created=now, expires=now + days * 86400)
        return token

    def reset_user(self, token):
        """The user a live reset token belongs to, or None (unknown, used or expired)."""
        if not isinstance(token, str) or not token or len(token) > 100:
            return None
        digest = token_hash(token)
        PasswordReset = self.database.PasswordReset
        row = PasswordReset.get_or_none(PasswordReset.token_hash == digest)
        if row is None or not hmac.compare_digest(row.token_hash, digest) or row.expires < time.time():
            return None
        return row.user

    def use_reset(self, token, password):
        """Set the password of a live reset token's user; the token is spent and every session of theirs
        ends. AuthError when the token is not live or the password is refused (the token then stays)."""
        user = self.reset_user(token)
        if user is None:
            raise AuthError('this reset link is not valid any more; ask your administrator for a new one')
        check_password_length(password)
        PasswordReset = self.database.PasswordReset
        with self.db.atomic():
            spent = PasswordReset.delete().where(PasswordReset.token_hash == token_hash(token)).execute()
            if not spent:      # another request used it a moment ago
                raise AuthError('this reset link is not valid any more; ask your administrator for a new one')
            self.set_password(user.name, password)
        return user

    def cancel_reset(self, name):
        """The open reset link of `name`, if any, stops working."""
        PasswordReset = self.database.PasswordReset
        PasswordReset.delete().where(PasswordReset.user == self.user(name).id).execute()

    def open_resets(self):
        """{user id: expiry} of the reset links not yet used or expired."""
        PasswordReset = self.database.PasswordReset
        return {row.user_id: row.expires for row in PasswordReset.select().where(PasswordReset.expires >= time.time())}

    def users(self):
        User = self.database.User
        return [(u, self.group_names(u)) for u in User.select().order_by(User.name)]

    def group_names(self, user):
        UserGroup, Membership = self.database.UserGroup, self.database.Membership
        query = (UserGroup.select(UserGroup.name).join(Membership)
                 .where(Membership.user == user.id).order_by(UserGroup.name))
        return [g.name for g in query]

    def user_rules(self, user_id):
        rules = []
        for (group_rules,) in self.database.db.execute_sql(      # plain SQL: it runs on every page
                'SELECT usergroup.rules FROM usergroup JOIN membership ON membership.group_id = usergroup.id '
                'WHERE membership.user_id = ? ORDER BY usergroup.id', (user_id,)).fetchall():
            rules += [r for r in load_rules(group_rules) if r not in rules]
        return rules

    def user_principal(self, user):
        return Principal('user', user.id, user.name, self.user_rules(user.id), is_admin=user.is_admin)

    # groups
    def create_group(self, name, rules):
        check_name(name, 'group name')
        rules = parse_rules(rules)
        UserGroup = self.database.UserGroup
        if UserGroup.get_or_none(UserGroup.name == name):
            raise AuthError('group %s already exists' % name)
        return UserGroup.create(name=name, rules=dump_rules(rules))

    def group(self, name):
        group = self.database.UserGroup.get_or_none(self.database.UserGroup.name == name)
        if group is None:
            raise AuthError('no group named %s' % name)
        return group

    def remove_group(self, name):
        self.group(name).delete_instance()

    def rename_group(self, name, new_name):
        """A group's new name; its rules and members stay (memberships point at the group's row).
        `members`, the group new users join by default, keeps its name."""
        group = self.group(name)
        check_name(new_name, 'group name')
        if new_name == name:
            return group
        if name == DEFAULT_GROUP:
            raise AuthError('the group %s keeps its name: new users join it unless told otherwise' % DEFAULT_GROUP)
        UserGroup = self.database.UserGroup
        if UserGroup.get_or_none(UserGroup.name == new_name):
            raise AuthError('group %s already exists' % new_name)
        group.name = new_name
        group.save()
        return group

    def set_group_rules(self, name, rules):
        group = self.group(name)
        group.rules = dump_rules(parse_rules(rules))
        group.save()
        return group

    def group_members(self):
        """{group name: [user names]} in name order."""
        User, UserGroup, Membership = self.database.User, self.database.UserGroup, self.database.Membership
        members = {g.name: [] for g in self.groups()}
        query = (Membership.select(UserGroup.name.alias('group_name'), User.name.alias('user_name'))
                 .join(UserGroup).switch(Membership).join(User).order_by(User.name).dicts())
        for row in query:
            members[row['group_name']].append(row['user_name'])
        return members

    def groups(self):
        UserGroup = self.database.UserGroup
        return list(UserGroup.select().order_by(UserGroup.name))

    # keys
    def create_key(self, name, rules, manage=False):
        """Issue a key; returns (row, token). Only the token's hash is stored."""
        check_name(name, 'key name')
        rules = parse_rules(rules)
        ApiKey = self.database.ApiKey
        if ApiKey.get_or_none(ApiKey.name == name):
            raise AuthError('key %s already exists' % name)
        token = new_key_token()
        with self.db.atomic():
            # generations come from the change counter, so a cursor never fits a reissued key
            row = ApiKey.create(name=name, token_hash=token_hash(token), rules=dump_rules(rules), manage=manage,
                                generation=self.database.next_seq())
        return row, token

    def key(self, name):
        row = self.database.ApiKey.get_or_none(self.database.ApiKey.name == name)
        if row is None:
            raise AuthError('no key named %s' % name)
        return row

    def set_key_rules(self, name, rules):
        """Change a key's rules; its readers are told to read their catalog again from the start."""
        row = self.key(name)
        row.rules = dump_rules(parse_rules(rules))
        with self.db.atomic():
            row.generation = self.database.next_seq()
            row.save()

    def edit_key(self, name, rules, manage):
        """New rules and manage flag for a key; when the rules change, its readers read their catalog again
        from the start (a new generation), so items the key no longer shows leave them."""
        row = self.key(name)
        parsed = dump_rules(parse_rules(rules))
        with self.db.atomic():
            if parsed != row.rules:
                row.rules = parsed
                row.generation = self.database.next_seq()
            row.manage = bool(manage)
            row.save()
        return row

    def rotate_key(self, name):
        """A new token for key `name`; the old one stops working at once. Returns the new token."""
        row = self.key(name)
        token = new_key_token()
        row.token_hash = token_hash(token)
        row.save()
        return token

    def revoke_key(self, name):
        self.key(name).delete_instance()

    def keys(self):
        ApiKey = self.database.ApiKey
        return list(ApiKey.select().order_by(ApiKey.name))

    def key_principal(self, token):
        """The Principal of a presented key, or None when it is unknown or revoked."""
        if not token or len(token) > 200:
            return None
        digest = token_hash(token)
        row = self.database.ApiKey.get_or_none(self.database.ApiKey.token_hash == digest)
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            return None
        return Principal('key', row.id, row.name, load_rules(row.rules), manage=row.manage,
                         generation=row.generation)


def visible_filter(principal, Item, ItemTag, AlbumItem=None):
    """The SQL form of `can_see` for this node's own items: a Peewee expression over Item.

    It must decide exactly as `can_see` does; tests compare the two on random items.
    """
    return Item.trashed.is_null(True) & untrashed_filter(principal, Item, ItemTag, AlbumItem)


def untrashed_filter(principal, Item, ItemTag, AlbumItem):
    """Who sees an item that is not in the trash (see visible_filter)."""
    if principal.kind == 'user' and principal.is_admin:
        return Item.id.is_null(False)
    shared = Item.private == False  # noqa: E712 (Peewee expression)
    matches = [rule_filter(rule, Item, ItemTag, AlbumItem) for rule in principal.rules]
    allowed = shared & reduce_or(matches) if matches else Item.id.is_null(True)
    if principal.kind == 'user':
        return ((Item.owner == principal.id) & (Item.origin == 'local')) | allowed
    return allowed & (Item.origin == 'local')


def rule_filter(rule, Item, ItemTag, AlbumItem=None):
    if rule == '*':
        return Item.id.is_null(False)
    kind, _, value = rule.partition(':')
    if kind == 'tag':   # correlated EXISTS: one index probe per row, never a list of every tagged item
        return fn.EXISTS(ItemTag.select(SQL('1')).where((ItemTag.item == Item.id) & (ItemTag.tag == value)))
    if kind == 'album':
        Album = AlbumItem.album.rel_model
        return fn.EXISTS(AlbumItem.select(SQL('1')).join(Album).where(
            (AlbumItem.item == Item.id) & (Album.name == value)))
    return Item.origin == value


def reduce_or(expressions):
    result = expressions[0]
    for expression in expressions[1:]:
        result = result | expression
    return result
