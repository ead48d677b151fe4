#!/usr/bin/env python3
"""privtube command line: `python privtube.py [--config PATH] COMMAND ...` (see README.md)."""
import argparse
import getpass
import logging
import os
import sqlite3
import sys

import privtube_config as config_mod
from privtube_auth import AuthError
from privtube_db import SchemaError
from privtube_items import iso_of
from privtube_logs import LEVELS, set_up_logging
from privtube_store import StoreError
from privtube_version import VERSION

logger = logging.getLogger('privtube')


class UsageError(Exception):
    """Wrong command line: exit status 2."""


class Failure(Exception):
    """The command could not do its work: exit status 1."""


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError('%s (see %s --help)' % (message, self.prog))


def build_parser():
    parser = Parser(prog='privtube', description='A private media network node.')
    parser.add_argument('--config', help='config file (default: $PRIVTUBE_CONFIG or ./config.ini)')
    parser.add_argument('--version', action='version', version=VERSION, help='print the version and exit')
    add_log_level(parser, help='what the log shows (default: info for serve, warning for the other commands)')
    commands = parser.add_subparsers(dest='command', metavar='COMMAND', parser_class=Parser)
    commands.required = True

    p = commands.add_parser('init', help='write a commented config.ini')
    p.add_argument('path', nargs='?')
    p.set_defaults(run=cmd_init)

    p = commands.add_parser('serve', help='run the node')
    p.add_argument('--host')
    p.add_argument('--port', type=int)
    # also after `serve`, where people look for it; SUPPRESS keeps a global --log-level when this one is absent
    add_log_level(p, default=argparse.SUPPRESS, help='what the log shows (default: info)')
    p.set_defaults(run=cmd_serve)

    for name, help_text, add_actions in (
            ('user', 'local accounts', add_user_commands), ('group', 'local groups', add_group_commands),
            ('key', 'keys for peers and scripts', add_key_commands), ('content', 'local items', add_content_commands),
            ('peer', 'peer nodes this node reads from', add_peer_commands),
            ('album', "hand-made albums of this node's items", add_album_commands),
            ('pair', 'link two homes with a pairing link', add_pair_commands),
            ('invite', 'one-time links that let a new person make their own account', add_invite_commands)):
        add_actions(commands.add_parser(name, help=help_text).add_subparsers(
            dest='action', metavar='ACTION', required=True, parser_class=Parser))
    p = commands.add_parser('sync', help='sync the registry from all peers (or one) now')
    p.add_argument('name', nargs='?')
    p.set_defaults(run=cmd_sync)

    p = commands.add_parser('scan', help='index the media folder in place')
    p.set_defaults(run=cmd_scan)
    p = commands.add_parser('backup', help='consistent online copy of the database')
    p.add_argument('dest')
    p.set_defaults(run=cmd_backup)
    return parser


def add_log_level(parser, **options):
    parser.add_argument('--log-level', choices=LEVELS, metavar='{%s}' % ','.join(LEVELS), **options)


def arg(*names, **options):
    """One argument of an action, as argparse's add_argument takes it."""
    return names, options


NAME = arg('name')
RULES = arg('--allow', nargs='+', required=True, metavar='RULE')
PASSWORD_STDIN = arg('--password-stdin', action='store_true')
IDS = arg('ids', nargs='+', metavar='ID')


def action(sub, name, run, *arguments, **defaults):
    p = sub.add_parser(name)
    for names, options in arguments:
        p.add_argument(*names, **options)
    p.set_defaults(run=run, **defaults)
    return p


def add_user_commands(sub):
    action(sub, 'add', cmd_user_add, NAME, arg('--admin', action='store_true'),
           arg('--group', action='append', dest='groups'), PASSWORD_STDIN)
    action(sub, 'passwd', cmd_user_passwd, NAME, PASSWORD_STDIN)
    action(sub, 'list', cmd_user_list)
    action(sub, 'rm', cmd_user_rm, NAME)


def add_group_commands(sub):
    action(sub, 'add', cmd_group_add, NAME, RULES)
    action(sub, 'list', cmd_group_list)
    action(sub, 'rm', cmd_group_rm, NAME)


