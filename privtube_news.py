"""What's new: the home page's "New since your last visit" row, a sentence per home ("alice's home added
40 photos and 2 videos"), and the optional daily or weekly e-mail digest.

Everything is counted from what the person may see (`store.items.visible_query`): a count never includes
an item hidden from them. "New" means new to this node: a peer's item carries the peer's `created`, so the
time an item arrived here (the item_arrival table, filled by a trigger) is what is compared. A person's own
uploads are not news to them.

A visit is a run of home page views with no gap longer than VISIT_GAP: the row shows what arrived since
the visit before the current one, so reloading the page keeps it.
"""
import logging
import re
import smtplib
import ssl
import time
from email.message import EmailMessage
from urllib.parse import urlsplit

import bottle
from peewee import FloatField, ForeignKeyField, Model, TextField, fn

import privtube_media as media
from privtube_threads import ScheduledLoop

logger = logging.getLogger('privtube.news')

VISIT_GAP = 30 * 60         # seconds without a home page view that end a visit
VISIT_TOUCH = 60            # a view this soon after the last one recorded is not written down
NEW_CARDS = 12              # cards in the home page's row
MAIL_ITEMS = 50             # items listed in one e-mail
DIGEST_CHECK_MINUTES = 10   # how often the schedule loop looks for digests that are due
PERIODS = {'daily': 24 * 3600, 'weekly': 7 * 24 * 3600}
FREQUENCIES = (('none', 'no e-mail'), ('daily', 'daily'), ('weekly', 'weekly'))
MAX_EMAIL = 254
EMAIL = re.compile(r'^[^@\s<>(),;:"\[\]\\]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$')
# what one item of each kind is called in a sentence, singular and plural
WORDS = {'video': ('video', 'videos'), 'audio': ('song', 'songs'), 'image': ('photo', 'photos'),
         'other': ('file', 'files')}
KIND_ORDER = ('image', 'video', 'audio', 'other')


class NewsError(Exception):
    """A digest setting that cannot be kept; the message says why, in plain words."""


def news_models(node_database):
    """The model classes of schema step 25, bound to this node's database."""
    db, Item, User = node_database.db, node_database.Item, node_database.User

    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Arrival(Base):
        item = ForeignKeyField(Item, primary_key=True, on_delete='CASCADE')
        arrived = FloatField()

        class Meta:
            table_name = 'item_arrival'

    class Reader(Base):
        user = ForeignKeyField(User, primary_key=True, on_delete='CASCADE')
        last_seen_home = FloatField(null=True)
        previous_visit = FloatField(null=True)
        email = TextField(default='')
        digest = TextField(default='none')
        last_digest = FloatField(null=True)

        class Meta:
            table_name = 'news_reader'

    return Arrival, Reader


def counted(count, kind):
    singular, plural = WORDS[kind]
    return '%d %s' % (count, singular if count == 1 else plural)


def listed(parts):
    """'a', 'a and b', 'a, b and c'."""
    return parts[0] if len(parts) == 1 else '%s and %s' % (', '.join(parts[:-1]), parts[-1])


def added_sentence(home, kinds):
    """"alice's home added 40 photos and 2 videos" from {kind: count}."""
    parts = [counted(kinds[kind], kind) for kind in KIND_ORDER if kinds.get(kind)]
    return '%s added %s' % (home, listed(parts))


