"""Who can see this? The local groups, users and keys that may see an item (or an album's items) now,
and the rule that lets each of them.

It asks `privtube_auth.can_see`, the decision every request is checked with, about each group's, user's
and key's principal, and names the rules `rule_matches` finds: so what the owner is shown can never
disagree with what the node enforces. views/reach.tpl shows the answer.
"""
from dataclasses import dataclass, field

import privtube_auth as auth


@dataclass
class Facts:
    """What the visibility decision reads of one item."""
    private: bool
    tags: list
    albums: list
    owner_id: object
    origin: str = 'local'
    count: int = 1                       # how many items have exactly these facts


@dataclass
class Reach:
    """The answer: one row per group, user or key that sees at least one of the `total` items."""
    total: int
    private: bool                        # every item is private: only its owner and admins see it
    rows: list = field(default_factory=list)


@dataclass
class Row:
    kind: str                            # 'group', 'user' or 'key'
    name: str
    seen: int                            # how many of the items
    why: list                            # the rules (or 'administrator', 'owner') that let them


def item_reach(store, accounts, item):
    """The Reach of one item."""
    facts = Facts(item.private, store.items.tags_of(item.id), store.albums.names_of(item.id), item.owner_id,
                  item.origin)
    return reach(accounts, [facts])


# an album's items grouped by what the visibility decision reads of them, with how many share each
ALBUM_FACTS = (
    'SELECT item.private, item.owner_id, item.origin, '
    "(SELECT group_concat(tag, char(10)) FROM (SELECT tag FROM item_tag WHERE item_id = item.id ORDER BY tag)), "
    "(SELECT group_concat(name, char(10)) FROM (SELECT album.name FROM album_item AS member JOIN album "
    'ON album.id = member.album_id WHERE member.item_id = item.id ORDER BY album.name)), count(*) '
    'FROM album_item JOIN item ON item.id = album_item.item_id '
    'WHERE album_item.album_id = ? AND item.trashed IS NULL GROUP BY 1, 2, 3, 4, 5')


def album_reach(store, accounts, album):
    """The Reach of an album: who sees how many of its items (an album page shows it to its owner). Items
    with the same facts are decided once: an album of 1,000 photos has a handful of them."""
    rows = store.database.db.execute_sql(ALBUM_FACTS, (album.id,)).fetchall()
    return reach(accounts, [Facts(bool(private), tags.split('\n') if tags else [],
                                  names.split('\n') if names else [], owner_id, origin, count)
                            for private, owner_id, origin, tags, names, count in rows])


def reach(accounts, facts):
    """Reach of items described by `facts`, over every group, user and key of the node."""
    found = Reach(total=sum(f.count for f in facts), private=bool(facts) and all(f.private for f in facts))
    if found.private:
        return found
    principals = group_principals(accounts) + user_principals(accounts) + key_principals(accounts)
    for kind, principal in principals:
        row = seen_by(kind, principal, facts)
        if row.seen:
            found.rows.append(row)
    return found


def seen_by(kind, principal, facts):
    """The Row of one principal: the items `can_see` lets it see, and why."""
    row = Row(kind, principal.name, 0, [])
    for fact in facts:
        if not auth.can_see(principal, fact.private, fact.tags, fact.origin, owner_id=fact.owner_id,
                            albums=fact.albums):
            continue
        row.seen += fact.count
        for reason in reasons(principal, fact):
            if reason not in row.why:
                row.why.append(reason)
    return row


def reasons(principal, fact):
    """Why `can_see` said yes: the role that needs no rule, else the principal's matching rules."""
    if principal.kind == 'user' and principal.is_admin:
        return ['administrator']
    if principal.kind == 'user' and fact.owner_id is not None and fact.owner_id == principal.id:
        return ['owner']
    return [rule for rule in principal.rules if auth.rule_matches(rule, fact.tags, fact.origin, fact.albums)]


def group_principals(accounts):
    """Each group as a member with only that group's rules would be (an id no user has)."""
    return [('group', auth.Principal('user', 0, group.name, auth.load_rules(group.rules)))
            for group in accounts.groups()]


def user_principals(accounts):
    return [('user', accounts.user_principal(user)) for user, _ in accounts.users()]


def key_principals(accounts):
    return [('key', auth.Principal('key', key.id, key.name, auth.load_rules(key.rules), manage=key.manage))
            for key in accounts.keys()]