def add_key_commands(sub):
    action(sub, 'create', cmd_key_create, NAME, RULES, arg('--manage', action='store_true'))
    action(sub, 'list', cmd_key_list)
    action(sub, 'revoke', cmd_key_revoke, NAME)


def add_peer_commands(sub):
    action(sub, 'add', cmd_peer_add, NAME, arg('url'), arg('--key', required=True))
    action(sub, 'list', cmd_peer_list)
    action(sub, 'rm', cmd_peer_rm, NAME)


def add_pair_commands(sub):
    action(sub, 'create', cmd_pair_create, arg('--allow', nargs='+', default=['*'], metavar='RULE'))
    # without --allow the other home gets no key: a one-way pairing (this node reads, shares nothing)
    action(sub, 'join', cmd_pair_join, arg('link'), arg('--allow', nargs='+', default=[], metavar='RULE'))


def add_invite_commands(sub):
    action(sub, 'create', cmd_invite_create, arg('--group', action='append', dest='groups', metavar='G'),
           arg('--days', default='7', metavar='N', help='days the link works (1-90, default 7)'))


def add_content_commands(sub):
    action(sub, 'add', cmd_content_add, arg('file'), arg('--title'),
           arg('--tag', action='append', dest='tags', default=[]), arg('--private', action='store_true'),
           arg('--owner'))
    action(sub, 'list', cmd_content_list)
    edit = action(sub, 'edit', cmd_content_edit, IDS, arg('--title'), arg('--description'),
                  arg('--tag', action='append', dest='tags'), private=None)
    visibility = edit.add_mutually_exclusive_group()
    visibility.add_argument('--private', action='store_true', default=None)
    visibility.add_argument('--shared', action='store_false', dest='private')
    action(sub, 'rm', cmd_content_rm, arg('id'))
    action(sub, 'tag', cmd_content_tag, IDS, arg('--add', nargs='+', default=[], metavar='TAG'),
           arg('--remove', nargs='+', default=[], metavar='TAG'))


def add_album_commands(sub):
    action(sub, 'list', cmd_album_list)
    action(sub, 'add', cmd_album_add, NAME, arg('ids', nargs='+', metavar='ID'))
    action(sub, 'remove', cmd_album_remove, NAME, arg('ids', nargs='+', metavar='ID'))
    action(sub, 'rm', cmd_album_rm, NAME)


# --- commands --------------------------------------------------------------------------------------

def cmd_init(args):
    path = os.path.abspath(args.path or args.config or config_mod.default_path())
    if os.path.isdir(path):
        path = os.path.join(path, 'config.ini')
    if os.path.exists(path):
        raise Failure('%s already exists; not overwriting it' % path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'x', encoding='utf-8') as fh:
        fh.write(config_mod.commented_template())
    print(path)
    return 0


def cmd_serve(args):
    import privtube_app
    overrides = {}
    if args.host:
        overrides[('server', 'host')] = args.host
    if args.port is not None:
        overrides[('server', 'port')] = args.port
    return privtube_app.serve(load_config(args, overrides))


def cmd_user_add(args):
    node = open_node(args)
    password = read_password(args.password_stdin, confirm=True)
    node.accounts.create_user(args.name, password, admin=args.admin, groups=args.groups)
    print('user %s added' % args.name, file=sys.stderr)
    return 0


def cmd_user_passwd(args):
    node = open_node(args)
    node.accounts.user(args.name)
    node.accounts.set_password(args.name, read_password(args.password_stdin, confirm=True))
    print('password of %s changed' % args.name, file=sys.stderr)
    return 0


def cmd_user_list(args):
    for user, groups in open_node(args).accounts.users():
        print('%s\t%s\t%s' % (user.name, 'admin' if user.is_admin else 'member', ','.join(groups)))
    return 0


def cmd_user_rm(args):
    open_node(args).accounts.remove_user(args.name)
    print('user %s removed' % args.name, file=sys.stderr)
    return 0