class News:
    """What is new for each person of one node."""

    def __init__(self, store, clock=time.time):
        self.store, self.database, self.clock = store, store.database, clock
        self.Arrival, self.Reader = news_models(store.database)

    def reader(self, user):
        """The person's row, made on first use."""
        Reader = self.Reader
        row = Reader.get_or_none(Reader.user == user.id)
        if row is None:
            Reader.insert(user=user.id).on_conflict_ignore().execute()
            row = Reader.get(Reader.user == user.id)
        return row

    def visit(self, user):
        """Record a home page view; returns the start of what is new for this visit: the last view of the
        visit before (None on a first visit). Within a visit the value stays, so a reload keeps the row."""
        row, now = self.reader(user), self.clock()
        if row.last_seen_home is None or now - row.last_seen_home > VISIT_GAP:
            self.remember_visit(user, now, previous=row.last_seen_home)
            return row.last_seen_home
        if now - row.last_seen_home > VISIT_TOUCH:      # a write per view would cost an fsync each
            self.remember_visit(user, now, previous=row.previous_visit)
        return row.previous_visit

    def remember_visit(self, user, now, previous):
        self.Reader.update(last_seen_home=now, previous_visit=previous).where(
            self.Reader.user == user.id).execute()

    def arrived_between(self, user, principal, since, until=None):
        """The items `principal` may see that arrived after `since` (and not after `until`), not `user`'s own."""
        Item, Arrival = self.database.Item, self.Arrival
        query = self.store.items.visible_query(principal).join(Arrival, on=(Arrival.item == Item.id)).where(
            (Arrival.arrived > since) & ((Item.owner.is_null(True)) | (Item.owner != user.id)))
        return query if until is None else query.where(Arrival.arrived <= until)

    def newest(self, query, limit):
        return list(query.order_by(self.Arrival.arrived.desc(), self.database.Item.id).limit(limit))

    def kinds_by_home(self, query):
        """{origin: {kind: count}} of the items of `query`."""
        Item = self.database.Item
        found = {}
        for origin, mime, count in query.select(Item.origin, Item.mime, fn.COUNT(Item.id)).group_by(
                Item.origin, Item.mime).tuples():
            kinds = found.setdefault(origin, {})
            kind = media.media_kind(mime)
            kinds[kind] = kinds.get(kind, 0) + count
        return found

    def sentences(self, query):
        """One sentence per home that added something, this node's first, then its peers by name."""
        by_home = self.kinds_by_home(query)
        homes = sorted(by_home, key=lambda origin: (origin != 'local', origin.lower()))
        return [added_sentence('This home' if origin == 'local' else "%s's home" % origin, by_home[origin])
                for origin in homes]

    def home_row(self, user, principal):
        """What the home page's "New since your last visit" row shows (None: nothing is new)."""
        since = self.visit(user)
        if since is None:
            return None
        query = self.arrived_between(user, principal, since)
        items = self.newest(query, NEW_CARDS)
        if not items:
            return None
        total = query.count()
        return {'items': [(item, media.media_kind(item.mime)) for item in items], 'more': total - len(items),
                'sentences': self.sentences(query)}

    # the e-mail digest's settings
    def settings(self, user):
        row = self.reader(user)
        return {'email': row.email, 'digest': row.digest}

    def choose(self, user, email, digest):
        """Keep the person's address and frequency; NewsError says what is wrong. The digest counts from
        the moment it is turned on: what arrived before is not mailed."""
        email, digest = check_settings(email, digest)
        row = self.reader(user)
        since = row.last_digest if row.digest != 'none' and row.last_digest is not None else self.clock()
        self.Reader.update(email=email, digest=digest, last_digest=None if digest == 'none' else since).where(
            self.Reader.user == user.id).execute()


def check_settings(email, digest):
    """(address, frequency) cleaned, or NewsError."""
    email = (email or '').strip()
    if digest not in PERIODS and digest != 'none':
        raise NewsError('Choose how often: no e-mail, daily or weekly.')
    if len(email) > MAX_EMAIL or (email and not EMAIL.match(email)):
        raise NewsError('"%s" does not look like an e-mail address (like name@example.org).' % email[:80])
    if digest != 'none' and not email:
        raise NewsError('Type the e-mail address the %s e-mail should go to.' % digest)
    return email, digest


class Mailer:
    """Sends one message through the [mail] server: the one place smtplib is used (tests replace it)."""

    def __init__(self, config):
        self.host, self.port = config.get('mail', 'smtp_host'), config.get('mail', 'smtp_port')
        self.user, self.password = config.get('mail', 'smtp_user'), config.get('mail', 'smtp_password')
        self.starttls = bool(config.get('mail', 'starttls'))
        self.sender = config.get('mail', 'from') or 'privtube@%s' % (urlsplit(config.base_url).hostname or 'localhost')

    @property
    def configured(self):
        return bool(self.host)

    def send(self, message):
        """Hand `message` to the server; smtplib.SMTPException or OSError when it is not accepted."""
        message['From'] = self.sender
        with smtplib.SMTP(self.host, self.port, timeout=30) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.user:
                smtp.login(self.user, self.password)
            smtp.send_message(message)


