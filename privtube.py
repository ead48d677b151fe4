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
from privtube_store import StoreError

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
    commands = parser.add_subparsers(dest='command', metavar='COMMAND', parser_class=Parser)
    commands.required = True

    p = commands.add_parser('init', help='write a commented config.ini')
    p.add_argument('path', nargs='?')
    p.set_defaults(run=cmd_init)

    p = commands.add_parser('serve', help='run the node')
    p.add_argument('--host')
    p.add_argument('--port', type=int)
    p.set_defaults(run=cmd_serve)

    add_user_commands(commands.add_parser('user', help='local accounts').add_subparsers(
        dest='action', metavar='ACTION', required=True, parser_class=Parser))
    add_group_commands(commands.add_parser('group', help='local groups').add_subparsers(
        dest='action', metavar='ACTION', required=True, parser_class=Parser))
    add_key_commands(commands.add_parser('key', help='keys for peers and scripts').add_subparsers(
        dest='action', metavar='ACTION', required=True, parser_class=Parser))
    add_content_commands(commands.add_parser('content', help='local items').add_subparsers(
        dest='action', metavar='ACTION', required=True, parser_class=Parser))

    add_peer_commands(commands.add_parser('peer', help='peer nodes this node reads from').add_subparsers(
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


def add_user_commands(sub):
    p = sub.add_parser('add')
    p.add_argument('name')
    p.add_argument('--admin', action='store_true')
    p.add_argument('--group', action='append', dest='groups')
    p.add_argument('--password-stdin', action='store_true')
    p.set_defaults(run=cmd_user_add)
    p = sub.add_parser('passwd')
    p.add_argument('name')
    p.add_argument('--password-stdin', action='store_true')
    p.set_defaults(run=cmd_user_passwd)
    sub.add_parser('list').set_defaults(run=cmd_user_list)
    p = sub.add_parser('rm')
    p.add_argument('name')
    p.set_defaults(run=cmd_user_rm)


def add_group_commands(sub):
    p = sub.add_parser('add')
    p.add_argument('name')
    p.add_argument('--allow', nargs='+', required=True, metavar='RULE')
    p.set_defaults(run=cmd_group_add)
    sub.add_parser('list').set_defaults(run=cmd_group_list)
    p = sub.add_parser('rm')
    p.add_argument('name')
    p.set_defaults(run=cmd_group_rm)


def add_key_commands(sub):
    p = sub.add_parser('create')
    p.add_argument('name')
    p.add_argument('--allow', nargs='+', required=True, metavar='RULE')
    p.add_argument('--manage', action='store_true')
    p.set_defaults(run=cmd_key_create)
    sub.add_parser('list').set_defaults(run=cmd_key_list)
    p = sub.add_parser('revoke')
    p.add_argument('name')
    p.set_defaults(run=cmd_key_revoke)


def add_peer_commands(sub):
    p = sub.add_parser('add')
    p.add_argument('name')
    p.add_argument('url')
    p.add_argument('--key', required=True)
    p.set_defaults(run=cmd_peer_add)
    sub.add_parser('list').set_defaults(run=cmd_peer_list)
    p = sub.add_parser('rm')
    p.add_argument('name')
    p.set_defaults(run=cmd_peer_rm)


def add_content_commands(sub):
    p = sub.add_parser('add')
    p.add_argument('file')
    p.add_argument('--title')
    p.add_argument('--tag', action='append', dest='tags', default=[])
    p.add_argument('--private', action='store_true')
    p.add_argument('--owner')
    p.set_defaults(run=cmd_content_add)
    sub.add_parser('list').set_defaults(run=cmd_content_list)
    p = sub.add_parser('edit')
    p.add_argument('id')
    p.add_argument('--title')
    p.add_argument('--description')
    p.add_argument('--tag', action='append', dest='tags')
    visibility = p.add_mutually_exclusive_group()
    visibility.add_argument('--private', action='store_true', default=None)
    visibility.add_argument('--shared', action='store_false', dest='private')
    p.set_defaults(run=cmd_content_edit, private=None)
    p = sub.add_parser('rm')
    p.add_argument('id')
    p.set_defaults(run=cmd_content_rm)


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
    node = open_node(args)
    _, token = node.accounts.create_key(args.name, args.allow, manage=args.manage)
    print(token)
    print('Send this line to the peer that will use the key (once; it is not shown again):', file=sys.stderr)
    print('  privtube peer add %s %s --key %s' % (node.name, node.config.base_url, token), file=sys.stderr)
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
    if summary['added'] or summary['changed']:
        print('new and changed files are probed in the background while the node serves', file=sys.stderr)
    return 0


def scan_figures(summary, seconds):
    return ('%(seen)d files: %(added)d added, %(changed)d changed, %(removed)d removed' % summary
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
    for item in Item.select().order_by(Item.created, Item.id):
        tags = ','.join(node.store.items.tags_of(item.id))
        print('%s\t%s\t%s\t%s\t%s' % (item.id, 'private' if item.private else 'shared', item.mime, tags,
                                      item.title))
    return 0


def cmd_content_edit(args):
    store = open_node(args).store
    item = local_item(store, args.id)
    store.items.edit(item, args.title, args.description, args.tags, args.private)
    print('item %s changed' % item.id, file=sys.stderr)
    return 0


def cmd_content_rm(args):
    store = open_node(args).store
    store.items.delete(local_item(store, args.id))
    print('item %s removed' % args.id, file=sys.stderr)
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
    if item is None:
        raise Failure('no item with id %s' % item_id)
    return item


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
        logging.basicConfig(level=logging.INFO if args.command == 'serve' else logging.WARNING,
                            format='%(asctime)s %(levelname)s %(name)s: %(message)s', stream=sys.stderr)
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
