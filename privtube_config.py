"""Configuration: defaults in code beside their type and help, config.ini layered on top.

Every option lives in OPTIONS. A config file may only narrow or change them; unknown sections and keys
are reported by name, and a value of the wrong type stops start-up with the option and file named.
"""
import configparser
import logging
import os
import re
import socket
from dataclasses import dataclass, field

logger = logging.getLogger('privtube.config')

PEER_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$')


class ConfigError(Exception):
    """A config file that cannot be used; the message names the option and the file."""


@dataclass(frozen=True)
class Option:
    section: str
    key: str
    kind: str          # 'str', 'int', 'path', 'url'
    default: object
    help: str
    minimum: int = None
    maximum: int = None


OPTIONS = [
    Option('node', 'name', 'str', '', 'Name of this node as peers and the web pages show it '
           '(empty: the machine\'s host name).'),
    Option('node', 'public_url', 'url', '', 'Address people and peers use to reach this node, '
           'e.g. https://media.example.org (empty: built from [server] host and port).'),
    Option('server', 'host', 'str', '127.0.0.1', 'Address to listen on; 0.0.0.0 for every interface '
           '(use a TLS proxy or a VPN for links over the internet).'),
    Option('server', 'port', 'int', 8080, 'TCP port for the web app and the API.', 1, 65535),
    Option('server', 'threads', 'int', 4, 'Worker threads; streams do not hold one while they drain.', 1, 64),
    Option('server', 'trusted_proxy', 'str', '', 'Address of a reverse proxy whose X-Forwarded-* '
           'headers are believed (empty: none are).'),
    Option('server', 'spool_mb', 'int', 256, 'Disk, in MiB, that peers\' media waiting for slow browsers '
           'may take in temporary files, beyond 64 MiB in memory; past both, such requests get 503 to retry.',
           0, 1024 * 1024),
    Option('store', 'media_dir', 'path', 'media', 'Folder of your media, indexed in place; uploads go '
           'to its uploads/ subfolder.'),
    Option('store', 'max_upload_mb', 'int', 4096, 'Largest upload accepted, in MiB.', 1, 1024 * 1024),
    Option('store', 'scan_minutes', 'int', 10, 'Minutes between rescans of the media folder while serve runs '
           '(new, changed, moved and removed files; 0: only scan or the admin page\'s Scan now).', 0, 10080),
    Option('store', 'trash_days', 'int', 30, 'Days a deleted item stays in the Trash, restorable, before it is '
           'removed for good.', 1, 36500),
    Option('store', 'remux_cache_percent', 'int', 20, 'Percent of the free disk (counting the copies already '
           'made) that browser-playable copies of videos may take in the cache: an MKV or AVI whose codecs '
           'browsers play is rewrapped once as MP4 or WebM, never re-encoded; the oldest made are dropped first '
           '(0: make none).', 0, 100),
    Option('store', 'remux_cache_mb', 'int', 0, 'At most this many MiB for those copies as well (0: only the percent '
           'limits them).', 0, 1024 * 1024 * 1024),
    Option('registry', 'database', 'path', 'privtube.db', 'SQLite database file.'),
    Option('registry', 'sync_minutes', 'int', 15, 'Minutes between syncs of the peers\' catalogs.', 1, 10080),
    Option('registry', 'max_peer_items', 'int', 200000, 'Most items one peer may list here; a sync that would '
           'pass it fails and keeps the peer\'s last good listing.', 1, 100000000),
    Option('mail', 'smtp_host', 'str', '', 'Mail server that sends the daily or weekly "what\'s new" e-mails '
           'people ask for on their account page (empty: no e-mail is sent).'),
    Option('mail', 'smtp_port', 'int', 587, 'Port of the mail server (587 with starttls, 25 without).', 1, 65535),
    Option('mail', 'smtp_user', 'str', '', 'User name at the mail server (empty: send without signing in).'),
    Option('mail', 'smtp_password', 'str', '', 'Password at the mail server.'),
    Option('mail', 'from', 'str', '', 'Sender address of the e-mails, e.g. privtube@example.org (empty: '
           'privtube@ and the host of [node] public_url).'),
    Option('mail', 'starttls', 'int', 1, '1: encrypt the connection to the mail server with STARTTLS (and refuse '
           'to send without it); 0: send in the clear (a server on this machine or the home network).', 0, 1),
]