def cmd_invite_create(args):
    from privtube_invites import invite_link
    node = open_node(args)
    _, token = node.invites.create(None, args.groups, args.days)
    print(invite_link(node.config, token))
    return 0


def cmd_group_add(args):
    open_node(args).accounts.create_group(args.name, args.allow)
    print('group %s added' % args.name, file=sys.stderr)
    return 0


def cmd_group_list(args):
    from privtube_auth import load_rules
    for group in open_node(args).accounts.groups():
        print('%s\t%s' % (group.name, ' '.join(load_rules(group.rules))))
    return 0


def cmd_group_rm(args):
    open_node(args).accounts.remove_group(args.name)
    print('group %s removed' % args.name, file=sys.stderr)
    return 0


def cmd_key_create(args):
    from privtube_admin import peer_line, unreachable
    node = open_node(args)
    _, token = node.accounts.create_key(args.name, args.allow, manage=args.manage)
    print(token)
    print('Send this line to the peer that will use the key (once; it is not shown again):', file=sys.stderr)
    print('  ' + peer_line(node, token), file=sys.stderr)
    if unreachable(node):       # the Keys page says the same
        print('Other homes cannot reach %s: set [node] public_url in config.ini to the address they use.'
              % node.config.base_url, file=sys.stderr)
    return 0


def cmd_key_list(args):
    from privtube_auth import load_rules
    for key in open_node(args).accounts.keys():
        print('%s\t%s\t%s\t%s' % (key.name, ' '.join(load_rules(key.rules)),
                                  'manage' if key.manage else '-', key.created))
    return 0


def cmd_key_revoke(args):
    open_node(args).accounts.revoke_key(args.name)
    print('key %s revoked' % args.name, file=sys.stderr)
    return 0


def cmd_peer_add(args):
    path = load_config(args).path
    config_mod.add_peer(path, args.name, args.url, args.key)
    print('peer %s added to %s; run `privtube sync %s` or wait for the next scheduled sync'
          % (args.name, path, args.name), file=sys.stderr)
    return 0


def cmd_peer_list(args):
    node = open_node(args)
    Peer = node.database.Peer
    states = {row.name: row for row in Peer.select()}
    for name, peer in sorted(node.config.peers.items()):
        state = states.get(name)
        print('%s\t%s\t%s\t%s\t%d\t%s' % (name, peer['url'], state.status if state else 'never synced',
                                          when(state.last_success if state else None),
                                          state.item_count if state else 0, state.last_error if state else ''))
    return 0


def cmd_peer_rm(args):
    path = load_config(args).path
    config_mod.remove_peer(path, args.name)
    open_node(args).forget_removed_peers()
    print('peer %s removed, with its items' % args.name, file=sys.stderr)
    return 0


def cmd_pair_create(args):
    from privtube_pairing import LINK_HOURS
    node = open_node(args)
    link = node.pairing.create(args.allow)
    print(link)
    print('Send this link to the other home (it works once, for %d hours; the other home will see: %s).'
          % (LINK_HOURS, ' '.join(args.allow)), file=sys.stderr)
    if node.config.base_url.startswith(('http://127.', 'http://localhost', 'http://[::1]')):
        print('Warning: %s is a loopback address, which other homes cannot reach; set public_url in [node].'
              % node.config.base_url, file=sys.stderr)
    return 0


def cmd_pair_join(args):
    from privtube_peer import PeerError
    node = open_node(args)
    try:
        name, (ok, message) = node.pairing.join(args.link, args.allow, sync='inline')
    except PeerError as exc:
        raise Failure(exc)
    print('linked with %s%s; first sync: %s' % (name, '' if args.allow else ' (one way: it sees nothing of this '
                                                'home; pair again with --allow to share)', message), file=sys.stderr)
    return 0 if ok else 1


def cmd_sync(args):
    node = open_node(args)
    names = [args.name] if args.name else sorted(node.registry.peers())
    if args.name and args.name not in node.registry.peers():
        raise Failure('no peer named %s' % args.name)
    failed = 0
    for name in names:
        ok, message = node.registry.sync(name)
        print('%s\t%s\t%s' % (name, 'ok' if ok else 'failed', message))
        failed += not ok
    return 1 if failed else 0