def one_line(text, limit=200):
    """A title as one line of plain text (a peer's title could hold line breaks or control characters)."""
    return ' '.join(''.join(c if c.isprintable() else ' ' for c in text or '').split())[:limit]


class Digest:
    """The daily or weekly e-mails: items each person may see that arrived since their last one."""

    def __init__(self, node, mailer=None, clock=time.time):
        self.node, self.clock = node, clock
        self.news = News(node.store, clock)
        self.mailer = mailer or Mailer(node.config)

    def due(self, row, now):
        period = PERIODS.get(row.digest)
        return bool(period and row.email and row.last_digest is not None and now - row.last_digest >= period)

    def send_due(self):
        """Send every digest that is due; returns how many mails were accepted. Nothing new: no mail, and
        the next digest counts from now. A refused mail is logged and tried again next time."""
        now, sent = self.clock(), 0
        Reader = self.news.Reader
        for row in list(Reader.select().where(Reader.digest != 'none')):
            if self.due(row, now):
                sent += self.send_one(row, now)
        return sent

    def send_one(self, row, now):
        user = row.user
        query = self.news.arrived_between(user, self.node.accounts.user_principal(user), row.last_digest, now)
        total = query.count()
        if total and not self.deliver(row, self.message(user, row, query, total)):
            return 0
        self.news.Reader.update(last_digest=now).where(self.news.Reader.user == user.id).execute()
        return 1 if total else 0

    def deliver(self, row, message):
        try:
            self.mailer.send(message)
            return True
        except (smtplib.SMTPException, OSError, ValueError) as exc:
            logger.warning('could not send the %s e-mail to %s: %s', row.digest, row.user.name, exc)
            return False

    def message(self, user, row, query, total):
        base = self.node.config.base_url
        items = self.news.newest(query, MAIL_ITEMS)
        lines = ['Hello %s,' % user.name, '', 'New on %s since your last e-mail:' % self.node.name, '']
        lines += ['- ' + sentence for sentence in self.news.sentences(query)] + ['']
        lines += ['%s\n  %s/watch/%s' % (one_line(item.title), base, item.id) for item in items]
        if total > len(items):
            lines.append('... and %d more: %s/' % (total - len(items), base))
        lines += ['', 'You get this e-mail %s. Change it on your account page: %s/account' % (row.digest, base)]
        message = EmailMessage()
        message['To'] = row.email
        message['Subject'] = "What's new on %s: %d new item%s" % (one_line(self.node.name, 60), total,
                                                                  '' if total == 1 else 's')
        message.set_content('\n'.join(lines))
        return message


class DigestLoop(ScheduledLoop):
    """Sends the digests that are due, looking every `minutes`."""

    def __init__(self, digest, minutes=DIGEST_CHECK_MINUTES):
        super().__init__('privtube-digest', minutes)
        self.digest = digest

    def run_once(self):
        try:
            with self.digest.node.database.db.connection_context():
                self.digest.send_due()
        except Exception:       # a bad night of the mail server or the disk must not end the loop
            logger.exception('the e-mail digests failed')


def start_digests(node):
    """The node's digest loop, started; None when [mail] smtp_host is not set."""
    digest = Digest(node)
    if not digest.mailer.configured:
        return None
    loop = DigestLoop(digest)
    loop.start()
    return loop


def register(app, web):
    """`POST /account/digest`: a person's e-mail address and how often they get the digest."""
    news = web.news

    @app.post('/account/digest')
    def choose_digest(page):
        import privtube_web
        form = bottle.request.forms
        email, digest = form.getunicode('email', '') or '', form.getunicode('digest', '') or ''
        try:
            news.choose(page.user, email, digest)
        except NewsError as exc:
            bottle.response.status = 400
            return web.account_page(page, digest=digest_form(web.node, news, page.user, email, digest, str(exc)))
        privtube_web.see_other('/account?digest=saved')


def digest_form(node, news, user, email=None, digest=None, error=None, saved=False):
    """What the account page's digest form shows: the kept values (typed ones after an error)."""
    kept = news.settings(user)
    return {'email': kept['email'] if email is None else email, 'digest': kept['digest'] if digest is None else digest,
            'error': error, 'saved': saved, 'frequencies': FREQUENCIES,
            'mail_ready': Mailer(node.config).configured}