PEER_KEYS = {'url', 'key', 'ca_file'}


@dataclass
class Config:
    """Resolved settings: `values[(section, key)]`, plus the peers and where the file was."""
    path: str
    values: dict
    peers: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)

    def get(self, section, key):
        return self.values[(section, key)]

    @property
    def node_name(self):
        return self.get('node', 'name') or socket.gethostname() or 'privtube'

    @property
    def base_url(self):
        url = self.get('node', 'public_url')
        if url:
            return url.rstrip('/')
        host = self.get('server', 'host')
        shown = '127.0.0.1' if host in ('0.0.0.0', '::', '') else host
        return 'http://%s:%d' % (shown, self.get('server', 'port'))


def default_path():
    return os.environ.get('PRIVTUBE_CONFIG') or 'config.ini'


def load(path, overrides=None, must_exist=False):
    """Read `path` (absent is fine unless must_exist) and apply `overrides` {(section, key): value}."""
    path = os.path.abspath(path)
    parser = configparser.ConfigParser(interpolation=None)
    if os.path.exists(path):
        try:
            with open(path, encoding='utf-8') as fh:
                parser.read_file(fh)
        except (configparser.Error, UnicodeDecodeError, OSError) as exc:
            raise ConfigError('%s: cannot read: %s' % (path, one_line(exc)))
    elif must_exist:
        raise ConfigError('%s: no such config file' % path)
    config = Config(path=path, values={})
    base = os.path.dirname(path)
    for opt in OPTIONS:
        raw = parser.get(opt.section, opt.key, fallback=None)
        value = opt.default if raw is None else parse_value(opt, raw, path)
        if overrides and (opt.section, opt.key) in overrides:
            value = parse_value(opt, str(overrides[(opt.section, opt.key)]), path)
        if opt.kind == 'path':
            value = os.path.normpath(os.path.join(base, os.path.expanduser(value)))
        config.values[(opt.section, opt.key)] = value
    config.peers = read_peers(parser, path, base)
    config.warnings = unknown_names(parser, path)
    return config


def parse_value(opt, raw, path):
    raw = raw.strip()
    where = '%s: [%s] %s' % (path, opt.section, opt.key)
    if opt.kind == 'int':
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError('%s = %r is not a whole number' % (where, raw))
        if (opt.minimum is not None and value < opt.minimum) or (opt.maximum is not None and value > opt.maximum):
            raise ConfigError('%s = %d is outside %d..%d' % (where, value, opt.minimum, opt.maximum))
        return value
    if opt.kind == 'url' and raw:
        check_url(raw, where + ' = ')
    if opt.kind == 'path' and not raw:
        raise ConfigError('%s is empty' % where)
    return raw


def check_url(url, where=''):
    """ConfigError unless `url` is an http:// or https:// address with a host and no white space."""
    if not re.match(r'^https?://[^\s/]+', url) or any(c.isspace() for c in url):
        raise ConfigError('%s%r is not an http:// or https:// address' % (where, url))


def read_peers(parser, path, base):
    peers = {}
    for section in parser.sections():
        if not section.startswith('peer:'):
            continue
        name = section[len('peer:'):]
        if not PEER_NAME.match(name) or name.lower() == 'local':
            raise ConfigError('%s: [%s] is not a valid peer name' % (path, section))
        url = parser.get(section, 'url', fallback='').strip()
        check_url(url, '%s: [%s] url = ' % (path, section))
        key = parser.get(section, 'key', fallback='').strip()
        if not key:
            raise ConfigError('%s: [%s] key is missing' % (path, section))
        ca_file = parser.get(section, 'ca_file', fallback='').strip()
        peers[name] = {'url': url.rstrip('/'), 'key': key,
                       'ca_file': os.path.join(base, ca_file) if ca_file else ''}
    return peers


def unknown_names(parser, path):
    known = {(o.section, o.key) for o in OPTIONS}
    sections = {o.section for o in OPTIONS}
    found = []
    for section in parser.sections():
        if section.startswith('peer:'):
            found += ['%s: unknown key [%s] %s' % (path, section, k)
                      for k in parser[section] if k not in PEER_KEYS]
        elif section not in sections:
            found.append('%s: unknown section [%s]' % (path, section))
        else:
            found += ['%s: unknown key [%s] %s' % (path, section, k)
                      for k in parser[section] if (section, k) not in known]
    return found