def when(timestamp):
    return iso_of(timestamp) if timestamp else 'never'


def cmd_scan(args):
    import time
    node = open_node(args)
    started = time.monotonic()
    shown = [started]

    def progress(summary):
        now = time.monotonic()
        if now - shown[0] >= 1.0:
            shown[0] = now
            print('scanning: %s' % scan_figures(summary, now - started), file=sys.stderr, flush=True)
    with node.database.db.connection_context():
        summary = node.store.scanner.scan(progress)
    print('scanned %s' % scan_figures(summary, time.monotonic() - started))
    if summary['added'] or summary['changed'] or summary['moved']:
        print('new and changed files are probed in the background while the node serves', file=sys.stderr)
    return 0


def scan_figures(summary, seconds):
    return ('%(seen)d files: %(added)d added, %(changed)d changed, %(removed)d removed, %(moved)d moved' % summary
            + ' in %.1f s (%d files/s)' % (seconds, summary['seen'] / seconds if seconds > 0 else 0))


def cmd_content_add(args):
    node = open_node(args)
    owner = node.accounts.user(args.owner).id if args.owner else None
    item = node.store.uploads.add_file(args.file, args.title, args.tags, args.private, owner)
    print(item.id)
    return 0


def cmd_content_list(args):
    node = open_node(args)
    Item = node.database.Item
    for item in Item.select().where(Item.trashed.is_null(True)).order_by(Item.created, Item.id):
        tags = ','.join(node.store.items.tags_of(item.id))
        print('%s\t%s\t%s\t%s\t%s' % (item.id, 'private' if item.private else 'shared', item.mime, tags,
                                      item.title))
    return 0


def cmd_content_edit(args):
    """The same change to every item named, in one transaction: all of them change, or none."""
    store = open_node(args).store
    items = [local_item(store, item_id) for item_id in dict.fromkeys(args.ids)]
    with store.db.atomic():
        for item in items:
            store.items.edit(item, args.title, args.description, args.tags, args.private)
    print('%s changed' % counted(len(items), 'item'), file=sys.stderr)
    return 0


def cmd_content_tag(args):
    """Add and remove tags of several items in one transaction (privtube_bulk, as the web app's grids)."""
    from privtube_bulk import Bulk
    if not args.add and not args.remove:
        raise UsageError('give tags to --add or --remove (see privtube content tag --help)')
    store = open_node(args).store
    items = [local_item(store, item_id) for item_id in dict.fromkeys(args.ids)]
    bulk = Bulk(store)
    with store.db.atomic():
        done = [bulk.apply(name, [item.id for item in items], tags=tags)
                for name, tags in (('add_tags', args.add), ('remove_tags', args.remove)) if tags]
    for summary in done:
        print(summary.text(), file=sys.stderr)
    return 0


def counted(number, noun):
    return '%d %s%s' % (number, noun, '' if number == 1 else 's')


def cmd_content_rm(args):
    store = open_node(args).store
    store.trash.move(local_item(store, args.id))
    print('item %s moved to the trash: restore it on the Trash page within %d days' % (args.id, store.trash.days),
          file=sys.stderr)
    return 0


def cmd_album_list(args):
    store = open_node(args).store
    for album in store.albums.listing('local'):
        print('%s\t%s\t%d\t%s' % (album.name, album.kind, store.albums.items_query(album).count(), album.id))
    return 0


def cmd_album_add(args):
    """Add items to a hand-made album, made first when there is none of that name; stdout = its id."""
    store = open_node(args).store
    items = local_items(store, args.ids)
    album = store.albums.by_name(args.name)
    if album is None:
        album = store.albums.create(args.name)
        print('album %s created' % album.name, file=sys.stderr)
    hand_made(album)
    added = store.albums.add_items(album, [item.id for item in items])
    print('%d item%s added to album %s' % (added, plural(added), album.name), file=sys.stderr)
    print(album.id)
    return 0