def one_line(exc):
    return ' '.join(str(exc).split())


def commented_template():
    """The text of a fresh config.ini: every option, commented out at its default, with its help."""
    lines = ['# privtube node configuration. Every option is optional; the value shown is the default.',
             '# Relative paths are relative to the folder of this file.', '']
    section = None
    for opt in OPTIONS:
        if opt.section != section:
            if section is not None:
                lines.append('')
            lines.append('[%s]' % opt.section)
            section = opt.section
        lines.append('# %s' % opt.help)
        lines.append(('# %s = %s' % (opt.key, opt.default)).rstrip())
    lines += ['', '# Peers are added with `privtube peer add NAME URL --key KEY`, which writes sections like:',
              '# [peer:alice]', '# url = https://alice.example.org', '# key = pt_...', '']
    return '\n'.join(lines)


def add_peer(path, name, url, key, ca_file=''):
    """Append a [peer:NAME] section to the config file (kept mode 0600: it holds the peer's key)."""
    addition = peer_section(path, name, url, key, ca_file)
    text = read_text(path)
    if peer_span(text, name) is not None:
        raise ConfigError('%s: peer %s already exists; remove it first' % (path, name))
    write_private(path, text.rstrip('\n') + '\n\n' + addition)


def edit_peer(path, name, url, key, ca_file=''):
    """Write peer NAME's section anew, in place (the admin page's edit)."""
    addition = peer_section(path, name, url, key, ca_file)
    text = read_text(path)
    span = peer_span(text, name)
    if span is None:
        raise ConfigError('%s: no peer named %s' % (path, name))
    rest = text[span[1]:]
    write_private(path, text[:span[0]] + addition + ('\n' + rest if rest else ''))


def peer_section(path, name, url, key, ca_file):
    """The checked text of a [peer:NAME] section. A CA file (for a peer with its own certificate authority)
    must exist; a relative one is relative to the config file's folder, as when it is read."""
    if not PEER_NAME.match(name or '') or name.lower() == 'local':
        raise ConfigError('%r is not a valid peer name (letters, digits, _ . -; not "local")' % name)
    check_url(url)
    if not re.match(r'^[A-Za-z0-9_-]{10,200}$', key or ''):
        raise ConfigError('the key does not look like a privtube key')
    ca_file = (ca_file or '').strip()
    if ca_file and (not ca_file.isprintable() or not os.path.isfile(os.path.join(os.path.dirname(path), ca_file))):
        raise ConfigError('there is no CA file at %r' % ca_file[:200])
    return '[peer:%s]\nurl = %s\nkey = %s\n%s' % (name, url.rstrip('/'), key,
                                                  'ca_file = %s\n' % ca_file if ca_file else '')


def parse_peer_line(line):
    """(name, url, key) of a pasted `privtube peer add NAME URL --key KEY` line, as `key create` prints it."""
    words = (line or '').split()
    if words[:1] == ['privtube']:
        words = words[1:]
    if words[:2] == ['peer', 'add']:
        words = words[2:]
    key = None
    rest = []
    while words:
        word = words.pop(0)
        if word == '--key' and words:
            key = words.pop(0)
        elif word.startswith('--key='):
            key = word[len('--key='):]
        else:
            rest.append(word)
    if len(rest) != 2 or not key:
        raise ConfigError('paste the whole line the other home sent: privtube peer add NAME URL --key KEY')
    return rest[0], rest[1], key


def remove_peer(path, name):
    text = read_text(path)
    span = peer_span(text, name)
    if span is None:
        raise ConfigError('%s: no peer named %s' % (path, name))
    write_private(path, text[:span[0]] + text[span[1]:])


def read_text(path):
    if not os.path.exists(path):
        return commented_template()
    with open(path, encoding='utf-8') as fh:
        return fh.read()


def peer_span(text, name):
    """(start, end) of the [peer:NAME] section's lines in `text`, or None."""
    match = re.search(r'^\[peer:%s\][ \t]*\n' % re.escape(name), text, re.M)
    if not match:
        return None
    following = re.search(r'^\[', text[match.end():], re.M)
    end = match.end() + following.start() if following else len(text)
    return match.start(), end


def write_private(path, text):
    temp = path + '.tmp'
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w', encoding='utf-8') as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(temp, 0o600)
    os.replace(temp, path)