def cmd_album_remove(args):
    store = open_node(args).store
    items, album = local_items(store, args.ids), hand_made(local_album(store, args.name))
    removed = store.albums.remove_items(album, [item.id for item in items])
    print('%d item%s removed from album %s (they stay in the library)' % (removed, plural(removed), album.name),
          file=sys.stderr)
    return 0


def cmd_album_rm(args):
    store = open_node(args).store
    album = local_album(store, args.name)
    count = store.albums.items_query(album).count()
    store.albums.delete(album)
    print('album %s removed; its %d item%s stay in the library' % (album.name, count, plural(count)),
          file=sys.stderr)
    if album.kind == 'folder':
        print('a folder album comes back at the next scan while its folder exists', file=sys.stderr)
    elif album.kind == 'music':
        print("a music album comes back at the next scan while its songs' tags name it", file=sys.stderr)
    return 0


def cmd_backup(args):
    node = open_node(args)
    dest = os.path.abspath(args.dest)
    if os.path.exists(dest):
        raise Failure('%s already exists; not overwriting it' % dest)
    temp = dest + '.partial'
    source = sqlite3.connect(node.database.path, timeout=30)
    try:
        target = sqlite3.connect(temp)
        with target:
            source.backup(target)
        target.close()
        os.rename(temp, dest)
    except (sqlite3.Error, OSError) as exc:
        if os.path.exists(temp):
            os.unlink(temp)
        raise Failure('backup failed: %s' % exc)
    finally:
        source.close()
    print(dest)
    return 0


# --- helpers ---------------------------------------------------------------------------------------

def load_config(args, overrides=None):
    path = args.config or config_mod.default_path()
    config = config_mod.load(path, overrides, must_exist=bool(args.config))
    for warning in config.warnings:
        logger.warning('%s', warning)
    return config


def open_node(args):
    from privtube_app import Node
    return Node(load_config(args))


def local_item(store, item_id):
    item = store.items.get(item_id)
    if item is None or not item.is_local or item.trashed is not None:
        raise Failure('no item of this node with id %s' % item_id)
    return item


def local_items(store, item_ids):
    """This node's items of `item_ids`; Failure naming every id that is not one."""
    items = [store.items.get(item_id) for item_id in item_ids]
    unknown = [item_id for item_id, item in zip(item_ids, items) if item is None or not item.is_local]
    if unknown:
        raise Failure('no item with id %s' % ', '.join(unknown) if len(unknown) == 1 else
                      'no items with ids %s' % ', '.join(unknown))
    return items


def local_album(store, name):
    album = store.albums.by_name(name)
    if album is None:
        raise Failure('no album named %s' % name)
    return album


def hand_made(album):
    if album.kind != 'made':
        raise Failure('album %s is a %s album: its items come from scan' % (album.name, album.kind))
    return album


def plural(count):
    return '' if count == 1 else 's'


def read_password(from_stdin, confirm):
    if from_stdin:
        password = sys.stdin.readline().rstrip('\r\n')
    elif not sys.stdin.isatty():
        raise UsageError('no terminal to ask for the password; use --password-stdin')
    else:
        password = getpass.getpass('Password: ')
        if confirm and getpass.getpass('Again: ') != password:
            raise Failure('the passwords differ')
    if not password:
        raise Failure('the password is empty')
    return password


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
        set_up_logging(args.log_level or ('info' if args.command == 'serve' else 'warning'))
        return args.run(args)
    except UsageError as exc:
        return fail(exc, 2)
    except (config_mod.ConfigError, SchemaError) as exc:
        return fail(exc, 2)
    except (Failure, AuthError, StoreError) as exc:
        return fail(exc, 1)
    except KeyboardInterrupt:
        return fail('interrupted', 1)
    except OSError as exc:
        return fail(exc, 1)
    except Exception as exc:   # a bug: say so in one line, keep the details for the log
        logger.debug('unexpected error', exc_info=True)
        return fail('unexpected %s: %s' % (type(exc).__name__, exc), 1)


def fail(message, status):
    print('privtube: error: %s' % ' '.join(str(message).split()), file=sys.stderr)
    return status


if __name__ == '__main__':
    sys.exit(main())
